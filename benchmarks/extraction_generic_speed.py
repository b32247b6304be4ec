"""Extraction speed on pages without a site profile: archiver's generic path vs trafilatura.

    python benchmarks/extraction_generic_speed.py [--corpus scrapinghub|synthetic]
        [--rounds 5] [--repeat 2] [--pages 300] [--target-kb 60] [--only SIDE]

Pages (--corpus):
- scrapinghub (default): the 181 real news pages of the shared scrapinghub benchmark
  (../shared/conformance/extraction/scrapinghub/html/*.html.gz, or $ARCHIVER_SHARED),
  gunzipped once before timing, each page taken --repeat times;
- synthetic: --pages generated news pages (tests/vov_pages.py, padded with site chrome to
  --target-kb as in extraction_speed.py) with every `vov.vn` moved to `news.example.org`,
  so no site profile claims them and they take the generic path.

Both sides get the same bytes in the same process; each round times archiver's `extract()`
over all pages, then `trafilatura.extract` (defaults, bytes in, as
benchmarks/trafilatura_anchor.py calls it), the first of the pair alternating between rounds
so drift on a noisy machine hits both. The table shows medians of
the per-round pages/s and the median of the per-round ratios archiver / trafilatura (issue 16
item 8: target >= 0.8x). archiver's time covers decode, parse, structured data, trafilatura,
the verbatim checks, the other fields and document assembly (schema validation excluded).

--only archiver|trafilatura runs one side (one untimed warm-up pass, then the rounds), for
timing whole processes from outside (benchmarks/ab.py).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from measure import timed  # noqa: E402

from archiver.extract import NotAnArticle, SourceRecord, extract  # noqa: E402

SHARED = Path(os.environ.get("ARCHIVER_SHARED") or REPO.parent / "shared")
BENCHMARK = SHARED / "conformance" / "extraction" / "scrapinghub"


def load_pages() -> list[tuple[str, bytes]]:
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text(encoding="utf-8"))
    return [(truth[key]["url"], gzip.decompress((BENCHMARK / "html" / f"{key}.html.gz")
                                                .read_bytes()))
            for key in sorted(truth)]


def synthetic_pages(count: int, target_kb: int) -> list[tuple[str, bytes]]:
    sys.path.insert(0, str(REPO / "tests"))
    sys.path.insert(0, str(REPO / "benchmarks"))
    from extraction_speed import pad
    from vov_pages import generate

    def moved(data: bytes) -> bytes:
        return data.replace(b"vov.vn", b"news.example.org")

    return [(url.replace("vov.vn", "news.example.org"), pad(moved(data), target_kb * 1024))
            for url, data in generate(count)]


def sources(pages: list[tuple[str, bytes]]) -> list[SourceRecord]:
    return [SourceRecord(url=url, payload=data, content_type="text/html; charset=utf-8",
                         warc_path="bench.warc.gz", record_id=f"<urn:uuid:bench-{i}>",
                         warc_date="2026-01-01T00:00:00Z",
                         payload_digest="sha256:" + hashlib.sha256(data).hexdigest(),
                         http_status=200)
            for i, (url, data) in enumerate(pages)]


def run_archiver(records: list[SourceRecord]) -> int:
    return sum(not isinstance(extract(record), NotAnArticle) for record in records)


def run_trafilatura(payloads: list[bytes]) -> int:
    import trafilatura

    return sum(bool(trafilatura.extract(payload)) for payload in payloads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", choices=("scrapinghub", "synthetic"), default="scrapinghub")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="times each page is taken")
    parser.add_argument("--pages", type=int, default=300, help="synthetic pages")
    parser.add_argument("--target-kb", type=int, default=60, help="synthetic page size")
    parser.add_argument("--only", choices=("archiver", "trafilatura"))
    args = parser.parse_args(argv)
    if args.corpus == "synthetic":
        pages = synthetic_pages(args.pages, args.target_kb) * args.repeat
        label = f"{args.pages} synthetic generic pages x {args.repeat}"
    elif (BENCHMARK / "ground-truth.json").exists():
        pages = load_pages() * args.repeat
        label = f"{len(pages) // args.repeat} scrapinghub pages x {args.repeat}"
    else:
        print(f"scrapinghub benchmark not at {BENCHMARK}", file=sys.stderr)
        return 2
    import logging

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # as archiver sets it
    records = sources(pages)
    payloads = [data for _, data in pages]
    sides: dict[str, Callable[[], int]] = {
        "archiver": lambda: run_archiver(records),
        "trafilatura": lambda: run_trafilatura(payloads)}
    if args.only:
        sides[args.only]()  # warm-up: imports, compiled selectors
        for _ in range(args.rounds):
            sides[args.only]()
        return 0
    for fn in sides.values():
        fn()  # one untimed warm-up pass each
    # Wall-clock rates are what a user sees; CPU-time rates (this process only) are less
    # moved by other processes on a busy machine. Both are reported, never mixed.
    wall: dict[str, list[float]] = {"archiver": [], "trafilatura": []}
    cpu: dict[str, list[float]] = {"archiver": [], "trafilatura": []}
    ok: dict[str, int] = {}
    for round_ in range(args.rounds):
        order = ["archiver", "trafilatura"] if round_ % 2 == 0 else ["trafilatura", "archiver"]
        for name in order:
            by_wall, by_cpu, ok[name] = timed(sides[name], len(pages))
            wall[name].append(by_wall)
            cpu[name].append(by_cpu)
    mean_kb = statistics.mean(len(p) for p in payloads) / 1024
    print(f"{len(pages)} pages ({label}), mean {mean_kb:.0f} KB, {args.rounds} rounds "
          "(alternating), medians")
    print(f"{'extractor':<24}{'pages/s':>10}{'CPU pages/s':>13}{'articles':>10}")
    for name, side in (("archiver", "archiver extract"), ("trafilatura", "trafilatura.extract")):
        print(f"{side:<24}{statistics.median(wall[name]):>10.1f}"
              f"{statistics.median(cpu[name]):>13.1f}{ok[name]:>10}")
    for clock, rates in (("wall", wall), ("CPU", cpu)):
        ratios = [a / t for a, t in zip(rates["archiver"], rates["trafilatura"], strict=True)]
        print(f"ratio archiver / trafilatura by {clock} time, per round: "
              + ", ".join(f"{r:.2f}" for r in ratios)
              + f"; median {statistics.median(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
