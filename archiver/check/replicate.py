"""replicate: make or bring up to date a copy of the archive, so that the copy is at every
moment a valid archive at some earlier head.

Order (DESIGN.md, Evidence): the files the manifest head names first (whole files: sealed
WARCs and articles; then open WARCs, only up to their last committed range), then the side
files (signatures, proof files, indexes; lines naming a seq past the head left out), then
the manifest, cut at the head read when the run started, last. A rolling WARC the copy does
not hold yet is written as `<name>.open` and renamed to its final name only after the
manifest that seals it: until then an audit of the copy checks it by its ranges, as it
checks any open WARC. Each file goes to a temporary name, is read back at the destination
and checked against our manifest's sha256 (or ranges) before its rename; a failed check is
retried once, then reported. A copy file that differs from our manifest is replaced the
same way (the copy heals); a good one is never rewritten.

Incremental like rsync's quick check: a file verified at the destination in an earlier run
whose size and mtime there have not changed is not read again (`checksum=True` reads every
one); `archiver audit --copies` always reads everything.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from archiver.base.errors import StoreError, UsageError
from archiver.check.copies import (
    Replica,
    Snapshot,
    Wanted,
    check_at,
    lineage,
    load_replicas,
    local,
    read_snapshot,
    save_replicas,
)
from archiver.store import manifest
from archiver.store.archive import TEMP_PREFIX, Archive, open_regular
from archiver.store.destinations import Destination, Digest, Folder
from archiver.store.events import record_event
from archiver.store.rolling import OPEN_SUFFIX, open_path

LOCK_NAME = "replicate.lock"
SIDE_FOLDERS = ("indexes",)
SIDE_FILES = ("index.cdxj",)
NOT_COPIED = ("manifest.jsonl", "catalog.sqlite", "replicas.json")

Progress = Callable[[int], None]


class ForkError(StoreError):
    """The copy's manifest is not a prefix of ours: never written over."""


@dataclass
class Action:
    path: str  # the name at the copy
    action: str  # copy, heal, failed, source-damaged, skipped
    bytes: int = 0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "action": self.action, "bytes": self.bytes,
                **({"detail": self.detail} if self.detail else {})}


@dataclass
class Plan:
    snapshot: Snapshot
    copy_head: int
    copy_lines: int  # lines of the copy's manifest when the run started
    todo: list[tuple[Wanted, str, str]] = field(default_factory=list)  # wanted, name, action
    renames: list[tuple[str, str]] = field(default_factory=list)  # after the manifest
    kept: int = 0

    @property
    def bytes(self) -> int:
        return sum(w.end(self.snapshot.head_seq) for w, _, _ in self.todo)


@dataclass
class Result:
    name: str
    url: str
    head_seq: int
    head_hash: str
    actions: list[Action] = field(default_factory=list)
    kept: int = 0
    dry_run: bool = False

    @property
    def failed(self) -> list[Action]:
        return [a for a in self.actions if a.action in ("failed", "source-damaged")]

    @property
    def skipped(self) -> list[Action]:
        return [a for a in self.actions if a.action == "skipped"]

    @property
    def copied(self) -> list[Action]:
        return [a for a in self.actions if a.action in ("copy", "heal")]

    def summary(self) -> str:
        verb = "would copy" if self.dry_run else "copied"
        mb = sum(a.bytes for a in self.copied) / 1e6
        healed = sum(1 for a in self.copied if a.action == "heal")
        text = (f"replicate {self.name}: {verb} {len(self.copied)} files ({mb:.1f} MB)"
                f"{f', {healed} of them healed' if healed else ''}, {self.kept} already there;"
                f" head seq {self.head_seq}")
        if self.failed:
            text += f"; {len(self.failed)} FAILED"
        if self.skipped:
            text += f", {len(self.skipped)} not tried ({self.skipped[0].detail})"
        if self.failed or self.skipped:
            text += "; the copy stays at its older head, run again to resume"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"replica": self.name, "url": self.url, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "dry_run": self.dry_run,
                "files": len(self.copied), "bytes": sum(a.bytes for a in self.copied),
                "kept": self.kept, "failed": [a.to_dict() for a in self.failed],
                "skipped": len(self.skipped), "ok": not (self.failed or self.skipped)}


def refuse_inside(archive: Archive, dest: Destination) -> None:
    if isinstance(dest, Folder):
        real, root = dest.root.resolve(), archive.root.resolve()
        if real == root or real.is_relative_to(root):
            raise UsageError(f"{dest.root}: a copy inside the archive itself is no copy; "
                             "choose a folder outside it")


def register(archive: Archive, name: str, where: str, key: str | None,
             known_hosts: str | None = None, accept_new: bool = False) -> Replica:
    """The replica by name (a new one if unknown), with this run's key and known_hosts."""
    replicas = load_replicas(archive)
    known = replicas.get(name)
    if known is not None and known.url != where:
        raise UsageError(f"replica {name!r} is {known.url}; give another --name for {where}")
    replica = known or Replica(name, where, key)
    replica.key = key or replica.key
    replica.known_hosts = known_hosts or replica.known_hosts
    replica.accept_new = accept_new
    return replica


def plan(archive: Archive, dest: Destination, replica: Replica,
         checksum: bool = False) -> Plan:
    """What to copy: every file of our head the copy lacks or holds with other bytes."""
    snap = read_snapshot(archive)
    line = lineage(archive.manifest_path, snap.length, dest)
    if line.state in ("fork", "ahead"):
        raise ForkError(f"{dest.url}: {line.describe(snap.head_seq)}; not replicating over it")
    if line.state == "none" and _foreign(dest):
        raise UsageError(f"{dest.url}: not empty and not a copy of an archive (no "
                         "manifest.jsonl); choose an empty folder")
    result = Plan(snap, line.head_seq, line.lines)
    head = snap.head_seq
    for w in snap.in_order():
        name, action = _needs(dest, replica, w, head, checksum)
        if action == "keep":
            result.kept += 1
        elif action == "rename":
            result.renames.append((w.path + OPEN_SUFFIX, w.path))
            result.kept += 1
        else:
            result.todo.append((w, name, action))
            if name != w.path and w.whole_at(head):
                result.renames.append((name, w.path))
    return result


def _foreign(dest: Destination) -> bool:
    """Does a folder without a manifest hold anything a replicate run would not have put
    there before its manifest (files, side files, temporaries of a run killed before it)?"""
    if isinstance(dest, Folder):
        return dest.root.is_dir() and not all(_ours(p.name) for p in dest.root.iterdir())
    return False


def _ours(name: str) -> bool:
    return (name in ("warcs", "articles", *SIDE_FOLDERS, *SIDE_FILES)
            or name.startswith(("manifest.", TEMP_PREFIX)))


def _needs(dest: Destination, replica: Replica, w: Wanted, head: int,
           checksum: bool) -> tuple[str, str]:
    """(the name to write at the copy, "keep" | "rename" | "copy" | "heal")."""
    final_there = dest.stat(w.path)
    # A rolling WARC new to the copy is renamed only after the manifest that seals it.
    name = w.path + OPEN_SUFFIX if w.rolling and final_there is None else w.path
    there = dest.stat(name)
    if there is None:
        return name, "copy"
    if there[0] != w.end(head):  # a size other than our manifest's: no need to read it
        good = False
    elif not checksum and replica.seen.get(name) == list(there):
        good = True  # verified there by an earlier run, unchanged since (size and mtime)
    else:
        spans = None if w.whole_at(head) else w.spans(head)
        found = dest.digest(name, spans, limit=None if w.whole_at(head) else w.end(head))
        good = w.good(found, head)
        if good:
            replica.seen[name] = list(there)
    if not good:  # an open WARC that grew is brought up to date; any other file healed
        return name, "copy" if name.endswith(OPEN_SUFFIX) else "heal"
    if name != w.path and w.whole_at(head):
        return name, "rename"
    return name, "keep"


def replicate(archive: Archive, dest: Destination, replica: Replica, *,
              dry_run: bool = False, checksum: bool = False,
              progress: Progress | None = None,
              on_start: Callable[[int], None] | None = None,
              on_action: Callable[[Action], None] | None = None) -> Result:
    """Bring `dest` to our current head. Hold the archive's replicate lock (the CLI does)."""
    refuse_inside(archive, dest)
    work = plan(archive, dest, replica, checksum)
    snap = work.snapshot
    if on_start and not dry_run:
        on_start(work.bytes)
    result = Result(replica.name, dest.url, snap.head_seq, snap.head_hash, kept=work.kept,
                    dry_run=dry_run)

    def done(action: Action) -> None:
        result.actions.append(action)
        if on_action:
            on_action(action)

    if dry_run:
        for w, name, action in work.todo:
            done(Action(name, action, w.end(snap.head_seq)))
        return result
    if dest.read_only():
        raise UsageError(f"{dest.url}: read-only; nothing can be copied there")
    _clear_temporaries(dest)
    _copy_all(archive, dest, replica, work, progress, done)
    if result.failed or result.skipped:
        # The manifest goes last and only over complete files: a head naming a file the
        # copy lacks would make the copy invalid. Leave the copy at its older head.
        return result
    # Nothing copied and the copy already at our head: this run adds no claim to check (and
    # over sftp the look is two round trips a file).
    settled = not work.todo and not work.renames and work.copy_head == snap.head_seq
    vanished = [] if settled else _vanished(dest, snap)
    if vanished:  # DEST was unmounted or emptied under us: its head must not name them
        for rel in vanished[:20]:
            done(Action(rel, "failed", 0, "gone from DEST after it was copied or checked "
                        "(DEST unmounted or emptied during the run?)"))
        return result
    for rel, data in side_files(archive, snap.head_seq):
        _put_bytes(dest, rel, data)
    dest.flush()  # every file durable under its final name before the manifest names it
    # The copy's manifest as the plan read it, unless this run changed the copy (then look
    # again: DEST may have changed under it, as `_vanished` fears).
    copy_lines = (work.copy_lines if settled
                  else lineage(archive.manifest_path, snap.length, dest).lines)
    if copy_lines != snap.lines:
        _put_manifest(archive, dest, snap)
        dest.flush()
    for src, dst in work.renames:
        if dest.stat(src) is not None:
            dest.rename(src, dst)
            replica.seen.pop(src, None)
            if (st := dest.stat(dst)) is not None:
                replica.seen[dst] = list(st)
    dest.flush()
    for w in snap.wanted.values():  # a leftover `.open` beside its sealed final file
        if w.rolling and w.whole_at(snap.head_seq) and dest.stat(w.path) is not None:
            dest.remove(w.path + OPEN_SUFFIX)
            replica.seen.pop(w.path + OPEN_SUFFIX, None)
    return result


def _vanished(dest: Destination, snap: Snapshot) -> list[str]:
    """Files of the head that DEST does not hold at their size now (one stat each)."""
    head = snap.head_seq
    gone = []
    for w in snap.wanted.values():
        sizes = [st[0] for name in w.names() if (st := dest.stat(name)) is not None]
        if w.end(head) not in sizes:
            gone.append(w.path)
    return sorted(gone)


def _copy_all(archive: Archive, dest: Destination, replica: Replica, work: Plan,
              progress: Progress | None, done: Callable[[Action], None]) -> None:
    """The files phase, `dest.parallel` files at a time (a folder: their fsyncs overlap)."""
    lock = threading.Lock()

    def told(n: int) -> None:
        if progress:
            with lock:
                progress(n)

    full = threading.Event()

    def one(item: tuple[Wanted, str, str]) -> Action:
        w, name, action = item
        if full.is_set():  # one file found DEST full: the others would only fail too
            return Action(name, "skipped", 0, "DEST is full")
        done = _copy_one(archive, dest, replica, w, name, action, work.snapshot.head_seq,
                         told)
        if done.action == "failed" and "No space left" in done.detail:
            full.set()
        return done

    with ThreadPoolExecutor(dest.parallel) as pool:
        for action in pool.map(one, work.todo):
            done(action)


def _clear_temporaries(dest: Destination) -> None:
    """Temporaries a killed run left (we hold the lock: no other run is writing them)."""
    for top in ("warcs", "articles", *SIDE_FOLDERS):
        for rel in list(dest.walk(top)):
            if rel.rpartition("/")[2].startswith(TEMP_PREFIX):
                dest.remove(rel)


def _copy_one(archive: Archive, dest: Destination, replica: Replica, w: Wanted, name: str,
              action: str, head: int, progress: Progress | None) -> Action:
    whole = w.whole_at(head)
    length = w.end(head)
    spans = None if whole else w.spans(head)

    def source() -> IO[bytes]:
        return open_regular(open_path(archive, w.path), buffered=False)

    def check(found: Digest) -> bool:
        return w.good(found, head) and found.size == length

    last: Digest | None = None
    error = ""
    for _attempt in range(2):  # retried once: a transfer or a disk can fail once
        try:
            last = dest.put(name, source, None if whole else length, check, spans, progress)
        except FileNotFoundError as exc:
            if not open_path(archive, w.path).exists():
                return Action(name, "source-damaged", 0, "missing from this archive: "
                              "`archiver repair --from` another copy")
            last, error = None, f"{type(exc).__name__}: {exc}"  # DEST's: a copy failure
            continue
        except (OSError, StoreError) as exc:  # StoreError: the temporary vanished at DEST
            last = None
            error = f"{type(exc).__name__}: {exc}"
            continue
        if check(last):
            st = dest.stat(name)
            if st is not None:
                replica.seen[name] = list(st)
            return Action(name, action, length)
    # Twice wrong: is it our file that is damaged, or the copy that fails?
    _, found = check_at(local(archive), w, head)
    if not w.good(found, head):
        return Action(name, "source-damaged", 0,
                      "this archive's file differs from its manifest: not copied; "
                      "`archiver repair --from` another copy")
    reason = error if last is None else "read back at the copy with another sha256"
    return Action(name, "failed", 0, f"{reason} (twice)")


def _put_manifest(archive: Archive, dest: Destination, snap: Snapshot) -> None:
    """Our manifest up to the snapshot's head, streamed (it may be large), checked by the
    sha256 of exactly those bytes as read back at DEST."""
    def source() -> IO[bytes]:
        return open(archive.manifest_path, "rb", buffering=0)

    for _attempt in range(2):
        found = dest.put("manifest.jsonl", source, snap.length,
                         lambda d: d.sha256 == snap.sha256)
        if found.sha256 == snap.sha256:
            return
    raise StoreError(f"{dest.url}: manifest.jsonl read back with another sha256 (twice)")


def _put_bytes(dest: Destination, rel: str, data: bytes) -> None:
    sha = hashlib.sha256(data).hexdigest()
    current = dest.digest(rel)
    if current is not None and current.sha256 == sha:
        return
    for _attempt in range(2):
        found = dest.put(rel, lambda: io.BytesIO(data), None,
                         lambda d: d.sha256 == sha)
        if found.sha256 == sha:
            return
    raise StoreError(f"{dest.url}: {rel} read back with another sha256 (twice)")


def side_files(archive: Archive, head: int) -> list[tuple[str, bytes]]:
    """Files beside the manifest that travel with it (signatures `manifest.sig.jsonl`, proof
    files `manifest.*`, indexes), as they must be at `head`: lines of a JSON Lines side file
    that name a later seq are left out, so the copy never holds a signature or proof of a
    head it does not have."""
    found: list[tuple[str, bytes]] = []
    for path in sorted(archive.root.iterdir()):
        name = path.name
        if not path.is_file() or name in NOT_COPIED or name.endswith(".lock") \
                or name.startswith(TEMP_PREFIX):
            continue
        if name.startswith("manifest.") or name in SIDE_FILES:
            found.append((name, _up_to(path.read_bytes(), head)))
    for folder in SIDE_FOLDERS:
        for path in sorted((archive.root / folder).rglob("*")):
            if path.is_file() and not path.name.startswith(TEMP_PREFIX):
                found.append((archive.relpath(path), path.read_bytes()))
    return found


def _up_to(data: bytes, head: int) -> bytes:
    lines = data.splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            seq = json.loads(line).get("seq")
        except (ValueError, AttributeError):
            return data  # not JSON Lines of seqs: copied as it is
        if not isinstance(seq, int) or seq <= head:
            kept.append(line)
    return b"".join(kept)


def remember(archive: Archive, replica: Replica, result: Result) -> None:
    """Save the replica in replicas.json, with its head and the files verified there."""
    replicas = load_replicas(archive)
    if not (result.failed or result.skipped):
        replica.last = {"head_seq": result.head_seq, "head_hash": result.head_hash,
                        "at": manifest.now_rfc3339()}
    replicas[replica.name] = replica
    save_replicas(archive, replicas)


def record(archive: Archive, result: Result, operator: str | None) -> dict[str, Any]:
    """The PREMIS `replication` event in our manifest: head copied, replica, files, bytes."""
    status = "failure" if result.failed or result.skipped else "success"
    return record_event(
        archive, "replication", status, result.summary(), operator,
        details={"replica": result.name, "head_seq": result.head_seq,
                 "head_hash": result.head_hash, "files": len(result.copied),
                 "bytes": sum(a.bytes for a in result.copied),
                 "healed": [a.path for a in result.copied if a.action == "heal"][:1000],
                 "failed": [a.to_dict() for a in result.failed][:1000]})


def default_name(where: str) -> str:
    return Path(where.rstrip("/")).name or where
