"""Which stored records an article can be derived from, in any WARC (ours or foreign).

A source is a 2xx `response` or a document `resource` (HTML or plain text). Redirect hops,
error answers and retried attempts are evidence, not sources. A `revisit` record stands for
its original: the original's payload under the revisit's URI and date (resolved by
WARC-Refers-To, or by payload digest, within the same file).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from archiver.store.warc import DEFAULT_PAYLOAD_CAP, StoredRecord, iter_records

DOCUMENT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


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


def iter_sources(path: Path, cap: int = DEFAULT_PAYLOAD_CAP) -> Iterator[StoredRecord]:
    """Article sources in one WARC/ARC file, in file order, revisits resolved."""
    originals: dict[str, StoredRecord] = {}  # record id and payload digest -> source record
    kinds = ("response", "resource", "revisit")
    for record in iter_records(path, cap, types=kinds, want_payload=is_source):
        if is_source(record):
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
