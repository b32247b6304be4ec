"""ARC (the Internet Archive's pre-WARC format), versions 1 and 2: header lines, lengths,
separators. ARC has no digests, so only structure can be checked.

ARC readers resynchronise on the next header line, and real ARCs often have a length that
disagrees with their newline convention, so some defects here are graded as warnings that the
WARC checks would call errors: a missing separator line, stray whitespace after a record, and a
last record shorter than declared when the HTTP message inside it is nevertheless complete.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from archiver.check.warccheck.fields import MEDIA_RE, SCHEME_RE
from archiver.check.warccheck.headers import MAX_LINE
from archiver.check.warccheck.payload import read_http_head
from archiver.check.warccheck.report import Collector
from archiver.check.warccheck.source import Cursor, next_record_start, skip_newlines
from archiver.check.warccheck.warc import Layout

DATE_RE = re.compile(rb"^\d{14}$")
PLACEHOLDERS = (b"-", b"")
_Emit = Callable[[str, str, str, str], None]  # severity, code, message, field


@dataclass
class ArcHeader:
    url: bytes
    ip: bytes
    date: bytes
    mime: bytes
    length: bytes
    spaces_in_url: bool


@dataclass
class ArcScan:
    records: int = 0
    version: str = "1"
    layout: Layout | None = None


def looks_like_header(line: bytes) -> bool:
    tokens = line.rstrip(b"\r\n").split(b" ")
    return len(tokens) >= 5 and bool(SCHEME_RE.match(tokens[0].decode("latin-1")))


def split_header(line: bytes, version: str) -> ArcHeader:
    tokens = line.rstrip(b"\r\n").split(b" ")
    tail = 9 if version == "2" and len(tokens) >= 10 else 4
    url = b" ".join(tokens[:-tail])
    ip, date, mime = tokens[-tail], tokens[-tail + 1], tokens[-tail + 2]
    return ArcHeader(url, ip, date, mime, tokens[-1], spaces_in_url=len(tokens) > tail + 1)


def scan_arc(cur: Cursor, col: Collector, gz: bool) -> ArcScan:
    scan = ArcScan(layout=Layout() if gz else None)
    separated = True
    while (start := next_record_start(cur, MAX_LINE)) is not None:
        gap, offset, at_start, line = start.gap, start.offset, start.at_start, start.line
        if not looks_like_header(line):
            _stray(cur, col, line, offset)
            continue
        if scan.records and not (gap or separated):
            col.add("warning", "arc-missing-separator", "ARC record not preceded by a newline",
                    offset=offset)
        scan.records += 1
        hdr = split_header(line, scan.version)
        record_id = hdr.url.decode("latin-1")[:200]
        length = _check_header(hdr, col, offset, record_id, first=scan.records == 1)
        if length is None:
            continue  # resynchronise on the next header-looking line
        if scan.records == 1 and hdr.url.startswith(b"filedesc:"):
            scan.version = _filedesc_version(cur, length)
        if not _read_content(cur, col, length, offset, record_id):
            break
        separated = cur.peek(1) in (b"\n", b"\r")
        if scan.layout is not None:
            skip_newlines(cur)
            _note_layout(cur, scan.layout, offset, record_id, at_start)
    return scan


def _stray(cur: Cursor, col: Collector, line: bytes, offset: int) -> None:
    if not line.strip():
        col.add("warning", "arc-stray-whitespace", f"{len(line)} bytes of white space between "
                "ARC records", offset=offset)
        return
    col.add("error", "trailing-garbage", f"data that is not an ARC record: {line[:60]!r}",
            offset=offset)
    # skip to the next header-looking line
    while (nxt := cur.peek(MAX_LINE)) and not looks_like_header(nxt.split(b"\n", 1)[0]):
        cur.readline(MAX_LINE)


def _check_header(hdr: ArcHeader, col: Collector, offset: int, rid: str,
                  first: bool) -> int | None:
    def emit(severity: str, code: str, message: str, field: str) -> None:
        col.add(severity, code, message, offset=offset, record_id=rid,  # type: ignore[arg-type]
                field=field)

    if first and not hdr.url.startswith(b"filedesc:"):
        emit("error", "arc-missing-filedesc", "an ARC file must start with a filedesc:// record",
             "URL")
    if hdr.spaces_in_url:
        emit("warning", "uri-contains-space", "URL contains white space", "URL")
    _check_ip(hdr.ip, emit)
    if hdr.date in PLACEHOLDERS:
        emit("warning", "arc-placeholder-field", "Archive-date is a '-' placeholder",
             "Archive-date")
    elif not DATE_RE.match(hdr.date):
        emit("error", "invalid-field", f"Archive-date is not YYYYMMDDhhmmss: {hdr.date[:30]!r}",
             "Archive-date")
    _check_mime(hdr.mime, emit)
    if not hdr.length.isdigit():
        emit("error", "invalid-field", f"Archive-length is not a length: {hdr.length[:30]!r}",
             "Archive-length")
        return None
    return int(hdr.length)


def _check_ip(ip: bytes, emit: _Emit) -> None:
    if ip in PLACEHOLDERS:
        emit("warning", "arc-placeholder-field", "IP-address is a '-' placeholder", "IP-address")
        return
    try:
        ipaddress.ip_address(ip.decode("latin-1"))
    except ValueError:
        emit("error", "invalid-field", f"IP-address is not an IP: {ip[:40]!r}", "IP-address")


def _check_mime(mime: bytes, emit: _Emit) -> None:
    text = mime.decode("latin-1")
    if mime in PLACEHOLDERS or text == "no-type":
        return
    if MEDIA_RE.match(text):
        return
    if re.fullmatch(r"[A-Za-z0-9.+-]+", text):
        emit("warning", "arc-short-mime", f"Content-type {text!r} has no subtype",
             "Content-type")
    else:
        emit("error", "invalid-field", f"Content-type is not a media type: {text[:40]!r}",
             "Content-type")


def _filedesc_version(cur: Cursor, length: int) -> str:
    head = cur.peek(min(length, 64))
    major = head.split(b" ", 1)[0]
    return "2" if major == b"2" else "1"


def _read_content(cur: Cursor, col: Collector, length: int, offset: int, rid: str) -> bool:
    """Consume the record content. False when the file ends inside it."""
    http_len = None
    used = 0
    if cur.peek(5) == b"HTTP/":
        used, headers = read_http_head(cur, length, [])
        cl = headers.get("content-length", "")
        http_len = int(cl) if cl.isdigit() else None
    body = cur.feed(length - used, [])
    present = used + body
    if present == length:
        return True
    if http_len is not None and body in (http_len, http_len + 1):
        col.add("warning", "arc-length-mismatch", f"Archive-length says {length} bytes, "
                f"{present} present, but the HTTP message is complete (newline conversion?)",
                offset=offset, record_id=rid, field="Archive-length", declared=length,
                present=present)
    else:
        col.add("error", "truncated-record", f"Archive-length says {length} bytes, only "
                f"{present} present", offset=offset, record_id=rid, field="Archive-length",
                declared=length, present=present)
    return False


def _note_layout(cur: Cursor, layout: Layout, offset: int, rid: str, at_start: bool) -> None:
    layout.count += 1
    end = cur.pos
    if at_start and cur.member_at(end - 1)[0] == offset and cur.member_end(end):
        return
    layout.misaligned.append((offset, rid, "is not exactly one gzip member"))
