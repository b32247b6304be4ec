"""Dask distributed glue: the one place that knows about Dask (the optional `archiver[dask]`
extra). The checkers hand it plain functions and arguments; it runs them on a cluster and
gives the results back in submission order, so a distributed run reports exactly what a
local one does.

Addresses: `tcp://HOST:PORT` (a running `dask scheduler`), `local` or `local:N` (a cluster of
N worker processes on this machine, started and stopped here).

Workers only read: every task returns its result to this process (the client), which alone
writes files and manifest events. Dask reruns the tasks of a worker that dies on another
worker (the functions are pure reads, so the rerun gives the same result); a scheduler that
goes away, or a task that kills every worker it lands on, ends the run with ClusterError
(exit 2) before anything is written.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from archiver.base.errors import UnreadableInputError, UsageError

EXTRA_MISSING = ("--dask needs the optional extra archiver[dask]: "
                 "pip install 'archiver[dask]' (dask and distributed)")
ADDRESS_RE = re.compile(r"^(local(?::(?P<n>[1-9]\d{0,3}))?|(tcp|tls)://[^\s/]+:\d{1,5})$")
CONNECT_TIMEOUT = "10s"  # an unreachable scheduler is an error after this, not a hang
IN_FLIGHT_PER_WORKER = 8  # tasks queued ahead per worker thread: busy, yet memory bounded


class ClusterError(UnreadableInputError):
    """The scheduler cannot be reached or went away (the CLI exits 2)."""


def unreachable_archive(root: str, host: str | None = None) -> str:
    """What every command says when a Dask worker (on `host`, when the worker itself says
    it) cannot see the archive: workers must mount it at the client's path."""
    who = f"Dask worker on {host}" if host else "a Dask worker"
    return f"{who} cannot read the archive at {root} (workers must mount it at the same path)"


def check_address(address: str) -> str:
    """The address, or UsageError naming the accepted forms (no Dask import needed)."""
    if not ADDRESS_RE.match(address):
        raise UsageError(f"--dask {address!r}: expected tcp://HOST:PORT, local or local:N")
    return address


@dataclass(frozen=True)
class Task:
    """One unit of work: fn(*args) on some worker; `size` (bytes) is for progress only."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    size: int = 0


Progress = Callable[[int, int, int], None]  # (tasks done, tasks submitted, bytes done)


class Cluster:
    """A connected Dask client (and the local cluster it owns, for `local[:N]`)."""

    def __init__(self, address: str) -> None:
        check_address(address)
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError as exc:
            raise UsageError(EXTRA_MISSING) from exc
        import dask

        self.address = address
        self._local: Any = None
        dask.config.set({"distributed.comm.timeouts.connect": CONNECT_TIMEOUT})
        try:
            if address.startswith("local"):
                n = int(address.partition(":")[2] or os.cpu_count() or 1)
                # processes, one thread each: the checks are CPU-bound Python (the GIL)
                self._local = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=None, silence_logs=logging.ERROR)
                self.client = Client(self._local)
            else:
                self.client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._local is not None:
            self._local.close()

    @property
    def threads(self) -> int:
        try:
            return max(1, sum(self.client.nthreads().values()))
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"Dask scheduler at {self.address} went away: {exc}") from exc

    def submit(self, task: Task, label: str) -> Any:
        """Start one task now (beside those of map_ordered); its value from result_of."""
        return self._submit(task, f"{label}-{uuid.uuid4().hex[:12]}")

    def share(self, value: Any) -> Any:
        """Send a value to every worker once; pass the returned handle as a task argument
        (Dask hands the task the value itself)."""
        try:
            return self.client.scatter([value], broadcast=True, hash=False)[0]  # a dict
            # given bare would be scattered value by value
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"Dask scheduler at {self.address} went away: {exc}") from exc

    def result_of(self, future: Any) -> Any:
        return self._result(future)

    def map_ordered(self, tasks: Iterable[Task], progress: Progress | None = None,
                    label: str = "archiver") -> Iterator[Any]:
        """Run tasks on the cluster, a bounded number ahead, and yield their results in the
        order the tasks came (whatever order they finish in)."""
        from dask.distributed import as_completed

        window = IN_FLIGHT_PER_WORKER * self.threads
        run = f"{label}-{uuid.uuid4().hex[:12]}"
        in_flight: deque[Any] = deque()
        count = _Counter(as_completed(), progress)
        for task in tasks:
            future = self._submit(task, f"{run}-{count.submitted}")
            in_flight.append(future)
            count.add(future, task.size)
            while len(in_flight) >= window:
                count.wait_one()
                while in_flight and in_flight[0].done():
                    yield self._result(in_flight.popleft())
        while in_flight:
            count.wait_one()
            while in_flight and in_flight[0].done():
                yield self._result(in_flight.popleft())

    def _submit(self, task: Task, key: str) -> Any:
        try:
            return self.client.submit(task.fn, *task.args, key=key, pure=False)
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"Dask scheduler at {self.address} went away: {exc}") from exc

    def _result(self, future: Any) -> Any:
        from dask.distributed import KilledWorker

        try:
            return future.result()
        except KilledWorker as exc:
            raise ClusterError(f"a task killed every Dask worker it ran on ({exc}); "
                               "nothing was written") from exc
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"Dask scheduler at {self.address} went away: {exc}; "
                               "nothing was written") from exc
        except Exception as exc:
            if type(exc).__name__ in ("CancelledError", "FutureCancelledError"):
                raise ClusterError(f"Dask scheduler at {self.address} went away (tasks "
                                   "cancelled); nothing was written") from exc
            raise


class _Counter:
    """Tasks finishing in any order (for progress), while results are taken in order."""

    def __init__(self, finished: Any, progress: Progress | None) -> None:
        self.finished, self.progress = finished, progress
        self.sizes: dict[str, int] = {}
        self.submitted = self.done = self.done_bytes = 0

    def add(self, future: Any, size: int) -> None:
        self.submitted += 1
        self.sizes[future.key] = size
        self.finished.add(future)

    def wait_one(self) -> None:
        try:
            future = next(self.finished)
        except StopIteration:
            return
        self.done += 1
        self.done_bytes += self.sizes.pop(future.key, 0)
        if self.progress:
            self.progress(self.done, self.submitted, self.done_bytes)


class TaskProgress:
    """Tasks done/submitted and bytes/s, on one rewritten stderr line (terminals only)."""

    def __init__(self, label: str, enabled: bool, write: Callable[[str], None]) -> None:
        self.label, self.enabled, self.write = label, enabled, write
        self.started = time.monotonic()
        self._last = 0.0

    def __call__(self, done: int, submitted: int, done_bytes: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.2 and done < submitted):
            return
        self._last = now
        rate = done_bytes / 1e6 / max(now - self.started, 1e-6)
        self.write(f"\r{self.label}: {done}/{submitted} tasks, {rate:,.0f} MB/s ")

    def finish(self) -> None:
        if self.enabled:
            self.write("\n")
