"""--dask against the single-process command on the same cores (issue 15), and the per-task
cost of the Dask path, for projecting a 100 TB run.

    python benchmarks/dask_bench.py ARCHIVE [ARCHIVE...] [--reps 5]

For each archive: starts `dask scheduler` + 2 `dask worker` (1 thread each) on 127.0.0.1,
then, with `farm-bench` (whole processes, alternating, ratio pair by pair):
  - `archiver audit --dask tcp://...` vs `archiver audit` (cluster start-up excluded)
  - `archiver validate --dask tcp://...` vs `archiver validate`
  - `archiver audit|validate --dask local:2` vs the same (start-up included)
and measures the per-task overhead of Cluster.map_ordered with empty tasks (1,000 of them).
Prints farm-bench's reports and the per-task figures; nothing is written to the archives.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

PY = sys.executable


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


def farm(a: list[str], b: list[str], reps: int) -> str:
    cmd = ["farm-bench", "-n", str(reps), "--timeout", "900", "--vs", " ".join(b), "--", *a]
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("archives", nargs="+", type=Path)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", default="audit,validate")
    args = ap.parse_args()
    address, procs = start_cluster()
    try:
        print(f"per-task overhead (empty tasks, 2 workers): "
              f"{task_overhead(address) * 1e3:.2f} ms", flush=True)
        for archive in args.archives:
            for command in args.only.split(","):
                base = [PY, "-m", "archiver", command, "--archive", str(archive), "--quiet"]
                for where in (address, "local:2"):
                    print(f"\n## {command} {archive.name}: --dask {where} (A) vs local (B)",
                          flush=True)
                    print(farm([*base, "--dask", where], base, args.reps), flush=True)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
