"""Crash recovery for rolling WARCs: cut what no manifest entry names, then seal.

A writer killed mid-batch leaves `<name>.warc.gz.open` holding its committed captures and,
after them, bytes that no entry names (the batch in flight). The next writer, or
`archiver repair`, finds such files, truncates each back to the end of its last committed
capture (the ranges of the entries tile the file from offset 0), records a `repair` event
saying how many bytes were cut from which file (with their sha256), and seals the file like
a full one. Nothing committed is ever altered; nothing uncommitted is ever named.

A live writer holds an exclusive flock on each file it writes (rolling.py), and the lock dies
with its process, so recovery never touches a file another archiver is still writing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.store import manifest
from archiver.store.archive import Archive, hash_file
from archiver.store.rolling import OPEN_SUFFIX, finish_seal

SEAL_EVENT = "message digest calculation"


@dataclass
class Committed:
    """What the manifest says about the rolling WARCs: committed ends and seals."""

    ends: dict[str, int]
    sealed: set[str]


def committed_state(archive: Archive) -> Committed:
    """One pass over the manifest (only after a crash, or by `archiver repair`)."""
    ends: dict[str, int] = {}
    sealed: set[str] = set()
    if not archive.manifest_path.is_file():
        return Committed(ends, sealed)
    for entry in manifest.iter_entries(archive.manifest_path):
        for rng in entry.get("ranges") or []:
            end = int(rng["offset"]) + int(rng["length"])
            ends[rng["file"]] = max(ends.get(rng["file"], 0), end)
        if entry.get("event") == SEAL_EVENT:
            sealed.update(f["path"] for f in entry.get("files") or [])
    return Committed(ends, sealed)


def abandoned_open_files(archive: Archive) -> Iterator[tuple[str, int]]:
    """(final relpath, locked fd) of every `.open` WARC whose writer is gone. The caller
    closes the fd (which releases the lock) when done with the file."""
    if not archive.warcs_dir.is_dir():
        return
    for path in sorted(archive.warcs_dir.glob(f"*/*/*{OPEN_SUFFIX}")):
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)  # a live writer holds it
            continue
        yield archive.relpath(path).removesuffix(OPEN_SUFFIX), fd


def recover(archive: Archive, operator: str | None, *, everything: bool = False,
            dry_run: bool = False) -> list[str]:
    """Finish what crashed writers left: abandoned `.open` files (and, with `everything`,
    closed files whose seal event is missing). Returns one line per action."""
    opened = dict(abandoned_open_files(archive))
    try:
        if not opened and not everything:
            return []
        state = committed_state(archive)
        todo = dict.fromkeys(opened)
        if everything:
            for rel in state.ends:
                if rel not in state.sealed and archive.resolve(rel).exists():
                    todo.setdefault(rel)
        return [line for rel in sorted(todo)
                for line in _recover_one(archive, rel, opened.get(rel), state, operator,
                                         dry_run)]
    finally:
        for fd in opened.values():
            os.close(fd)


def _recover_one(archive: Archive, rel: str, fd: int | None, state: Committed,
                 operator: str | None, dry_run: bool) -> list[str]:
    final = archive.resolve(rel)
    path = final.with_name(final.name + OPEN_SUFFIX) if fd is not None else final
    if rel in state.sealed:  # killed between the seal event and the rename
        if not dry_run and fd is not None:
            finish_seal(path)
        return [f"finished sealing {rel}"]
    end = state.ends.get(rel, 0)
    size = path.stat().st_size
    actions = []
    if size > end:
        actions.append(f"cut {size - end} uncommitted bytes from {archive.relpath(path)}")
        if not dry_run:
            _cut(archive, path, end, operator)
    if end == 0:
        actions.append(f"removed {archive.relpath(path)}: no committed capture")
        if not dry_run:
            path.unlink()
        return actions
    actions.append(f"sealed {rel}")
    if not dry_run:
        sha256, size = hash_file(path)
        manifest.append(archive.manifest_path, seal_event(rel, sha256, size, operator))
        if fd is not None:
            finish_seal(path)
    return actions


def _cut(archive: Archive, path: Path, end: int, operator: str | None) -> None:
    """Truncate `path` to `end`, after recording what goes in a `repair` event."""
    with open(path, "rb") as f:
        f.seek(end)
        tail = f.read()
    digest = hashlib.sha256(tail).hexdigest()
    rel = archive.relpath(path)
    event = manifest.new_event(
        "repair", "success",
        f"cut {len(tail)} bytes after the last committed capture of {rel} (sha256 {digest})",
        operator=operator,
        details={"file": rel, "kept_bytes": end, "removed_bytes": len(tail),
                 "removed_sha256": digest})
    manifest.append(archive.manifest_path, event)
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, end)
        os.fsync(fd)
    finally:
        os.close(fd)


def seal_event(relpath: str, sha256: str, size: int, operator: str | None) -> dict[str, Any]:
    """The event that closes a rolling WARC: its whole-file digest, from then on audited
    whole like any sealed file."""
    return manifest.new_event(
        SEAL_EVENT, "success", f"sealed {relpath}: {size} bytes, sha256 {sha256}",
        operator=operator, files=[{"path": relpath, "sha256": sha256, "size": size}],
        details={"sealed": relpath})
