"""Write a large, deterministic, per-record-gzip WARC/1.1 of HTML responses for benchmarks.

    python benchmarks/make_big_warc.py OUT.warc.gz [--records 5000] [--page-kb 165] [--seed 1]
    python benchmarks/make_big_warc.py OUT.warc.gz --records 300 --page-kb 1600 --incompressible

Defaults give ~300 MB: 5000 request/response pairs whose HTML is random words (so it compresses
about as badly as real text, ~3.5x), every 20th response chunked. Digests are sha1 base32 with
the payload digest over the de-chunked body, so a correct validator reports no errors.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import random
import uuid
import zlib
from pathlib import Path

WORDS = [f"w{i:x}" for i in range(4096)]  # a fixed vocabulary: ~12 bits of entropy per word


def _gzip_member(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def _sha1(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def _record(rng: random.Random, rtype: str, uri: str, ctype: str, block: bytes,
            payload: bytes | None, date: str, extra: dict[str, str] | None = None) -> bytes:
    fields = {
        "WARC-Type": rtype,
        "WARC-Record-ID": f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>",
        "WARC-Date": date,
        "WARC-Target-URI": uri,
        "Content-Type": ctype,
        "WARC-Block-Digest": _sha1(block),
    }
    if payload is not None:
        fields["WARC-Payload-Digest"] = _sha1(payload)
    fields.update(extra or {})
    fields["Content-Length"] = str(len(block))
    head = "WARC/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def _html(rng: random.Random, n: int, kb: int, noise: bool = False) -> bytes:
    if noise:  # incompressible: base64 of random bytes (images inlined as data: URIs)
        data = base64.b64encode(rng.randbytes(kb * 1024 * 3 // 4)).decode()
        return (f"<!doctype html><html><head><title>Page {n}</title></head><body>"
                f'<img src="data:image/jpeg;base64,{data}"></body></html>').encode()
    words = rng.choices(WORDS, k=kb * 1024 // 6)
    paras = [" ".join(words[i : i + 80]) for i in range(0, len(words), 80)]
    body = "\n".join(f"<p>{p}</p>" for p in paras)
    page = f"<!doctype html><html><head><title>Page {n}</title></head><body>{body}</body></html>"
    return page.encode()


def _chunk(body: bytes, size: int = 8192) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def _pair(rng: random.Random, n: int, kb: int, noise: bool = False) -> bytes:
    uri = f"http://bench.example/articles/{n}.html"
    date = f"2025-01-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}Z"
    req = f"GET /articles/{n}.html HTTP/1.1\r\nHost: bench.example\r\n\r\n".encode()
    body = _html(rng, n, kb, noise)
    chunked = n % 20 == 0
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    head += framing + "\r\n\r\n"
    block = head.encode() + (_chunk(body) if chunked else body)
    resp = _record(rng, "response", uri, "application/http; msgtype=response", block, body, date)
    request = _record(rng, "request", uri, "application/http; msgtype=request", req, b"", date)
    return _gzip_member(resp) + _gzip_member(request)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--records", type=int, default=5000, help="HTML responses to write")
    ap.add_argument("--page-kb", type=int, default=165, help="uncompressed HTML size")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--incompressible", action="store_true",
                    help="pages of base64 noise (large records that do not compress)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    info = b"software: archiver benchmarks/make_big_warc.py\r\nformat: WARC File Format 1.1\r\n"
    with args.out.open("wb") as fh:
        fh.write(_gzip_member(_record(rng, "warcinfo", "urn:x-bench", "application/warc-fields",
                                      info, None, "2025-01-01T00:00:00Z")))
        for n in range(args.records):
            fh.write(_pair(rng, n, args.page_kb, args.incompressible))
    print(f"{args.out}: {args.out.stat().st_size / 1e6:.1f} MB, {1 + 2 * args.records} records")


if __name__ == "__main__":
    main()
