"""--dask against the single-process command on the same cores (issue 15), and the per-task
cost of the Dask path, for projecting a 100 TB run.

    python benchmarks/dask_bench.py ARCHIVE [ARCHIVE...] [--reps 5] [--only audit,validate]

Starts `dask scheduler` + 2 `dask worker --nthreads 1` on 127.0.0.1 (once, for the whole
run, as a real cluster lives), then for each archive and command, whole processes timed from
outside (measure.run_measured: wall time, the child's peak RSS), A and B alternating which
goes first, the ratio A/B taken pair by pair:
  - A `archiver CMD --dask tcp://...` vs B `archiver CMD` (cluster start-up excluded)
  - A `archiver CMD --dask local:2` vs B `archiver CMD` (start-up included)
One untimed warm-up run of each side comes first: it warms the page cache and the workers
(each pays its imports on its first task once per lifetime, as on a long-lived cluster).
Also measures the per-task overhead of Cluster.map_ordered with empty tasks (1,000 of them).
Prints one table row per comparison and the load average around it; writes nothing to the
archives.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from measure import PY, Sample, alternate, compile_archiver, median  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster() -> tuple[str, list[subprocess.Popen[bytes]]]:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([PY, "-m", "distributed.cli.dask_scheduler", "--host",
                               "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)]
    procs += [subprocess.Popen([PY, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                                "1", "--no-dashboard", "--name", f"w{i}"], **quiet)
              for i in range(2)]
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    return address, procs


def noop(i: int) -> int:
    return i


def task_overhead(address: str, n: int = 1000) -> float:
    """Seconds per empty task through map_ordered (submit, schedule, run, gather)."""
    from archiver.base.cluster import Cluster, Task

    with Cluster(address) as cluster:
        list(cluster.map_ordered(Task(noop, (i,)) for i in range(50)))  # warm
        started = time.perf_counter()
        results = list(cluster.map_ordered(Task(noop, (i,)) for i in range(n)))
        assert results == list(range(n))
        return (time.perf_counter() - started) / n


def row(label: str, a: list[Sample], b: list[Sample], load: tuple[float, float]) -> str:
    ratios = [x.seconds / y.seconds for x, y in zip(a, b, strict=True)]
    med = median
    return (f"| {label} | {med([s.seconds for s in a]):.2f} s | "
            f"{med([s.seconds for s in b]):.2f} s | {med(ratios):.2f} "
            f"({min(ratios):.2f}-{max(ratios):.2f}) | {max(s.peak_rss_mb for s in a):.0f} MB | "
            f"{load[0]:.1f}-{load[1]:.1f} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("archives", nargs="+", type=Path)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="audit,validate")
    args = ap.parse_args()
    compile_archiver()
    address, procs = start_cluster()
    try:
        print(f"per-task overhead (empty tasks, 2 workers): "
              f"{task_overhead(address) * 1e3:.2f} ms", flush=True)
        print(f"\n{args.reps} pairs each, medians; A/B wall: median (min-max) of the pair "
              "ratios; client RSS: A's peak (largest process); load: 1-min load average "
              "before-after\n\n| A (B: the same command without --dask) | A wall | B wall | "
              "A/B wall | A RSS | load |\n| --- | --- | --- | --- | --- | --- |", flush=True)
        for archive in args.archives:
            for command in args.only.split(","):
                base = [PY, "-m", "archiver", command, "--archive", str(archive), "--quiet"]
                for where in (address, "local:2"):
                    before = os.getloadavg()[0]
                    a, b = alternate([*base, "--dask", where], base, args.reps,
                                     ok_codes=(0, 1))
                    label = (f"{command} {archive.name} --dask "
                             + ("tcp:// (running cluster)" if where == address else where))
                    print(row(label, a, b, (before, os.getloadavg()[0])), flush=True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
