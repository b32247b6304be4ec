"""Which stored records an article can be derived from, in any WARC (ours or foreign).

A source is a 2xx `response` or a document `resource` (HTML or plain text). Redirect hops,
error answers and retried attempts are evidence, not sources. A `revisit` record stands for
its original: the original's payload under the revisit's URI and date (resolved by
WARC-Refers-To, or by payload digest, within the same file).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from archiver.store.warc import (
    DEFAULT_PAYLOAD_CAP,
    StoredRecord,
    iter_records,
    parse_warc_fields,
)

DOCUMENT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
# A document ingested compressed (page.html.gz) is stored as given: a `resource` record of
# this type, whose `metadata` record (WARC-Refers-To it) names the encoding and the type of
# the decoded document.
GZIP_TYPE = "application/gzip"
ENCODING_FIELD = "content-encoding"
DECODED_TYPE_FIELD = "decoded-content-type"


def is_document(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";")[0].strip().lower() in DOCUMENT_TYPES


def is_source(record: StoredRecord) -> bool:
    if record.rec_type == "response":
        return record.http_status is not None and 200 <= record.http_status < 300 \
            and is_document(record.content_type)
    if record.rec_type == "resource":
        return is_document(record.content_type)
    return False


def gunzip_capped(data: bytes, cap: int) -> tuple[bytes, bool]:
    """The gzip stream `data` inflated to at most `cap` bytes (a bomb stops there), and
    whether there was more. Raises ValueError if it is not gzip."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error as exc:
        raise ValueError(f"not a readable gzip stream: {exc}") from exc
    return out[:cap], len(out) > cap


def decoded_view(record: StoredRecord, content_type: str, cap: int) -> StoredRecord:
    """A gzip-stored document seen as the document: inflated payload, its own type."""
    if record.payload_truncated:  # only part of the gzip file was read: no honest view
        raise ValueError("stored compressed document is larger than the read cap")
    payload, truncated = gunzip_capped(record.payload, cap)
    return replace(record, payload=payload, payload_truncated=truncated,
                   headers={**record.headers, "Content-Type": content_type})


def _is_gzip_resource(record: StoredRecord) -> bool:
    return record.rec_type == "resource" and \
        (record.content_type or "").split(";")[0].strip().lower() == GZIP_TYPE


def _decoded_type(metadata: StoredRecord) -> str | None:
    """The decoded document's type, if this metadata record says its target is gzip."""
    try:
        fields = dict(parse_warc_fields(metadata.payload))
    except UnicodeDecodeError:
        return None
    if fields.get(ENCODING_FIELD) != "gzip" or not is_document(fields.get(DECODED_TYPE_FIELD)):
        return None
    return fields[DECODED_TYPE_FIELD]


def iter_sources(path: Path, cap: int = DEFAULT_PAYLOAD_CAP) -> Iterator[StoredRecord]:
    """Article sources in one WARC/ARC file, in file order, revisits resolved, gzip-stored
    documents decoded (when their metadata record comes)."""
    originals: dict[str, StoredRecord] = {}  # record id and payload digest -> source record
    compressed: dict[str, StoredRecord] = {}  # gzip resources waiting for their metadata
    kinds = ("response", "resource", "revisit", "metadata")

    def wanted(record: StoredRecord) -> bool:
        return is_source(record) or _is_gzip_resource(record) or (
            record.rec_type == "metadata"
            and record.headers.get("WARC-Refers-To", "") in compressed)

    for record in iter_records(path, cap, types=kinds, want_payload=wanted):
        if _is_gzip_resource(record):
            compressed[record.record_id] = record
        elif record.rec_type == "metadata":
            target = compressed.pop(record.headers.get("WARC-Refers-To", ""), None)
            decoded_type = _decoded_type(record) if target is not None else None
            if target is None or decoded_type is None:
                continue
            try:
                view = decoded_view(target, decoded_type, cap)
            except ValueError:
                continue  # not gzip after all: not a source
            yield view
        elif is_source(record):
            originals[record.record_id] = record
            digest = record.headers.get("WARC-Payload-Digest")
            if digest:
                originals.setdefault(digest, record)
            yield record
        elif record.rec_type == "revisit":
            original = _original_of(record, originals)
            if original is not None:
                yield replace(original, headers={**original.headers, **_revisit_view(record)},
                              offset=record.offset)


def _original_of(revisit: StoredRecord, originals: dict[str, StoredRecord]) -> StoredRecord | None:
    for key in (revisit.headers.get("WARC-Refers-To"), revisit.headers.get("WARC-Payload-Digest")):
        if key and key in originals:
            return originals[key]
    return None


def _revisit_view(revisit: StoredRecord) -> dict[str, str]:
    """The revisit's identity (URI, date, id) over the original's payload."""
    keep = ("WARC-Target-URI", "WARC-Date", "WARC-Record-ID")
    return {k: revisit.headers[k] for k in keep if k in revisit.headers}
