"""Issue 24, item 2: `--warc-size` with several workers keeps Heritrix's rule.

Every rolling WARC ends at most one capture past the limit: each capture but a file's last
starts below the limit. Captures that reserved a file which another worker filled meanwhile
are built again for the next file. Pages of random text (gzip cannot shrink them) and four
workers with extraction make such overlaps common at every roll-over."""

from __future__ import annotations

import base64
import itertools
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import Cli
from warc_helpers import warc_files, warcio_check

from archiver.store import manifest

LIMIT = 48 * 1024


class Pages(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        n = int(self.path.rsplit("/", 1)[-1])
        noise = base64.b64encode(random.Random(n).randbytes(9000 + 300 * n)).decode()
        body = (f"<!doctype html><html><head><title>Page {n}</title></head><body>"
                f"<h1>Page {n}</h1><p>{noise}</p></body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def pages() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_each_file_ends_at_most_one_capture_past_the_limit(pages: str, archive_dir: Path) -> None:
    run = Cli(archive_dir)
    urls = [f"{pages}/page/{i}" for i in range(40)]
    result = run("capture", *urls, "--warc-size", "48K", "--workers", "4", "--quiet",
                 "--extract-workers", "2")
    assert result.exit_code == 0, result.output
    entries = [e for e in manifest.iter_entries(archive_dir / "manifest.jsonl")
               if e["event"] == "capture"]
    assert sorted(e["source"]["url"] for e in entries) == sorted(urls)  # none lost or doubled
    tiles: dict[str, list[tuple[int, int]]] = {}
    for e in entries:
        [rng] = e["ranges"]
        tiles.setdefault(rng["file"], []).append((rng["offset"], rng["length"]))
    assert len(tiles) >= 6  # it rolled over many times
    for rel, ranges in tiles.items():
        ranges.sort()
        size = (archive_dir / rel).stat().st_size
        assert ranges[0][0] == 0
        assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(ranges))
        assert sum(n for _, n in ranges) == size
        last_offset, last_length = ranges[-1]
        # Heritrix's rule: below the limit before its last capture, so at most limit + one
        assert last_offset < LIMIT, (rel, size, ranges)
        assert size <= LIMIT + last_length
    for path in warc_files(archive_dir):
        check = warcio_check(path)
        assert check.returncode == 0, check.stdout
    assert run("audit").exit_code == 0
