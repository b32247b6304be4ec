"""audit: prove the manifest and the files still agree. Reports every finding, never the first
only, and changes nothing (except an optional `fixity check` event, appended by the caller).

Checks: the hash chain (order, links, each entry's hash, schema); every file the manifest names
(present, size, sha256: streamed, in parallel threads since hashlib releases the GIL); every
record id at its recorded offset; every article file's id and byline against the manifest;
files nobody named (orphans: warnings, the trace of an interrupted write); catalog.sqlite rows
that disagree with the manifest (warnings: derived data, the manifest wins).

Rolling WARCs are checked as the manifest names them: a sealed one whole, from its seal event
(`message digest calculation`), like any file; one still `.open` range by range, from the
capture entries' `ranges` (the sha256 of each capture's bytes), since its whole-file digest
does not exist yet.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import os
import socket
import time
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.base.cluster import Cluster, Task
from archiver.base.cluster import Progress as TaskProgress
from archiver.base.errors import UnreadableInputError, UsageError
from archiver.base.findings import Finding, Report
from archiver.store import manifest, signing
from archiver.store.archive import Archive, hash_file
from archiver.store.rolling import OPEN_SUFFIX, open_path
from archiver.store.warc import record_ids_at

Progress = Callable[[int], None]
Check = tuple[Callable[..., list[Finding]], tuple[Any, ...], int]  # fn(archive, *args); bytes


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


class ClaimIndex:
    """Which paths the manifest names, in 8 bytes a path (a sorted array of path hashes), so
    audit's memory does not grow with the archive: a manifest can name millions of files."""

    def __init__(self) -> None:
        self._hashes = array("Q")
        self._sorted = True

    @staticmethod
    def key(path: str) -> int:
        return int.from_bytes(hashlib.blake2b(path.encode(), digest_size=8).digest(), "big")

    def add(self, path: str) -> None:
        self._hashes.append(self.key(path))
        self._sorted = False

    def _ensure_sorted(self) -> None:
        if not self._sorted:
            self._hashes = array("Q", sorted(self._hashes))
            self._sorted = True

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


def expectations(entry: dict[str, Any]) -> list[Expected]:
    """The files one entry names, with the records and articles it places in them."""
    seq = entry.get("seq", -1)
    files = {f["path"]: Expected(f["path"], f["sha256"], f["size"], seq)
             for f in entry.get("files") or [] if _valid_file_claim(f)}
    for r in entry.get("records") or []:
        if isinstance(r, dict) and r.get("file") in files and "offset" in r:
            files[r["file"]].records[str(r.get("id"))] = int(r["offset"])
    for a in entry.get("articles") or []:
        if isinstance(a, dict) and a.get("path") in files:
            files[a["path"]].article = a
    return list(files.values())


def conflicting_claims(archive: Archive, repeated: set[int]) -> list[Finding]:
    """Second pass, only over paths named twice: do the claims agree?"""
    first: dict[str, tuple[str, int, int]] = {}
    findings = []
    for entry in manifest.iter_entries(archive.manifest_path):
        for f in entry.get("files") or []:
            if not _valid_file_claim(f) or ClaimIndex.key(f["path"]) not in repeated:
                continue
            claim = (f["sha256"], f["size"], entry.get("seq", -1))
            known = first.setdefault(f["path"], claim)
            if known[:2] != claim[:2]:
                findings.append(Finding("error", "conflicting-entries", f["path"],
                                        f"seq {claim[2]} and seq {known[2]} give different "
                                        "checksums"))
    return findings


def _valid_file_claim(f: Any) -> bool:
    return (isinstance(f, dict) and isinstance(f.get("path"), str)
            and isinstance(f.get("sha256"), str) and isinstance(f.get("size"), int))


def check_file(archive: Archive, exp: Expected) -> list[Finding]:
    """Fixity of one file, then its cross-references (only when its bytes are intact)."""
    try:
        path = open_path(archive, exp.path)  # a WARC whose seal a crash cut short is .open
    except UsageError as exc:
        return [Finding("error", "unsafe-path", exp.path, str(exc))]
    try:
        sha, size = _hash_following_a_seal(archive, exp.path, path)
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


def _hash_following_a_seal(archive: Archive, rel: str, path: Path) -> tuple[str, int]:
    """hash_file, once more under the file's new name if a writer sealed it meanwhile
    (`<name>.open` renamed to `<name>` between our look and our read)."""
    try:
        return hash_file(path)
    except FileNotFoundError:
        again = open_path(archive, rel)
        if again == path:
            raise
        return hash_file(again)


def sealed_files(archive: Archive) -> set[str]:
    """Every WARC a seal event (`message digest calculation`) names."""
    return {f["path"] for e in manifest.iter_entries(archive.manifest_path)
            if e.get("event") == "message digest calculation"
            for f in e.get("files") or [] if _valid_file_claim(f)}


def check_range(archive: Archive, rng: dict[str, Any], records: dict[str, int],
                seq: int) -> list[Finding]:
    """One capture's bytes in a rolling WARC. While the file is `.open`, its range is hashed
    (the only digest it has); once sealed, the seal event's whole-file check covers the bytes
    and only the record ids are read here."""
    rel, offset, length = rng["file"], int(rng["offset"]), int(rng["length"])
    try:
        final = archive.resolve(rel)
    except UsageError as exc:
        return [Finding("error", "unsafe-path", rel, str(exc))]
    path = final if final.exists() else final.with_name(final.name + OPEN_SUFFIX)
    exp = Expected(rel, "", 0, seq, records)
    try:
        if path.name.endswith(OPEN_SUFFIX):
            digest = _hash_range(path, offset, length)
            if digest != rng["sha256"]:
                return [Finding("error", "range-mismatch", rel,
                                f"bytes {offset}-{offset + length} of the open file do not "
                                f"match the sha256 of manifest seq {seq}", offset=offset)]
        return list(_check_records(path, exp))
    except FileNotFoundError:
        return [Finding("error", "missing-file", rel,
                        f"missing file (named by manifest seq {seq})")]
    except OSError as exc:
        return [Finding("error", "unreadable-file", rel, f"cannot read: {exc.strerror}")]


def _hash_range(path: Path, offset: int, length: int) -> str | None:
    """sha256 of `length` bytes at `offset`; None when the file is shorter."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        f.seek(offset)
        left = length
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                return None
            h.update(chunk)
            left -= len(chunk)
    return h.hexdigest()


def find_orphans(archive: Archive, named: ClaimIndex,
                 rolling: set[str] | None = None) -> Iterator[Finding]:
    for rel in archive.iter_data_files():
        final = rel.removesuffix(OPEN_SUFFIX)
        if rel not in named and final not in (rolling or set()) and final not in named:
            yield Finding("warning", "orphan-file", rel,
                          "orphan: stored file named by no manifest entry "
                          "(an interrupted capture, or a file added by hand)")
    for rel in archive.iter_temp_files():
        yield Finding("warning", "temporary-file", rel,
                      "temporary file left by an interrupted write (safe to delete)")


def audit(archive: Archive, jobs: int | None = None, progress: Progress | None = None,
          on_start: Callable[[int], None] | None = None, cluster: Cluster | None = None,
          task_progress: TaskProgress | None = None) -> AuditReport:
    """Audit the whole archive in one streaming pass over the manifest: each entry's files are
    checked as the entry is read, a few at a time per thread, so memory stays flat whatever
    the archive's size. `on_start(total)` gets the manifest's size and `progress(n)` the bytes
    of it whose files are checked. Raises UnreadableInputError when there is nothing to audit.

    With a Dask `cluster`, files and ranges are checked in batches on its workers and the
    chain by one task beside them (`task_progress` gets tasks done/submitted and bytes); the
    findings are the same, in the same order, as a local run's.
    """
    if not archive.exists():
        raise UnreadableInputError(f"{archive.root}: no archive here")
    if not archive.manifest_path.is_file():
        raise UnreadableInputError(f"{archive.manifest_path}: no manifest to audit")
    started = time.monotonic()
    if on_start:
        on_start(archive.manifest_path.stat().st_size)
    signed = signing.signed_seqs(archive)
    if cluster is not None:
        run: _AuditRun = _ClusterAuditRun(archive, cluster, task_progress, signed)
    else:
        run = _AuditRun(archive, jobs or os.cpu_count() or 1, progress, signed)
    run.read_manifest()
    findings = run.findings
    # Signed heads catch an attacker who edits an entry and recomputes every hash after it.
    findings += signing.verify(archive, chain=run.chain)
    repeated = run.claims.repeated()
    if repeated:
        findings += conflicting_claims(archive, repeated)
    findings += run.unsealed()
    findings += list(find_orphans(archive, run.claims, run.rolling))
    findings += run.catalog.finish()  # derived data that disagrees: warnings
    return AuditReport(findings=findings, entries=run.entries, files=run.files,
                       bytes=run.bytes, seconds=time.monotonic() - started)


class _AuditRun:
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
        self._pool: ThreadPoolExecutor | None = None
        self.catalog = _catalog_verifier(archive)

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
        verifier = manifest.ChainVerifier("manifest.jsonl")
        in_flight: deque[tuple[int, Future[list[Finding]]]] = deque()
        with ThreadPoolExecutor(max_workers=self.jobs) as self._pool:
            for line in manifest.read_lines(self.archive.manifest_path):
                # queued, not added: a line's chain findings come before its files' findings
                in_flight.append((0, _done(verifier.check(line))))
                futures = self._entry(line.entry) if line.entry and not line.torn else []
                # the line's bytes count as progress once its last file is checked
                for i, future in enumerate(futures or [_done(None)], start=1):
                    in_flight.append((len(line.raw) if i == max(len(futures), 1) else 0, future))
                while len(in_flight) > IN_FLIGHT_PER_THREAD * self.jobs:
                    self._collect(in_flight.popleft())
            while in_flight:
                self._collect(in_flight.popleft())

    def _exists(self, rel: str) -> bool:
        try:
            return self.archive.resolve(rel).exists()
        except UsageError:
            return False  # reported as unsafe-path by its range check

    def _entry(self, entry: dict[str, Any]) -> list[Future[list[Finding]]]:
        assert self._pool is not None
        return [self._pool.submit(fn, self.archive, *args) for fn, args, _ in self._note(entry)]

    def _note(self, entry: dict[str, Any]) -> list[Check]:
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
        self.catalog.check(entry)
        checks: list[Check] = []
        for exp in expectations(entry):
            self.claims.add(exp.path)
            self.files += 1
            self.bytes += exp.size
            checks.append((check_file, (exp,), exp.size))
        if entry.get("event") == "message digest calculation":
            self.sealed.update(f["path"] for f in entry.get("files") or [] if _valid_file_claim(f))
        for rng in entry.get("ranges") or []:
            if not isinstance(rng, dict) or not isinstance(rng.get("file"), str):
                continue  # the schema check reports it
            self.rolling.add(rng["file"])
            records = {str(r.get("id")): int(r["offset"]) for r in entry.get("records") or []
                       if isinstance(r, dict) and r.get("file") == rng["file"] and "offset" in r}
            checks.append((check_range, (rng, records, entry.get("seq", -1)),
                           int(rng.get("length") or 0)))
        return checks

    def _collect(self, item: tuple[int, Future[list[Finding]]]) -> None:
        manifest_bytes, future = item
        result = future.result()
        if result:
            self.findings += result
        if manifest_bytes and self.progress:
            self.progress(manifest_bytes)


class _NoCatalog:
    """The catalog verifier of an archive without catalog.sqlite: nothing to disagree."""

    def check(self, entry: dict[str, Any]) -> None:
        pass

    def finish(self) -> list[Finding]:
        return []


CATALOG_FILE = "catalog.sqlite"  # archiver.store.catalog.CATALOG_NAME (CONTRACTS.md)


def _catalog_verifier(archive: Archive) -> Any:
    """catalog_check imports the catalog's row builders (surt, tldextract, requests, warcio:
    ~0.1-0.2 s, a tenth of a 1 GB audit); an archive without a catalog does not pay it."""
    if not (archive.root / CATALOG_FILE).exists():
        return _NoCatalog()
    from archiver.store.catalog_check import CatalogVerifier

    return CatalogVerifier.open(archive)


IN_FLIGHT_PER_THREAD = 16  # keeps the threads busy past a large file; memory stays flat


def _done(value: Any) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(value)
    return future


# -- on a Dask cluster ----------------------------------------------------------------------

TASK_BYTES = 256 * 1024 * 1024  # a task hashes about this much (or one larger file)...
TASK_FILES = 512  # ...or this many files, so small files do not make tiny tasks


class _ClusterAuditRun(_AuditRun):
    """The same audit with the file checks in batches on Dask workers and the chain checked
    by one streaming task beside them; findings merged back by manifest line."""

    def __init__(self, archive: Archive, cluster: Cluster, progress: TaskProgress | None,
                 signed: set[int]) -> None:
        super().__init__(archive, 1, None, signed)
        self.cluster, self.task_progress = cluster, progress

    def read_manifest(self) -> None:
        chain = self.cluster.submit(Task(chain_findings, (str(self.archive.manifest_path),)),
                                    "audit-chain")
        by_line: list[tuple[int, list[Finding]]] = []
        for batch in self.cluster.map_ordered(self._tasks(), self.task_progress, "audit"):
            by_line += [(number, found) for number, found in batch if found]
        chain_by_line: list[tuple[int, list[Finding]]] = self.cluster.result_of(chain)
        # the local order: each line's chain findings, then its files' findings
        merged = heapq.merge(chain_by_line, by_line, key=lambda item: item[0])
        self.findings = [f for _, found in merged for f in found]

    def _tasks(self) -> Iterator[Task]:
        batch: list[tuple[int, Callable[..., list[Finding]], tuple[Any, ...]]] = []
        size = 0
        for line in manifest.read_lines(self.archive.manifest_path):
            if line.entry is None or line.torn:
                continue
            for fn, args, n in self._note(line.entry):
                if batch and (size + n > TASK_BYTES or len(batch) >= TASK_FILES):
                    yield Task(check_batch, (str(self.archive.root), batch), size)
                    batch, size = [], 0
                batch.append((line.number, fn, args))
                size += n
        if batch:
            yield Task(check_batch, (str(self.archive.root), batch), size)


def check_batch(root: str, batch: list[tuple[int, Callable[..., list[Finding]], tuple[Any, ...]]]
                ) -> list[tuple[int, list[Finding]]]:
    """A worker's task: check_file or check_range for each (manifest line, function,
    arguments); reads only."""
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():  # this worker does not see the archive
        return [(number, [_unreachable(_where(args), root)]) for number, _, args in batch]
    return [(number, fn(archive, *args)) for number, fn, args in batch]


def _where(args: tuple[Any, ...]) -> str:
    first = args[0]
    return first.path if isinstance(first, Expected) else str(first.get("file"))


def chain_findings(manifest_path: str) -> list[tuple[int, list[Finding]]]:
    """A worker's task: the whole chain, streamed; findings by manifest line number."""
    path = Path(manifest_path)
    if not path.is_file():
        return [(0, [_unreachable("manifest.jsonl", str(path.parent))])]
    verifier = manifest.ChainVerifier("manifest.jsonl")
    return [(line.number, found) for line in manifest.read_lines(path)
            if (found := verifier.check(line))]


def _unreachable(where: str, root: str) -> Finding:
    return Finding("error", "archive-unreachable", where,
                   f"Dask worker on {socket.gethostname()} cannot read the archive at {root} "
                   "(workers must mount it at the same path)")
