"""The ranking step of `archiver search` before and after issue 24 item 12, in one process.

    python benchmarks/search_rank_ab.py [--articles 100000] [--queries 60] [--rounds 3]

On the corpus search_speed.py builds (benchmarks/work/search-<N>/, built there first), each
query of search_speed.py's three kinds is ranked by the previous query (FTS5 `ORDER BY rank`
with `rank MATCH 'bm25(...)'`, search_docs joined row by row) and by the current
`archiver.access.search._top`, alternating which goes first between rounds. CPU time of this
process per query (wall time on a shared machine mostly measures the other tenants); the
table gives median and p95 per side and the median of the per-query ratios new / old, and
checks both give the same documents.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import search_speed

from archiver.access import search as S
from archiver.store.catalog import Catalog

OLD = ("SELECT f.rowid, f.rank FROM article_fts f JOIN search_docs d ON d.docid = f.rowid "
       "WHERE article_fts MATCH ? AND f.rank MATCH 'bm25(10.0, 4.0, 1.0, 4.0)' AND {where} "
       "ORDER BY f.rank LIMIT 20")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    archive = search_speed.build(search_speed.WORK / f"search-{args.articles}", args.articles)
    kinds = search_speed.queries(random.Random(11), archive, args.queries)
    with Catalog.open(archive) as catalog:
        conn = catalog.conn

        def old(expression: str, filters: S.Filters) -> list[int]:
            where, values = S._filters(filters, False)
            return [r[0] for r in conn.execute(OLD.format(where=" AND ".join(where)),
                                               [expression, *values])]

        def new(expression: str, filters: S.Filters) -> list[int]:
            return [r[0] for r in S._top(conn, expression, filters, 20, False)]

        sides = {"old": old, "new": new}
        print(f"| queries ({args.articles:,} articles) | old CPU median ms | old p95 | "
              "new CPU median ms | new p95 | new / old (median per query) |")
        print("| --- | --- | --- | --- | --- | --- |")
        same = True
        for kind, items in kinds.items():
            times: dict[str, list[list[float]]] = {"old": [], "new": []}
            for round_ in range(args.rounds):
                for name in (["old", "new"] if round_ % 2 else ["new", "old"]):
                    per = []
                    for query, filters in items:
                        expression = S.fts_query(query)
                        started = time.process_time()
                        sides[name](expression, filters)
                        per.append(time.process_time() - started)
                    times[name].append(per)
            o = [statistics.median(x) * 1000 for x in zip(*times["old"], strict=True)]
            n = [statistics.median(x) * 1000 for x in zip(*times["new"], strict=True)]
            print(f"| {kind} | {statistics.median(o):.1f} | {_p95(o):.1f} | "
                  f"{statistics.median(n):.1f} | {_p95(n):.1f} | "
                  f"{statistics.median(b / a for a, b in zip(o, n, strict=True) if a):.2f} |")
            for query, filters in items:
                expression = S.fts_query(query)
                same &= old(expression, filters) == new(expression, filters)
    print(f"same documents in the same order for every query: {same}")
    return 0 if same else 1


def _p95(values: list[float]) -> float:
    return sorted(values)[round(0.95 * (len(values) - 1))]


if __name__ == "__main__":
    sys.exit(main())
