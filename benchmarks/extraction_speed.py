"""Extraction speed on vov.vn-template pages: archiver's extract() vs trafilatura.extract.

    python benchmarks/extraction_speed.py [--pages 200] [--rounds 5] [--target-kb 100]

Pages come from tests/vov_pages.py `generate(n)` (SYNTHETIC, deterministic). Those pages
carry only the article; a real news page is ~100 KB, mostly site chrome (mega-menu,
"most read" and section rails, footer link farm, inline scripts), so each page is padded
with such chrome up to --target-kb. Both extractors get the same bytes in the same process;
each round times archiver over all pages, then trafilatura over all pages (alternating), and
the table shows medians of the per-round pages/s and the ratio archiver / trafilatura.
archiver's time covers everything `archiver extract` does per record after reading it:
decode, parse, profile, fields, document assembly (schema validation is not included).
trafilatura is called as the benchmark calls it: `trafilatura.extract(html_string)`.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from measure import timed  # noqa: E402
from vov_pages import generate  # noqa: E402  (tests/ is not a package)

from archiver.extract import NotAnArticle, SourceRecord, extract  # noqa: E402

# Rails of teasers on the right and in the footer: real pages list 30-60 other stories.
TEASERS_PER_RAIL = 40


def chrome(index: int) -> str:
    """One block of site chrome: menu, rails of teasers, footer links, an inline script."""
    menu = "".join(f'<li><a href="/muc-{i}/">Chuyên mục {i}</a></li>' for i in range(60))
    rail = "".join(
        f'<div class="story"><a href="/tin-{index}-{i}-post{900000 + i}.vov">'
        f'<img src="/anh/{i}.jpg" alt=""></a><h3><a href="/tin-{i}.vov">Tin nổi bật số {i} '
        f'trong ngày của chuyên mục</a></h3><p class="sapo">Tóm tắt ngắn của tin số {i}, '
        f'không thuộc bài viết đang đọc.</p></div>' for i in range(TEASERS_PER_RAIL))
    script = "var cfg=" + "{" + ",".join(f'"k{i}":"{i * 7919}"' for i in range(200)) + "};"
    return (f'<nav class="mega-menu"><ul>{menu}</ul></nav><aside class="box-most-read">'
            f"{rail}</aside><script>{script}</script>"
            f'<div class="footer-links"><ul>{menu}</ul></div>')


def pad(page: bytes, target: int) -> bytes:
    """Insert chrome before </body> until the page is about `target` bytes."""
    head, sep, tail = page.rpartition(b"</body>")
    if not sep:
        return page
    blocks, index = [], 0
    while len(head) + sum(map(len, blocks)) < target:
        blocks.append(chrome(index).encode("utf-8"))
        index += 1
    return head + b"".join(blocks) + sep + tail


def sources(pages: list[tuple[str, bytes]]) -> list[SourceRecord]:
    return [SourceRecord(url=url, payload=data, content_type="text/html; charset=utf-8",
                         warc_path="bench.warc.gz", record_id=f"<urn:uuid:bench-{i}>",
                         warc_date="2026-01-01T00:00:00Z",
                         payload_digest="sha256:" + hashlib.sha256(data).hexdigest(),
                         http_status=200)
            for i, (url, data) in enumerate(pages)]


def run_archiver(records: list[SourceRecord]) -> int:
    articles = 0
    for record in records:
        articles += not isinstance(extract(record), NotAnArticle)
    return articles


def run_trafilatura(texts: list[str]) -> int:
    import trafilatura

    return sum(bool(trafilatura.extract(text)) for text in texts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--target-kb", type=int, default=100)
    args = parser.parse_args(argv)
    pages = [(url, pad(data, args.target_kb * 1024)) for url, data in generate(args.pages)]
    records = sources(pages)
    texts = [data.decode("utf-8") for _, data in pages]
    mean_kb = statistics.mean(len(d) for _, d in pages) / 1024
    ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
    for _ in range(args.rounds):
        rate, cpu_rate, ok_ours = timed(lambda: run_archiver(records), len(records))
        ours.append(rate)
        ours_cpu.append(cpu_rate)
        rate, cpu_rate, ok_theirs = timed(lambda: run_trafilatura(texts), len(texts))
        theirs.append(rate)
        theirs_cpu.append(cpu_rate)
    a, t = statistics.median(ours), statistics.median(theirs)
    a_cpu, t_cpu = statistics.median(ours_cpu), statistics.median(theirs_cpu)
    print(f"{len(pages)} vov-template pages, mean {mean_kb:.0f} KB, {args.rounds} rounds "
          f"(alternating), medians")
    print(f"{'extractor':<24}{'pages/s':>10}{'CPU pages/s':>13}{'articles':>10}")
    print(f"{'archiver extract':<24}{a:>10.1f}{a_cpu:>13.1f}{ok_ours:>10}")
    print(f"{'trafilatura.extract':<24}{t:>10.1f}{t_cpu:>13.1f}{ok_theirs:>10}")
    # CPU time (this process only) is less moved by other processes on a busy machine.
    print(f"ratio archiver / trafilatura: {a / t:.2f}x (by CPU time: {a_cpu / t_cpu:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
