"""The checks audit runs on stored files and on the manifest chain, as plain functions of
plain arguments, so that threads, a forked process and Dask workers all run the very same
code: one file's fixity and cross-references, one capture's range of a rolling WARC, the
whole chain streamed with the catalog's agreement; findings keyed by manifest line and merged
back into one sequential pass's order."""

from __future__ import annotations

import hashlib
import heapq
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.base.cluster import unreachable_archive
from archiver.base.errors import UsageError
from archiver.base.findings import Finding
from archiver.store import manifest
from archiver.store.archive import COPY_CHUNK, Archive, open_regular
from archiver.store.rolling import OPEN_SUFFIX, open_path
from archiver.store.warc import record_ids_at, record_ids_in

Check = tuple[Callable[..., list[Finding]], tuple[Any, ...], int]  # fn(archive, *args); bytes
ByLine = list[tuple[int, list[Finding]]]  # findings keyed by manifest line number
Note = Callable[[dict[str, Any]], list[Check]]  # an entry -> its checks (audit's AuditRun.note)
Batch = list[tuple[int, Callable[..., list[Finding]], tuple[Any, ...]]]  # (line, fn, args)


@dataclass(slots=True)  # one per file named in the manifest: keep it small
class Expected:
    """What the manifest says about one stored file."""

    path: str
    sha256: str
    size: int
    seq: int
    records: dict[str, int] = field(default_factory=dict)  # record id -> offset
    article: dict[str, Any] | None = None


def expectations(entry: dict[str, Any]) -> list[Expected]:
    """The files one entry names, with the records and articles it places in them."""
    seq = entry.get("seq", -1)
    files = {f["path"]: Expected(f["path"], f["sha256"], f["size"], seq)
             for f in entry.get("files") or [] if valid_file_claim(f)}
    for r in entry.get("records") or []:
        if isinstance(r, dict) and r.get("file") in files and "offset" in r:
            files[r["file"]].records[str(r.get("id"))] = int(r["offset"])
    for a in entry.get("articles") or []:
        if isinstance(a, dict) and a.get("path") in files:
            files[a["path"]].article = a
    return list(files.values())


def valid_file_claim(f: Any) -> bool:
    return (isinstance(f, dict) and isinstance(f.get("path"), str)
            and isinstance(f.get("sha256"), str) and isinstance(f.get("size"), int))


def check_file(archive: Archive, exp: Expected) -> list[Finding]:
    """Fixity of one file, then its cross-references (only when its bytes are intact)."""
    try:
        path = open_path(archive, exp.path)  # a WARC whose seal a crash cut short is .open
    except UsageError as exc:
        return [Finding("error", "unsafe-path", exp.path, str(exc))]
    try:
        path, (sha, size, found_at) = _hash_following_a_seal(archive, exp.path, path,
                                                             sorted(exp.records.values()))
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
    findings += list(_check_records(path, exp, found_at))
    findings += list(_check_article(path, exp))
    return findings


def check_named_again(archive: Archive, exp: Expected) -> list[Finding]:
    """A file an earlier entry named too: its bytes are hashed once, by the first entry's
    check; audit's conflicting_claims hashes it again for a claim that differs from the
    first. Here only what this entry places in it (records, article), when the file has
    this claim's size (else the other checks report it)."""
    try:
        path = open_path(archive, exp.path)
        if path.stat().st_size != exp.size:
            return []
        return [*_check_records(path, exp), *_check_article(path, exp)]
    except (UsageError, OSError):
        return []  # unsafe, missing or unreadable: the first entry's check reports it


def _check_records(path: Path, exp: Expected,
                   found_at: dict[int, str | None] | None = None) -> Iterator[Finding]:
    """The manifest's record ids against those at their offsets: `found_at` as the hashing
    read found them, the rest read from the file."""
    found_at = dict(found_at or {})
    unread = sorted(set(exp.records.values()) - set(found_at))
    if unread:
        found_at.update(record_ids_at(path, unread))
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


def _hash_following_a_seal(archive: Archive, rel: str, path: Path, offsets: list[int]
                           ) -> tuple[Path, tuple[str, int, dict[int, str | None]]]:
    """sha256_file, once more under the file's new name if a writer sealed it meanwhile
    (`<name>.open` renamed to `<name>` between our look and our read); the path read."""
    try:
        return path, sha256_file(path, offsets)
    except FileNotFoundError:
        again = open_path(archive, rel)
        if again == path:
            raise
        return again, sha256_file(again, offsets)


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
    view = _read_buffer()
    with open_regular(path, buffered=False) as f:
        f.seek(offset)
        left = length
        while left:
            n = f.readinto(view[:min(left, len(view))])
            if not n:
                return None
            h.update(view[:n])
            left -= n
    return h.hexdigest()


_BUFFERS = threading.local()


def _read_buffer() -> memoryview:
    """This thread's read buffer, allocated once and reused file after file. A fresh 1 MiB
    buffer per file is a fresh mmap, paid in page faults (~0.5 ms a file) wherever glibc's
    mmap threshold is pinned: Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 for its workers
    (distributed.nanny.pre-spawn-environ), which pins it, and store.archive.hash_file took
    2.3x the CPU there."""
    view: memoryview | None = getattr(_BUFFERS, "view", None)
    if view is None:
        view = _BUFFERS.view = memoryview(bytearray(COPY_CHUNK))
    return view


def sha256_file(path: Path, offsets: list[int] | None = None
                ) -> tuple[str, int, dict[int, str | None]]:
    """sha256 hex and size of a file (store.archive.hash_file with a reused buffer), and the
    record ids at `offsets` (sorted) whose header blocks the same read saw whole: one read of
    the file for both, and no second open, seek and read per record."""
    h = hashlib.sha256()
    size = 0
    found: dict[int, str | None] = {}
    view = _read_buffer()
    with open_regular(path, buffered=False) as f:
        while n := f.readinto(view):
            h.update(view[:n])
            if offsets:
                found.update(record_ids_in(view[:n], size, offsets))
            size += n
    return h.hexdigest(), size, found


def batches(archive: Archive, note: Note, max_bytes: int, max_files: int
            ) -> Iterator[tuple[Batch, int, int]]:
    """The checks `note` gives for each entry, in manifest order, cut into batches of about
    `max_bytes` (or one larger file) or `max_files` checks; with each batch, the bytes it
    reads and the manifest bytes whose checks are all in it or in batches before it."""
    batch: Batch = []
    size = done = 0
    for line in manifest.read_lines(archive.manifest_path):
        if line.entry is not None and not line.torn:
            for fn, args, n in note(line.entry):
                if batch and (size + n > max_bytes or len(batch) >= max_files):
                    yield batch, size, done  # this line's checks may go on in the next one
                    batch, size = [], 0
                batch.append((line.number, fn, args))
                size += n
        done += len(line.raw)
    if batch:
        yield batch, size, done


def check_batch(root: str, batch: Batch) -> ByLine:
    """A worker's task (a forked process, a thread or a Dask worker): check_file or
    check_range for each (manifest line, function, arguments); reads only."""
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():  # this (Dask) worker does not see the archive
        return [(number, [unreachable(_where(args), root)]) for number, _, args in batch]
    return [(number, found) for number, fn, args in batch if (found := fn(archive, *args))]


def _where(args: tuple[Any, ...]) -> str:
    first = args[0]
    return first.path if isinstance(first, Expected) else str(first.get("file"))


def merge_by_line(chain_by_line: list[tuple[int, list[Finding]]],
           files_by_line: list[tuple[int, list[Finding]]]) -> list[Finding]:
    """Findings in the order of one sequential pass: each manifest line's chain findings, then
    its files' (heapq.merge is stable: for one line number the chain's come first)."""
    merged = heapq.merge(chain_by_line, files_by_line, key=lambda item: item[0])
    return [f for _, found in merged for f in found]


def chain_and_catalog(root: str) -> tuple[ByLine, list[Finding]]:
    """A task beside the file batches (a forked worker, a thread or a Dask worker): the
    chain's findings by manifest line, and catalog.sqlite's agreement with the manifest
    (warnings), in one streamed pass that reads no stored file. Pure Python, ~75 us an entry
    (mostly the schema check), so it runs beside the hashing, never in the way of it."""
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():  # this (Dask) worker does not see the archive
        return [(0, [unreachable("manifest.jsonl", root)])], []
    catalog = _catalog_verifier(archive)
    verifier = manifest.ChainVerifier("manifest.jsonl")
    by_line: ByLine = []
    for line in manifest.read_lines(archive.manifest_path):
        if found := verifier.check(line):
            by_line.append((line.number, found))
        if catalog is not None and line.entry and not line.torn:  # the entries audit notes
            catalog.check(line.entry)
    return by_line, catalog.finish() if catalog is not None else []


CATALOG_FILE = "catalog.sqlite"  # archiver.store.catalog.CATALOG_NAME (CONTRACTS.md)


def _catalog_verifier(archive: Archive) -> Any:
    """The catalog's verifier, or None without a catalog, which then does not pay for
    importing the catalog's modules (~16 ms)."""
    if not (archive.root / CATALOG_FILE).exists():
        return None
    from archiver.store.catalog_check import CatalogVerifier

    return CatalogVerifier.open(archive)


def unreachable(where: str, root: str) -> Finding:
    return Finding("error", "archive-unreachable", where,
                   unreachable_archive(root, socket.gethostname()))
