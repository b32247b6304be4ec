"""audit --copies: every copy checked against the one manifest that is the truth, ours.

Per copy: its manifest must be a prefix of ours (else a fork, named by the first seq where
the chains differ); how far behind its head is; files its head names that it lacks
(missing) or holds with bytes other than our manifest names (damaged; a copy's own manifest
claims are never believed); files nobody named (extra). Then per file: how many good copies
exist, this archive counted, and the files with one good copy or none. Reads only: a copy on
read-only media audits as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archiver.base.findings import Finding, Report
from archiver.check.copies import (
    Lineage,
    Replica,
    Snapshot,
    check_at,
    connect,
    lineage,
    local,
    read_snapshot,
)
from archiver.store.archive import TEMP_PREFIX, Archive
from archiver.store.destinations import Destination
from archiver.store.host_keys import HostKeyError
from archiver.store.rolling import OPEN_SUFFIX

HERE = "this archive"
Progress = Callable[[int], None]


@dataclass
class CopyState:
    name: str
    url: str
    lineage: Lineage | None = None  # None: unreachable
    missing: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    not_yet: int = 0  # files named after its head
    good: set[str] = field(default_factory=set)
    error: str = ""

    def to_dict(self, ours: int) -> dict[str, Any]:
        line = self.lineage
        return {"name": self.name, "url": self.url, "error": self.error or None,
                "state": line.state if line else "unreachable",
                "head_seq": line.head_seq if line else None,
                "behind": (ours - line.head_seq) if line and line.state in ("prefix", "none")
                else None,
                "fork_seq": line.fork_seq if line else None,
                "missing": self.missing, "damaged": self.damaged, "extra": self.extra,
                "not_yet_copied": self.not_yet}


@dataclass
class CopiesReport(Report):
    head_seq: int = -1
    files: int = 0
    copies: list[CopyState] = field(default_factory=list)
    good_counts: dict[str, int] = field(default_factory=dict)

    def weak(self) -> dict[str, int]:
        return {p: n for p, n in sorted(self.good_counts.items()) if n <= 1}

    def summary(self) -> str:
        verdict = "OK" if self.ok else "PROBLEMS FOUND"
        counts: dict[int, int] = {}
        for n in self.good_counts.values():
            counts[n] = counts.get(n, 0) + 1
        spread = ", ".join(f"{files} with {n} good" for n, files in sorted(counts.items()))
        return (f"audit --copies {verdict}: {len(self.copies)} copies and this archive at head "
                f"seq {self.head_seq}, {self.files} files ({spread or 'none'}); "
                f"{self.errors} errors, {self.warnings} warnings")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "head_seq": self.head_seq, "files": self.files,
                "copies": [c.to_dict(self.head_seq) for c in self.copies],
                "good_copies": self.good_counts, "one_or_no_good_copy": self.weak(),
                "errors": self.errors, "warnings": self.warnings,
                "findings": [f.to_dict() for f in self.findings]}


def audit_copies(archive: Archive, replicas: list[Replica],
                 progress: Progress | None = None,
                 on_start: Callable[[int], None] | None = None) -> CopiesReport:
    """`on_start(total)`: the bytes to read (ours and each copy's); `progress(n)`: read."""
    snap = read_snapshot(archive)
    if on_start:
        on_start(sum(w.end(snap.head_seq) for w in snap.wanted.values()) * (1 + len(replicas)))
    report = CopiesReport(head_seq=snap.head_seq, files=len(snap.wanted))
    here = CopyState(HERE, str(archive.root))
    _check_files(local(archive), snap, snap.head_seq, here, progress)
    report.findings += [Finding("error", "missing-file", p, "missing in this archive")
                        for p in here.missing]
    report.findings += [Finding("error", "checksum-mismatch", p,
                                "damaged in this archive: sha256 differs from the manifest")
                        for p in here.damaged]
    states = [here]
    for replica in replicas:
        state = audit_copy(archive, snap, replica, progress)
        report.copies.append(state)
        states.append(state)
        report.findings += _findings(state, snap.head_seq)
    report.good_counts = {p: sum(p in s.good for s in states) for p in snap.wanted}
    for path, n in report.weak().items():
        if n == 0:
            report.findings.append(Finding("error", "no-good-copy", path,
                                           "no good copy anywhere (this archive included)"))
        else:
            where = next(s.name for s in states if path in s.good)
            report.findings.append(Finding("warning", "one-good-copy", path,
                                           f"only one good copy ({where})"))
    return report


def audit_copy(archive: Archive, snap: Snapshot, replica: Replica,
               progress: Progress | None = None) -> CopyState:
    state = CopyState(replica.name, replica.url)
    try:
        dest = connect(replica)
    except HostKeyError:  # not "unreachable": maybe an attacker; the whole audit stops
        raise
    except Exception as exc:  # an unreachable copy is a finding, not the end of the audit
        state.error = str(exc)
        return state
    try:
        state.lineage = lineage(archive.manifest_path, snap.length, dest)
        head = state.lineage.head_seq if state.lineage.state == "prefix" else snap.head_seq
        _check_files(dest, snap, head, state, progress)
        state.extra = _extra(dest, snap)
    except OSError as exc:
        state.error = f"{type(exc).__name__}: {exc}"
    finally:
        dest.close()
    return state


def _check_files(dest: Destination, snap: Snapshot, head: int, state: CopyState,
                 progress: Progress | None) -> None:
    """Each file our manifest names, read at `dest` as it must be at `head`."""
    for w in snap.in_order():
        if w.seq > head:
            state.not_yet += 1
            continue
        _, found = check_at(dest, w, head)
        if progress and found is not None:
            progress(found.size)
        if found is None:
            state.missing.append(w.path)
        elif w.good(found, head):
            state.good.add(w.path)
        else:
            state.damaged.append(w.path)


def _extra(dest: Destination, snap: Snapshot) -> list[str]:
    extra = []
    for top in ("warcs", "articles"):
        for rel in dest.walk(top):
            base = rel.removesuffix(OPEN_SUFFIX)
            if rel in snap.wanted or (base in snap.wanted and snap.wanted[base].rolling):
                continue
            extra.append(rel)
    return extra


def _findings(state: CopyState, ours: int) -> list[Finding]:
    name = state.name
    if state.lineage is None or state.error:
        return [Finding("error", "copy-unreachable", name, f"cannot read the copy: {state.error}")]
    found = []
    line = state.lineage
    if line.state in ("fork", "ahead"):
        found.append(Finding("error", "copy-fork", name, line.describe(ours),
                             details={"fork_seq": line.fork_seq, "head_seq": line.head_seq}))
    elif line.state == "none":
        found.append(Finding("error", "copy-without-manifest", name,
                             "no manifest.jsonl: not a copy yet (`archiver replicate`)"))
    elif line.head_seq < ours:
        found.append(Finding("info", "copy-behind", name, line.describe(ours),
                             details={"behind": ours - line.head_seq,
                                      "not_yet_copied": state.not_yet}))
    found += [Finding("error", "copy-missing-file", f"{name}:{p}",
                      "missing in the copy (named by its manifest head)") for p in state.missing]
    found += [Finding("error", "copy-damaged-file", f"{name}:{p}",
                      "damaged in the copy: sha256 differs from our manifest")
              for p in state.damaged]
    for p in state.extra:
        temporary = p.rpartition("/")[2].startswith(TEMP_PREFIX)
        found.append(Finding("warning", "copy-extra-file", f"{name}:{p}",
                             "temporary file of an interrupted copy" if temporary
                             else "extra: named by no manifest entry"))
    return found
