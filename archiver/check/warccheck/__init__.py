"""WARC/ARC validator: reads a file once, streaming, and reports every defect as a Finding.

Stricter than `warcio check` on purpose: its parser repairs what it reads (folded lines kept
raw, bare LFs, angle-bracketed URIs, short lengths), so it cannot be the judge. This package
parses the bytes itself: `source` (gzip members), `headers` (lines), `fields` (field rules),
`digests` + `payload` (fixity), `warc` and `arc` (record loops), `paths` (many files).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from archiver.base.errors import UnreadableInputError
from archiver.check.warccheck.arc import looks_like_header, scan_arc
from archiver.check.warccheck.report import Collector, WarcReport
from archiver.check.warccheck.source import (
    READ_SIZE,
    Cursor,
    GzipSource,
    PlainSource,
    sniff_compression,
)
from archiver.check.warccheck.warc import Layout, scan_warc

__all__ = ["WarcReport", "check_paths", "check_warc"]


def check_warc(path: str | os.PathLike[str], *, where: str | None = None,
               window: tuple[int, int] | None = None) -> WarcReport:
    """Validate one WARC or ARC file (plain or gzip). Never raises for bad content: an internal
    failure becomes an 'internal-error' finding. Raises UnreadableInputError only when the file
    cannot be opened or read at all.

    `window=(start, end)` checks only those bytes of a per-record gzip WARC, cut at record
    starts (archiver.check.ranges splits a large file into such tasks and merges them back);
    offsets in findings stay file offsets."""
    name = os.fspath(path)
    col = Collector(where=where or name)
    report = WarcReport(path=name, records=0, bytes=0, format="unknown", compression="none",
                        findings=col.findings, digests=col.digests, payloads=col.payloads,
                        revisits=col.revisits)
    try:
        fh: BinaryIO = open(name, "rb")
        report.bytes = os.fstat(fh.fileno()).st_size
        if window is not None:
            fh.seek(window[0])
            fh = Window(fh, window[1] - window[0])  # type: ignore[assignment]
            report.bytes = window[1] - window[0]
        head = fh.read(READ_SIZE)
    except OSError as exc:
        raise UnreadableInputError(f"{name}: cannot read: {exc.strerror or exc}") from exc
    try:
        _scan(fh, head, report, col, window)
    except OSError as exc:
        raise UnreadableInputError(f"{name}: read failed: {exc.strerror or exc}") from exc
    except Exception as exc:  # a bug of ours must not hide the file's other findings
        col.add("error", "internal-error", f"validator failure: {type(exc).__name__}: {exc}",
                trace=traceback.format_exc(limit=5))
    finally:
        fh.close()
    col.finish()
    return report


class Window:
    """The next `size` bytes of an open file, as a file (a range of a large WARC)."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self._fh, self._left = fh, size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._fh.read(n) if n > 0 else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._fh.close()


def _scan(fh: BinaryIO, head: bytes, report: WarcReport, col: Collector,
          window: tuple[int, int] | None) -> None:
    kind = sniff_compression(head)
    if kind.startswith("unsupported:"):
        report.compression = kind
        col.add("error", "unsupported-compression", f"{kind.split(':', 1)[1]} compression is "
                "not a WARC/ARC container this validator reads (WARC uses gzip)", offset=0)
        return
    if not head:
        col.add("error", "empty-file", "the file is empty", offset=0)
        return
    gz = kind == "gzip"
    start = window[0] if window else 0
    if window and not gz:
        col.add("error", "not-a-warc", "a byte range of a WARC must start a gzip member",
                offset=start)
        return
    source = GzipSource(fh, head, start) if gz else PlainSource(fh, head)
    cur = Cursor(source)
    first = _first_line(cur)
    if first.upper().startswith(b"WARC/"):
        scan = scan_warc(cur, col, gz, continuing=start > 0, keep_ids=window is not None)
        report.records = scan.records
        report.tail = scan.tail
        report.ids = scan.ids
        report.format = f"warc/{scan.version}" if scan.version else "warc"
        layout: Layout | None = scan.layout
    elif first.startswith(b"filedesc:") or looks_like_header(first):
        arc = scan_arc(cur, col, gz)
        report.records, report.format, layout = arc.records, "arc", arc.layout
        col.add("info", "legacy-format", f"ARC v{arc.version} file (the pre-WARC format)")
    else:
        col.add("error", "not-a-warc", f"neither WARC nor ARC; starts with {first[:40]!r}",
                offset=0)
        layout = None
    if isinstance(source, GzipSource):
        while cur.peek(1):  # drain (a parser may stop early), so the gzip events are final
            cur.feed(1 << 20, [])
        report.compression = _judge_gzip(source, layout, report.records, col)
    if report.records == 0 and report.format != "unknown":
        col.add("error", "no-records", "no record could be read", offset=0)


def _first_line(cur: Cursor) -> bytes:
    head = cur.peek(4096).lstrip(b"\r\n")
    return head.split(b"\n", 1)[0]


def _judge_gzip(src: GzipSource, layout: Layout | None, records: int, col: Collector) -> str:
    ev = src.events
    if ev.corrupt_at is not None:
        col.add("error", "gzip-corrupt", f"gzip member does not inflate: {ev.corrupt_reason}",
                offset=ev.corrupt_at)
    if ev.truncated_at is not None:
        col.add("error", "gzip-truncated", "the file ends inside a gzip member (no end of "
                "member, no CRC)", offset=ev.truncated_at)
    if ev.garbage_at is not None:
        col.add("error", "trailing-garbage", "bytes after the last gzip member are not gzip",
                offset=ev.garbage_at)
    if ev.members == 1 and records > 1:
        col.add("error", "gzip-not-per-record", f"readable but not per-record compressed: "
                f"{records} records in one gzip member (readers cannot seek to a record; "
                "`warcio recompress` fixes it)", offset=0, records=records)
        return "gzip-single-member"
    if layout is not None and layout.misaligned:
        for offset, rid, what in layout.misaligned:
            col.add("error", "gzip-member-boundary", f"record {what}", offset=offset,
                    record_id=rid)
        return "gzip-misaligned"
    return "gzip-per-record"


def check_paths(paths: Iterable[str | os.PathLike[str]], *, jobs: int = 1) -> Iterator[WarcReport]:
    """Reports for files and folders (folders: *.warc, *.warc.gz, *.arc, *.arc.gz, recursively),
    in input order; over processes when jobs > 1."""
    from archiver.check.warccheck.paths import iter_reports

    return iter_reports(paths, jobs=jobs)
