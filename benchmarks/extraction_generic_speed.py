"""Extraction speed on pages without a site profile: archiver's generic path vs trafilatura.

    python benchmarks/extraction_generic_speed.py [--corpus scrapinghub|synthetic]
        [--rounds 5] [--repeat 2] [--pages 300] [--target-kb 60] [--only SIDE]

Pages (--corpus):
- scrapinghub (default): the 181 real news pages of the shared scrapinghub benchmark
  (../shared/conformance/extraction/scrapinghub/html/*.html.gz, or $ARCHIVER_SHARED),
  gunzipped once before timing, each page taken --repeat times;
- synthetic: --pages generated news pages (tests/vov_pages.py, padded with site chrome to
  --target-kb as in extraction_speed.py) with every `vov.vn` moved to `news.example.org`,
  so no site profile claims them and they take the generic path;
- chrome: the same pages padded to --target-kb (default 200 here) with chrome as many news
  sites write it, in plain <div>s with class names (header menus, sidebars of teasers, a
  footer link farm, cookie and share widgets, inline scripts, styles and SVG icons) rather
  than <nav>/<aside>/<footer>: nothing archiver can cut by tag before trafilatura reads the
  page (issue 24 item 10's "chrome-heavy" pages; a stand-in for the held-out set).

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


def chrome_block(index: int) -> str:
    """Site chrome in divs with class names, the way many CMS themes write it."""
    icon = ('<svg class="icon" viewBox="0 0 24 24" width="16" height="16"><path d="M12 2L2 7l10 '
            '5 10-5-10-5zm0 7.5L4.5 6 12 2.5 19.5 6 12 9.5z"/></svg>')
    menu = "".join(f'<div class="menu-item"><a href="/chuyen-muc-{i}/">{icon}<span>Chuyên mục '
                   f'{i}</span></a></div>' for i in range(40))
    teasers = "".join(
        f'<div class="card card--small"><div class="card__thumb"><a href="/tin-{index}-{i}.html">'
        f'<img src="/anh/{index}-{i}.jpg" alt="" loading="lazy"></a></div>'
        f'<div class="card__body"><h3 class="card__title"><a href="/tin-{index}-{i}.html">Tin '
        f'đọc nhiều số {i} của chuyên mục trong tuần</a></h3><div class="card__meta">'
        f'<span class="time">{i % 12 + 1} giờ trước</span> {icon}</div></div></div>'
        for i in range(30))
    links = "".join(f'<a class="footer-link" href="/trang-{i}/">Liên kết {i}</a>'
                    for i in range(60))
    colour = index * 99991 % 0xFFFFFF
    style = f".c{index}{{margin:{index % 9}px;padding:0 {index % 7}px;color:#{colour:06x}}}"
    script = ("window.dataLayer=window.dataLayer||[];dataLayer.push(" + "{" +
              ",".join(f'"slot{i}":"/{index}/ads/{i}"' for i in range(80)) + "});")
    return (f'<div class="header-menu c{index}"><div class="container">{menu}</div></div>'
            f'<div class="sidebar sidebar-right"><div class="widget widget-most-read">'
            f'<div class="widget-title">Đọc nhiều</div>{teasers}</div></div>'
            f'<div class="share-bar">{icon * 6}<span>Chia sẻ</span></div>'
            f'<div class="cookie-consent">Trang này dùng cookie để cải thiện trải nghiệm. '
            f'<button class="btn">Đồng ý</button></div><style>{style * 20}</style>'
            f'<script>{script}</script><div class="site-footer-links">{links}</div>')


def chrome_pages(count: int, target_kb: int) -> list[tuple[str, bytes]]:
    """Generated articles padded with div chrome to about `target_kb` (see the docstring)."""
    pages = synthetic_pages(count, 0)
    target = target_kb * 1024
    out = []
    for url, data in pages:
        head, sep, tail = data.rpartition(b"</body>")
        blocks, index = [], 0
        while len(head) + sum(map(len, blocks)) < target:
            blocks.append(chrome_block(index).encode("utf-8"))
            index += 1
        # half the chrome before the article (the header and its menus), half after
        body_at = head.find(b"<body")
        body_at = head.find(b">", body_at) + 1 if body_at >= 0 else 0
        half = len(blocks) // 2
        out.append((url, head[:body_at] + b"".join(blocks[:half]) + head[body_at:]
                    + b"".join(blocks[half:]) + sep + tail))
    return out


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
    parser.add_argument("--corpus", choices=("scrapinghub", "synthetic", "chrome"),
                        default="scrapinghub")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=2, help="times each page is taken")
    parser.add_argument("--pages", type=int, default=300, help="synthetic pages")
    parser.add_argument("--target-kb", type=int, default=None,
                        help="synthetic page size (default 60; chrome: 200)")
    parser.add_argument("--only", choices=("archiver", "trafilatura"))
    args = parser.parse_args(argv)
    if args.corpus == "synthetic":
        pages = synthetic_pages(args.pages, args.target_kb or 60) * args.repeat
        label = f"{args.pages} synthetic generic pages x {args.repeat}"
    elif args.corpus == "chrome":
        pages = chrome_pages(args.pages, args.target_kb or 200) * args.repeat
        label = f"{args.pages} chrome-heavy generic pages x {args.repeat}"
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
