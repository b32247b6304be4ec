"""What the catalog derives from one manifest entry: rows for captures, articles and files.

The manifest says which records and article files an entry made; the rest of a row comes from
the stored bytes they name: a record's header block (status, MIME type, payload digest,
WARC-Date, WARC-Refers-To), read with warcio, and the article file's fields. Nothing here
writes; catalog.py decides what goes in. `entry_rows_task` is the same reading as a Dask
worker's task (`index --rebuild --dask`): rows for a batch of entries, sent back to the one
process that writes the catalog.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import IO, Any

from archiver.base.cluster import Cluster, Task, unreachable_archive
from archiver.base.errors import UnreadableInputError
from archiver.store.archive import Archive
from archiver.store.cdxj import surt_key
from archiver.store.fulltext import Folded, folded
from archiver.store.rolling import open_path

# Records a capture row stands for: what replay serves (the same set index.cdxj holds).
CAPTURE_TYPES = ("response", "revisit", "resource")


@dataclass
class RecordHead:
    """What the catalog keeps from a record's headers."""

    url: str | None = None
    timestamp: str | None = None
    record_type: str | None = None
    status: int | None = None
    mime: str | None = None
    payload_digest: str | None = None
    revisit_of: str | None = None
    length: int | None = None


class RecordReader:
    """Reads record headers at offsets, keeping the last WARC open (a rolling WARC holds
    thousands of records, read one after the other during a rebuild)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self._rel: str | None = None
        self._file: IO[bytes] | None = None
        # Heads and article documents the writer had in hand when it committed them (the
        # committer's own records): used once instead of reading the bytes back.
        self.known: dict[tuple[str, int], RecordHead] = {}
        self.docs: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._file = self._rel = None

    def head(self, rel: str, offset: int, length: int | None) -> RecordHead:
        """The record's header fields; its length (gzip member or plain record) is measured
        only when the entry does not give it (0.1.0 entries lack `length`)."""
        if (known := self.known.pop((rel, offset), None)) is not None:
            return known
        try:
            f = self._open(rel)
            f.seek(offset)
            from warcio.archiveiterator import ArchiveIterator  # see cdxj.surt_key

            it = ArchiveIterator(f, arc2warc=True)
            record = next(iter(it))
            head = _head(record)
            if length is None:
                it.read_to_end(record)
                length = it.get_record_length()
            head.length = length
            return head
        except Exception:  # unreadable or missing: the row keeps what the manifest says
            self.close()
            return RecordHead(length=length)

    def _open(self, rel: str) -> IO[bytes]:
        if self._rel != rel or self._file is None:
            self.close()
            self._file = open(open_path(self.archive, rel), "rb")
            self._rel = rel
        return self._file


def _head(record: Any) -> RecordHead:
    h = record.rec_headers
    head = RecordHead(url=h.get_header("WARC-Target-URI"), timestamp=h.get_header("WARC-Date"),
                      record_type=record.rec_type,
                      payload_digest=h.get_header("WARC-Payload-Digest"),
                      revisit_of=h.get_header("WARC-Refers-To"))
    if record.rec_type in ("response", "revisit") and record.http_headers is not None:
        try:
            head.status = int(record.http_headers.get_statuscode())
        except (TypeError, ValueError):
            head.status = None
        head.mime = _mime(record.http_headers.get_header("Content-Type"))
    else:
        head.mime = _mime(h.get_header("Content-Type"))
    if record.rec_type == "resource" and head.payload_digest is None:
        head.payload_digest = h.get_header("WARC-Block-Digest")  # a resource's block is its payload
    return head


def known_head(ref: Any, status: int | None, mime: str | None) -> RecordHead | None:
    """The head `RecordReader.head` would read back, from what the writer of a response or
    revisit record knew (a `warc.RecordRef`, the HTTP status and Content-Type); None when
    it cannot be sure to agree (other types, a Content-Type given twice)."""
    if ref.rec_type not in ("response", "revisit") or (mime and "," in mime):
        return None
    return RecordHead(url=ref.target_uri, timestamp=ref.date, record_type=ref.rec_type,
                      status=status, mime=_mime(mime), payload_digest=ref.payload_digest,
                      revisit_of=ref.refers_to, length=ref.length)


def _mime(value: str | None) -> str | None:
    if not value:
        return None
    return value.split(";", 1)[0].strip().lower() or None


def foreign_warc(entry: dict[str, Any]) -> str | None:
    """The archive path of the foreign WARC an ingestion entry copied verbatim (the stored
    file with the source file's sha256), or None. Its entry names only the records articles
    came from (a foreign WARC may hold millions: the manifest line would grow with them),
    yet every response, revisit and resource record in it is a capture the archive holds."""
    if entry.get("event") != "ingestion":
        return None
    source = (entry.get("source") or {}).get("file")
    if not isinstance(source, dict) or not source.get("sha256"):
        return None
    for f in entry.get("files") or []:
        path = f.get("path") if isinstance(f, dict) else None
        if isinstance(path, str) and f.get("sha256") == source["sha256"] \
                and path.startswith("warcs/") and ".warc" in path.rsplit("/", 1)[-1].lower():
            return path
    return None


def foreign_records(archive: Archive, rel: str) -> Iterator[tuple[int, int, str, RecordHead]]:
    """(offset, length, record id, head) of every response, revisit and resource record of a
    stored WARC, in file order; stops quietly where the file stops parsing (validate and
    audit name that place)."""
    from warcio.archiveiterator import ArchiveIterator

    try:
        with open(open_path(archive, rel), "rb") as f:
            it = ArchiveIterator(f)
            for record in it:
                record_id = record.rec_headers.get_header("WARC-Record-ID")
                if record.rec_type not in CAPTURE_TYPES or not record_id:
                    continue
                head = _head(record)
                offset = it.get_record_offset()
                it.read_to_end(record)
                yield offset, int(it.get_record_length()), record_id, head
    except Exception:  # warcio gives up on malformed records in many ways
        return


def capture_rows(entry: dict[str, Any], reader: RecordReader) -> list[tuple[Any, ...]]:
    """Rows for the response, revisit and resource records an entry names, and for an
    ingestion of a foreign WARC, every such record in that WARC."""
    seq = int(entry["seq"])
    discovery = entry.get("discovery")
    via = json.dumps(discovery, sort_keys=True, ensure_ascii=False) if discovery else None
    rows = []
    foreign = foreign_warc(entry)
    if foreign is not None:
        for offset, size, record_id, found in foreign_records(reader.archive, foreign):
            url = found.url or ""
            rows.append((record_id, url, surt_key(url), found.timestamp or "",
                         found.record_type, found.status, found.mime, found.payload_digest,
                         foreign, offset, size, found.revisit_of, seq, via))
    for r in entry.get("records") or []:
        if not isinstance(r, dict) or r.get("type") not in CAPTURE_TYPES:
            continue
        if not isinstance(r.get("file"), str) or not isinstance(r.get("offset"), int):
            continue
        if r["file"] == foreign:
            continue  # read above with the rest of that file
        length = r.get("length") if isinstance(r.get("length"), int) else None
        head = reader.head(r["file"], r["offset"], length)
        url = head.url or str(r.get("uri") or "")
        rows.append((str(r.get("id")), url, surt_key(url), head.timestamp or "",
                     head.record_type or str(r["type"]), head.status, head.mime,
                     head.payload_digest, r["file"], r["offset"], head.length or 0,
                     head.revisit_of, seq, via))
    return rows


CAPTURE_COLUMNS = ("record_id", "url", "surt", "timestamp", "record_type", "status", "mime",
                   "payload_digest", "file", "offset", "length", "revisit_of", "seq",
                   "discovered_via")

ARTICLE_COLUMNS = ("path", "id", "snapshot", "url", "record_id", "seq", "sha256", "text_sha256",
                   "title", "lead", "published_at", "section", "byline", "authors", "source",
                   "language", "captured_at", "extractor_version", "schema_version",
                   "recorded_at", "source_url", "final_url")


@dataclass
class ArticleRow:
    values: dict[str, Any]
    body: str | None  # for the full-text index
    folded: Folded | None = None  # its index form, when made by a worker


def article_rows(entry: dict[str, Any], archive: Archive,
                 docs: dict[str, dict[str, Any]] | None = None) -> list[ArticleRow]:
    """Rows for the article files an entry names: the manifest's claims (id, path, digests)
    plus the file's fields. An unreadable file still gets its row (the manifest wins), with
    the file's fields empty; `schema_version IS NULL` marks it."""
    source = entry.get("source") or {}
    rows = []
    for a in entry.get("articles") or []:
        if not isinstance(a, dict) or not a.get("id") or not a.get("path"):
            continue
        path = str(a["path"])
        doc = docs.pop(path, None) if docs else None
        doc = doc if doc is not None else _read_article(archive, path)
        byline = doc.get("byline") or {}
        publisher = doc.get("publisher") or {}
        capture = doc.get("capture") or {}
        extraction = doc.get("extraction") or {}
        authors = byline.get("authors")
        values = {
            "path": path, "id": str(a["id"]),
            "snapshot": path.rsplit("/", 1)[-1].removesuffix(".json"),
            "url": a.get("url") or doc.get("url"),
            "record_id": str(a.get("record_id") or path),
            "seq": int(entry["seq"]), "sha256": str(a.get("sha256") or ""),
            "text_sha256": a.get("text_sha256"),
            "title": doc.get("title"), "lead": doc.get("lead"),
            "published_at": doc.get("published_at"), "section": doc.get("section"),
            "byline": byline.get("raw"),
            "authors": json.dumps(authors, ensure_ascii=False) if authors is not None else None,
            "source": byline.get("source") or publisher.get("name"),
            "language": doc.get("language"), "captured_at": capture.get("warc_date"),
            "extractor_version": extraction.get("version"),
            "schema_version": doc.get("schema_version"),
            "recorded_at": str(entry.get("at") or ""),
            "source_url": source.get("url"), "final_url": source.get("final_url"),
        }
        body = "\n".join(str(p) for p in doc.get("body") or []) if doc else None
        rows.append(ArticleRow(values, body))
    return rows


def _read_article(archive: Archive, path: str) -> dict[str, Any]:
    try:
        doc = json.loads(archive.resolve(path).read_bytes())
    except Exception:  # missing, unreadable, unsafe path: audit reports it, not us
        return {}
    return doc if isinstance(doc, dict) else {}


@dataclass
class EntryRows:
    """The rows one entry's stored bytes give (what a rebuild reads; the writing is apart)."""

    captures: list[tuple[Any, ...]]
    articles: list[ArticleRow]


def entry_rows(entry: dict[str, Any], reader: RecordReader) -> EntryRows:
    return EntryRows(capture_rows(entry, reader),
                     article_rows(entry, reader.archive, reader.docs))


def reads_files(entry: dict[str, Any]) -> bool:
    """Whether the entry's rows need stored bytes read (records or articles named)."""
    return bool(entry.get("records") or entry.get("articles") or foreign_warc(entry))


def entry_rows_task(root: str, entries: list[dict[str, Any]]) -> list[EntryRows] | None:
    """A Dask worker's task: entry_rows for each entry (reads only); None when this worker
    cannot see the archive."""
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():
        return None
    reader = RecordReader(archive)
    try:
        found = [entry_rows(entry, reader) for entry in entries]
    finally:
        reader.close()
    for rows in found:
        for art in rows.articles:
            art.folded = folded(art.values, art.body)  # the client only inserts
    return found


ENTRIES_PER_TASK = 1000  # entries whose records and articles one worker task reads


def rows_for_lines(parsed: Iterator[tuple[bytes, dict[str, Any] | None]], archive: Archive,
                   cluster: Cluster | None
                   ) -> Iterator[tuple[bytes, dict[str, Any] | None, EntryRows | None]]:
    """The manifest lines with their parsed entries and, with a cluster, the rows its workers
    read for them (None: read here, as without a cluster), in manifest order."""
    if cluster is None:
        for raw, entry in parsed:
            yield raw, entry, None
        return

    def wanted(entry: dict[str, Any] | None) -> bool:
        return isinstance(entry, dict) and isinstance(entry.get("seq"), int) \
            and reads_files(entry)

    # The lines wait here while their rows are read; the window of map_ordered bounds them.
    pending: list[list[tuple[bytes, dict[str, Any] | None]]] = []

    def tasks() -> Iterator[Task]:
        for group in iter(lambda: list(islice(parsed, ENTRIES_PER_TASK)), []):
            pending.append(group)
            yield Task(entry_rows_task,
                       (str(archive.root), [e for _, e in group if e is not None and wanted(e)]))

    for found in cluster.map_ordered(tasks(), None, "catalog"):
        if found is None:
            raise UnreadableInputError(unreachable_archive(str(archive.root)))
        rows = iter(found)
        for raw, entry in pending.pop(0):
            yield raw, entry, next(rows) if wanted(entry) else None


def file_claims(entry: dict[str, Any]) -> tuple[list[tuple[str, str, int]],
                                                list[tuple[str, int]]]:
    """(whole files: path, sha256, size) and (ranges: file, end offset) an entry names."""
    whole = [(f["path"], f["sha256"], f["size"]) for f in entry.get("files") or []
             if isinstance(f, dict) and isinstance(f.get("path"), str)
             and isinstance(f.get("sha256"), str) and isinstance(f.get("size"), int)]
    ranges = [(r["file"], r["offset"] + r["length"]) for r in entry.get("ranges") or []
              if isinstance(r, dict) and isinstance(r.get("file"), str)
              and isinstance(r.get("offset"), int) and isinstance(r.get("length"), int)]
    return whole, ranges
