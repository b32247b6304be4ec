"""Article extraction from a stored WARC record (never from a second fetch).

Pipeline: refuse non-documents (HTTP errors, images, empty payloads) -> decode bytes (BOM,
HTTP charset, <meta>, UTF-8) -> pick a profile (vov.vn, transcript for text/plain, generic)
-> fill fields with per-field evidence -> assemble the JSON-ready article with its capture
reference, normalisation record and text digest. `extract` never raises: anything it
cannot handle becomes a NotAnArticle with one human line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from archiver.extract import dom, structured
from archiver.extract.fields import Fields, Page, host_of
from archiver.extract.profiles import extract_html, transcript
from archiver.extract.text import Normalizer, decode

EXTRACTOR_NAME = "archiver.extract"
EXTRACTOR_VERSION = "0.3.0"  # bump whenever extraction output changes: extract --all re-derives
SCHEMA_VERSION = "1.0.0"

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
# Types that say nothing about the content; the bytes are sniffed instead.
UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream", "unknown/unknown"})
# Larger payloads are not news articles and would only cost memory and time.
# A news page is well under 1 MiB of HTML; past this we refuse rather than spend seconds and
# gigabytes parsing (a decompression bomb declared text/html is the usual case).
MAX_PAYLOAD_BYTES = 8 * 1024 * 1024

__all__ = ["EXTRACTOR_NAME", "EXTRACTOR_VERSION", "SCHEMA_VERSION", "NotAnArticle",
           "SourceRecord", "article_json_bytes", "extract"]


@dataclass(frozen=True)
class SourceRecord:
    """The stored WARC record an article is derived from (never a second fetch)."""

    url: str                     # WARC-Target-URI
    payload: bytes               # entity body, transfer- and content-decoded
    content_type: str | None     # HTTP Content-Type (response) or record Content-Type
    warc_path: str               # relative to the archive root
    record_id: str               # "<urn:uuid:...>"
    warc_date: str               # WARC-Date as stored
    payload_digest: str | None   # WARC-Payload-Digest (block digest for resource records)
    http_status: int | None = None   # None for resource records


@dataclass(frozen=True)
class NotAnArticle:
    reason: str                  # one human line: "HTTP 404", "no article body found"


def extract(source: SourceRecord) -> dict[str, Any] | NotAnArticle:
    """The article document (matches schemas/article.schema.json) or NotAnArticle."""
    try:
        return _extract(source)
    except (Exception, RecursionError, MemoryError) as exc:  # garbage in must not crash ingest
        return NotAnArticle(f"extraction failed: {type(exc).__name__}: {exc}"[:300])


def article_json_bytes(article: dict[str, Any]) -> bytes:
    """Canonical file bytes: UTF-8, sorted keys, 2-space indent, trailing newline."""
    text = json.dumps(article, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def _extract(source: SourceRecord) -> dict[str, Any] | NotAnArticle:
    if source.http_status is not None and not 200 <= source.http_status < 300:
        return NotAnArticle(f"HTTP {source.http_status}")
    if len(source.payload) > MAX_PAYLOAD_BYTES:
        return NotAnArticle(f"payload of {len(source.payload)} bytes is too large for a page")
    if not source.payload.strip():
        return NotAnArticle("empty payload")
    kind = _kind(source.content_type, source.payload)
    if kind is None:
        return NotAnArticle(f"content type {_mime(source.content_type)} is not a document")
    norm = Normalizer()
    if kind == "text":
        text, charset = decode(source.payload, source.content_type, is_html=False)
        result = transcript.extract(text, source.url, norm)
    else:
        text, charset = decode(source.payload, source.content_type, is_html=True)
        root = dom.parse(text)
        if root is None:
            return NotAnArticle("no HTML elements in the document")
        page = Page(root=root, structured=structured.read(root), url=source.url, norm=norm,
                    charset=charset)
        result = extract_html(page)
    if isinstance(result, str):
        return NotAnArticle(result)
    return _document(source, result, norm, charset)


def _mime(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _looks_binary(head: bytes) -> bool:
    """NUL bytes in text mean binary served under a text type (UTF-16 aside)."""
    return b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff"))


def _kind(content_type: str | None, payload: bytes) -> str | None:
    """'html', 'text' or None (not a document). Untyped payloads are sniffed."""
    mime = _mime(content_type)
    if _looks_binary(payload[:2048]):
        return None
    if mime in HTML_TYPES:
        return "html"
    if mime in TEXT_TYPES:
        return "text"
    if mime not in UNTYPED:
        return None
    head = payload[:2048]
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "html"
    return "text"


def stable_id(url: str) -> str:
    """`<host-with-dashes>-<first 12 hex of sha256(url)>`: same URL, same id."""
    slug = re.sub(r"[^a-z0-9]+", "-", host_of(url).removeprefix("www.")).strip("-")[:100]
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return f"{slug or 'doc'}-{digest}"


def text_sha256(lead: str | None, body: list[str]) -> str:
    """sha256 (hex) of the normalised text: lead and body paragraphs joined by newlines."""
    text = "\n".join(([lead] if lead else []) + body)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _document(source: SourceRecord, f: Fields, norm: Normalizer, charset: str) -> dict[str, Any]:
    if f.missing("id"):
        f.put("id", stable_id(f.url), "URL host + first 12 hex of sha256(url)")
    return {
        "id": f.id,
        "url": f.url,
        "canonical_url": f.canonical_url,
        "title": f.title,
        "lead": f.lead,
        "body": list(f.body),
        "section": f.section,
        "tags": list(f.tags),
        "language": f.language,
        "published_at": f.published_at,
        "modified_at": f.modified_at,
        "images": [dict(image) for image in f.images],
        "publisher": dict(f.publisher),
        "byline": {**f.byline, "authors": list(f.byline["authors"])},
        "capture": {
            "warc_path": source.warc_path,
            "record_id": source.record_id,
            "warc_date": source.warc_date,
            "payload_digest": source.payload_digest,
            "url": source.url,
        },
        "extraction": {
            "extractor": EXTRACTOR_NAME,
            "version": EXTRACTOR_VERSION,
            "profile": f.profile,
            "normalization": norm.steps(),
            "charset": charset,
            "evidence": dict(sorted(f.evidence.items())),
        },
        "text_sha256": text_sha256(f.lead, f.body),
        "schema_version": SCHEMA_VERSION,
    }
