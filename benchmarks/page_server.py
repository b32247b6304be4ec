"""A loopback HTTP/1.1 server of N generated VOV-template pages (~100 KB each), run as its own
process so its CPU time is not charged to the crawler being measured.

    python benchmarks/page_server.py --pages 500 --urls-out urls.txt

Prints the port on stdout once it is listening, writes the page URLs (one per line) to
--urls-out, and serves until killed. Keep-alive is on (HTTP/1.1 with Content-Length), so
crawlers that reuse connections benefit as they would on a real site.
"""

from __future__ import annotations

import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import vov_pages


class PageHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body's last segment waits
    # for the client's delayed ACK (~40 ms a page) and every crawler measures the server.
    disable_nagle_algorithm = True
    server: PageServer

    def log_message(self, *args: object) -> None:  # a log line per hit would cost CPU
        pass

    def do_GET(self) -> None:
        body = self.server.pages.get(self.path)
        status = 200 if body is not None else 404
        body = body if body is not None else b"<html><body>not found</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class PageServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, pages: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), PageHandler)
        self.pages = pages


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=500)
    ap.add_argument("--urls-out", type=Path, required=True)
    args = ap.parse_args()
    pages = {urlsplit(url).path: html for url, html in vov_pages(args.pages)}
    server = PageServer(pages)
    port = server.server_address[1]
    base = f"http://127.0.0.1:{port}"
    args.urls_out.write_text("".join(f"{base}{path}\n" for path in pages))
    print(port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
