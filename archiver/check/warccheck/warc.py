"""The WARC record loop: header, fields, block (hashed while streaming), terminator, gzip layout."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from archiver.check.warccheck.digests import matches, parse_digest
from archiver.check.warccheck.fields import RecordInfo, check_fields
from archiver.check.warccheck.headers import MAX_LINE, VERSION_RE, HeaderBlock, read_header
from archiver.check.warccheck.payload import Dechunker, Sink, is_chunked, read_http_head
from archiver.check.warccheck.report import Collector, Revisit
from archiver.check.warccheck.source import Cursor, next_record_start

CURRENT_VERSIONS = ("1.0", "1.1")
LEGACY_VERSIONS = ("0.17", "0.18")
MAX_LAYOUT_NOTES = 200


@dataclass
class Layout:
    """How records sit in gzip members (only meaningful for gzip files)."""

    misaligned: list[tuple[int, str | None, str]] = field(default_factory=list)
    count: int = 0


@dataclass
class WarcScan:
    records: int = 0
    version: str | None = None
    layout: Layout = field(default_factory=Layout)
    tail: int = 0  # uncompressed bytes after the last record read (newlines, garbage)
    ids: set[str] = field(default_factory=set)  # record id keys (for ranges only)


class _Ctx:
    """Per-record context: where the record is, and an `emit` bound to it."""

    def __init__(self, col: Collector, offset: int, upos: int, record_id: str | None,
                 at_start: bool) -> None:
        self.col = col
        self.offset = offset
        self.record_id = record_id
        # inside a gzip member, the member's offset alone does not locate the record
        inside = offset != upos and not at_start
        extra: dict[str, Any] = {"uncompressed_offset": upos} if inside else {}
        self.emit = partial(self._emit, extra)

    def _emit(self, extra: dict[str, Any], severity: str, code: str, message: str,
              field: str | None = None, **details: Any) -> None:
        self.col.add(severity, code, message, offset=self.offset,  # type: ignore[arg-type]
                     record_id=self.record_id, field=field, **extra, **details)


def scan_warc(cur: Cursor, col: Collector, gz: bool, continuing: bool = False,
              keep_ids: bool = False) -> WarcScan:
    """Every record to the end of the stream. `continuing`: the stream is a byte range that
    starts after other records of the file (they are not "the first"); `keep_ids`: return the
    record id keys, so the ranges of one file can be checked for duplicates between them."""
    scan = WarcScan()
    seen_ids: dict[str, int] = {}
    ended = 0
    while (start := next_record_start(cur, MAX_LINE)) is not None:
        gap, upos, offset, at_start, line = (start.gap, start.upos, start.offset,
                                             start.at_start, start.line)
        if not VERSION_RE.match(line.rstrip(b"\r\n")):
            _garbage(cur, col, offset, upos, first=scan.records == 0 and not continuing)
            continue
        if gap and (scan.records or continuing):
            col.add("warning", "extra-newlines", f"{gap} extra line-break bytes before record",
                    offset=offset)
        scan.records += 1
        header = read_header(cur, line)
        ctx = _Ctx(col, offset, upos, header.get("WARC-Record-ID") or None, at_start)
        _check_version(header, ctx, scan)
        if not _check_header_shape(header, ctx):
            break
        info = check_fields(header, ctx.emit)
        _check_duplicate_id(info, ctx, seen_ids)
        if info.record_id and info.rtype in ("response", "resource"):
            col.payloads[info.record_id] = header.get("WARC-Payload-Digest") or None
        elif info.record_id and info.rtype == "revisit":
            col.revisits.append(Revisit(offset, info.record_id,
                                        header.get("WARC-Refers-To") or None,
                                        header.get("WARC-Payload-Digest") or None))
        if info.length is None:
            ctx.emit("error", "unreadable-block", "no usable Content-Length: the block cannot "
                     "be delimited; skipping to the next record", field="Content-Length")
            _resync(cur)
            continue
        if not _read_block(cur, header, info, ctx):
            break  # the stream ended inside the block
        _check_terminator(cur, ctx)
        if gz:
            _note_layout(cur, scan.layout, ctx, at_start)
        ended = cur.pos
    scan.tail = cur.pos - ended
    if keep_ids:
        scan.ids = set(seen_ids)
    return scan


def _resync(cur: Cursor) -> None:
    """Move to the next line that starts with 'WARC/' (or to the end)."""
    if cur.skip_until(b"\nWARC/"):
        cur.feed(1, [])


def _garbage(cur: Cursor, col: Collector, offset: int, upos: int, first: bool) -> None:
    _resync(cur)
    size = cur.pos - upos
    code = "not-a-record" if first else "trailing-garbage"
    extra: dict[str, Any] = {} if offset == upos else {"uncompressed_offset": upos}
    col.add("error", code, f"{size} bytes that are not a WARC record", offset=offset,
            bytes=size, **extra)


def _check_version(h: HeaderBlock, ctx: _Ctx, scan: WarcScan) -> None:
    version = h.version or "?"
    scan.version = scan.version or version
    if not h.version_line.startswith(b"WARC/"):
        ctx.emit("warning", "non-canonical-case",
                 f"version line {h.version_line[:20]!r} is not upper case", field="version")
    if version in LEGACY_VERSIONS:
        if ctx.col.counts.get("legacy-version", 0) == 0:
            ctx.emit("info", "legacy-version", f"WARC/{version} is a pre-standard draft "
                     "version (ISO 28500 is 1.0/1.1)", field="version")
        else:
            ctx.col.counts["legacy-version"] += 1
    elif version not in CURRENT_VERSIONS:
        ctx.emit("error", "unknown-version", f"unknown WARC version {version}", field="version")
    if version != scan.version:
        ctx.emit("warning", "mixed-versions", f"WARC/{version} record in a WARC/{scan.version} "
                 "file", field="version")


def _check_header_shape(h: HeaderBlock, ctx: _Ctx) -> bool:
    """Line-level defects. False when the header is cut short (nothing more can be read)."""
    for code, message, name in h.problems:
        severity = "warning" if code == "header-not-utf8" else "error"
        ctx.emit(severity, code, message, field=name)
    if not h.terminated:
        ctx.emit("error", "truncated-record", "the file ends inside the record header",
                 field="header")
        return False
    return True


def _check_duplicate_id(info: RecordInfo, ctx: _Ctx, seen: dict[str, int]) -> None:
    if not info.record_id:
        return
    # the id set grows with the file; a short hash keeps it small for millions of records
    key = hashlib.blake2b(info.record_id.encode(), digest_size=12).hexdigest()
    first = seen.get(key)
    if first is None:
        seen[key] = ctx.offset
    else:
        ctx.emit("error", "duplicate-record-id", f"WARC-Record-ID already used by the record "
                 f"at offset {first}", field="WARC-Record-ID", first_offset=first)


# -- block and digests ----------------------------------------------------------------------


@dataclass
class _DigestPlan:
    field: str
    algo: str | None = None  # hashlib name when checkable
    encoded: str = ""
    skip_reason: str | None = None


def _plan(h: HeaderBlock, name: str, info: RecordInfo, ctx: _Ctx) -> _DigestPlan | None:
    value = h.get(name)
    if not value:
        return None
    plan = _DigestPlan(field=name)
    parsed = parse_digest(value)
    if isinstance(parsed, str):
        plan.skip_reason = "malformed"  # already an invalid-field error
        return plan
    algo, plan.encoded = parsed
    if algo.startswith("?"):
        plan.skip_reason = f"unknown algorithm {algo[1:]!r}"
        ctx.emit("warning", "unknown-digest-algorithm", f"{name}: {plan.skip_reason}, "
                 "not checked", field=name)
        return plan
    if name == "WARC-Payload-Digest":
        if info.rtype == "revisit":
            plan.skip_reason = "revisit: the payload is in the record it refers to"
        elif info.segment_number is not None:
            plan.skip_reason = "segmented: the digest covers the reassembled payload"
    plan.algo = algo
    return plan


def _is_http(info: RecordInfo) -> bool:
    ctype = (info.content_type or "").lower()
    return info.rtype in ("response", "request", "revisit") and ctype.startswith(
        "application/http"
    )


def _read_block(cur: Cursor, h: HeaderBlock, info: RecordInfo, ctx: _Ctx) -> bool:
    length = info.length or 0
    bplan = _plan(h, "WARC-Block-Digest", info, ctx)
    pplan = _plan(h, "WARC-Payload-Digest", info, ctx)
    bhash = hashlib.new(bplan.algo) if bplan and bplan.algo and not bplan.skip_reason else None
    check_payload = bool(pplan and pplan.algo and not pplan.skip_reason)
    sinks: list[Sink] = [bhash.update] if bhash else []
    used, raw, dech, dhash = 0, None, None, None
    if check_payload and pplan and pplan.algo:
        if _is_http(info):
            used, headers = read_http_head(cur, length, sinks)
            if is_chunked(headers):
                dhash = hashlib.new(pplan.algo)
                dech = Dechunker(dhash.update)
        if bhash is not None and used == 0 and pplan.algo == bplan.algo:  # type: ignore[union-attr]
            raw = bhash  # payload == block: hash once
        else:
            raw = hashlib.new(pplan.algo)
            sinks = [*sinks, raw.update]
        if dech is not None:
            sinks.append(dech.feed)
    present = used + cur.feed(length - used, sinks)
    if present < length:
        ctx.emit("error", "truncated-record", f"Content-Length says {length} bytes, only "
                 f"{present} present", field="Content-Length", declared=length, present=present)
        for kind in ("block", "payload"):
            ctx.col.digest(kind, "not-checked")
        return False
    _judge_block(bplan, bhash, ctx)
    _judge_payload(pplan, raw, dech, dhash, ctx)
    return True


def _show(digest: bytes) -> str:
    return base64.b32encode(digest).decode() if len(digest) == 20 else digest.hex()


def _judge_block(plan: _DigestPlan | None, hasher: Any, ctx: _Ctx) -> None:
    if plan is None or hasher is None:
        ctx.col.digest("block", "not-checked")
        return
    got = hasher.digest()
    if matches(plan.encoded, got):
        ctx.col.digest("block", "passed")
        return
    ctx.col.digest("block", "failed")
    ctx.emit("error", "block-digest-mismatch", "block digest does not match the block",
             field=plan.field, declared=f"{plan.algo}:{plan.encoded}",
             computed=f"{plan.algo}:{_show(got)}")


def _judge_payload(plan: _DigestPlan | None, raw: Any, dech: Dechunker | None, dhash: Any,
                   ctx: _Ctx) -> None:
    if plan is None or raw is None:
        ctx.col.digest("payload", "not-checked")
        return
    if dech is not None and dech.ok and dech.complete and matches(plan.encoded, dhash.digest()):
        ctx.col.digest("payload", "passed")
        return
    if matches(plan.encoded, raw.digest()):
        ctx.col.digest("payload", "passed")
        if dech is not None and dech.ok and dech.complete:
            # warcio #75: some writers hashed the chunked wire bytes; readable, but not the spec
            ctx.emit("warning", "payload-digest-over-chunked", "payload digest matches the "
                     "chunked bytes, not the de-chunked entity", field=plan.field)
        return
    ctx.col.digest("payload", "failed")
    got = dhash.digest() if dech is not None and dech.ok and dech.complete else raw.digest()
    ctx.emit("error", "payload-digest-mismatch", "payload digest does not match the payload",
             field=plan.field, declared=f"{plan.algo}:{plan.encoded}",
             computed=f"{plan.algo}:{_show(got)}")


# -- after the block ------------------------------------------------------------------------


def _check_terminator(cur: Cursor, ctx: _Ctx) -> None:
    tail = cur.peek(4)
    if tail == b"\r\n\r\n":
        cur.feed(4, [])
        return
    n = 0
    while n < len(tail) and tail[n : n + 1] in (b"\r", b"\n"):
        n += 1
    cur.feed(n, [])
    if cur.at_eof() or cur.member_end(cur.pos):
        # Nothing else shares the gzip member (or the file): the record is still delimited
        # unambiguously. Heritrix wrote one CRLF after empty revisits; some warcinfo lengths
        # swallow the CRLFs. Readable, so a warning.
        ctx.emit("warning", "short-record-terminator", "the record does not end with CRLF CRLF"
                 ", but its gzip member (or the file) ends there", field="Content-Length",
                 found=tail[:n].decode("latin-1"))
        return
    ctx.emit("error", "missing-record-terminator", "the block is not followed by CRLF CRLF "
             "(wrong Content-Length or damaged record)", field="Content-Length",
             found=tail.decode("latin-1"))


def _note_layout(cur: Cursor, layout: Layout, ctx: _Ctx, at_start: bool) -> None:
    """One record per member: it starts a member, ends one, and no member begins inside it."""
    layout.count += 1
    end = cur.pos
    same_member = cur.member_at(end - 1)[0] == ctx.offset
    if at_start and same_member and cur.member_end(end):
        return
    if len(layout.misaligned) < MAX_LAYOUT_NOTES:
        if not at_start:
            what = "does not start a gzip member"
        elif not same_member:
            what = "spans several gzip members"
        else:
            what = "shares its gzip member with what follows"
        layout.misaligned.append((ctx.offset, ctx.record_id, what))
