"""Timing one child process: wall time and its own peak RSS, plus the machine facts that go
with every figure.

Peak RSS comes from os.wait4() on that very child, not RUSAGE_CHILDREN (which is the maximum
over every child ever reaped, so one big run would mask all later ones). ru_maxrss of a
reaped child covers the child and the descendants it waited for (a process pool's workers),
as the largest single process, not their sum.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

PY = sys.executable  # the interpreter, never a pyenv shim (a shim adds ~0.1 s per start)


class BenchError(RuntimeError):
    """A measured command failed: the figure would be meaningless."""


@dataclass(frozen=True)
class Sample:
    seconds: float
    peak_rss_mb: float
    returncode: int
    cpu_seconds: float = 0.0  # user + system, the child's and the children it reaped


def run_measured(cmd: Sequence[str], *, ok_codes: tuple[int, ...] = (0,),
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> Sample:
    """Run `cmd` to completion with stdout/stderr to a scratch file; fail loudly on an
    unexpected exit code (timing a crash would flatter it)."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: tell Popen
        if proc.returncode not in ok_codes:
            out.seek(0)
            tail = out.read()[-3000:].decode("utf-8", "replace")
            raise BenchError(f"{' '.join(cmd)[:200]} exited {proc.returncode}:\n{tail}")
    return Sample(seconds, usage.ru_maxrss / 1024, proc.returncode,  # Linux: KiB
                  usage.ru_utime + usage.ru_stime)


def alternate(a: Sequence[str], b: Sequence[str], rounds: int, warmup: int = 1,
              ok_codes: tuple[int, ...] = (0,)) -> tuple[list[Sample], list[Sample]]:
    """`warmup` untimed runs of each command, then `rounds` pairs, which of the two goes
    first alternating, so drift on a shared machine hits both: (A's samples, B's)."""
    for _ in range(warmup):
        for cmd in (a, b):
            run_measured(cmd, ok_codes=ok_codes)
    samples: tuple[list[Sample], list[Sample]] = ([], [])
    for i in range(rounds):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            samples[side].append(run_measured((a, b)[side], ok_codes=ok_codes))
    return samples


def compile_archiver() -> None:
    """Byte-compile archiver's modules as `pip install` does for an installed package, so a
    source checkout (or an editable install) is timed as users run it. Without this, under
    PYTHONDONTWRITEBYTECODE=1 (set in some environments) every run compiles every module
    from source again: ~0.1 s of a 1 s audit."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "archiver"), quiet=1)


def timed(fn: Callable[[], int], count: int) -> tuple[float, float, int]:
    """(pages/s by wall clock, pages/s by this process's CPU time, pages extracted)."""
    wall, cpu = time.perf_counter(), time.process_time()
    ok = fn()
    return count / (time.perf_counter() - wall), count / (time.process_time() - cpu), ok


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def drop_page_cache() -> bool:
    """Empty the kernel page cache (root only); False when the sandbox forbids it."""
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def has_sha_extensions() -> bool:
    try:
        return " sha_ni " in Path("/proc/cpuinfo").read_text().replace("\n", " ")
    except OSError:
        return False


def tool_version(cmd: Sequence[str]) -> str:
    if shutil.which(cmd[0]) is None and not os.path.isabs(cmd[0]):
        return "absent"
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=30)
    except OSError:
        return "absent"
    text = (done.stdout or done.stderr).strip().splitlines()
    return text[0] if text else "?"


def machine_facts() -> dict[str, str]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model() + (" (SHA extensions)" if has_sha_extensions() else ""),
        "memory": f"{mem_kb / 1024 / 1024:.0f} GiB",
        "python": platform.python_version(),
        "kernel": platform.release(),
        "sha256sum": tool_version(["sha256sum", "--version"]),
        "wget": tool_version(["wget", "--version"]),
        "warcio": _module_version("warcio"),
        "trafilatura": _module_version("trafilatura"),
        "archiver": _module_version("archiver"),
    }


def _module_version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"
