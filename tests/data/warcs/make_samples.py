"""Write the small WARCs the warccheck unit tests use (deterministic bytes: fixed ids, dates,
gzip mtime 0). Run `python tests/data/warcs/make_samples.py` to regenerate them in place.

Each sample has one known defect (or none), stated in SAMPLES; the records are written by hand,
not with warcio, so that the defects are exactly the ones intended.
"""

from __future__ import annotations

import base64
import hashlib
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATE = "2025-08-26T15:35:00Z"
HTML = (
    b"<!doctype html><html><head><title>Sample</title></head>"
    b"<body><p>VOV.VN - A sample article body for the validator tests.</p></body></html>\n"
)


def rid(n: int) -> str:
    return f"<urn:uuid:00000000-0000-4000-8000-{n:012d}>"


def b32(algo: str, data: bytes) -> str:
    return f"{algo}:" + base64.b32encode(hashlib.new(algo, data).digest()).decode()


def b16(algo: str, data: bytes) -> str:
    return f"{algo}:" + hashlib.new(algo, data).hexdigest()


def b64(algo: str, data: bytes) -> str:
    return f"{algo}:" + base64.b64encode(hashlib.new(algo, data).digest()).decode()


def record(fields: list[tuple[str, str]], block: bytes, version: str = "1.0",
           terminator: bytes = b"\r\n\r\n") -> bytes:
    """A record with Content-Length computed from `block` (appended last)."""
    lines = [f"WARC/{version}", *(f"{k}: {v}" for k, v in fields), f"Content-Length: {len(block)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + block + terminator


def gz(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip wrapper, mtime 0: reproducible
    return c.compress(data) + c.flush()


def http_response(body: bytes, chunked: bool = False) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    if chunked:
        pieces = [body[:40], body[40:]]
        wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + wire
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def warcinfo(n: int, version: str = "1.0") -> bytes:
    block = b"software: make_samples.py\r\nformat: WARC File Format 1.1\r\n"
    return record([("WARC-Type", "warcinfo"), ("WARC-Record-ID", rid(n)), ("WARC-Date", DATE),
                   ("Content-Type", "application/warc-fields")], block, version)


def response(n: int, body: bytes = HTML, *, algo: str = "sha1", enc: Callable = b32,
             penc: Callable | None = None, chunked: bool = False, raw_payload_digest: bool = False,
             version: str = "1.0", id_n: int | None = None) -> bytes:
    block = http_response(body, chunked)
    payload = block.split(b"\r\n\r\n", 1)[1] if raw_payload_digest else body
    return record([
        ("WARC-Type", "response"), ("WARC-Record-ID", rid(id_n if id_n is not None else n)),
        ("WARC-Date", DATE), ("WARC-Target-URI", f"https://vov.vn/sample-{n}.vov"),
        ("Content-Type", "application/http; msgtype=response"),
        ("WARC-Block-Digest", enc(algo, block)),
        ("WARC-Payload-Digest", (penc or enc)(algo, payload)),
    ], block, version)


def resource_sha512(n: int) -> bytes:
    return record([
        ("WARC-Type", "resource"), ("WARC-Record-ID", rid(n)), ("WARC-Date", DATE),
        ("WARC-Target-URI", "file:///seed.txt"), ("Content-Type", "text/plain"),
        ("WARC-Block-Digest", b64("sha512", b"seed text\n")),
        ("WARC-Payload-Digest", b32("sha512", b"seed text\n")),
    ], b"seed text\n", "1.1")


def folded() -> bytes:
    block = http_response(HTML)
    head = (
        "WARC/1.0\r\nWARC-Type:\r\n response\r\nWARC-Record-ID: \r\n\t" + rid(1) + "\r\n"
        "WARC-Date: " + DATE + "\r\nWARC-Target-URI:\r\n  https://vov.vn/folded.vov\r\n"
        "Content-Type: application/http;\r\n msgtype=response\r\n"
        "WARC-Block-Digest: " + b32("sha1", block) + "\r\n"
        f"Content-Length:\r\n {len(block)}\r\n\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def flipped() -> bytes:
    rec = response(1)
    i = rec.index(b"sample article")
    return gz(warcinfo(0)) + gz(rec[:i] + b"S" + rec[i + 1 :])  # digests were of "s"


def truncated_member() -> bytes:
    last = gz(response(2, HTML * 20))
    return gz(warcinfo(0)) + gz(response(1)) + last[:-40]  # cut inside the block


SAMPLES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "ok-1.1-sha256.warc.gz": (
        "valid WARC/1.1, per-record gzip; sha256 hex block + base32 payload, sha512 base64",
        lambda: gz(warcinfo(0, "1.1")) + gz(response(1, algo="sha256", enc=b16, penc=b32,
                                                     version="1.1")) + gz(resource_sha512(2)),
    ),
    "chunked-ok.warc": (
        "chunked response, payload digest over the de-chunked entity (the spec's reading)",
        lambda: warcinfo(0) + response(1, chunked=True),
    ),
    "chunked-raw-digest.warc": (
        "chunked response whose payload digest covers the chunked wire bytes (warcio #75)",
        lambda: warcinfo(0) + response(1, chunked=True, raw_payload_digest=True),
    ),
    "flipped-byte.warc.gz": ("one payload byte changed after digesting", flipped),
    "truncated-member.warc.gz": ("the last gzip member cut in half", truncated_member),
    "duplicate-ids.warc": (
        "two records share one WARC-Record-ID",
        lambda: warcinfo(0) + response(1) + response(2, id_n=1),
    ),
    "folded-headers.warc": ("valid: header values folded onto SP/HT continuation lines", folded),
    "single-member.warc.gz": (
        "three records in ONE gzip member (readable, not per-record compressed)",
        lambda: gz(warcinfo(0) + response(1) + response(2)),
    ),
    "missing-crlf.warc": (
        "the first record lacks its CRLF CRLF terminator",
        lambda: record([("WARC-Type", "warcinfo"), ("WARC-Record-ID", rid(0)),
                        ("WARC-Date", DATE), ("Content-Type", "application/warc-fields")],
                       b"software: x\r\n", terminator=b"") + response(1),
    ),
}


def build(outdir: Path) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (_why, make) in SAMPLES.items():
        path = outdir / name
        path.write_bytes(make())
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for p in build(target):
        print(p)
