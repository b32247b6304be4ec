"""repair: the one change to the manifest that is not an append. A torn last line (power lost
mid-write) is cut off, and a `repair` event records what was cut and its digest. Then rolling
WARCs a crash left unsealed are recovered (archiver.store.recovery)."""

from __future__ import annotations

import hashlib
import os

from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.events import record_event
from archiver.store.recovery import recover


def repair_torn_tail(archive: Archive, operator: str | None, dry_run: bool = True) -> str:
    path = archive.manifest_path
    with manifest.lock_for_reading(archive) if dry_run else manifest.lock_for(path):
        torn = manifest.torn_tail_size(path)
        if torn == 0:
            return "nothing to repair: the manifest ends with a complete line"
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(size - torn)
            tail = f.read()
        if dry_run:
            return (f"would cut {torn} bytes of an incomplete last line; "
                    "run again with --yes to do it")
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, size - torn)
            os.fsync(fd)
        finally:
            os.close(fd)
    detail = f"removed {torn} bytes of a torn last line (sha256 {hashlib.sha256(tail).hexdigest()})"
    record_event(archive, "repair", "success", detail, operator,
                 details={"removed_bytes": torn, "removed_sha256": hashlib.sha256(tail).hexdigest(),
                          "removed_prefix": tail[:200].decode("utf-8", "replace")})
    return detail


def repair_warcs(archive: Archive, operator: str | None, dry_run: bool = True) -> list[str]:
    """Cut uncommitted tails of abandoned `.open` WARCs and seal every unsealed one."""
    lines = recover(archive, operator, everything=True, dry_run=dry_run)
    return [("would: " if dry_run else "") + line for line in lines]
