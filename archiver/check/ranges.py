"""Large WARCs as several tasks: byte ranges cut at record starts, checked apart, merged back.

A range of a per-record gzip WARC can be validated on its own when it starts and ends at gzip
members that start records: the record checks (fields, digests, terminators) need nothing
outside the record. What does need the whole file (duplicate ids, the first record, version
drift, gzip layout, bytes between records, the per-code cap) is either merged here or, when
a range saw anything of that kind, settled by validating the file whole: the merged report is
then exactly the one a whole-file check gives, or the caller is told to make that check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from archiver.check.warccheck.report import MAX_PER_CODE, WarcReport, empty_tally
from archiver.store import manifest
from archiver.store.archive import Archive

RANGE_BYTES = 64 * 1024 * 1024  # a validate task reads about this much of a large WARC

# Findings whose meaning depends on what lies outside the range: their presence sends the
# file to a whole-file check (they are rare: damaged or unusual files).
NEEDS_WHOLE_FILE = frozenset({
    "empty-file", "not-a-warc", "not-a-record", "no-records", "trailing-garbage",
    "unsupported-compression", "legacy-format", "legacy-version", "mixed-versions",
    "gzip-corrupt", "gzip-truncated", "gzip-not-per-record", "gzip-member-boundary",
    "truncated-record", "unreadable-block", "missing-record-terminator",
    "duplicate-record-id", "findings-capped", "internal-error",
})


def record_boundaries(archive: Archive, paths: Iterable[str]) -> dict[str, list[int]]:
    """Known record start offsets of these WARCs (archive-relative paths), sorted. The one
    source of record boundaries: the manifest's records[].offset today, the catalog's
    captures.offset once it exists."""
    wanted = set(paths)
    found: dict[str, set[int]] = {p: set() for p in wanted}
    if not wanted or not archive.manifest_path.is_file():
        return {p: [] for p in wanted}
    for entry in manifest.iter_entries(archive.manifest_path):
        for rec in entry.get("records") or []:
            if isinstance(rec, dict) and rec.get("file") in wanted \
                    and isinstance(rec.get("offset"), int):
                found[rec["file"]].add(rec["offset"])
    return {p: sorted(offsets) for p, offsets in found.items()}


def cut(size: int, boundaries: list[int], target: int = RANGE_BYTES) -> list[tuple[int, int]]:
    """(start, end) windows of about `target` bytes, each starting at a known record start.
    One window (the whole file) when the file is small or no boundaries are known."""
    starts = [0]
    for offset in boundaries:
        if 0 < offset < size and offset - starts[-1] >= target:
            starts.append(offset)
    return list(zip(starts, [*starts[1:], size], strict=True))


def merge(path: str, size: int, parts: list[WarcReport]) -> WarcReport | None:
    """The whole-file report from its ranges' reports, in order; None when only a whole-file
    check can give the same answer (see NEEDS_WHOLE_FILE)."""
    if len(parts) == 1:
        return parts[0]
    findings = [f for part in parts for f in part.findings]
    codes = Counter(f.code for f in findings)
    if (any(code in NEEDS_WHOLE_FILE for code in codes)
            or any(n > MAX_PER_CODE for n in codes.values())
            or any("uncompressed_offset" in f.details for f in findings)
            or any(part.tail for part in parts[:-1])  # bytes between records at a cut
            or len({p.format for p in parts}) != 1
            or any(p.compression != "gzip-per-record" for p in parts)
            or sum(len(p.ids) for p in parts) != len(set().union(*(p.ids for p in parts)))):
        return None
    digests = empty_tally()
    for part in parts:
        for kind, tally in part.digests.items():
            for outcome, n in tally.items():
                digests[kind][outcome] += n
    return WarcReport(path=path, records=sum(p.records for p in parts), bytes=size,
                      format=parts[0].format, compression=parts[0].compression,
                      findings=findings, digests=digests,
                      payloads={k: v for p in parts for k, v in p.payloads.items()},
                      revisits=[r for p in parts for r in p.revisits])
