"""Byte layer: detect the container, inflate gzip members one by one, and hand the parsers a
cursor over the uncompressed stream that also knows where each gzip member starts and ends.

A hand-written loop over `zlib.decompressobj` (not `gzip.GzipFile`) because the validator must
see the member boundaries exactly: per-record compression is a property of the layout, which
`gzip` hides. Memory stays constant: at most one output slice (OUT_MAX) plus one read (READ_SIZE).
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, BinaryIO

inflater: ModuleType  # isal_zlib or zlib: the same decompressobj API
try:  # ISA-L inflates ~1.5x faster than zlib; optional, same API and same checks (CRC, ISIZE)
    from isal import isal_zlib as inflater

    INFLATE_ERRORS: tuple[type[Exception], ...] = (inflater.error, zlib.error)
except ImportError:  # pragma: no cover - depends on the environment
    inflater = zlib
    INFLATE_ERRORS = (zlib.error,)

READ_SIZE = 1 << 20
FEED = 64 * 1024
OUT_MAX = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"

# Magic numbers of containers we recognise but do not read (the WARC standard only knows gzip).
UNSUPPORTED_MAGIC: list[tuple[bytes, str]] = [
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"PK\x03\x04", "zip"),
]


def sniff_compression(head: bytes) -> str:
    """'gzip', 'none' or 'unsupported:<kind>' from the first bytes of a file."""
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    for magic, kind in UNSUPPORTED_MAGIC:
        if head.startswith(magic):
            return f"unsupported:{kind}"
    return "none"


@dataclass
class GzipEvents:
    """What the gzip layer saw, for the layout checks once the stream is consumed."""

    members: int = 0
    truncated_at: int | None = None  # compressed offset of a member with no end
    corrupt_at: int | None = None  # compressed offset of a member that failed to inflate
    corrupt_reason: str = ""
    garbage_at: int | None = None  # compressed offset of non-gzip bytes after a member


class PlainSource:
    """Uncompressed file: chunks as they are."""

    def __init__(self, fh: BinaryIO, head: bytes) -> None:
        self._fh = fh
        self._head = head
        self.events = GzipEvents()

    def next_chunk(self) -> bytes | None:
        if self._head:
            chunk, self._head = self._head, b""
            return chunk
        return self._fh.read(READ_SIZE) or None


class GzipSource:
    """Inflates gzip members in sequence and records (uncompressed pos, compressed offset) pairs
    for every member start and end, so the parsers can tell whether records align with them.

    Input is fed in FEED-sized memoryview slices of one read buffer: `unused_data` copies what
    follows a member's end, and feeding the whole buffer would copy ~1 MB per record."""

    def __init__(self, fh: BinaryIO, head: bytes, start: int = 0) -> None:
        self._fh = fh
        self._buf = head  # compressed bytes read from the file
        self._idx = 0  # next unread byte of _buf
        self._base = start  # file offset of _buf[0] (a range of a file starts past 0)
        self._upos = 0  # uncompressed bytes produced so far
        self._d: Any = None
        self._done = False
        self._member_offset = start  # compressed offset of the member being inflated
        self.starts: deque[tuple[int, int]] = deque()
        self.ends: deque[tuple[int, int]] = deque()
        self.events = GzipEvents()

    def _available(self, n: int) -> bool:
        """Make sure at least n unread bytes are buffered, if the file has them."""
        while len(self._buf) - self._idx < n:
            more = self._fh.read(READ_SIZE)
            if not more:
                return False
            self._base += self._idx
            self._buf = self._buf[self._idx :] + more
            self._idx = 0
        return True

    def _begin_member(self) -> bool:
        if not self._available(2):
            if len(self._buf) > self._idx:  # one stray byte after the last member
                self.events.garbage_at = self._base + self._idx
            return False
        if self._buf[self._idx : self._idx + 2] != GZIP_MAGIC:
            self.events.garbage_at = self._base + self._idx
            return False
        self._d = inflater.decompressobj(31)
        self._member_offset = self._base + self._idx
        self.events.members += 1
        self.starts.append((self._upos, self._member_offset))
        return True

    def next_chunk(self) -> bytes | None:
        while not self._done:
            if self._d is None and not self._begin_member():
                self._done = True
                break
            out = self._inflate_step()
            if out:
                self._upos += len(out)
                return out
        return None

    def _inflate_step(self) -> bytes:
        d = self._d
        if not self._available(1):
            # The file ends inside a member: keep what inflates, report the truncation.
            self.events.truncated_at = self._member_offset
            self._done = True
            return self._safe(d.flush)
        feed = memoryview(self._buf)[self._idx : self._idx + FEED]
        try:
            out = d.decompress(feed, OUT_MAX)
        except INFLATE_ERRORS as exc:
            self.events.corrupt_at = self._member_offset
            self.events.corrupt_reason = str(exc)
            self._done = True
            return b""
        if d.eof:
            self._idx += len(feed) - len(d.unused_data)
            self.ends.append((self._upos + len(out), self._base + self._idx))
            self._d = None
        else:
            self._idx += len(feed) - len(d.unconsumed_tail)
        return out

    def _safe(self, fn: Callable[[], bytes]) -> bytes:
        try:
            return fn()
        except INFLATE_ERRORS:
            return b""


class Cursor:
    """Buffered reading over a source's chunks: lines, peeks and counted reads fed to sinks."""

    def __init__(self, source: PlainSource | GzipSource) -> None:
        self._src = source
        self._buf = b""
        self._i = 0
        self._base = 0  # uncompressed position of _buf[0]
        self._eof = False
        self._member: tuple[int, int] | None = None

    @property
    def pos(self) -> int:
        return self._base + self._i

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._src.next_chunk()
        if chunk is None:
            self._eof = True
            return False
        rest = self._buf[self._i :]
        self._base += self._i
        self._buf = rest + chunk if rest else chunk
        self._i = 0
        return True

    def at_eof(self) -> bool:
        return self._i >= len(self._buf) and not self._fill()

    def peek(self, n: int) -> bytes:
        while len(self._buf) - self._i < n and self._fill():
            pass
        return self._buf[self._i : self._i + n]

    def readline(self, limit: int) -> bytes:
        """Up to and including the next LF, at most `limit` bytes; b"" at end of stream."""
        while True:
            j = self._buf.find(b"\n", self._i, self._i + limit)
            if j >= 0:
                line = self._buf[self._i : j + 1]
                self._i = j + 1
                return line
            if len(self._buf) - self._i >= limit or not self._fill():
                line = self._buf[self._i : self._i + limit]
                self._i += len(line)
                return line

    def take_crlf_block(self, limit: int) -> bytes | None:
        """Fast path for the common case: the bytes up to and including the next CRLF CRLF, if
        that lies within `limit` bytes and every line in it ends in a clean CRLF. None (nothing
        consumed) otherwise, and the caller falls back to reading line by line."""
        if self.peek(2) == b"\r\n":
            self._i += 2
            return b"\r\n"
        while True:
            j = self._buf.find(b"\r\n\r\n", self._i, self._i + limit)
            if j >= 0:
                break
            if len(self._buf) - self._i >= limit or not self._fill():
                return None
        block = self._buf[self._i : j + 4]
        if block.count(b"\n") != block.count(b"\r\n") or block.count(b"\r") != block.count(
            b"\r\n"
        ):
            return None  # a bare LF or CR inside: let the line reader report it
        self._i = j + 4
        return block

    def feed(self, n: int, sinks: list[Callable[[memoryview], object]]) -> int:
        """Pass the next n bytes to every sink without copying; returns how many existed."""
        left = n
        while left > 0:
            if self._i >= len(self._buf) and not self._fill():
                break
            take = min(left, len(self._buf) - self._i)
            view = memoryview(self._buf)[self._i : self._i + take]
            for sink in sinks:
                sink(view)
            self._i += take
            left -= take
        return n - left

    def skip_until(self, needle: bytes) -> bool:
        """Advance to the next occurrence of needle (for resynchronising after garbage)."""
        while True:
            j = self._buf.find(needle, self._i)
            if j >= 0:
                self._i = j
                return True
            keep = max(self._i, len(self._buf) - len(needle) + 1)
            self._i = keep
            if not self._fill():
                self._i = len(self._buf)
                return False

    # gzip layout ------------------------------------------------------------------------------

    def member_at(self, upos: int) -> tuple[int | None, bool]:
        """(compressed offset of the gzip member holding uncompressed upos, whether that member
        starts exactly there). (None, False) for an uncompressed file."""
        starts = getattr(self._src, "starts", None)
        if starts is None:
            return None, False
        self.peek(1)  # let the source begin the member that starts at upos, if any
        while starts and starts[0][0] <= upos:
            self._member = starts.popleft()
        if self._member is None:
            return None, False
        return self._member[1], self._member[0] == upos

    def member_end(self, upos: int) -> bool:
        """Whether a member ends exactly at uncompressed upos (call after reading up to it)."""
        ends = getattr(self._src, "ends", None)
        if ends is None:
            return False
        self.peek(1)  # make sure the source has inflated past upos, so the end is recorded
        while ends and ends[0][0] < upos:
            ends.popleft()
        return bool(ends) and ends[0][0] == upos


def skip_newlines(cur: Cursor) -> int:
    """Step over CR/LF bytes between records; how many there were."""
    n = 0
    while cur.peek(1) in (b"\r", b"\n"):
        cur.feed(1, [])
        n += 1
    return n


@dataclass(frozen=True)
class RecordStart:
    """Where the next record's first line begins, as both scanners report it."""

    gap: int  # CR/LF bytes skipped before it
    upos: int  # offset in the uncompressed stream
    offset: int  # the gzip member's offset when compressed, else upos
    at_start: bool  # the record begins its gzip member
    line: bytes


def next_record_start(cur: Cursor, max_line: int) -> RecordStart | None:
    """Skip blank lines and read the next record's first line (None at end of stream)."""
    gap = skip_newlines(cur)
    if cur.at_eof():
        return None
    upos = cur.pos
    coff, at_start = cur.member_at(upos)
    offset = coff if coff is not None else upos
    return RecordStart(gap, upos, offset, at_start, cur.readline(max_line))
