"""Rolling WARC files: many captures per file, named by the IIPC convention, `.open` while
written, sealed when full or when the run ends.

    warcs/YYYY/MM/<prefix>-<YYYYmmddHHMMSSfff>-<serial>-<host>.warc.gz.open   being written
    warcs/YYYY/MM/<prefix>-<YYYYmmddHHMMSSfff>-<serial>-<host>.warc.gz        sealed

(The name is the one Heritrix, wget and Browsertrix use: prefix, a 17-digit UTC timestamp,
a five-digit serial, the host; the `.open` suffix is Heritrix's.) Every file starts with its
warcinfo record. A capture's records are appended in one write, as one contiguous byte
range, and a capture never spans two files: a file that reached `max_size` takes no new
captures (those that reserved it meanwhile are built again for the next file, so a file is at
most `max_size` plus one capture), and is sealed once the captures under way in it are
committed.

This module only places bytes. Which bytes are committed is the manifest's business: each
capture's entry names its file, offset and length and the sha256 of its range, and the
first range of a file starts at 0, so the ranges tile the file. `committed_end` and
`truncate_to` let recovery cut what no entry names.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.base.errors import StoreError, UsageError
from archiver.store.archive import Archive, fsync_dir

OPEN_SUFFIX = ".open"
DEFAULT_PREFIX = "archiver"
DEFAULT_MAX_SIZE = 1024**3  # 1 GB, as Heritrix and Browsertrix roll
SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
PREFIX_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_size(text: str) -> int:
    """`200K`, `1G`, `1048576` -> bytes (binary units, as wget's --warc-max-size)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGT]?)B?\s*", text.upper())
    if not m or int(m.group(1)) == 0:
        raise UsageError(f"{text!r}: not a size (bytes, or a number with K, M or G, e.g. 200K)")
    return int(m.group(1)) * SIZE_UNITS[m.group(2)]


def check_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise UsageError(f"{prefix!r}: a WARC prefix is letters, digits, '.', '_' or '-'")
    return prefix


def host_label() -> str:
    """The host part of a WARC name: no '-' (it separates the name's fields)."""
    return re.sub(r"[^A-Za-z0-9.]", "", socket.gethostname()) or "localhost"


def open_path(archive: Archive, relpath: str) -> Path:
    """Where a WARC named `relpath` is now: its final name, else the `.open` one."""
    final = archive.resolve(relpath)
    if final.exists():
        return final
    opened = final.with_name(final.name + OPEN_SUFFIX)
    return opened if opened.exists() else final


class WarcFull(Exception):
    """The file a capture reserved filled up while the capture was being built: it goes to
    the next file instead, built again for it (its records name their file's warcinfo, its
    article names the file). This keeps Heritrix's rule: a file ends at most one capture past
    `max_size`, whatever the number of workers."""


@dataclass
class Range:
    """The bytes one capture put in a file: what its manifest entry names."""

    file: str  # final relpath (never with .open)
    offset: int
    length: int
    sha256: str

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "offset": self.offset, "length": self.length,
                "sha256": self.sha256}


@dataclass
class OpenWarc:
    """One file being written."""

    relpath: str  # final name
    path: Path  # the .open file on disk
    fd: int
    size: int = 0
    captures: int = 0  # appended so far
    full: bool = False
    in_flight: int = 0  # captures reserved in this file and not yet released (queued)
    head: bytes = b""  # the warcinfo record, which the first capture's range covers
    warcinfo_id: str = ""
    sha256: Any = field(default_factory=hashlib.sha256)  # of every byte so far

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        self.size += len(data)
        self.sha256.update(data)


class RollingWarcs:
    """Hands out the file a new capture goes into, appends captures, seals full files.

    Thread-safe. `reserve()` is called when a capture starts (its article must name the
    file before its bytes exist), `append()` when its bytes are ready. A file that reached
    `max_size` gets no new reservations; `sealable()` lists full files whose reserved
    captures have all been released to the committer, which seals a file only once their
    entries are written."""

    def __init__(self, archive: Archive, warcinfo: Callable[[str], tuple[bytes, str]], *,
                 prefix: str = DEFAULT_PREFIX, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self.archive = archive
        self.warcinfo = warcinfo  # file name -> its warcinfo record (gzip member) and id
        self.prefix = check_prefix(prefix)
        self.max_size = max_size
        self.host = host_label()
        self._serial = 0
        self._current: OpenWarc | None = None
        self._files: dict[str, OpenWarc] = {}
        self._sealing: dict[str, Path] = {}
        self._lock = threading.Lock()

    def reserve(self) -> tuple[str, str]:
        """The file the next capture goes into: its final relpath and its warcinfo id."""
        with self._lock:
            if self._current is None or self._current.full:
                self._current = self._open_new()
            self._current.in_flight += 1
            return self._current.relpath, self._current.warcinfo_id

    def append(self, relpath: str, data: bytes) -> tuple[Range, int]:
        """Append one capture's records (whole gzip members) to the file it reserved.
        Returns its range and the offset where `data` starts. The first capture's range
        starts at 0: it covers the file's warcinfo record too, so ranges tile the file.
        Raises WarcFull (the reservation still held: the caller releases it) when another
        capture filled the file meanwhile; a file's first capture is always taken."""
        with self._lock:
            warc = self._files[relpath]
            if warc.full:
                raise WarcFull(relpath)
            offset = warc.size
            warc.write(data)
            first = warc.captures == 0
            warc.captures += 1
            if warc.size >= self.max_size:
                warc.full = True
        h = hashlib.sha256(warc.head) if first else hashlib.sha256()
        h.update(data)
        start = 0 if first else offset
        return Range(relpath, start, offset + len(data) - start, h.hexdigest()), offset

    def release(self, relpath: str) -> None:
        """A reserved capture is in the committer's queue (or wrote nothing): the file no
        longer waits for it."""
        with self._lock:
            self._files[relpath].in_flight -= 1

    def sync(self) -> None:
        """fsync every open file: what was appended so far survives a crash."""
        with self._lock:
            fds = [w.fd for w in self._files.values()]
        for fd in fds:
            os.fsync(fd)

    def sealable(self, all_files: bool = False) -> list[str]:
        """Full files (every file when `all_files`) with no capture still under way."""
        with self._lock:
            return [rel for rel, w in self._files.items()
                    if (w.full or all_files) and w.in_flight == 0]

    def seal_prepare(self, relpath: str) -> tuple[str, int] | None:
        """Close a file for good: fsync, close; returns (sha256 hex, size) for its seal
        event, which must be written before `seal_finish` renames it. A file that got no
        capture is removed instead (None): no entry names it."""
        with self._lock:
            warc = self._files.pop(relpath)
            if self._current is warc:
                self._current = None
        if warc.captures == 0:
            os.close(warc.fd)
            warc.path.unlink(missing_ok=True)
            return None
        os.fsync(warc.fd)
        os.close(warc.fd)
        self._sealing[relpath] = warc.path
        return warc.sha256.hexdigest(), warc.size

    def seal_finish(self, relpath: str) -> None:
        """Rename `<name>.open` to `<name>` (after the seal event is in the manifest)."""
        finish_seal(self._sealing.pop(relpath))

    def _open_new(self) -> OpenWarc:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
        while True:
            self._serial += 1
            name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.host}.warc.gz"
            relpath = f"warcs/{now:%Y}/{now:%m}/{name}"
            final = self.archive.resolve(relpath)
            final.parent.mkdir(parents=True, exist_ok=True)
            path = final.with_name(name + OPEN_SUFFIX)
            if final.exists():
                continue
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
            except FileExistsError:
                continue  # another process took this name in the same millisecond
            except OSError as exc:
                raise StoreError(f"{path}: cannot create WARC: {exc.strerror}") from exc
            break
        # Held while this process lives: recovery leaves a locked .open file alone.
        fcntl.flock(fd, fcntl.LOCK_EX)
        fsync_dir(path.parent)  # the name survives a crash, so recovery finds the file
        warc = OpenWarc(relpath, path, fd)
        warc.head, warc.warcinfo_id = self.warcinfo(name)
        warc.write(warc.head)
        self._files[relpath] = warc
        return warc


def finish_seal(open_file: Path) -> Path:
    """`<name>.open` -> `<name>`, durably."""
    final = open_file.with_name(open_file.name.removesuffix(OPEN_SUFFIX))
    os.replace(open_file, final)
    fsync_dir(final.parent)
    return final
