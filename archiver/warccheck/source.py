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
from typing import BinaryIO

READ_SIZE = 1 << 20
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
    for every member start and end, so the parsers can tell whether records align with them."""

    def __init__(self, fh: BinaryIO, head: bytes) -> None:
        self._fh = fh
        self._pending = head  # compressed bytes not yet inflated
        self._base = 0  # file offset of _pending[0]
        self._upos = 0  # uncompressed bytes produced so far
        self._d: zlib._Decompress | None = None
        self._done = False
        self._member_offset = 0  # compressed offset of the member being inflated
        self.starts: deque[tuple[int, int]] = deque()
        self.ends: deque[tuple[int, int]] = deque()
        self.events = GzipEvents()

    def _refill(self) -> bool:
        more = self._fh.read(READ_SIZE)
        if not more:
            return False
        self._pending = self._pending + more if self._pending else more
        return True

    def _begin_member(self) -> bool:
        if len(self._pending) < 2 and not self._refill():
            if self._pending:  # one stray byte after the last member
                self.events.garbage_at = self._base
            return False
        if not self._pending.startswith(GZIP_MAGIC):
            self.events.garbage_at = self._base
            return False
        self._d = zlib.decompressobj(31)
        self.events.members += 1
        self.starts.append((self._upos, self._base))
        self._member_offset = self._base
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
        assert d is not None
        if not self._pending and not self._refill():
            # The file ends inside a member: keep what inflates, report the truncation.
            self.events.truncated_at = self._member_offset
            self._done = True
            return self._safe(d.flush)
        data = self._pending
        try:
            out = d.decompress(data, OUT_MAX)
        except zlib.error as exc:
            self.events.corrupt_at = self._member_offset
            self.events.corrupt_reason = str(exc)
            self._done = True
            return b""
        if d.eof:
            rest = d.unused_data
            self._base += len(data) - len(rest)
            self._pending = rest
            self.ends.append((self._upos + len(out), self._base))
            self._d = None
        else:
            rest = d.unconsumed_tail
            self._base += len(data) - len(rest)
            self._pending = rest
        return out

    def _safe(self, fn: Callable[[], bytes]) -> bytes:
        try:
            return fn()
        except zlib.error:
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
