"""Reading one WARC header block (version line + named fields) exactly as written.

warcio normalises what it reads (it keeps the leading whitespace of folded lines, accepts bare
LF and CR CR LF): here every line ending is checked, and continuation lines (SP/HT first, legal
by the WARC 1.0/1.1 `field-value` grammar, LWS = [CRLF] 1*(SP|HT)) are unfolded into their field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from archiver.check.warccheck.source import Cursor

MAX_LINE = 64 * 1024
MAX_HEADER = 1024 * 1024
FAST_WINDOW = 64 * 1024
VERSION_RE = re.compile(rb"^WARC/(\d+\.\d+)$", re.IGNORECASE)
TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass
class HeaderField:
    name: str  # as written
    value: str  # unfolded, surrounding whitespace removed
    folded: bool = False


@dataclass
class HeaderBlock:
    version_line: bytes  # without its line ending
    fields: list[HeaderField] = field(default_factory=list)
    # (code, message, field name or None): line-level defects, graded by the caller
    problems: list[tuple[str, str, str | None]] = field(default_factory=list)
    terminated: bool = False  # an empty line closed the block before end of stream
    size: int = 0

    @property
    def version(self) -> str | None:
        m = VERSION_RE.match(self.version_line)
        return m.group(1).decode() if m else None

    def index(self) -> None:
        """Build the by-name lookup once the block is read (field names are case-insensitive)."""
        self._by_name: dict[str, list[HeaderField]] = {}
        for f in self.fields:
            self._by_name.setdefault(f.name.lower(), []).append(f)

    def get(self, name: str) -> str | None:
        """Value of the first field called `name`."""
        found = self._by_name.get(name.lower())
        return found[0].value if found else None

    def all(self, name: str) -> list[HeaderField]:
        return self._by_name.get(name.lower(), [])


def _ending_problem(line: bytes) -> str | None:
    if line.endswith(b"\r\r\n"):
        return "CR CR LF"
    if line.endswith(b"\r\n"):
        return None
    if line.endswith(b"\n"):
        return "bare LF"
    return "no line ending"


def read_header(cur: Cursor, version_line: bytes) -> HeaderBlock:
    """Read named fields up to the empty line; `version_line` was already read by the caller."""
    block = HeaderBlock(version_line=version_line.rstrip(b"\r\n"), size=len(version_line))
    if version_line.endswith(b"\r\n") and not version_line.endswith(b"\r\r\n"):
        fast = cur.take_crlf_block(FAST_WINDOW)
        if fast is not None:
            block.size += len(fast)
            block.terminated = True
            for raw in fast[:-4].split(b"\r\n") if len(fast) > 2 else ():
                _add_line(block, raw)
            block.index()
            return block
    bad_endings = set()
    if (why := _ending_problem(version_line)) is not None:
        bad_endings.add(why)
    while block.size < MAX_HEADER:
        line = cur.readline(MAX_LINE)
        if not line:
            break
        block.size += len(line)
        if (why := _ending_problem(line)) is not None:
            if why == "no line ending":
                if len(line) >= MAX_LINE:  # else the stream ended mid-line: a truncation
                    block.problems.append(("header-line-too-long", "header line too long", None))
                break
            bad_endings.add(why)
        text = line.rstrip(b"\r\n")
        if not text:
            block.terminated = True
            break
        _add_line(block, text)
    else:
        block.problems.append(("header-too-long", f"header block over {MAX_HEADER} bytes", None))
    for why in sorted(bad_endings):
        block.problems.append(("bad-line-ending", f"header lines end in {why}, not CRLF", None))
    block.index()
    return block


def _add_line(block: HeaderBlock, raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", errors="replace")
        block.problems.append(("header-not-utf8", "header line is not valid UTF-8", None))
    if text[0] in " \t":
        if not block.fields:
            message = f"continuation line before any field: {text[:60]!r}"
            block.problems.append(("malformed-header-line", message, None))
            return
        last = block.fields[-1]
        piece = text.strip()
        last.value = f"{last.value} {piece}".strip() if last.value else piece
        last.folded = True
        return
    name, sep, value = text.partition(":")
    if not sep or not TOKEN_RE.match(name):
        block.problems.append(
            ("malformed-header-line", f"not a 'Name: value' field: {text[:60]!r}", None)
        )
        return
    block.fields.append(HeaderField(name=name, value=value.strip(" \t")))
