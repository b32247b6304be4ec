"""Where a copy of the archive lives: a local folder (another disk, an NFS or SMB mount) or
an `sftp://user@host:port/path` URL, behind one small interface that replicate, audit
--copies and repair use. Every write goes to a temporary name in the final folder, is
re-read *at the destination* and compared with the sha256 the caller names, and only then
renamed: a copy interrupted at any point (disk full, SIGKILL, a dropped connection) never
holds a half-written file under a final name.

Folders use plain os calls (the fast path); sftp goes through fsspec's SFTPFileSystem
(paramiko), imported only when an sftp URL is used.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from archiver.base.errors import StoreError, UnreadableInputError, UsageError
from archiver.store.archive import COPY_CHUNK, TEMP_PREFIX, fsync_dir, open_regular

Progress = Callable[[int], None]
SEND_CHUNK = 8 << 20  # sendfile per call: progress shown as it goes
RangeSpec = tuple[int, int]  # (offset, length)


@dataclass(frozen=True)
class Digest:
    """What reading a file found: whole-file sha256 and size, and the sha256 of each range
    asked for (None where the file is shorter)."""

    sha256: str
    size: int
    ranges: tuple[str | None, ...] = ()


def digest_stream(read: Callable[[memoryview], int], ranges: list[RangeSpec] | None = None,
                  limit: int | None = None, progress: Progress | None = None) -> Digest:
    """sha256 of a stream read into a reused 1 MiB buffer (the hashing audit uses,
    store.archive.hash_file), with the sha256 of each (offset, length) range found on the
    way; `limit`: read no further than this many bytes."""
    whole = hashlib.sha256()
    spans = sorted(ranges or [])
    partial = [hashlib.sha256() for _ in spans]
    size = 0
    buf = bytearray(COPY_CHUNK)
    view = memoryview(buf)
    while limit is None or size < limit:
        want = view if limit is None else view[:min(len(view), limit - size)]
        n = read(want)
        if not n:
            break
        chunk = want[:n]
        whole.update(chunk)
        for h, (offset, length) in zip(partial, spans, strict=True):
            lo, hi = max(offset, size), min(offset + length, size + n)
            if lo < hi:
                h.update(chunk[lo - size:hi - size])
        size += n
        if progress:
            progress(n)
    found = tuple(h.hexdigest() if offset + length <= size else None
                  for h, (offset, length) in zip(partial, spans, strict=True))
    return Digest(whole.hexdigest(), size, found)


class Destination:
    """A place holding (or about to hold) a copy of the archive. Paths are archive-relative,
    "/"-separated."""

    url: str

    def stat(self, rel: str) -> tuple[int, int] | None:
        """(size, mtime in whole seconds) of a regular file, None when there is none."""
        raise NotImplementedError

    def open_read(self, rel: str) -> Any:
        raise NotImplementedError

    def digest(self, rel: str, ranges: list[RangeSpec] | None = None,
               limit: int | None = None, progress: Progress | None = None) -> Digest | None:
        """Read the file at the destination; None when it is missing."""
        try:
            with self.open_read(rel) as f:
                return digest_stream(f.readinto, ranges, limit, progress)
        except FileNotFoundError:
            return None

    def put(self, rel: str, source: Callable[[], IO[bytes]], length: int | None,
            check: Callable[[Digest], bool], ranges: list[RangeSpec] | None = None,
            progress: Progress | None = None) -> Digest:
        """Copy `length` bytes (all, for None) of `source()` to a temporary name beside
        `rel`, make them durable, read them back here and rename to `rel` only when
        `check(digest of what was read back)` holds. Returns that digest; on a failed check
        the temporary is removed and the final name is untouched."""
        temp = self._temp_name(rel)
        try:
            self._write(temp, source, length, progress)
            found = self.digest(temp, ranges)
            if found is None:
                raise StoreError(f"{self.url}: {temp} vanished after writing it")
            if check(found):
                self.rename(temp, rel)
            return found
        finally:
            self.remove(temp)

    def _temp_name(self, rel: str) -> str:
        folder, _, name = rel.rpartition("/")
        temp = f"{TEMP_PREFIX}{secrets.token_hex(4)}-{name}"
        return f"{folder}/{temp}" if folder else temp

    def _write(self, rel: str, source: Callable[[], IO[bytes]], length: int | None,
               progress: Progress | None) -> None:
        raise NotImplementedError

    def rename(self, src: str, dst: str) -> None:
        raise NotImplementedError

    def remove(self, rel: str) -> None:
        """Remove a file if it is there."""
        raise NotImplementedError

    def walk(self, top: str) -> Iterator[str]:
        """Every regular file under `top` (archive-relative), sorted."""
        raise NotImplementedError

    def read_only(self) -> bool:
        return False

    def flush(self) -> None:
        """Make the renames done so far durable (folders fsynced once each, not once a file:
        callers flush before anything that must come after them, the manifest)."""
        return None

    #: files copied at once (a folder: fsyncs in flight together share journal commits)
    parallel = 1

    def close(self) -> None:
        return None


def _copy_stream(src: Any, dst: IO[bytes], length: int | None,
                 progress: Progress | None) -> None:
    buf = bytearray(COPY_CHUNK)
    view = memoryview(buf)
    left = length
    while left is None or left > 0:
        want = view if left is None else view[:min(len(view), left)]
        n = src.readinto(want)
        if not n:
            if left:
                raise StoreError(f"source ended {left} bytes short")
            break
        chunk = want[:n]
        while chunk:  # an unbuffered write may be short (a disk filling up): go on
            written = dst.write(chunk)
            if written is None:  # a buffered writer (paramiko's): all of it, or it raised
                break
            if written <= 0:
                raise OSError(errno.EIO, "the copy accepted no bytes")
            chunk = chunk[written:]
        if left is not None:
            left -= n
        if progress:
            progress(n)


def _send_file(src: io.FileIO, dst: io.FileIO, length: int | None,
               progress: Progress | None) -> bool:
    """File to file in the kernel (sendfile(2): page cache to page cache, no copy through
    Python; what shutil.copyfile does on Linux). Not copy_file_range(2): on one btrfs or XFS
    volume that may reflink, and a copy sharing its blocks with the original is no copy.
    False when the filesystem refuses sendfile before any byte moved (some FUSE mounts): the
    caller copies through Python instead, as shutil does."""
    left = os.fstat(src.fileno()).st_size if length is None else length
    offset = 0
    while left > 0:
        try:
            sent = os.sendfile(dst.fileno(), src.fileno(), offset, min(left, SEND_CHUNK))
        except OSError as exc:
            if offset == 0 and exc.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP,
                                             errno.ENOTSOCK, errno.EXDEV):
                return False
            raise
        if not sent:
            raise StoreError(f"source ended {left} bytes short")
        offset += sent
        left -= sent
        if progress:
            progress(sent)
    if length is None and os.fstat(src.fileno()).st_size != offset:
        raise StoreError("the source changed size while it was copied")
    return True


class Folder(Destination):
    """A local folder (also an NFS/SMB mount): os calls, fsync of file and folder."""

    parallel = 4

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.url = str(self.root)
        self._dirty: set[Path] = set()
        self._dirty_lock = threading.Lock()

    def path(self, rel: str) -> Path:
        return Path(self._os_path(rel))

    def _os_path(self, rel: str) -> str:
        """The path as a string (a planning pass stats every file: no Path objects)."""
        if not rel or rel.startswith("/") or ".." in rel.split("/") or "\0" in rel:
            raise UsageError(f"{rel!r}: not a path inside the copy")
        return os.path.join(self.url, rel)

    def stat(self, rel: str) -> tuple[int, int] | None:
        try:
            st = os.stat(self._os_path(rel))
        except FileNotFoundError:
            return None
        return (st.st_size, int(st.st_mtime)) if stat.S_ISREG(st.st_mode) else None

    def open_read(self, rel: str) -> Any:
        return open_regular(self.path(rel), buffered=False)

    def _write(self, rel: str, source: Callable[[], IO[bytes]], length: int | None,
               progress: Progress | None) -> None:
        target = self.path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        with source() as src, open(target, "xb", buffering=0) as dst:
            if not (isinstance(src, io.FileIO) and _send_file(src, dst, length, progress)):
                _copy_stream(src, dst, length, progress)
            os.fsync(dst.fileno())
        # Read back from the disk, not from the page cache we just filled: the check must
        # see what the destination stored (posix_fadvise: a hint; Linux honours it).
        fd = os.open(target, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def rename(self, src: str, dst: str) -> None:
        os.replace(self.path(src), self.path(dst))
        with self._dirty_lock:
            self._dirty.add(self.path(dst).parent)

    def flush(self) -> None:
        with self._dirty_lock:
            dirty, self._dirty = sorted(self._dirty), set()
        for folder in dirty:
            fsync_dir(folder)

    def remove(self, rel: str) -> None:
        self.path(rel).unlink(missing_ok=True)

    def walk(self, top: str) -> Iterator[str]:
        base = self.root / top
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            folder = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                yield f"{folder}/{name}"

    def read_only(self) -> bool:
        folder = self.root
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        return not os.access(folder, os.W_OK)


@contextlib.contextmanager
def _as_os_errors(url: str) -> Iterator[None]:
    """A dropped connection or a protocol error, as the OSError every caller handles (a
    finding or a one-line error, never a traceback)."""
    import paramiko

    try:
        yield
    except (paramiko.SSHException, EOFError) as exc:
        raise OSError(errno.EIO, f"{_safe(url)}: connection failed: {exc or type(exc).__name__}") \
            from exc


class Sftp(Destination):
    """`sftp://user@host[:port]/path` through fsspec's SFTPFileSystem (paramiko). With a key
    file, only that key is offered (no agent, no ~/.ssh search), so a wrong key fails
    plainly instead of silently succeeding with another one. The server's host key must be
    the one the known_hosts file names (see host_keys)."""

    def __init__(self, url: str, key_file: str | None = None, known_hosts: str | None = None,
                 accept_new: bool = False) -> None:
        parts = urlsplit(url)
        if not parts.hostname or not parts.path or parts.path == "/":
            raise UsageError(f"{url}: expected sftp://user@host[:port]/path")
        self.url = _safe(url)  # shown in messages and --json: never the password
        self.base = PurePosixPath(unquote(parts.path))
        kwargs: dict[str, Any] = {"port": parts.port or 22, "timeout": 20}
        if parts.username:
            kwargs["username"] = unquote(parts.username)
        if parts.password:
            kwargs["password"] = unquote(parts.password)
        if key_file:
            kwargs.update(key_filename=key_file, look_for_keys=False, allow_agent=False)
        try:
            import fsspec  # noqa: F401  # the extra is installed
            import paramiko
        except ImportError as exc:
            raise UsageError("sftp copies need the extra: pip install 'archiver[replicate]'") \
                from exc
        from archiver.store.host_keys import HostKeyError, known_hosts_path, pinned_sftp

        self.known_hosts = known_hosts_path(known_hosts)
        try:
            self.fs = pinned_sftp(parts.hostname, self.known_hosts, accept_new, **kwargs)
        except HostKeyError as exc:
            raise HostKeyError(f"{_safe(url)}: {exc}") from exc
        except paramiko.AuthenticationException as exc:
            raise UnreadableInputError(f"{_safe(url)}: ssh authentication failed "
                                       f"({exc}); check the user and --key") from exc
        except (paramiko.SSHException, OSError) as exc:
            raise UnreadableInputError(f"{_safe(url)}: cannot connect: {exc}") from exc

    def _p(self, rel: str) -> str:
        if not rel or rel.startswith("/") or ".." in rel.split("/"):
            raise UsageError(f"{rel!r}: not a path inside the copy")
        return str(self.base / rel)

    def stat(self, rel: str) -> tuple[int, int] | None:
        try:
            with _as_os_errors(self.url):
                info = self.fs.ftp.stat(self._p(rel))
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode or 0):
            return None
        return int(info.st_size or 0), int(info.st_mtime or 0)

    def open_read(self, rel: str) -> Any:
        with _as_os_errors(self.url):
            f = self.fs.ftp.open(self._p(rel), "rb")
            f.prefetch()  # paramiko pipelines the reads: without it each 32 KB waits a round trip
            return _Reader(f, self.url)

    def _write(self, rel: str, source: Callable[[], IO[bytes]], length: int | None,
               progress: Progress | None) -> None:
        with _as_os_errors(self.url):
            self.fs.makedirs(str(PurePosixPath(self._p(rel)).parent), exist_ok=True)
            with source() as src, self.fs.ftp.open(self._p(rel), "wbx") as dst:
                dst.set_pipelined(True)
                _copy_stream(src, dst, length, progress)
                # paramiko has no fsync@openssh.com call: the bytes are on the server once the
                # handle is closed, durable when its disk flushes them. The read-back below
                # still checks them before the rename.

    def rename(self, src: str, dst: str) -> None:
        # posix-rename@openssh.com replaces atomically; plain SFTP rename refuses to.
        with _as_os_errors(self.url):
            self.fs.ftp.posix_rename(self._p(src), self._p(dst))

    def remove(self, rel: str) -> None:
        with _as_os_errors(self.url), contextlib.suppress(FileNotFoundError):
            self.fs.ftp.remove(self._p(rel))

    def walk(self, top: str) -> Iterator[str]:
        with _as_os_errors(self.url):
            base = self._p(top)
            if not self.fs.exists(base):
                return
            found = self.fs.find(base)
            root = str(self.base)
            for path in sorted(found):
                yield str(PurePosixPath(path).relative_to(root))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a dead connection: nothing left to close
            self.fs.client.close()


class _Reader:
    """A paramiko file with readinto (paramiko files are not io.RawIOBase)."""

    def __init__(self, f: Any, url: str) -> None:
        self.f, self.url = f, url

    def readinto(self, buf: memoryview) -> int:
        with _as_os_errors(self.url):
            data = self.f.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        with _as_os_errors(self.url):
            return bytes(self.f.read(None if n < 0 else n))

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.f.close()


def _safe(url: str) -> str:
    """The URL without a password."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def open_destination(where: str, key_file: str | None = None, known_hosts: str | None = None,
                     accept_new: bool = False) -> Destination:
    """A Folder for a path, an Sftp for sftp:// (or ssh://), its host key checked against
    known_hosts (default ~/.ssh/known_hosts)."""
    if where.startswith(("sftp://", "ssh://")):
        return Sftp(where, key_file, known_hosts, accept_new)
    if "://" in where:
        raise UsageError(f"{where}: a copy is a folder or an sftp://user@host/path URL")
    return Folder(Path(where).expanduser())
