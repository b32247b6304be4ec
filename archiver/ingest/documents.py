"""ingest: local documents (HTML pages, plain-text transcripts) into the archive as WARC
`resource` records with their stated source URL, plus a `metadata` record about the file.

A document is ingested, not fetched: the metadata record and the manifest event say so, and
keep the original file name, size, mtime and sha256.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bs4 import BeautifulSoup

from archiver.base.errors import UnreadableInputError, UsageError
from archiver.ingest.outcome import Ingested, IngestOutcome, check_regular_file
from archiver.pipeline.commit import record_event, store_warc
from archiver.store.archive import Archive
from archiver.store.warc import RecordRef, WarcFileWriter, sha256_label, warc_fields

DOCUMENT_SUFFIXES = {".html": "text/html", ".htm": "text/html", ".xhtml": "text/html",
                     ".txt": "text/plain"}
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
URL_LINE = re.compile(r"^https?://\S+$")
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Document:
    """A local file read into a temporary copy (so it cannot change under us)."""

    path: Path
    content: IO[bytes]
    size: int
    sha256: str
    mtime: datetime
    content_type: str
    url: str
    url_from: str


def is_seed_list(text: str) -> bool:
    """A list of URLs to capture (one per line, # comments) is not a document."""
    stripped = (ln.strip() for ln in text.splitlines())
    lines = [ln for ln in stripped if ln and not ln.startswith("#")]
    return bool(lines) and all(URL_LINE.match(ln) for ln in lines)


def detect_content_type(path: Path, head: bytes) -> str | None:
    suffix_type = DOCUMENT_SUFFIXES.get(path.suffix.lower())
    sniff = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if sniff.startswith((b"<!doctype html", b"<html")):
        return "text/html"
    return suffix_type


def charset_of(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return None


def source_url(text: str, content_type: str, given: str | None) -> tuple[str, str] | None:
    """The document's stated source URL and where it came from."""
    if given:
        return given, "--url option"
    if content_type == "text/plain":
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if lines and URL_LINE.match(lines[-1]):
            return lines[-1], "last line of the transcript"
        return None
    soup = BeautifulSoup(text, "lxml")
    link = soup.find("link", rel="canonical", href=True)
    if link and URL_LINE.match(str(link["href"]).strip()):
        return str(link["href"]).strip(), "link[rel=canonical]"
    meta = soup.find("meta", property="og:url", content=True)
    if meta and URL_LINE.match(str(meta["content"]).strip()):
        return str(meta["content"]).strip(), "meta[property=og:url]"
    return None


def open_document(path: Path, url: str | None) -> Document:
    """Read a local file safely: regular files only, size-capped, copied before use."""
    info = check_regular_file(path)
    if info.st_size > MAX_DOCUMENT_BYTES:
        raise UsageError(f"{path}: {info.st_size} bytes is over the {MAX_DOCUMENT_BYTES} byte "
                         "limit for a document")
    content, sha, size = _copy(path)
    head = content.read(64 * 1024)
    content.seek(0)
    ctype = detect_content_type(path, head)
    if ctype is None:
        content.close()
        raise UsageError(f"{path}: not an HTML or plain-text document")
    data = content.read()
    content.seek(0)
    charset = charset_of(data)
    text = data.decode(charset or "latin-1", errors="replace")
    if ctype == "text/plain" and is_seed_list(text):
        content.close()
        raise _SeedList(f"{path}: a seed list (URLs to capture), not a document; "
                        f"capture it with `archiver capture --seeds {path}`")
    found = source_url(text, ctype, url)
    if found is None:
        content.close()
        raise UsageError(f"{path}: no source URL found in the document; give one with --url")
    full_type = f"{ctype}; charset={charset}" if charset else ctype
    return Document(path, content, size, sha, datetime.fromtimestamp(info.st_mtime, UTC),
                    full_type, found[0], found[1])


class _SeedList(UsageError):
    """A seed list met while ingesting a folder: skipped, not an error."""


def _copy(path: Path) -> tuple[IO[bytes], str, int]:
    h = hashlib.sha256()
    size = 0
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        with open(path, "rb") as f:
            while chunk := f.read(COPY_CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
    except OSError as exc:
        out.close()
        raise UnreadableInputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    out.seek(0)
    return out, h.hexdigest(), size


def ingest_document(archive: Archive, path: Path, url: str | None = None,
                    operator: str | None = None, explicit: bool = True,
                    seen: Ingested | None = None) -> IngestOutcome:
    """Ingest one local document; never raises for bad input (the outcome says why)."""
    shown = str(path)
    try:
        doc = open_document(path, url)
    except _SeedList as exc:
        return IngestOutcome(shown, "skipped", reason=str(exc).removeprefix(f"{path}: "))
    except UsageError as exc:
        if not explicit and DOCUMENT_SUFFIXES.get(path.suffix.lower()) is None:
            return IngestOutcome(shown, "skipped", reason="not a document type (.html, .txt)")
        return IngestOutcome(shown, "failed", reason=str(exc).removeprefix(f"{path}: "))
    except UnreadableInputError as exc:
        return IngestOutcome(shown, "failed", reason=str(exc).removeprefix(f"{path}: "))
    try:
        return _store_document(archive, doc, operator, seen or Ingested(archive))
    finally:
        doc.content.close()


def _store_document(archive: Archive, doc: Document, operator: str | None,
                    seen: Ingested) -> IngestOutcome:
    archive.ensure()
    earlier = seen.find(doc.sha256, doc.url)
    if earlier is not None:
        return IngestOutcome(str(doc.path), "already-ingested", url=doc.url,
                             reason=f"same bytes already ingested (manifest seq {earlier})",
                             seq=earlier)
    when = datetime.now(UTC)
    unit = store_warc(archive, when, operator, f"ingestion of local document {doc.path.name}",
                      lambda w: _write_document(w, doc, when))
    source = {"url": doc.url, "final_url": None, "status": None,
              "file": {"name": doc.path.name, "sha256": doc.sha256, "size": doc.size,
                       "mtime": doc.mtime.isoformat().replace("+00:00", "Z")}}
    art = unit.article
    detail = f"ingested, not fetched; URL from {doc.url_from}"
    if art is not None:
        detail += f"; article {art.article_id}" if art.status == "stored" else \
            f"; {art.status}: {art.reason}"
    status = "failure" if art is not None and art.status == "invalid" else "success"
    entry = record_event(archive, "ingestion", status, detail, operator, source=source,
                         **unit.manifest_fields())
    seen.note(entry)
    return IngestOutcome(str(doc.path), "ingested", url=doc.url, warc=unit.warc.path,
                         record_ids=[r.record_id for r in unit.records], article=art,
                         seq=entry["seq"])


def _write_document(writer: WarcFileWriter, doc: Document, when: datetime) -> RecordRef:
    doc.content.seek(0)
    ref = writer.write_record(
        "resource", doc.url, doc.content, when, content_type=doc.content_type,
        payload_digest=sha256_label(bytes.fromhex(doc.sha256)),
    )
    meta = {
        "original-name": doc.path.name,
        "size": str(doc.size),
        "mtime": doc.mtime.isoformat().replace("+00:00", "Z"),
        "sha256": doc.sha256,
        "target-uri-from": doc.url_from,
        "note": "ingested, not fetched",
    }
    writer.write_record(
        "metadata", doc.url, warc_fields(meta),
        when, content_type="application/warc-fields", payload_digest=None,
        extra={"WARC-Refers-To": ref.record_id},
    )
    return ref
