"""audit: prove the manifest and the files still agree. Reports every finding, never the first
only, and changes nothing (except an optional `fixity check` event, appended by the caller).

Checks: the hash chain (order, links, each entry's hash, schema: one task beside the file
checks); every file the manifest names (present, size, sha256: streamed, in batches on
parallel workers, forked processes once the manifest is large); every record id at its
recorded offset (read from the bytes being hashed); every article file's id and byline against
the manifest; files nobody named (orphans: warnings, the trace of an interrupted write);
catalog.sqlite rows that disagree with the manifest (warnings: derived data, the manifest
wins). The per-file and chain checks themselves are in archiver.check.fixity (shared with the
Dask path, archiver.check.audit_cluster); this module runs them over the archive and adds the
archive-wide checks.

Rolling WARCs are checked as the manifest names them: a sealed one whole, from its seal event
(`message digest calculation`), like any file; one still `.open` range by range, from the
capture entries' `ranges` (the sha256 of each capture's bytes), since its whole-file digest
does not exist yet.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import time
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from archiver.base.cluster import Cluster
from archiver.base.cluster import Progress as TaskProgress
from archiver.base.errors import UnreadableInputError, UsageError
from archiver.base.findings import Finding, Report
from archiver.check import timestamps as tsa_check
from archiver.check.audit_cluster import findings_on_cluster
from archiver.check.fixity import (
    ByLine,
    Check,
    Expected,
    batches,
    chain_and_catalog,
    check_batch,
    check_file,
    check_named_again,
    check_range,
    expectations,
    merge_by_line,
    valid_file_claim,
)
from archiver.store import checkpoints, manifest, signing, timestamps
from archiver.store.archive import Archive
from archiver.store.rolling import OPEN_SUFFIX

Progress = Callable[[int], None]


@dataclass
class AuditReport(Report):
    entries: int = 0
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    proofs: list[dict[str, Any]] = field(default_factory=list)  # RFC 3161 tokens verified

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
                "warnings": self.warnings, "findings": [f.to_dict() for f in self.findings],
                "proofs": self.proofs}


class ClaimIndex:
    """Which paths the manifest names, in 8 bytes a path (a sorted array of path hashes), so
    audit's memory does not grow with the archive: a manifest can name millions of files.
    The newest keys wait in a small unsorted batch (with a set, for `add` to tell a path
    named again at once), merged into the array every RECENT keys: two sorted runs, which
    timsort merges in one linear pass."""

    RECENT = 65536

    def __init__(self) -> None:
        self._hashes = array("Q")
        self._recent: list[int] = []
        self._recent_set: set[int] = set()

    @staticmethod
    def key(path: str) -> int:
        return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "big")

    def add(self, path: str) -> bool:
        """Claim `path`; True when an earlier entry named it already."""
        key = self.key(path)
        i = bisect_left(self._hashes, key)
        again = key in self._recent_set or (i < len(self._hashes) and self._hashes[i] == key)
        self._recent.append(key)
        self._recent_set.add(key)
        if len(self._recent) >= self.RECENT:
            self._ensure_sorted()
        return again

    def _ensure_sorted(self) -> None:
        if self._recent:
            self._recent.sort()
            self._hashes.extend(self._recent)
            self._hashes = array("Q", sorted(self._hashes))
            self._recent, self._recent_set = [], set()

    def __contains__(self, path: str) -> bool:
        self._ensure_sorted()
        key = self.key(path)
        i = bisect_left(self._hashes, key)
        return i < len(self._hashes) and self._hashes[i] == key

    def repeated(self) -> set[int]:
        """Keys of paths named more than once (checked again in a second, rare pass)."""
        self._ensure_sorted()
        h = self._hashes
        return {h[i] for i in range(1, len(h)) if h[i] == h[i - 1]}


def conflicting_claims(archive: Archive, repeated: set[int]) -> list[Finding]:
    """Second pass, only over paths named twice: do the claims agree?"""
    first: dict[str, tuple[str, int, int]] = {}
    findings = []
    for entry in manifest.iter_entries(archive.manifest_path):
        for f in entry.get("files") or []:
            if not valid_file_claim(f) or ClaimIndex.key(f["path"]) not in repeated:
                continue
            claim = (f["sha256"], f["size"], entry.get("seq", -1))
            known = first.setdefault(f["path"], claim)
            if known[:2] != claim[:2]:
                findings.append(Finding("error", "conflicting-entries", f["path"],
                                        f"seq {claim[2]} and seq {known[2]} give different "
                                        "checksums"))
                # the first pass hashed the file against the first claim only: this one too
                findings += check_file(archive, Expected(f["path"], claim[0], claim[1],
                                                         claim[2]))
    return findings


def sealed_files(archive: Archive) -> set[str]:
    """Every WARC a seal event (`message digest calculation`) names."""
    return {f["path"] for e in manifest.iter_entries(archive.manifest_path)
            if e.get("event") == "message digest calculation"
            for f in e.get("files") or [] if valid_file_claim(f)}


def find_orphans(archive: Archive, named: ClaimIndex,
                 rolling: set[str] | None = None) -> Iterator[Finding]:
    temporaries = []
    for rel, temporary in archive.iter_stored_files():
        if temporary:
            temporaries.append(rel)  # reported after the orphans, as they always were
            continue
        final = rel.removesuffix(OPEN_SUFFIX)
        if rel not in named and final not in (rolling or set()) and final not in named:
            yield Finding("warning", "orphan-file", rel,
                          "orphan: stored file named by no manifest entry "
                          "(an interrupted capture, or a file added by hand)")
    for rel in temporaries:
        yield Finding("warning", "temporary-file", rel,
                      "temporary file left by an interrupted write (safe to delete)")


def first_run_orphans(archive: Archive) -> list[Finding]:
    """Files in an archive with no manifest: a first run killed before its first commit (its
    `.open` WARC, maybe article files). Errors, since nothing vouches for them, each saying
    how to recover (repair cuts the uncommitted bytes and records the cut); a temporary file
    is the usual warning."""
    return [Finding("warning", "temporary-file", rel,
                    "temporary file left by an interrupted write (safe to delete)")
            if temporary else
            Finding("error", "orphan-file", rel,
                    "orphan of an interrupted first run (no manifest yet); run "
                    "`archiver repair --yes`")
            for rel, temporary in archive.iter_stored_files()]


def audit(archive: Archive, jobs: int | None = None, progress: Progress | None = None,
          on_start: Callable[[int], None] | None = None, cluster: Cluster | None = None,
          task_progress: TaskProgress | None = None,
          tsa_roots: list[Any] | None = None,
          witnesses: list[checkpoints.Verifier] | None = None,
          witnesses_min: int = 1) -> AuditReport:
    """Audit the whole archive in one streaming pass over the manifest: each entry's files are
    checked as the entry is read, a few at a time per thread, so memory stays flat whatever
    the archive's size. `on_start(total)` gets the manifest's size and `progress(n)` the bytes
    of it whose files are checked. Raises UnreadableInputError when there is nothing to audit.

    With a Dask `cluster`, files and ranges are checked in batches on its workers and the
    chain by one task beside them (`task_progress` gets tasks done/submitted and bytes); the
    findings are the same, in the same order, as a local run's.

    RFC 3161 tokens are verified against `tsa_roots` (certificates the user trusts; None:
    imprint and nonce only, with a warning) and each one that stands is a `proofs` item.

    Checkpoints and their cosignatures are verified against the keys the user trusts
    (signing.trusted_keys) and, with `witnesses`, each checkpointed seq needs `witnesses_min`
    of their cosignatures on a checkpoint at or after it (archiver.store.checkpoints).
    """
    if not archive.exists():
        raise UnreadableInputError(f"{archive.root}: no archive here")
    if not archive.manifest_path.is_file():
        orphans = first_run_orphans(archive)
        if not orphans:
            raise UnreadableInputError(f"{archive.manifest_path}: no manifest to audit")
        return AuditReport(findings=orphans)
    started = time.monotonic()
    if on_start:
        on_start(archive.manifest_path.stat().st_size)
    signed = signing.signed_seqs(archive)
    # Tokens live in timestamps/: without the folder there is nothing to verify, and the
    # manifest is not read a second time (a token deleted with its folder is still a
    # missing-file finding of the fixity pass, from the event that names it).
    tokens = timestamps.all_recorded(archive) if archive.timestamps_dir.is_dir() else []
    stamped = {r.seq for r in tokens}
    run = AuditRun(archive, jobs or os.cpu_count() or 1, progress, signed | stamped)
    run.stamped = stamped
    if cluster is not None:
        run.findings, run.catalog_findings = findings_on_cluster(archive, run.note, cluster,
                                                                 task_progress)
    else:
        run.read_manifest()
    findings = run.findings
    # Signed heads catch an attacker who edits an entry and recomputes every hash after it.
    findings += signing.verify(archive, chain=run.chain)
    # Time-stamp tokens: a TSA's word that a head existed by genTime (beside the chain).
    proven = tsa_check.verify(archive, tsa_roots, run.chain, run.stamped_at, run.last_work,
                              records=tokens)
    findings += proven.findings
    repeated = run.claims.repeated()
    if repeated:
        findings += conflicting_claims(archive, repeated)
    findings += run.unsealed()
    findings += list(find_orphans(archive, run.claims, run.rolling))
    findings += run.catalog_findings  # derived data that disagrees: warnings
    # Checkpoints (signed notes others cosign): forks, rewritten heads, missing witnesses.
    findings += checkpoints.verify(archive, signing.trusted_keys(), list(witnesses or []),
                                   witnesses_min)
    return AuditReport(findings=findings, entries=run.entries, files=run.files,
                       bytes=run.bytes, seconds=time.monotonic() - started,
                       proofs=proven.proofs)


class AuditRun:
    """The state of one streaming audit: chain verifier, claims, files in flight."""

    def __init__(self, archive: Archive, jobs: int, progress: Progress | None,
                 signed: set[int]) -> None:
        self.archive, self.jobs, self.progress, self.signed = archive, jobs, progress, signed
        self.findings: list[Finding] = []
        self.claims = ClaimIndex()
        self.signed_hashes: dict[int, str] = {}  # only what signature checks need:
        self.head: tuple[int, str] | None = None  # the signed seqs' hashes and the head
        self.entries = self.files = self.bytes = 0
        self.rolling: set[str] = set()  # WARCs named by capture ranges (few: ~1 GB each)
        self.sealed: set[str] = set()
        self.catalog_findings: list[Finding] = []  # from the chain's task
        self.stamped: set[int] = set()  # seqs RFC 3161 tokens name, and their entries' `at`
        self.stamped_at: dict[int, str] = {}
        self.last_work: int | None = None  # the newest seq that is not a timestamp event

    def unsealed(self) -> list[Finding]:
        """A rolling WARC renamed to its final name is sealed in the manifest first. A writer
        may have sealed it after this audit read the manifest: read the seals again."""
        findings = []
        candidates = [rel for rel in sorted(self.rolling - self.sealed)
                      if self._exists(rel)]
        if candidates:
            self.sealed |= sealed_files(self.archive)
        for rel in candidates:
            if rel not in self.sealed:
                findings.append(Finding("error", "unsealed-file", rel,
                                        "closed WARC with no seal event in the manifest"))
        return findings

    @property
    def chain(self) -> dict[int, str]:
        chain = dict(self.signed_hashes)
        if self.head is not None:
            chain.setdefault(*self.head)
        return chain

    def read_manifest(self) -> None:
        """Files and ranges checked in batches by `jobs` workers, the chain (with the
        catalog's agreement) by one more task beside them; findings merged back by line."""
        by_line: ByLine = []
        in_flight: deque[tuple[Future[ByLine], int]] = deque()
        root, reported = str(self.archive.root), 0
        with _workers(self.archive, self.jobs) as pool:
            chain = pool.submit(chain_and_catalog, root)
            for batch, _, done in batches(self.archive, self.note, BATCH_BYTES, BATCH_FILES):
                in_flight.append((pool.submit(check_batch, root, batch), done))
                while len(in_flight) > IN_FLIGHT_PER_WORKER * self.jobs:
                    reported = self._collect(in_flight.popleft(), by_line, reported)
            while in_flight:
                reported = self._collect(in_flight.popleft(), by_line, reported)
            chain_by_line, self.catalog_findings = chain.result()
        rest = self.archive.manifest_path.stat().st_size - reported  # lines after the last
        if self.progress and rest > 0:  # file's (a writer may have appended more meanwhile)
            self.progress(rest)
        self.findings = merge_by_line(chain_by_line, by_line)

    def _collect(self, item: tuple[Future[ByLine], int], by_line: ByLine,
                 reported: int) -> int:
        """A batch's findings; the manifest bytes told to `progress` so far."""
        future, done = item
        by_line += future.result()
        if self.progress and done > reported:
            self.progress(done - reported)
        return max(done, reported)

    def _exists(self, rel: str) -> bool:
        try:
            return self.archive.resolve(rel).exists()
        except UsageError:
            return False  # reported as unsafe-path by its range check

    def note(self, entry: dict[str, Any]) -> list[Check]:
        """Count the entry, keep what the signature and seal checks need, claim its files;
        the checks its files and ranges need, as (function, arguments after the archive,
        bytes)."""
        self.entries += 1
        seq, entry_hash = entry.get("seq"), entry.get("hash")
        if isinstance(seq, int) and isinstance(entry_hash, str):
            if seq in self.signed:
                self.signed_hashes.setdefault(seq, entry_hash)
            if self.head is None or seq > self.head[0]:
                self.head = (seq, entry_hash)
            if seq in self.stamped:
                self.stamped_at.setdefault(seq, str(entry.get("at")))
            if "timestamps" not in entry:
                self.last_work = seq
        checks: list[Check] = []
        for exp in expectations(entry):
            self.files += 1
            if self.claims.add(exp.path):  # hashed once, by the first entry's check
                checks.append((check_named_again, (exp,), 0))
                continue
            self.bytes += exp.size
            checks.append((check_file, (exp,), exp.size))
        if entry.get("event") == "message digest calculation":
            self.sealed.update(f["path"] for f in entry.get("files") or [] if valid_file_claim(f))
        for rng in entry.get("ranges") or []:
            if not isinstance(rng, dict) or not isinstance(rng.get("file"), str):
                continue  # the schema check reports it
            self.rolling.add(rng["file"])
            records = {str(r.get("id")): int(r["offset"]) for r in entry.get("records") or []
                       if isinstance(r, dict) and r.get("file") == rng["file"] and "offset" in r}
            checks.append((check_range, (rng, records, entry.get("seq", -1)),
                           int(rng.get("length") or 0)))
        return checks


BATCH_BYTES = 64 * 1024 * 1024  # a task checks about this much (or one larger file)...
BATCH_FILES = 128  # ...or this many files: measured best on 2 cores at 1 GB (16-512 tried)
IN_FLIGHT_PER_WORKER = 4  # batches queued ahead of each worker: busy, yet memory flat
# Forked workers cost ~8 ms to start: measured against threads, 1.04x on a one-entry
# archive, 0.95x at 45 entries (20 MB, a 71 KB manifest), 0.83x at 100 MB, 0.76x at 370 MB.
FORK_BYTES = 64 * 1024


@contextmanager
def _workers(archive: Archive, jobs: int) -> Iterator[Executor]:
    """Where audit's checks run (issue 16 item 9): `jobs` forked processes for a large
    manifest. The per-file work around the hashing (record ids, articles, paths) and the
    chain's schema checks are pure Python: as threads of one process they take turns at its
    GIL, which each hashing thread must also take back after every read and digest (measured
    at 1 GB: 16% slower in wall time than processes). Forked, so the children share the modules
    already imported; `fork` explicitly, since the default becomes forkserver in Python 3.14,
    whose children would import everything again. A daemonic process (a pool's or a Dask
    worker's) may not start children, and a small manifest is not worth them: threads.

    A ProcessPoolExecutor, as elsewhere in archiver: a worker that dies (killed, out of
    memory) breaks it, and the waiting audit gets BrokenProcessPool (the CLI's one-line
    error), where a multiprocessing.Pool would wait forever for the lost batch. On an error
    or Ctrl-C the workers are stopped at once (the children that appeared with the pool),
    not after their batch."""
    before = set(multiprocessing.active_children())
    pool: Executor
    if archive.manifest_path.stat().st_size >= FORK_BYTES and \
            not multiprocessing.current_process().daemon:
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_leave_ctrl_c_to_parent)
    else:
        pool = ThreadPoolExecutor(jobs)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for child in set(multiprocessing.active_children()) - before:
            child.terminate()
        raise
    pool.shutdown()


def _leave_ctrl_c_to_parent() -> None:
    """Ctrl-C reaches the whole process group. The parent stops its workers (see _workers);
    a worker that took the KeyboardInterrupt itself would print a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
