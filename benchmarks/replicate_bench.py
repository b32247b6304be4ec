"""`archiver replicate` to a local folder against `rsync -a` of the same files, alternating
in the same run (issue 22: >= 0.8x rsync's throughput at 1 GB), then a re-run that copies
nothing (<= 2 s), then `audit --budget` overrun (<= 5% of the budget).

    python benchmarks/replicate_bench.py                 # 1 GB
    python benchmarks/replicate_bench.py --bytes 100M -n 2

Both sides copy the files the manifest names plus the manifest and its side files, into a
folder emptied (untimed) before each run; both read a source in the page cache. replicate
also reads every file back at the destination (after dropping it from the page cache) and
checks its sha256 before the rename, and fsyncs: that is its cost over rsync, which does
neither (rsync -a only compares size and mtime, and trusts its write).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from builders import audit_files, build_audit_archive
from measure import PY, compile_archiver, median, run_measured

from archiver.store.rolling import parse_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bytes", default="1G", help="archive size (K/M/G) [1G]")
    ap.add_argument("-n", "--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "archiver-bench")
    args = ap.parse_args(argv)
    compile_archiver()
    size = parse_size(args.bytes)
    source = build_audit_archive(args.work / f"replicate-{size}", size)
    files = [p.relative_to(source).as_posix() for p in audit_files(source)]
    listing = args.work / "rsync-files.txt"
    dest_r, dest_a = args.work / "dest-rsync", args.work / "dest-archiver"
    archiver = [PY, "-m", "archiver", "replicate", str(dest_a), "--archive", str(source),
                "--name", "bench", "--quiet"]
    rsync = ["rsync", "-a", f"--files-from={listing}", f"{source}/", f"{dest_r}/"]
    total = sum((source / f).stat().st_size for f in files)
    times: dict[str, list[float]] = {"replicate": [], "rsync": []}
    for i in range(args.rounds):
        for side in (("replicate", "rsync") if i % 2 == 0 else ("rsync", "replicate")):
            # The same files for both: the manifest as it is now (replicate appends to it).
            listing.write_text("\n".join([*files, "manifest.jsonl"]) + "\n")
            for d in (dest_r, dest_a):
                shutil.rmtree(d, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            cmd = archiver if side == "replicate" else rsync
            times[side].append(run_measured(cmd).seconds)
    rep, rs = median(times["replicate"]), median(times["rsync"])
    print(f"load average {os.getloadavg()[0]:.2f}; {len(files)} files, {total / 1e6:.0f} MB; "
          f"{args.rounds} rounds alternating")
    print(f"replicate: {rep:.2f} s ({total / rep / 1e6:.0f} MB/s)   rsync -a: {rs:.2f} s "
          f"({total / rs / 1e6:.0f} MB/s)   throughput ratio replicate/rsync: {rs / rep:.2f}x")

    # dest-archiver holds the last complete copy: a first re-run brings over the manifest
    # with that run's own `replication` event, the next copies nothing at all.
    settle = run_measured(archiver)
    noop = run_measured(archiver)
    noop_rsync = run_measured(rsync)
    print(f"re-run copying no file: replicate {settle.seconds:.2f} s (manifest only), then "
          f"{noop.seconds:.2f} s (nothing; CPU {noop.cpu_seconds:.2f} s); rsync -a "
          f"{noop_rsync.seconds:.2f} s")

    def rolling(budget: str) -> dict:
        out = subprocess.run([PY, "-m", "archiver", "audit", "--archive", str(source),
                              "--budget", budget, "--json"], capture_output=True, check=True)
        return json.loads(out.stdout)

    whole = rolling("100%")  # one full cycle, timed inside the process (start-up excluded)
    budget = max(0.05, whole["seconds"] / 3)
    report = rolling(f"{budget:.3f}s")
    print(f"audit --budget {budget:.3f}s: checked {report['files']} of {report['total']} files "
          f"in {report['seconds']:.3f} s, overrun {report['overrun'] * 100:+.1f}% of the budget "
          f"(a whole cycle: {whole['seconds']:.3f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
