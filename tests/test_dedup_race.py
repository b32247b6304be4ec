"""Issue 24, item 5: two workers capturing the same payload at once store it once.

The server holds each pair of requests until both have arrived, so both workers have the
payload in hand at the same moment (the race). The payload is claimed before it is written:
one response, one revisit of it, and the revisit's entry comes after its target's (its batch
is the target's or a later one, never durable before it)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import Cli
from warc_helpers import read_warc, warc_files

from archiver.store import manifest

PAYLOAD = random.Random(5).randbytes(1_500_000)  # large: writing it takes a while


class Together(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        barrier: threading.Barrier = self.server.barrier  # type: ignore[attr-defined]
        barrier.wait(timeout=10)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)


@pytest.fixture
def together() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Together)
    srv.barrier = threading.Barrier(2)  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_the_same_payload_fetched_at_once_is_stored_once(together: str,
                                                         archive_dir: Path) -> None:
    run = Cli(archive_dir)
    urls = [f"{together}/copy/{i}" for i in range(2)]
    result = run("capture", *urls, "--workers", "2", "--dedup", "any", "--no-extract", "-q")
    assert result.exit_code == 0, result.output
    entries = [e for e in manifest.iter_entries(archive_dir / "manifest.jsonl")
               if e["event"] == "capture"]
    assert len(entries) == 2
    kinds = sorted(r["type"] for e in entries for r in e["records"]
                   if r["type"] in ("response", "revisit"))
    assert kinds == ["response", "revisit"]  # stored once
    [target] = [e for e in entries if not e.get("revisit")]
    [revisit] = [e for e in entries if e.get("revisit")]
    [response_id] = [r["id"] for r in target["records"] if r["type"] == "response"]
    assert revisit["revisit"]["refers_to"] == response_id
    assert revisit["seq"] > target["seq"]  # committed with or after its target
    records = [r for path in warc_files(archive_dir) for r in read_warc(path)]
    assert sum(r.type == "response" for r in records) == 1
    assert run("validate").exit_code == 0
    assert run("audit").exit_code == 0
