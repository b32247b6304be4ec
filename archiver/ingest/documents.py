"""ingest: local documents (HTML pages, plain-text transcripts) into the archive as WARC
`resource` records with their stated source URL, plus a `metadata` record about the file.

A document is ingested, not fetched: the metadata record and the manifest event say so, and
keep the original file name, size, mtime and sha256.

A compressed document (page.html.gz, notes.txt.gz) is stored as given: the resource record's
block is the gzip file, typed `application/gzip` (RFC 6713), so replay serves what was handed
in; its metadata record names the encoding and the decoded document's type, and the article
is extracted from the decoded document, inflated only up to extraction's limit (bombs stop).
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

from archiver import extract
from archiver.base.errors import UnreadableInputError, UsageError
from archiver.ingest.outcome import Ingested, IngestOutcome, check_regular_file
from archiver.pipeline.commit import (
    ArticleOutcome,
    derive_article,
    record_event,
    store_article,
    store_warc,
    write_conversion,
)
from archiver.pipeline.sources import (
    DECODED_TYPE_FIELD,
    ENCODING_FIELD,
    GZIP_TYPE,
    gunzip_capped,
)
from archiver.store.archive import Archive
from archiver.store.warc import (
    RecordRef,
    WarcFileWriter,
    read_record_at,
    sha256_label,
    warc_fields,
)

DOCUMENT_SUFFIXES = {".html": "text/html", ".htm": "text/html",
                     ".xhtml": "application/xhtml+xml", ".txt": "text/plain"}
ENCODING_SUFFIXES = {".gz": "gzip"}  # page.html.gz: an HTML document, gzip-compressed
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024
# A compressed document is inflated to just past what extraction accepts: a bomb stops here
# and extraction then refuses the (too large) document.
MAX_DECODED_BYTES = extract.MAX_PAYLOAD_BYTES + 1
URL_LINE = re.compile(r"^https?://\S+$")
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Document:
    """A local file read into a temporary copy (so it cannot change under us)."""

    path: Path
    content: IO[bytes]  # the file's bytes, as given
    size: int
    sha256: str
    mtime: datetime
    content_type: str  # of the document (decoded, when it came compressed)
    url: str
    url_from: str
    encoding: str | None = None  # "gzip" for page.html.gz
    decoded: bytes = b""  # the decoded document (compressed ones only), capped
    decoded_truncated: bool = False  # it inflates to more than MAX_DECODED_BYTES

    @property
    def stored_type(self) -> str:
        """The resource record's Content-Type: what its block (the file as given) is."""
        return GZIP_TYPE if self.encoding else self.content_type


def is_seed_list(text: str) -> bool:
    """A list of URLs to capture (one per line, # comments) is not a document."""
    stripped = (ln.strip() for ln in text.splitlines())
    lines = [ln for ln in stripped if ln and not ln.startswith("#")]
    return bool(lines) and all(URL_LINE.match(ln) for ln in lines)


def document_kind(path: Path) -> tuple[str | None, str | None]:
    """(document type by suffix, content encoding): page.html.gz -> (text/html, gzip)."""
    suffixes = [s.lower() for s in path.suffixes]
    encoding = ENCODING_SUFFIXES.get(suffixes.pop()) if suffixes and \
        suffixes[-1] in ENCODING_SUFFIXES else None
    return (DOCUMENT_SUFFIXES.get(suffixes[-1]) if suffixes else None), encoding


def detect_content_type(suffix_type: str | None, head: bytes) -> str | None:
    sniff = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if suffix_type is None and sniff.startswith((b"<!doctype html", b"<html")):
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
    suffix_type, encoding = document_kind(path)
    data = content.read()
    content.seek(0)
    truncated = False
    if encoding == "gzip":
        try:
            data, truncated = gunzip_capped(data, MAX_DECODED_BYTES)
        except ValueError as exc:
            content.close()
            raise UsageError(f"{path}: {exc}") from exc
    ctype = detect_content_type(suffix_type, data[:64 * 1024])
    if ctype is None:
        content.close()
        raise UsageError(f"{path}: not an HTML or plain-text document")
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
                    full_type, found[0], found[1], encoding,
                    data if encoding else b"", truncated)


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
        if not explicit and document_kind(path)[0] is None:
            return IngestOutcome(shown, "skipped", reason="not a document type "
                                 "(.html, .htm, .xhtml, .txt, each also .gz)")
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
    decoded: list[ArticleOutcome] = []  # a compressed document's article, derived in the WARC
    unit = store_warc(archive, when, operator, f"ingestion of local document {doc.path.name}",
                      lambda w: _write_document(w, doc, when, decoded, archive))
    if decoded:
        unit.article = decoded[0]
        unit.article_file = store_article(archive, decoded[0])
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


def _write_document(writer: WarcFileWriter, doc: Document, when: datetime,
                    decoded: list[ArticleOutcome], archive: Archive) -> RecordRef | None:
    """The resource and metadata records. Returns the source record for store_warc to derive
    from, or None when the document is compressed: then its article is derived here, from
    the decoded document under the stored record's identity, into `decoded`."""
    doc.content.seek(0)
    ref = writer.write_record(
        "resource", doc.url, doc.content, when, content_type=doc.stored_type,
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
    if doc.encoding:
        meta[ENCODING_FIELD] = doc.encoding
        meta[DECODED_TYPE_FIELD] = doc.content_type
        meta["decoded-size"] = (f"over {MAX_DECODED_BYTES} (not inflated further)"
                                if doc.decoded_truncated else str(len(doc.decoded)))
    writer.write_record(
        "metadata", doc.url, warc_fields(meta),
        when, content_type="application/warc-fields", payload_digest=None,
        extra={"WARC-Refers-To": ref.record_id},
    )
    if not doc.encoding:
        return ref
    writer.out.flush()
    written = Path(writer.out.name)  # the WARC's temporary name, beside its final one
    stored = read_record_at(written, ref.offset, cap=0)
    stored.payload = doc.decoded
    stored.headers["Content-Type"] = doc.content_type
    outcome = derive_article(stored, archive.relpath(written.with_name(writer.filename)))
    decoded.append(outcome)
    write_conversion(writer, outcome, doc.url, ref.record_id, when)
    return None
