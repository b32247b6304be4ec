"""HTTP message inside a record block: header parsing and a streaming de-chunker, so the
payload digest can be computed over the entity with Transfer-Encoding removed (Content-Encoding
kept), as WARC 1.1 §5.9 says, without holding the body in memory."""

from __future__ import annotations

from collections.abc import Callable

from archiver.check.warccheck.source import Cursor

MAX_HTTP_LINE = 64 * 1024
Sink = Callable[[memoryview], object]


def read_http_head(cur: Cursor, limit: int, sinks: list[Sink]) -> tuple[int, dict[str, str]]:
    """Read HTTP start line + headers (at most `limit` bytes), passing the bytes to sinks.
    Returns (bytes consumed, lower-cased header dict). Stops at the empty line or the limit."""
    fast = cur.take_crlf_block(min(limit, MAX_HTTP_LINE))
    if fast is not None:
        view = memoryview(fast)
        for sink in sinks:
            sink(view)
        return len(fast), _parse_head(fast[:-4].split(b"\r\n")[1:])
    used = 0
    lines: list[bytes] = []
    while used < limit:
        line = cur.readline(min(MAX_HTTP_LINE, limit - used))
        if not line:
            break
        used += len(line)
        view = memoryview(line)
        for sink in sinks:
            sink(view)
        text = line.rstrip(b"\r\n")
        if not text:
            break
        lines.append(text)
    return used, _parse_head(lines[1:])


def _parse_head(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return headers


def is_chunked(headers: dict[str, str]) -> bool:
    te = headers.get("transfer-encoding", "")
    return "chunked" in [t.strip().lower() for t in te.split(",")]


class Dechunker:
    """Feeds the data of a chunked body to `out`; `ok` tells whether the framing was valid."""

    def __init__(self, out: Sink) -> None:
        self._out = out
        self._state = "size"  # size | data | data-crlf | trailer | done | bad
        self._line = bytearray()
        self._left = 0
        self.ok = True

    @property
    def complete(self) -> bool:
        return self._state == "done"

    def feed(self, view: memoryview) -> None:
        i, n = 0, len(view)
        if self._state == "done":
            self._check_tail(view)
            return
        while i < n and self._state not in ("done", "bad"):
            if self._state == "data":
                take = min(self._left, n - i)
                self._out(view[i : i + take])
                i += take
                self._left -= take
                if self._left == 0:
                    self._state = "data-crlf"
                continue
            j = _find_lf(view, i)
            end = n if j < 0 else j + 1
            self._line += view[i:end]
            i = end
            if j >= 0:
                self._end_line(bytes(self._line).rstrip(b"\r\n"))
                self._line.clear()
            elif len(self._line) > MAX_HTTP_LINE:
                self._fail()
        if self._state == "done" and i < n:
            self._check_tail(view[i:])

    def _check_tail(self, view: memoryview) -> None:
        if bytes(view).strip(b"\r\n"):
            self.ok = False  # data after the last chunk

    def _end_line(self, line: bytes) -> None:
        if self._state == "data-crlf":
            self._state = "size" if not line else "bad"
            self.ok = self.ok and not line
        elif self._state == "size":
            size_text = line.split(b";", 1)[0].strip()
            try:
                self._left = int(size_text, 16)
            except ValueError:
                self._fail()
                return
            self._state = "data" if self._left else "trailer"
        elif self._state == "trailer" and not line:
            self._state = "done"

    def _fail(self) -> None:
        self._state = "bad"
        self.ok = False


def _find_lf(view: memoryview, start: int) -> int:
    # memoryview has no find(); chunk-size lines are short, so copy a little first
    for span in (256, MAX_HTTP_LINE + 2):
        j = bytes(view[start : start + span]).find(b"\n")
        if j >= 0:
            return start + j
    return -1
