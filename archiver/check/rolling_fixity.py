"""Rolling fixity: `audit --budget 10m` (or `5%`) checks part of the archive each run, the
files verified longest ago first, and records what it covered, so a large archive is
verified whole over a known number of runs (NDSA Levels 2.0, integrity: fixity checked at
fixed intervals).

The files are taken in one cyclic order, the order in which the manifest first names them
(stable: the manifest only grows). A run starts where the last recorded run stopped and goes
on, wrapping around, until its budget is spent; its `fixity check` event records the range
of that order it covered (`details.rolling`: from, to, total). When every file was last
verified by an earlier pass of the same cycle, this order *is* oldest-verified first: the
files after the cursor were verified a cycle ago (or at capture, which counts as the first
verification: the digest was computed from those bytes), those before it in this cycle.
Files named since the last run sit at the end of the order and are reached last; their
capture is recent, so they are also the most recently verified.

A full `audit --record` counts as verifying every file named before it.
The per-file checks are audit's own (archiver.check.fixity): check_file for a whole file,
check_range for each committed range of a WARC still open.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from archiver.base.errors import UsageError
from archiver.base.findings import Finding, Report
from archiver.check.copies import Wanted, read_snapshot
from archiver.check.fixity import Expected, check_file, check_range
from archiver.store.archive import Archive
from archiver.store.events import record_event

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
BANDS = [(86400, "under 1 day"), (7 * 86400, "1-7 days"), (30 * 86400, "7-30 days"),
         (90 * 86400, "30-90 days"), (365 * 86400, "90-365 days"), (None, "over a year")]


@dataclass(frozen=True)
class Budget:
    seconds: float | None = None
    fraction: float | None = None

    def __str__(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:g}s"
        return f"{(self.fraction or 0) * 100:g}%"


def parse_budget(text: str) -> Budget:
    """`90s`, `10m`, `1h`, `2d` (time) or `5%` (of the archive's bytes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd%])\s*", text.lower())
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"{text!r}: a budget is a time (90s, 10m, 1h, 2d) or a share "
                         "of the archive (5%)")
    value, unit = float(m.group(1)), m.group(2)
    if unit == "%":
        if value > 100:
            raise UsageError(f"{text!r}: at most 100%")
        return Budget(fraction=value / 100)
    return Budget(seconds=value * UNITS[unit])


@dataclass
class Order:
    """The cyclic order, each file's last verification (epoch seconds) and the cursor."""

    files: list[Wanted]
    verified: list[float]
    cursor: int
    head_seq: int

    @property
    def total_bytes(self) -> int:
        return sum(w.end(self.head_seq) for w in self.files)


def _epoch(at: Any) -> float:
    try:
        return datetime.fromisoformat(str(at).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def read_order(archive: Archive) -> Order:
    """One pass over the manifest: the files in first-named order, when each was last
    verified (capture, a full recorded audit, a rolling run's range), the cursor."""
    at_of_seq: dict[int, float] = {}
    checks: list[tuple[int, float, Any]] = []  # fixity checks: seq, when, details.rolling

    def note(entry: dict[str, Any], seq: int) -> None:
        when = _epoch(entry.get("at"))
        if entry.get("files") or entry.get("ranges"):
            at_of_seq[seq] = when
        if entry.get("event") == "fixity check":
            checks.append((seq, when, (entry.get("details") or {}).get("rolling")))

    snap = read_snapshot(archive, each=note)
    files = sorted(snap.wanted.values(), key=lambda w: (w.seq, w.path))
    first_seqs = [w.seq for w in files]
    verified = [0.0] * len(files)
    cursor = 0
    for seq, when, rolling in checks:
        if isinstance(rolling, dict):
            start, stop = int(rolling.get("from", 0)), int(rolling.get("to", 0))
            total = min(int(rolling.get("total", 0)), len(files))
            for i in _cyclic(start, stop, total):
                verified[i] = max(verified[i], when)
            cursor = stop % total if total else 0
        else:  # a full audit --record: every file named before it
            for i, first in enumerate(first_seqs):
                if first < seq:
                    verified[i] = max(verified[i], when)
    for i, first in enumerate(first_seqs):
        verified[i] = max(verified[i], at_of_seq.get(first, 0.0))
    return Order(files, verified, cursor if files else 0, snap.head_seq)


def _cyclic(start: int, stop: int, total: int) -> list[int]:
    if total <= 0:
        return []
    start, stop = start % total, stop % total
    if stop > start:
        return list(range(start, stop))
    return list(range(start, total)) + list(range(0, stop))  # wrapped (or the whole cycle)


@dataclass
class RollingReport(Report):
    budget: str = ""
    start: int = 0
    stop: int = 0
    total: int = 0
    files: int = 0
    bytes: int = 0
    total_bytes: int = 0
    seconds: float = 0.0
    budget_seconds: float | None = None
    first: str = ""
    last: str = ""

    @property
    def rate(self) -> float:
        return self.bytes / self.seconds if self.seconds > 0 else 0.0

    def cycle_seconds(self) -> float | None:
        return self.total_bytes / self.rate if self.rate > 0 else None

    def runs_per_cycle(self) -> float | None:
        return self.total_bytes / self.bytes if self.bytes else None

    def overrun(self) -> float | None:
        """Seconds past a time budget, as a share of it (negative: under)."""
        if self.budget_seconds is None:
            return None
        return (self.seconds - self.budget_seconds) / self.budget_seconds

    def summary(self) -> str:
        verdict = "OK" if self.ok else "PROBLEMS FOUND"
        text = (f"audit --budget {self.budget} {verdict}: {self.files} of {self.total} files "
                f"({self.bytes / 1e6:.1f} of {self.total_bytes / 1e6:.1f} MB) in "
                f"{self.seconds:.2f}s, order positions {self.start}..{self.stop} "
                f"({self.first} .. {self.last}); {self.errors} errors")
        cycle, runs = self.cycle_seconds(), self.runs_per_cycle()
        if cycle is not None and runs is not None:
            text += (f". At this rate ({self.rate / 1e6:.0f} MB/s) a full cycle reads for "
                     f"{_duration(cycle)}: {runs:.1f} runs of this budget")
        return text

    def details(self) -> dict[str, Any]:
        """What the `fixity check` event records (details.rolling)."""
        return {"budget": self.budget, "from": self.start, "to": self.stop,
                "total": self.total, "first": self.first, "last": self.last,
                "files": self.files, "bytes": self.bytes, "total_bytes": self.total_bytes,
                "seconds": round(self.seconds, 3),
                "full_cycle_seconds": None if self.cycle_seconds() is None
                else round(self.cycle_seconds() or 0, 1)}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.details(), "errors": self.errors,
                "warnings": self.warnings, "overrun": self.overrun(),
                "findings": [f.to_dict() for f in self.findings]}


def _duration(seconds: float) -> str:
    for size, unit in ((86400, "days"), (3600, "hours"), (60, "minutes")):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} seconds"


def rolling_audit(archive: Archive, budget: Budget) -> RollingReport:
    """Check files from the cursor on until the budget is spent (at least one file)."""
    order = read_order(archive)
    total = len(order.files)
    report = RollingReport(budget=str(budget), start=order.cursor, stop=order.cursor,
                           total=total, total_bytes=order.total_bytes,
                           budget_seconds=budget.seconds)
    if not total:
        return report
    byte_budget = (budget.fraction or 0) * order.total_bytes
    started = time.monotonic()
    for step in range(total):
        w = order.files[(order.cursor + step) % total]
        size = w.end(order.head_seq)
        elapsed = time.monotonic() - started
        if step:
            if budget.seconds is not None:
                rate = report.bytes / elapsed if elapsed > 0 and report.bytes else None
                # Stop before a file that would end past the budget: the overrun stays one
                # estimate's error, not one large file's whole read.
                next_end = elapsed + (size / rate if rate else 0.0)
                if elapsed >= budget.seconds or next_end > budget.seconds:
                    break
            elif report.bytes + size > byte_budget:
                break
        report.findings += _check(archive, w, order.head_seq)
        report.first = report.first or w.path
        report.last = w.path
        report.files += 1
        report.bytes += size
    report.seconds = time.monotonic() - started
    report.stop = (order.cursor + report.files) % total
    if report.files == total:
        report.stop = order.cursor  # the whole cycle: from the cursor all the way round
    return report


def _check(archive: Archive, w: Wanted, head: int) -> list[Finding]:
    if w.whole_at(head):
        return check_file(archive, Expected(w.path, w.sha256 or "", w.size, w.seq))
    found: list[Finding] = []
    for offset, length, sha, seq in w.ranges:
        rng = {"file": w.path, "offset": offset, "length": length, "sha256": sha}
        found += check_range(archive, rng, {}, seq)
    return found


def record(archive: Archive, report: RollingReport, operator: str | None) -> dict[str, Any]:
    status = "success" if report.ok else "failure"
    return record_event(archive, "fixity check", status, report.summary(), operator,
                        details={"rolling": report.details()},
                        findings=[f.to_dict() for f in report.findings
                                  if f.severity == "error"][:100])


@dataclass
class Band:
    label: str
    files: int = 0
    bytes: int = 0
    oldest: float | None = None


def status(archive: Archive, now: float | None = None) -> tuple[list[Band], Order]:
    """Per age band of the last verification: how many files and bytes, the oldest."""
    order = read_order(archive)
    now = time.time() if now is None else now
    bands = [Band(label) for _, label in BANDS]
    for w, when in zip(order.files, order.verified, strict=True):
        age = now - when
        index = next(i for i, (limit, _) in enumerate(BANDS) if limit is None or age < limit)
        band = bands[index]
        band.files += 1
        band.bytes += w.end(order.head_seq)
        band.oldest = when if band.oldest is None else min(band.oldest, when)
    return bands, order


def iso(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
