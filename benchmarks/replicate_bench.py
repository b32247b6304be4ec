"""`archiver replicate` to a local folder against `rsync -a` of the same files, alternating
in the same run (issue 22: >= 0.8x rsync's throughput at 1 GB), then a re-run that copies
nothing (<= 2 s), then `audit --budget` overrun (<= 5% of the budget). `rsync -a --fsync`
is timed too: the same durability as replicate's.

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
    # rsync -a --fsync: the same durability as replicate's (every file on disk before the
    # command ends), still without replicate's read-back from the disk.
    commands = {"replicate": archiver, "rsync": rsync,
                "rsync --fsync": [*rsync[:2], "--fsync", *rsync[2:]]}
    total = sum((source / f).stat().st_size for f in files)
    times: dict[str, list[float]] = {side: [] for side in commands}
    load = [os.getloadavg()[0]]
    sides = list(commands)
    for i in range(args.rounds):
        for side in sides[i % 3:] + sides[:i % 3]:  # each goes first once in three rounds
            # The same files for all: the manifest as it is now (replicate appends to it).
            listing.write_text("\n".join([*files, "manifest.jsonl"]) + "\n")
            # Only the folder of the command about to run is emptied: dest-archiver keeps
            # replicate's last complete copy for the re-runs below.
            shutil.rmtree(dest_a if side == "replicate" else dest_r, ignore_errors=True)
            subprocess.run(["sync"], check=True)
            times[side].append(run_measured(commands[side]).seconds)
        load.append(os.getloadavg()[0])
    rep, rs, rsf = (median(times[side]) for side in sides)
    print(f"load average {min(load):.1f}-{max(load):.1f}; {len(files)} files, "
          f"{total / 1e6:.0f} MB; {args.rounds} rounds, the three commands alternating")
    print(f"replicate: {rep:.2f} s ({total / rep / 1e6:.0f} MB/s)   rsync -a: {rs:.2f} s "
          f"({total / rs / 1e6:.0f} MB/s)   rsync -a --fsync: {rsf:.2f} s "
          f"({total / rsf / 1e6:.0f} MB/s)")
    print(f"throughput ratio replicate/rsync -a: {rs / rep:.2f}x   replicate/rsync -a --fsync: "
          f"{rsf / rep:.2f}x   (all runs: " + "; ".join(
              f"{side} " + " ".join(f"{t:.2f}" for t in times[side]) for side in sides) + ")")

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
