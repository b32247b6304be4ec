"""validate on an archive without catalog.sqlite (issue 24, item 6): how long it takes, and
that it leaves no catalog behind (validate reads revisit facts from the WARCs it checks).

    python benchmarks/validate_no_catalog.py --articles 2000

Builds (once, cached) the corpus archive benchmarks/run.py uses, deletes its catalog, times
the library call `validate_archive` the way `archiver validate` runs it, and says whether
catalog.sqlite exists afterwards. Exits 1 when validate wrote one.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from builders import build_corpus_archive

from archiver.check.validate import validate_archive
from archiver.store.archive import Archive

WORK = Path(__file__).resolve().parent / "work"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    root = build_corpus_archive(WORK / f"validate-catalog-{args.articles}", args.articles)
    archive = Archive(root)
    catalog = root / "catalog.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    started = time.monotonic()
    report = validate_archive(archive, jobs=args.jobs)
    seconds = time.monotonic() - started
    print(f"validate of {args.articles} articles, no catalog: {seconds:.2f} s, "
          f"{report.errors} errors; catalog.sqlite written: {catalog.exists()}")
    sys.exit(1 if catalog.exists() else 0)


if __name__ == "__main__":
    main()
