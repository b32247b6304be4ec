"""The rows of the research exports (`archiver export parquet|csv|jsonl`): one per article
snapshot, or one per capture, each with its declared columns and plain Python values.

Where the rows come from: the catalog (`archiver/store/catalog.py`, CONTRACTS.md), which
lists the article snapshots and holds every capture's columns; when it cannot be opened (a
read-only copy of an archive) the manifest is read instead, with the WARC headers for the
captures. Either way only entries up to the manifest head the export cites are used. What is
held in memory is the list of article files to export (~250 bytes each); the rows
themselves (article text) are read one at a time as the writer asks for them.

With a Dask cluster (`--dask`), the article files (or, without a catalog, the WARC headers)
are read on the workers, a batch of refs per task, and the rows come back in order: the
client alone writes the export, so the file is byte for byte the one a local run writes.

Values: str, int, list[str], None, and timezone-aware `datetime` for timestamps, keeping
the offset as published (`+07:00`). Writers decide how a type is stored (tabular.py).
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator

from archiver.base.cluster import Cluster, Task, unreachable_archive
from archiver.base.errors import StoreError, UnreadableInputError
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog
from archiver.store.catalog_rows import foreign_records, foreign_warc
from archiver.store.rolling import open_path

CAPTURE_RECORD_TYPES = ("response", "revisit", "resource")

Row = dict[str, Any]


@dataclass(frozen=True)
class Column:
    """One declared column: name, logical type, meaning."""

    name: str
    type: str  # string | int16 | int32 | int64 | timestamp | list<string>
    description: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "type": self.type, "description": self.description}


ARTICLE_COLUMNS = (
    Column("id", "string", "article id (stable across snapshots)"),
    Column("url", "string", "the article's URL"),
    Column("title", "string", "title as published"),
    Column("lead", "string", "lead paragraph (sapo)"),
    Column("body", "string", "body paragraphs in order, joined by one blank line (\\n\\n)"),
    Column("published_at", "timestamp",
           "publication time; Parquet: the UTC instant (offset in published_at_offset); "
           "CSV/JSONL: RFC 3339 with the offset as published"),
    Column("published_at_offset", "int16",
           "UTC offset of published_at as published, in minutes east of UTC (420 = +07:00)"),
    Column("section", "string", "section (chuyên mục)"),
    Column("byline", "string", "the credit line as printed"),
    Column("authors", "list<string>", "authors read from the byline"),
    Column("source", "string", "source named by the byline (e.g. TTXVN, VOV.VN)"),
    Column("publisher", "string", "publisher name"),
    Column("language", "string", "BCP 47 primary language subtag"),
    Column("text_sha256", "string", "sha256 hex of the normalised lead and body"),
    Column("captured_at", "timestamp", "snapshot time: WARC-Date of the source record (UTC)"),
    Column("warc_file", "string", "WARC file of the source record, relative to the archive"),
    Column("record_id", "string", "WARC-Record-ID of the source record"),
    Column("article_file", "string", "article file, relative to the archive"),
    Column("article_sha256", "string", "sha256 hex of the article file, as the manifest has it"),
    Column("manifest_seq", "int64", "manifest entry that recorded this snapshot"),
)

CAPTURE_COLUMNS = (
    Column("url", "string", "WARC-Target-URI"),
    Column("timestamp", "timestamp", "WARC-Date (UTC)"),
    Column("record_type", "string", "response, revisit or resource"),
    Column("status", "int16", "HTTP status (null for resource records)"),
    Column("mime", "string", "payload MIME type, parameters removed"),
    Column("payload_digest", "string", "WARC-Payload-Digest as written"),
    Column("warc_file", "string", "WARC file (final name), relative to the archive"),
    Column("offset", "int64", "byte offset of the record's gzip member in the file"),
    Column("length", "int64", "bytes of the record's gzip member"),
    Column("revisit_of", "string", "WARC-Refers-To of a revisit record"),
    Column("discovered_via", "string", "JSON of the capture's discovery (crawler), if any"),
    Column("record_id", "string", "WARC-Record-ID"),
    Column("manifest_seq", "int64", "manifest entry that committed the record"),
)

COLUMNS = {"articles": ARTICLE_COLUMNS, "captures": CAPTURE_COLUMNS}


# ---------------------------------------------------------------- values

_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(text: Any) -> datetime | None:
    """An RFC 3339 / W3C-ISO8601 date-time with its offset kept; None if absent or without
    an offset (never guessed). Digits beyond microseconds are cut (Arrow stores µs)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        value = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip()))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def offset_minutes(value: datetime | None) -> int | None:
    offset = value.utcoffset() if value is not None else None
    return None if offset is None else int(offset.total_seconds() // 60)


def article_row(doc: dict[str, Any], ref: ArticleRef) -> Row:
    byline = doc.get("byline") or {}
    capture = doc.get("capture") or {}
    published = parse_time(doc.get("published_at"))
    return {
        "id": doc.get("id"),
        "url": doc.get("url"),
        "title": doc.get("title"),
        "lead": doc.get("lead"),
        "body": "\n\n".join(str(p) for p in doc.get("body") or []),
        "published_at": published,
        "published_at_offset": offset_minutes(published),
        "section": doc.get("section"),
        "byline": byline.get("raw"),
        "authors": [str(a) for a in byline.get("authors") or []],
        "source": byline.get("source"),
        "publisher": (doc.get("publisher") or {}).get("name"),
        "language": doc.get("language"),
        "text_sha256": doc.get("text_sha256"),
        "captured_at": parse_time(capture.get("warc_date")),
        "warc_file": capture.get("warc_path"),
        "record_id": capture.get("record_id"),
        "article_file": ref.path,
        "article_sha256": ref.sha256,
        "manifest_seq": ref.seq,
    }


# ---------------------------------------------------------------- articles

@dataclass(frozen=True, slots=True)
class ArticleRef:
    """An article file to export, as the manifest names it."""

    path: str
    sha256: str
    seq: int


def article_refs(archive: Archive, head_seq: int, latest: bool) -> list[ArticleRef]:
    """Snapshots in manifest order up to `head_seq`, as `archiver show` counts them: one per
    source record, a re-extraction replacing the earlier file of the same capture in place;
    with `latest`, only each article's last snapshot."""
    by_capture: dict[tuple[str, str], ArticleRef] = {}
    for article_id, record_id, path, sha256, seq in _article_listing(archive, head_seq):
        key = (article_id, record_id or path)
        first = by_capture.get(key)
        by_capture[key] = ArticleRef(path, sha256, first.seq if first else seq)
    if not latest:
        return list(by_capture.values())
    last: dict[str, ArticleRef] = {}
    for (article_id, _record), ref in by_capture.items():
        last.pop(article_id, None)  # re-inserted at the end: the newest capture's place
        last[article_id] = ref
    return list(last.values())


Listing = Iterator[tuple[str, str, str, str, int]]  # id, record id, path, sha256, seq


def _article_listing(archive: Archive, head_seq: int) -> Listing:
    catalog = open_catalog(archive)
    if catalog is None:
        yield from _manifest_article_listing(archive, head_seq)
        return
    with catalog:
        for article_id, record_id, path, sha256, seq in catalog.conn.execute(
                "SELECT id, record_id, path, sha256, seq FROM articles WHERE seq <= ? "
                "ORDER BY seq, path", (head_seq,)):
            yield str(article_id), str(record_id or ""), str(path), str(sha256 or ""), seq


def _manifest_article_listing(archive: Archive, head_seq: int) -> Listing:
    for entry in _entries(archive, head_seq):
        for art in entry.get("articles") or []:
            if art.get("id") and art.get("path"):
                yield (str(art["id"]), str(art.get("record_id") or ""), str(art["path"]),
                       str(art.get("sha256") or ""), int(entry["seq"]))


def open_catalog(archive: Archive) -> Catalog | None:
    """The archive's catalog, caught up with the manifest and set for one scan of its
    tables; None when it cannot be opened."""
    try:
        return Catalog.open(archive).for_scans()
    except StoreError:
        return None


def article_rows(archive: Archive, refs: list[ArticleRef],
                 cluster: Cluster | None = None) -> Iterator[Row]:
    """The rows of `refs`, in order, one article file read at a time; with a cluster, a
    batch of files per task on its workers. (Reading with two local worker processes was
    measured: 1.4x the CPU for the pickling, and 1.2x slower on this shared 2-core machine,
    so without a cluster one process it is.)"""
    if cluster is not None:
        yield from _rows_on(cluster, archive, _article_rows_task, refs, ARTICLES_PER_TASK)
        return
    for ref in refs:
        try:
            doc = json.loads(read_article(archive, ref.path))
        except FileNotFoundError as exc:
            raise StoreError(f"{ref.path}: article file named by the manifest is missing "
                             "(run `archiver audit`)") from exc
        except (OSError, ValueError) as exc:
            raise UnreadableInputError(f"{ref.path}: cannot read article: {exc}") from exc
        yield article_row(doc, ref)


ARTICLES_PER_TASK = 2000  # ~5 MB of article files: tasks of ~0.1 s, few enough to schedule
CAPTURES_PER_TASK = 5000  # WARC header reads: one seek and a few KB each


def _rows_on(cluster: Cluster, archive: Archive,
             task: Callable[[str, list[Any]], list[Row]], refs: list[Any],
             per_task: int) -> Iterator[Row]:
    """The rows of `refs` made by `task` on the cluster's workers, in the order of `refs`."""
    tasks = (Task(task, (str(archive.root), refs[i:i + per_task]))
             for i in range(0, len(refs), per_task))
    for rows in cluster.map_ordered(tasks, None, "export"):
        yield from rows


def _worker_archive(root: str) -> Archive:
    """The archive a task reads, or a clear error when this worker cannot see it."""
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():
        raise UnreadableInputError(unreachable_archive(root, socket.gethostname())
                                   + "; nothing was written")
    return archive


def _article_rows_task(root: str, refs: list[ArticleRef]) -> list[Row]:
    """A worker's task: the rows of these article files (reads only)."""
    return list(article_rows(_worker_archive(root), refs))


def _capture_rows_task(root: str, refs: list[CaptureRef]) -> list[Row]:
    """A worker's task: the rows of these records, from their WARC headers (reads only)."""
    return list(_warc_capture_rows(_worker_archive(root), refs))


def read_article(archive: Archive, relpath: str) -> bytes:
    """`articles/<id>/<snapshot>.json`, checked by shape, with one lstat of its folder and
    O_NOFOLLOW on the file instead of a realpath: every article has its own folder, so
    Archive.resolve's per-folder cache never hits, and its realpath was 40% of an export.
    Any other path, or a symlink, goes through Archive.resolve (which refuses escapes)."""
    parts = relpath.split("/")
    if len(parts) == 3 and parts[0] == "articles" and all(
            p not in ("", ".", "..") and "\\" not in p and "\0" not in p for p in parts):
        folder = os.path.join(archive.articles_dir, parts[1])
        if not os.path.islink(folder):
            try:
                fd = os.open(os.path.join(folder, parts[2]), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
            else:
                with open(fd, "rb") as f:
                    return f.read()
    return archive.resolve(relpath).read_bytes()


def _entries(archive: Archive, head_seq: int) -> Iterator[dict[str, Any]]:
    """Manifest entries up to the head the export cites (later ones are another state)."""
    for entry in manifest.iter_entries(archive.manifest_path):
        seq = entry.get("seq")
        if not isinstance(seq, int):
            continue
        if seq > head_seq:
            break
        yield entry


# ---------------------------------------------------------------- captures

@dataclass(frozen=True, slots=True)
class CaptureRef:
    """A replayable record a manifest entry names."""

    file: str
    offset: int
    length: int | None  # records[].length (schema 1.1.0); None in 0.1.0 entries
    seq: int
    discovery: str | None  # JSON


def capture_refs(archive: Archive, head_seq: int) -> list[CaptureRef]:
    """Every response, revisit and resource record the manifest names up to `head_seq`, in
    manifest order (when the catalog cannot be opened)."""
    refs: list[CaptureRef] = []
    for entry in _entries(archive, head_seq):
        discovery = entry.get("discovery")
        via = json.dumps(discovery, sort_keys=True, ensure_ascii=False) if discovery else None
        seq = int(entry["seq"])
        foreign = foreign_warc(entry)
        mine: list[CaptureRef] = []
        if foreign is not None:  # every capture record of an ingested WARC, as the catalog
            mine = [CaptureRef(foreign, offset, length, seq, via)
                    for offset, length, _, _ in foreign_records(archive, foreign)]
        for rec in entry.get("records") or []:
            if rec.get("type") in CAPTURE_RECORD_TYPES and rec.get("file") \
                    and rec.get("file") != foreign and isinstance(rec.get("offset"), int):
                length = rec.get("length")
                mine.append(CaptureRef(str(rec["file"]), int(rec["offset"]),
                                       int(length) if isinstance(length, int) else None,
                                       seq, via))
        refs += sorted(mine, key=lambda r: (r.file, r.offset))  # the catalog's order
    return refs


CATALOG_CAPTURES = (
    "SELECT url, timestamp, record_type, status, mime, payload_digest, file, offset, length, "
    "revisit_of, discovered_via, record_id, seq FROM captures WHERE seq <= ? "
    "ORDER BY seq, file, offset")


def capture_rows(archive: Archive, head_seq: int,
                 cluster: Cluster | None = None) -> Iterator[Row]:
    """One row per response, revisit and resource record up to `head_seq`, in manifest order:
    the catalog's `captures` table (one SQL query: nothing for a cluster to do), else the
    manifest's records and their WARC headers (read on the cluster's workers, if given)."""
    catalog = open_catalog(archive)
    if catalog is None:
        refs = capture_refs(archive, head_seq)
        if cluster is not None:
            yield from _rows_on(cluster, archive, _capture_rows_task, refs, CAPTURES_PER_TASK)
        else:
            yield from _warc_capture_rows(archive, refs)
        return
    with catalog:
        # The table is the contract (CONTRACTS.md), read in one statement: one snapshot.
        for (url, timestamp, record_type, status, mime, digest, file, offset, length,
             revisit_of, via, record_id, seq) in catalog.conn.execute(CATALOG_CAPTURES,
                                                                      (head_seq,)):
            yield {"url": url, "timestamp": parse_time(timestamp), "record_type": record_type,
                   "status": status, "mime": mime, "payload_digest": digest,
                   "warc_file": file, "offset": offset, "length": length,
                   "revisit_of": revisit_of, "discovered_via": via, "record_id": record_id,
                   "manifest_seq": seq}


def count_captures(archive: Archive, head_seq: int) -> int:
    catalog = open_catalog(archive)
    if catalog is None:
        return len(capture_refs(archive, head_seq))
    with catalog:
        return int(catalog.conn.execute("SELECT count(*) FROM captures WHERE seq <= ?",
                                        (head_seq,)).fetchone()[0])


def _warc_capture_rows(archive: Archive, refs: list[CaptureRef]) -> Iterator[Row]:
    """Each record's row, from its WARC and HTTP headers (one file open at a time)."""
    current: tuple[str, IO[bytes]] | None = None
    try:
        for ref in refs:
            if current is None or current[0] != ref.file:
                if current is not None:
                    current[1].close()
                current = (ref.file, open(open_path(archive, ref.file), "rb"))
            yield _capture_row(current[1], ref)
    except FileNotFoundError as exc:
        raise StoreError(f"{exc.filename}: WARC named by the manifest is missing "
                         "(run `archiver audit`)") from exc
    except OSError as exc:
        raise UnreadableInputError(f"cannot read WARC: {exc}") from exc
    finally:
        if current is not None:
            current[1].close()


def _capture_row(f: IO[bytes], ref: CaptureRef) -> Row:
    f.seek(ref.offset)
    records = ArchiveIterator(f)
    try:
        record = next(records)
    except StopIteration:
        raise UnreadableInputError(f"{ref.file}: no WARC record at offset {ref.offset}") \
            from None
    headers = record.rec_headers
    status: int | None = None
    content_type = headers.get_header("Content-Type")
    if record.rec_type in ("response", "revisit") and record.http_headers is not None:
        try:
            status = int(record.http_headers.get_statuscode())
        except (TypeError, ValueError):
            status = None
        content_type = record.http_headers.get_header("Content-Type")
    length = ref.length
    if length is None:  # a 0.1.0 entry: measure the gzip member by reading through it
        length = int(records.get_record_length())
    return {
        "url": headers.get_header("WARC-Target-URI"),
        "timestamp": parse_time(headers.get_header("WARC-Date")),
        "record_type": record.rec_type,
        "status": status,
        "mime": content_type.split(";")[0].strip().lower() if content_type else None,
        "payload_digest": headers.get_header("WARC-Payload-Digest"),
        "warc_file": ref.file,
        "offset": ref.offset,
        "length": length,
        "revisit_of": headers.get_header("WARC-Refers-To"),
        "discovered_via": ref.discovery,
        "record_id": headers.get_header("WARC-Record-ID"),
        "manifest_seq": ref.seq,
    }
