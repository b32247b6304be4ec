"""Search speed over 100,000 articles (issue 24 target: median ≤ 50 ms, p95 ≤ 100 ms for
single words, diacritics-free phrases and filtered queries).

    python benchmarks/search_speed.py               # 100,000 articles (built once, cached)
    python benchmarks/search_speed.py --articles 10000 --queries 30

Synthetic Vietnamese-like articles (title, lead, 8 paragraphs, byline, section, date) are
inserted through the catalog's own API (`insert_article`) into a catalog under
benchmarks/work/search-<N>/; the text follows a Zipf law over ~6,000 syllables built from
Vietnamese onsets, rhymes and tones, so common words hit most articles, as in real news.
Each query is timed as the library call `archiver.access.search.search` (opening the
catalog, the query, the snippets of up to 20 hits), the way `archiver search` runs it, after
one untimed warm-up query. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from archiver.access.search import Filters, search
from archiver.store import fulltext
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog, insert_article
from archiver.store.fulltext import fold

WORK = Path(__file__).resolve().parent / "work"
ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gi", "h", "k", "kh", "l", "m", "n", "ng", "nh",
          "ph", "qu", "r", "s", "t", "th", "tr", "v", "x"]
RHYMES = ["a", "ai", "an", "ang", "anh", "ao", "at", "ay", "ăn", "ăng", "âm", "ân", "ât", "e",
          "em", "en", "i", "im", "in", "inh", "o", "oi", "on", "ong", "ô", "ôi", "ông", "ơ",
          "ơi", "u", "ui", "un", "ung", "ư", "ưa", "ưng", "ươc", "ương", "uyên", "iêt"]
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]  # ngang, huyền, sắc, hỏi, ngã, nặng
SECTIONS = ["Chính trị", "Kinh tế", "Xã hội", "Thế giới", "Văn hóa", "Thể thao", "Đời sống"]
AUTHORS = ["Hà Anh", "Minh Thu", "Đức Tuấn", "Thu Hằng", "Quốc Đạt", "Lan Phương", "PV"]
TARGET_MEDIAN_MS, TARGET_P95_MS = 50.0, 100.0


def vocabulary(rng: random.Random) -> list[str]:
    import unicodedata

    words = {unicodedata.normalize("NFC", o + _toned(r, t)) for o in ONSETS for r in RHYMES
             for t in TONES}
    ordered = sorted(words)
    rng.shuffle(ordered)
    return ordered


def _toned(rhyme: str, tone: str) -> str:
    """The tone mark on the rhyme's main vowel: the one with a hat or horn, else the first."""
    vowels = [i for i, ch in enumerate(rhyme) if ch in "aăâeêioôơuưy"]
    hats = [i for i in vowels if rhyme[i] in "ăâêôơư"]
    i = (hats or vowels)[-1 if hats else 0]
    return rhyme[:i + 1] + tone + rhyme[i + 1:]


class Text:
    """Zipf-distributed words: rank r is drawn with weight 1/r."""

    def __init__(self, rng: random.Random, words: list[str]) -> None:
        self.rng, self.words = rng, words
        self.cum_weights = list(itertools.accumulate(1.0 / (r + 1) for r in range(len(words))))

    def words_(self, n: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum_weights, k=n)

    def sentence(self, n: int) -> str:
        return " ".join(self.words_(n)).capitalize() + "."


def build(root: Path, count: int, seed: int = 7) -> Archive:
    archive = Archive(root)
    marker = root / f".built-{count}"
    if marker.exists():
        return archive
    archive.ensure()
    (root / "catalog.sqlite").unlink(missing_ok=True)
    rng = random.Random(seed)
    text = Text(rng, vocabulary(rng))
    started = time.monotonic()
    with Catalog.open(archive, catch_up=False) as catalog:
        conn = catalog.conn
        conn.execute("BEGIN")
        for i in range(count):
            authors = rng.sample(AUTHORS, k=rng.choice([1, 1, 2]))
            day = 1 + i % 28
            values = {
                "path": f"articles/vov-{i}/20261101T000000Z-{i:08x}.json", "id": f"vov-{i}",
                "snapshot": f"20261101T000000Z-{i:08x}", "url": f"https://vov.vn/x-post{i}.vov",
                "record_id": f"<urn:uuid:{i}>", "seq": i, "sha256": "0" * 64,
                "title": text.sentence(rng.randint(6, 14)).rstrip("."),
                "lead": text.sentence(rng.randint(20, 40)),
                "published_at": f"2026-{1 + i % 12:02d}-{day:02d}T08:00:00+07:00",
                "section": rng.choice(SECTIONS), "byline": " - ".join(authors) + "/VOV.VN",
                "authors": str(authors).replace("'", '"'), "source": "VOV.VN",
                "language": "vi", "captured_at": "2026-11-30T00:00:00Z",
                "schema_version": "1.0.0",
            }
            body = "\n".join(" ".join(text.sentence(rng.randint(8, 25))
                                      for _ in range(rng.randint(2, 4)))
                             for _ in range(8))
            insert_article(conn, values, body)
            if i % 5000 == 4999:
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                print(f"  {i + 1} articles, {time.monotonic() - started:.0f}s", flush=True)
        conn.execute("COMMIT")
        fulltext.optimize(conn)  # as `archiver index --rebuild` leaves it
        conn.execute("PRAGMA optimize")
    marker.touch()
    print(f"built {count} articles in {time.monotonic() - started:.0f}s")
    return archive


def queries(rng: random.Random, archive: Archive, n: int) -> dict[str, list[tuple[str, Filters]]]:
    """Single words across frequencies, diacritics-free phrases cut from real titles and
    bodies, and filtered queries."""
    words = vocabulary(random.Random(7))
    with Catalog.open(archive, catch_up=False) as catalog:
        texts = [r[0] for r in catalog.conn.execute(
            "SELECT body FROM article_text WHERE docid IN "
            f"(SELECT abs(random()) % (SELECT max(docid) FROM article_text) + 1 "
            f"FROM article_text LIMIT {n})")]
    singles = [(w, Filters()) for w in rng.sample(words[:3000], n)]
    phrases = []
    for body in texts:
        tokens = [t.strip(".") for t in body.split()]
        start = rng.randrange(0, max(1, len(tokens) - 3))
        phrase = " ".join(tokens[start:start + rng.choice([2, 3])])
        phrases.append(('"' + fold(phrase).lower() + '"', Filters()))
    filtered = []
    for w in rng.sample(words[:3000], n):
        kind = rng.choice(["section", "since", "author"])
        f = (Filters(section=fold(rng.choice(SECTIONS)).lower()) if kind == "section" else
             Filters(since="2026-06-01", until="2026-09") if kind == "since" else
             Filters(author=rng.choice(AUTHORS)))
        filtered.append((fold(w), f))
    return {"single word": singles, "diacritics-free phrase": phrases, "filtered": filtered}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    archive = build(WORK / f"search-{args.articles}", args.articles)
    rng = random.Random(11)
    search(archive, "nguoi")  # warm-up: page cache and SQLite's schema parse
    failed = False
    print(f"| queries ({args.articles:,} articles) | n | median ms | p95 ms | max ms | "
          f"CPU median ms | CPU p95 ms | median hits |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind, items in queries(rng, archive, args.queries).items():
        times, cpu, hits = [], [], []
        for query, filters in items:
            t0, c0 = time.perf_counter(), time.process_time()
            found = search(archive, query, filters)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            hits.append(len(found))
        times.sort()
        median = statistics.median(times)
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        failed |= median > TARGET_MEDIAN_MS or p95 > TARGET_P95_MS
        cpu.sort()
        print(f"| {kind} | {len(times)} | {median:.1f} | {p95:.1f} | {times[-1]:.1f} | "
              f"{statistics.median(cpu):.1f} | {cpu[round(0.95 * (len(cpu) - 1))]:.1f} | "
              f"{statistics.median(hits):.0f} |")
    print(f"targets: median ≤ {TARGET_MEDIAN_MS:.0f} ms, p95 ≤ {TARGET_P95_MS:.0f} ms: "
          f"{'MISSED' if failed else 'met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
