"""The archive's layout on disk and the only way files get into it: atomically.

Every file is written under a temporary name in its final folder, fsynced, renamed, and the
folder fsynced, so a crash leaves either the whole file under its final name or none at all.
Paths handed to us are checked so nothing is ever written outside the archive root.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from archiver.base.errors import StoreError, UsageError

ENV_ARCHIVE = "ARCHIVER_ARCHIVE"
DEFAULT_ARCHIVE = "archive"
TEMP_PREFIX = ".tmp-"
COPY_CHUNK = 1024 * 1024


def default_root() -> Path:
    return Path(os.environ.get(ENV_ARCHIVE) or DEFAULT_ARCHIVE)


def open_regular(path: str | os.PathLike[str],
                 buffered: bool = True) -> io.BufferedReader | io.FileIO:
    """`path` opened for reading if it is a regular file, else OSError "not a regular file".
    A FIFO or device planted in an archive would make a reader (audit, validate, export) wait
    forever for a writer, or read forever. O_NONBLOCK so that opening a FIFO does not itself
    wait (it changes nothing for a regular file); fstat on the opened descriptor, so the file
    cannot be swapped between the look and the read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device or folder)",
                          os.fspath(path))
        raw = io.FileIO(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(raw) if buffered else raw


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_durably(path: Path, data: bytes) -> None:
    """Append `data` with one write() on O_APPEND, then fsync: a killed process leaves all
    of it or none of it (only power loss can tear it, and then only at the end)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.write(fd, data) != len(data):
            raise StoreError(f"{path}: short write while appending")
        os.fsync(fd)
    finally:
        os.close(fd)


def new_capture_id(when: datetime) -> str:
    """Sortable by time, unique across processes: 20261127T204512Z-1f3a9c0b."""
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(4)


@dataclass(frozen=True)
class FileInfo:
    """A stored file as the manifest names it."""

    path: str  # relative to the archive root, "/" separated
    sha256: str  # hex
    size: int

    def to_dict(self) -> dict[str, object]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


class Archive:
    """An archive root: warcs/, articles/, manifest.jsonl, index.cdxj."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()
        self._real_root: Path | None = None  # resolved once: realpath costs a stat per part
        self._real_dirs: dict[str, Path] = {}

    @property
    def warcs_dir(self) -> Path:
        return self.root / "warcs"

    @property
    def articles_dir(self) -> Path:
        return self.root / "articles"

    @property
    def timestamps_dir(self) -> Path:
        return self.root / "timestamps"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.jsonl"

    @property
    def index_path(self) -> Path:
        return self.root / "index.cdxj"

    def ensure(self) -> Archive:
        """Create the layout if missing (a new archive is just empty folders)."""
        try:
            for d in (self.root, self.warcs_dir, self.articles_dir):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.root}: cannot create archive: {exc.strerror}") from exc
        return self

    def exists(self) -> bool:
        return self.root.is_dir()

    def read_only(self) -> bool:
        """This process may not write here: read-only media or mount, an immutable copy
        (`chattr +i`), no permission (for an archive not made yet: the folder it would be
        made in). Readers then must not try (a lock, a catalog); writers refuse."""
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return not os.access(folder, os.W_OK)

    def resolve(self, relpath: str) -> Path:
        """The absolute path of `relpath`, refusing anything that escapes the root."""
        if not relpath or relpath.startswith("/") or "\\" in relpath or "\0" in relpath:
            raise UsageError(f"{relpath!r}: not a path inside the archive")
        if self._real_root is None:
            self._real_root = self.root.resolve()
        parent, _, name = relpath.rpartition("/")
        # Resolve each folder once (realpath costs a stat per component, per call); the
        # file itself may still be a symlink, so resolve it when it is one.
        folder = self._real_dirs.get(parent)
        if folder is None:
            folder = self._real_dirs[parent] = (self.root / parent).resolve()
        path = folder / name
        if name in ("", ".", "..") or path.is_symlink():
            path = path.resolve()
        if not path.is_relative_to(self._real_root):
            raise UsageError(f"{relpath!r}: path escapes the archive root")
        return path

    def relpath(self, path: Path) -> str:
        return path.absolute().relative_to(self.root).as_posix()

    def warc_relpath(self, capture_id: str, when: datetime) -> str:
        when = when.astimezone(UTC)
        return f"warcs/{when:%Y}/{when:%m}/{capture_id}.warc.gz"

    @contextmanager
    def atomic_file(self, relpath: str, durable: bool = True) -> Iterator[IO[bytes]]:
        """Yield a file to write; on success it appears under `relpath`, whole (and fsynced,
        with its folder, unless `durable` is False: derived files that a crash may lose)."""
        final = self.resolve(relpath)
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}-{final.name}")
        try:
            with open(temp, "xb") as f:
                yield f
                f.flush()
                if durable:
                    os.fsync(f.fileno())
            os.replace(temp, final)
            if durable:
                fsync_dir(final.parent)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def write_bytes(self, relpath: str, data: bytes, durable: bool = True) -> None:
        with self.atomic_file(relpath, durable) as f:
            f.write(data)

    def write_files(self, files: list[tuple[str, bytes]]) -> None:
        """Several files made durable together (a group commit): each written under a
        temporary name and fsynced, then all renamed, then each folder fsynced once."""
        placed: list[tuple[Path, Path]] = []
        try:
            for relpath, data in files:
                final = self.resolve(relpath)
                final.parent.mkdir(parents=True, exist_ok=True)
                temp = final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}-{final.name}")
                placed.append((temp, final))
                with open(temp, "xb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
        except BaseException:
            for temp, _ in placed:
                temp.unlink(missing_ok=True)
            raise
        for temp, final in placed:
            os.replace(temp, final)
        for folder in sorted({final.parent for _, final in placed}):
            fsync_dir(folder)

    def file_info(self, relpath: str) -> FileInfo:
        sha, size = hash_file(self.resolve(relpath))
        return FileInfo(relpath, sha, size)

    def iter_stored_files(self) -> Iterator[tuple[str, bool]]:
        """(relative path, whether it is a temporary left by an interrupted write) of every
        file under warcs/, articles/ and timestamps/, in a stable order. One walk of plain
        strings: audit walks every file of the archive, and Path objects per file cost more
        than the walk."""
        root = str(self.root.absolute())
        for top in (self.warcs_dir, self.articles_dir, self.timestamps_dir):
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames.sort()
                folder = os.path.relpath(dirpath, root).replace(os.sep, "/")  # once a folder
                for name in sorted(filenames):
                    yield f"{folder}/{name}", name.startswith(TEMP_PREFIX)


def hash_file(path: Path, chunk: int = COPY_CHUNK) -> tuple[str, int]:
    """sha256 hex and size, streaming in 1 MiB reads (constant memory)."""
    import hashlib

    h = hashlib.sha256()
    size = 0
    with open_regular(path, buffered=False) as f:
        buf = bytearray(chunk)
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
            size += n
    return h.hexdigest(), size
