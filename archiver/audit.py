"""audit: prove the manifest and the files still agree. Reports every finding, never the first
only, and changes nothing (except an optional `fixity check` event, appended by the caller).

Checks: the hash chain (order, links, each entry's hash, schema); every file the manifest names
(present, size, sha256: streamed, in parallel threads since hashlib releases the GIL); every
record id at its recorded offset; every article file's id and byline against the manifest;
files nobody named (orphans: warnings, the trace of an interrupted write).
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver import manifest, signing
from archiver.errors import UnreadableInputError, UsageError
from archiver.findings import Finding, Report
from archiver.store import Archive, hash_file
from archiver.warc import record_ids_at

Progress = Callable[[int], None]


@dataclass(slots=True)  # one per file named in the manifest: keep it small
class Expected:
    """What the manifest says about one stored file."""

    path: str
    sha256: str
    size: int
    seq: int
    records: dict[str, int] = field(default_factory=dict)  # record id -> offset
    article: dict[str, Any] | None = None


@dataclass
class AuditReport(Report):
    entries: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        mb = self.bytes / 1e6
        rate = mb / self.seconds if self.seconds > 0 else 0.0
        verdict = "OK" if self.ok else "PROBLEMS FOUND"
        return (f"audit {verdict}: {self.entries} manifest entries, {self.files} files, "
                f"{mb:.1f} MB in {self.seconds:.2f}s ({rate:.0f} MB/s); "
                f"{self.errors} errors, {self.warnings} warnings")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "files": self.files, "bytes": self.bytes,
                "seconds": round(self.seconds, 3), "errors": self.errors,
                "warnings": self.warnings, "findings": [f.to_dict() for f in self.findings]}


@dataclass
class ManifestReading:
    """What one pass over the manifest yields: chain findings, the files/records/articles the
    entries name (conflicting claims are findings too), and seq -> hash for signatures."""

    expected: dict[str, Expected] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    chain: dict[int, str] = field(default_factory=dict)
    entries: int = 0

    @property
    def total_bytes(self) -> int:
        return sum(e.size for e in self.expected.values())

    def add(self, entry: dict[str, Any]) -> None:
        self.entries += 1
        seq = entry.get("seq", -1)
        if isinstance(seq, int) and isinstance(entry.get("hash"), str):
            self.chain.setdefault(seq, entry["hash"])
        for f in entry.get("files") or []:
            if _valid_file_claim(f):
                self._claim(f, seq)
        for r in entry.get("records") or []:
            if isinstance(r, dict) and r.get("file") in self.expected and "offset" in r:
                self.expected[r["file"]].records[str(r.get("id"))] = int(r["offset"])
        for a in entry.get("articles") or []:
            if isinstance(a, dict) and a.get("path") in self.expected:
                self.expected[a["path"]].article = a

    def _claim(self, f: dict[str, Any], seq: int) -> None:
        known = self.expected.get(f["path"])
        if known and (known.sha256, known.size) != (f["sha256"], f["size"]):
            self.findings.append(Finding("error", "conflicting-entries", f["path"],
                                         f"seq {seq} and seq {known.seq} give different "
                                         "checksums"))
            return
        self.expected.setdefault(f["path"], Expected(f["path"], f["sha256"], f["size"], seq))


def read_manifest(archive: Archive) -> ManifestReading:
    """Read and verify the manifest in one pass (it can hold millions of lines)."""
    reading = ManifestReading()
    verifier = manifest.ChainVerifier("manifest.jsonl")
    for line in manifest.read_lines(archive.manifest_path):
        reading.findings += verifier.check(line)
        if line.entry is not None and not line.torn:
            reading.add(line.entry)
    return reading


def _valid_file_claim(f: Any) -> bool:
    return (isinstance(f, dict) and isinstance(f.get("path"), str)
            and isinstance(f.get("sha256"), str) and isinstance(f.get("size"), int))


def check_file(archive: Archive, exp: Expected) -> list[Finding]:
    """Fixity of one file, then its cross-references (only when its bytes are intact)."""
    try:
        path = archive.resolve(exp.path)
    except UsageError as exc:
        return [Finding("error", "unsafe-path", exp.path, str(exc))]
    try:
        sha, size = hash_file(path)
    except FileNotFoundError:
        return [Finding("error", "missing-file", exp.path,
                        f"missing file (named by manifest seq {exp.seq})")]
    except OSError as exc:
        return [Finding("error", "unreadable-file", exp.path, f"cannot read: {exc.strerror}")]
    findings = []
    if size != exp.size:
        findings.append(Finding("error", "size-changed", exp.path,
                                f"size changed: expected {exp.size} bytes, found {size}",
                                details={"expected": exp.size, "actual": size}))
    if sha != exp.sha256:
        findings.append(Finding("error", "checksum-mismatch", exp.path,
                                f"checksum mismatch: expected sha256 {exp.sha256}, found {sha}",
                                details={"expected": exp.sha256, "actual": sha}))
        return findings
    findings += list(_check_records(path, exp))
    findings += list(_check_article(path, exp))
    return findings


def _check_records(path: Path, exp: Expected) -> Iterator[Finding]:
    found_at = record_ids_at(path, sorted(exp.records.values()))
    for record_id, offset in sorted(exp.records.items(), key=lambda kv: kv[1]):
        found = found_at.get(offset)
        if found != record_id:
            yield Finding("error", "unknown-record-id", exp.path,
                          f"record {record_id} named by seq {exp.seq} is not at offset {offset} "
                          f"(found {found})", offset=offset, record_id=record_id)


def _check_article(path: Path, exp: Expected) -> Iterator[Finding]:
    if exp.article is None:
        return
    try:
        doc = json.loads(path.read_bytes())
    except ValueError:
        yield Finding("error", "unreadable-article", exp.path, "article file is not valid JSON")
        return
    if doc.get("id") != exp.article.get("id"):
        yield Finding("error", "article-id-mismatch", exp.path,
                      f"article id {doc.get('id')!r} but manifest seq {exp.seq} says "
                      f"{exp.article.get('id')!r}")
    stored = doc.get("byline") or {}
    claimed = exp.article.get("byline") or {}
    for key in ("raw", "authors", "source"):
        if stored.get(key) != claimed.get(key):
            yield Finding("error", "byline-mismatch", exp.path,
                          f"byline {key} in the manifest (seq {exp.seq}) is {claimed.get(key)!r}"
                          f" but the article file says {stored.get(key)!r}", field=key)


def find_orphans(archive: Archive, expected: dict[str, Expected]) -> Iterator[Finding]:
    for rel in archive.iter_data_files():
        if rel not in expected:
            yield Finding("warning", "orphan-file", rel,
                          "orphan: stored file named by no manifest entry "
                          "(an interrupted capture, or a file added by hand)")
    for rel in archive.iter_temp_files():
        yield Finding("warning", "temporary-file", rel,
                      "temporary file left by an interrupted write (safe to delete)")


def _bounded_map(pool: ThreadPoolExecutor, fn: Callable[[Expected], list[Finding]],
                 items: list[Expected], window: int) -> Iterator[tuple[Expected, list[Finding]]]:
    """pool.map with at most `window` files in flight: Executor.map queues every task up
    front, and memory must not grow with the number of files in the archive."""
    pending: deque[tuple[Expected, Future[list[Finding]]]] = deque()
    for item in items:
        pending.append((item, pool.submit(fn, item)))
        if len(pending) >= window:
            done, future = pending.popleft()
            yield done, future.result()
    while pending:
        done, future = pending.popleft()
        yield done, future.result()


def audit(archive: Archive, jobs: int | None = None, progress: Progress | None = None,
          on_start: Callable[[int], None] | None = None) -> AuditReport:
    """Audit the whole archive. Raises UnreadableInputError when there is nothing to audit.
    `on_start(total_bytes)` is called once the manifest is read, `progress(bytes)` per file."""
    if not archive.exists():
        raise UnreadableInputError(f"{archive.root}: no archive here")
    if not archive.manifest_path.is_file():
        raise UnreadableInputError(f"{archive.manifest_path}: no manifest to audit")
    started = time.monotonic()
    reading = read_manifest(archive)
    findings = list(reading.findings)
    # Signed heads catch an attacker who edits an entry and recomputes every hash after it.
    findings += signing.verify(archive, chain=reading.chain)
    if on_start:
        on_start(reading.total_bytes)
    # Biggest first, so one large WARC does not finish alone at the end.
    ordered = sorted(reading.expected.values(), key=lambda e: e.size, reverse=True)
    jobs = jobs or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for exp, file_findings in _bounded_map(pool, lambda e: check_file(archive, e), ordered,
                                               window=4 * jobs):
            findings += file_findings
            if progress:
                progress(exp.size)
    findings += list(find_orphans(archive, reading.expected))
    return AuditReport(findings=findings, entries=reading.entries, files=len(ordered),
                       bytes=reading.total_bytes, seconds=time.monotonic() - started)
