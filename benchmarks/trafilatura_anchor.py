"""The extraction anchor: trafilatura over the same stored pages `archiver extract --all` reads.

    python benchmarks/trafilatura_anchor.py ARCHIVE_ROOT [--fast] [--with-metadata]

Reads every 2xx HTML response record of every WARC under ARCHIVE_ROOT/warcs with warcio (as
archiver does), runs `trafilatura.extract` on each payload in this one process (called as
issue 7's reference figure calls it: defaults, bytes in), and prints
"<pages> pages, <extracted> with text, <seconds> s in extraction". Exit 2 when trafilatura
cannot be imported.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def html_payloads(root: Path) -> Iterator[bytes]:
    from warcio.archiveiterator import ArchiveIterator

    for warc in sorted((root / "warcs").rglob("*.warc.gz")):
        with warc.open("rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                ctype = record.http_headers.get_header("Content-Type") or ""
                if record.http_headers.get_statuscode() == "200" and "html" in ctype:
                    yield record.content_stream().read()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--fast", action="store_true", help="trafilatura's fast mode")
    ap.add_argument("--with-metadata", action="store_true",
                    help="also extract title, author, date (slower)")
    args = ap.parse_args()
    try:
        import trafilatura
    except ImportError as exc:
        print(f"trafilatura unavailable: {exc}", file=sys.stderr)
        sys.exit(2)
    pages = extracted = 0
    spent = 0.0
    for payload in html_payloads(args.root):
        started = time.perf_counter()
        text = trafilatura.extract(payload, fast=args.fast, with_metadata=args.with_metadata)
        spent += time.perf_counter() - started
        pages += 1
        extracted += bool(text)
    print(f"{pages} pages, {extracted} with text, {spent:.2f} s in extraction")


if __name__ == "__main__":
    main()
