"""A real HTTP server on 127.0.0.1 (port 0, daemon thread) for capture tests: no mocked requests.

Routes cover what a crawler meets: redirects, gzip, chunked framing, errors, a flaky 503,
slow and dribbling servers, oversized bodies, and many small pages for throughput runs.
"""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
VOV_ARTICLE = FIXTURES / "vov" / "article-seed.html"
VOV_PATH = ("/chinh-tri/can-lam-cho-the-gioi-hieu-ro-hon-ve-quyen-con-nguoi-o-viet-nam"
            "-post1064050.vov")

SMALL_HTML = (b"<!doctype html><html><head><title>Hello</title></head>"
              b"<body><p>Hello, archive.</p></body></html>\n")


def article_bytes() -> bytes:
    return VOV_ARTICLE.read_bytes() if VOV_ARTICLE.exists() else SMALL_HTML


def page_bytes(n: int, size: int = 8000) -> bytes:
    para = f"<p>Paragraph of page {n}: tin tức thời sự Việt Nam.</p>\n".encode()
    body = para * max(1, size // len(para))
    return (b"<!doctype html><html><head><meta charset='utf-8'><title>Page %d</title></head><body>"
            % n + body + b"</body></html>\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each page waits ~40 ms for a delayed ACK
    server: FixtureServer

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def send_body(self, body: bytes, status: int = 200, ctype: str = "text/html; charset=utf-8",
                  extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, status: int, location: str) -> None:
        self.send_body(b"moved\n", status, "text/plain", {"Location": location})

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        path = self.path.split("?")[0]
        route = ROUTES.get(path)
        if route is not None:
            route(self)
        elif path.startswith("/page/"):
            self.send_body(page_bytes(int(path.rsplit("/", 1)[1]), self.server.page_size))
        elif path.startswith("/loop/"):
            self.redirect(302, "/loop/" + ("b" if path.endswith("a") else "a"))
        else:
            self.send_body(b"<html><body><h1>Not found</h1></body></html>", 404)


def _gzip(h: Handler) -> None:
    h.send_body(gzip.compress(article_bytes()), extra={"Content-Encoding": "gzip"})


def _chunked(h: Handler) -> None:
    body = article_bytes()
    h.send_response(200)
    h.send_header("Content-Type", "text/html; charset=utf-8")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for i in range(0, len(body), 1000):
        piece = body[i:i + 1000]
        h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    h.wfile.write(b"0\r\n\r\n")


def _flaky(h: Handler) -> None:
    h.server.flaky_count += 1
    if h.server.flaky_count == 1:
        h.send_body(b"busy\n", 503, "text/plain", {"Retry-After": "0"})
    else:
        h.send_body(SMALL_HTML)


def _slow(h: Handler) -> None:
    time.sleep(h.server.slow_seconds)
    h.send_body(SMALL_HTML)


def _dribble(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    try:
        for _ in range(100000):
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass


def _big(h: Handler) -> None:
    h.send_body(b"A" * h.server.big_size, ctype="application/octet-stream")


def _etag(h: Handler) -> None:
    """A page with a validator: a conditional request that matches gets 304, no body."""
    h.server.conditional.append(h.headers.get("If-None-Match"))
    if h.headers.get("If-None-Match") == '"v1"':
        h.send_response(304)
        h.send_header("ETag", '"v1"')
        h.end_headers()
    else:
        h.send_body(article_bytes(), extra={"ETag": '"v1"'})


ROUTES = {
    "/etag": _etag,
    VOV_PATH: lambda h: h.send_body(article_bytes()),
    "/article": lambda h: h.send_body(article_bytes()),
    "/redirect/1": lambda h: h.redirect(301, "/redirect/2"),
    "/redirect/2": lambda h: h.redirect(302, VOV_PATH),
    "/gzip": _gzip,
    "/chunked": _chunked,
    "/missing": lambda h: h.send_body(b"<html><body>gone</body></html>", 404),
    "/flaky": _flaky,
    "/slow": _slow,
    "/dribble": _dribble,
    "/big": _big,
    "/to-ftp": lambda h: h.redirect(302, "ftp://127.0.0.1/file"),
    "/image.png": lambda h: h.send_body(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, ctype="image/png"),
}


class FixtureServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.hits: list[str] = []
        self.conditional: list[str | None] = []  # If-None-Match of each /etag request
        self.flaky_count = 0
        self.slow_seconds = 3.0
        self.big_size = 300_000
        self.page_size = 8000

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up on slow routes is the point of those routes

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> FixtureServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self
