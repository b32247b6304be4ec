"""Issue 12's targets: capture against `wget --warc-file` on the same loopback pages, peak
memory, and what recapturing unchanged pages adds.

    python benchmarks/storage_bench.py                 # 300 pages of ~100 KB, 3 rounds
    python benchmarks/storage_bench.py --pages 100 --rounds 2

Each round runs, back to back and in a rotating order, `archiver capture --no-extract`,
`archiver capture` (extraction on) and `wget --warc-file -i urls.txt`, each into a fresh
target, as whole processes (start-up included). Medians are reported with every sample.
Then one archive is captured twice (the second run finds every payload unchanged) and the
bytes each run added are compared. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from measure import median, run_measured

HERE = Path(__file__).resolve().parent
PY = sys.executable
ARCHIVER = [PY, "-m", "archiver"]


def start_server(pages: int, urls: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([PY, str(HERE / "page_server.py"), "--pages", str(pages),
                             "--urls-out", str(urls)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    proc.stdout.readline()  # the port: it is listening
    return proc


def tree_bytes(root: Path, skip: tuple[str, ...] = ()) -> int:
    return sum(p.stat().st_size for p in root.rglob("*")
               if p.is_file() and not any(part in skip for part in p.parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="storage-bench-"))
    urls = work / "urls.txt"
    server = start_server(args.pages, urls)
    sides = {
        "archiver --no-extract": lambda t: [*ARCHIVER, "capture", "--seeds", str(urls),
                                            "--archive", str(t), "-q", "--no-extract"],
        "archiver (extract)": lambda t: [*ARCHIVER, "capture", "--seeds", str(urls),
                                         "--archive", str(t), "-q"],
        "wget --warc-file": lambda t: ["wget", "--quiet", f"--warc-file={t}/wget",
                                       "-P", str(t), "-i", str(urls)],
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
    try:
        order = list(sides)
        for r in range(args.rounds):
            for name in order[r % len(order):] + order[:r % len(order)]:
                target = work / f"{name.split()[0]}-{len(samples[name])}"
                target.mkdir()
                s = run_measured(sides[name](target))
                samples[name].append((args.pages / s.seconds, s.peak_rss_mb))
                shutil.rmtree(target)
        again = work / "recapture"
        run_measured(sides["archiver (extract)"](again))
        first = tree_bytes(again, skip=("catalog.sqlite", "catalog.sqlite-wal"))
        first_warcs = tree_bytes(again / "warcs")
        run_measured(sides["archiver (extract)"](again))
        second = tree_bytes(again, skip=("catalog.sqlite", "catalog.sqlite-wal")) - first
        second_warcs = tree_bytes(again / "warcs") - first_warcs
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)
    wget = median([p for p, _ in samples["wget --warc-file"]])
    print(f"| capture of {args.pages} loopback pages (~100 KB) | pages/s (median) | × wget "
          "| peak RSS MB (max) | samples (pages/s) |")
    print("| --- | --- | --- | --- | --- |")
    for name, got in samples.items():
        rate = median([p for p, _ in got])
        print(f"| {name} | {rate:.1f} | {rate / wget:.2f}× | {max(m for _, m in got):.0f} | "
              + ", ".join(f"{p:.1f}" for p, _ in got) + " |")
    print(f"\nrecapture of {args.pages} unchanged pages: first run {first / 1e6:.2f} MB "
          f"({first_warcs / 1e6:.2f} MB of WARC), second run added {second / 1e6:.3f} MB "
          f"({second_warcs / 1e6:.3f} MB of WARC) = {100 * second / first:.1f}% of the first")


if __name__ == "__main__":
    main()
