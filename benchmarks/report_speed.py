"""`archiver report` time and size (issue 25 target: 100,000 articles -> report <= 200 MB,
built in <= 60 s on this machine).

    python benchmarks/report_speed.py                      # 100,000 articles (built once)
    python benchmarks/report_speed.py --articles 5000      # quick; extrapolated linearly

The archive is benchmarks/builders.py's corpus archive (real extractor output for generated
VOV pages, re-keyed: one response record, one article file and one capture entry per
article), built once under benchmarks/work/. Its catalog is made before the timing (an
untimed `archiver ls`), as it is on an archive that `capture` and `ingest` keep current.
Then `archiver report OUT --quiet` runs once in a child process: wall seconds, peak RSS, the
report's size (bytes of its files, and what they take on disk), its file count. With fewer
than 100,000 articles the time and size are also given per article and times 100,000 (the
work is per article: one page, one search-index entry, one listing row; the charts are a
fixed cost, so the extrapolation errs high). The build is one process on one core, so on a
machine shared with other work its CPU seconds (user + system) say what the wall time
would be on an idle one; both are printed. Exits 1 when a target is missed (wall time).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from builders import build_corpus_archive
from measure import PY, machine_facts, run_measured

WORK = Path(__file__).resolve().parent / "work"
FULL = 100_000
TARGET_SECONDS, TARGET_MB = 60.0, 200.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=FULL)
    parser.add_argument("--jobs", type=int, default=2, help="processes building the input")
    args = parser.parse_args()
    archive = build_corpus_archive(WORK / f"corpus-{args.articles}", args.articles, args.jobs)
    subprocess.run([PY, "-m", "archiver", "ls", "--archive", str(archive)], check=True,
                   stdout=subprocess.DEVNULL)  # the catalog, untimed
    out = WORK / f"report-{args.articles}"
    shutil.rmtree(out, ignore_errors=True)
    sample = run_measured([PY, "-m", "archiver", "report", str(out), "--quiet",
                           "--archive", str(archive)])
    files = [p for p in out.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    disk = sum(p.stat().st_blocks * 512 for p in files)
    scale = FULL / args.articles
    result = {
        "articles": args.articles, "seconds": round(sample.seconds, 2),
        "cpu_seconds": round(sample.cpu_seconds, 2),
        "peak_rss_mb": round(sample.peak_rss_mb, 1), "files": len(files),
        "report_mb": round(size / 1e6, 2), "on_disk_mb": round(disk / 1e6, 2),
        "ms_per_article": round(1000 * sample.seconds / args.articles, 3),
        "bytes_per_article": round(size / args.articles),
        "at_100k_seconds": round(sample.seconds * scale, 1),
        "at_100k_cpu_seconds": round(sample.cpu_seconds * scale, 1),
        "at_100k_mb": round(size * scale / 1e6, 1),
        "at_100k_on_disk_mb": round(disk * scale / 1e6, 1),
        "machine": machine_facts(),
    }
    print(json.dumps(result, indent=2))
    ok = result["at_100k_seconds"] <= TARGET_SECONDS and result["at_100k_mb"] <= TARGET_MB
    print(f"target (100,000 articles: <= {TARGET_SECONDS:.0f} s, <= {TARGET_MB:.0f} MB): "
          + ("met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
