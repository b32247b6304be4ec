"""One unit of storage, shared by capture and ingest: a new WARC file, the article derived from
its source record, and the manifest event that names them both.

Order matters for crash safety: WARC (fsynced, renamed) -> article file (fsynced, renamed) ->
manifest entry. A crash before the entry leaves orphans (audit warns), never an entry that
names a missing or partial file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.base import agent, schemas
from archiver.store.archive import Archive, FileInfo, new_capture_id
from archiver.store.events import (
    record_event as record_event,  # re-exported: callers import it here
)
from archiver.store.events import record_events as record_events
from archiver.store.events import update_catalog as update_catalog
from archiver.store.warc import (
    CONFORMS_TO,
    FORMAT,
    RecordRef,
    StoredRecord,
    WarcFileWriter,
    read_record_at,
)


def extractors() -> Any:
    """archiver.extract, imported when first needed: lxml and trafilatura take ~0.3 s to
    import, which a capture with --no-extract (or an audit) should not pay."""
    from archiver import extract

    return extract


SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")


@dataclass
class ArticleOutcome:
    """What became of the article derived from one source record."""

    status: str  # "stored", "not-article", "invalid"
    reason: str = ""
    article: dict[str, Any] | None = None
    path: str | None = None
    sha256: str | None = None
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def article_id(self) -> str | None:
        return self.article.get("id") if self.article else None

    def manifest_entry(self) -> dict[str, Any] | None:
        if self.status != "stored" or not self.article or not self.path or not self.sha256:
            return None
        byline = self.article.get("byline") or {}
        return {
            "id": self.article["id"],
            "path": self.path,
            "sha256": self.sha256,
            "url": self.article.get("url"),
            "text_sha256": self.article.get("text_sha256"),
            "record_id": self.article.get("capture", {}).get("record_id", ""),
            "byline": {"raw": byline.get("raw"), "authors": list(byline.get("authors") or []),
                       "source": byline.get("source")},
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "id": self.article_id, "path": self.path}
        if self.reason:
            out["reason"] = self.reason
        if self.errors:
            out["errors"] = [{"pointer": p, "message": m} for p, m in self.errors]
        if self.article:
            out["byline"] = self.article.get("byline")
        return out


def warcinfo_fields(operator: str | None, description: str) -> dict[str, str]:
    libs = agent.library_versions()
    return {
        "software": agent.software(),
        "libraries": " ".join(f"{k}/{v}" for k, v in sorted(libs.items())),
        "format": FORMAT,
        "conformsTo": CONFORMS_TO,
        "hostname": agent.hostname(),
        "operator": operator or agent.default_operator(),
        "http-header-user-agent": agent.user_agent(),
        "robots": "ignore",
        "description": description,
    }


def snapshot_name(record: StoredRecord) -> str:
    """Per-snapshot file name, derived from the source record so re-extraction is stable."""
    date = re.sub(r"[^0-9TZ]", "", record.headers.get("WARC-Date", ""))[:15]
    uuid = re.sub(r"[^0-9a-f]", "", record.record_id.lower().removeprefix("<urn:uuid:"))[:8]
    return f"{date}Z-{uuid}" if date else uuid


def article_relpath(article_id: str, record: StoredRecord) -> str:
    return f"articles/{article_id}/{snapshot_name(record)}.json"


def derive_article(record: StoredRecord, warc_relpath: str) -> ArticleOutcome:
    """Extract and validate the article from a stored record (never from the network)."""
    extract = extractors()
    source = extract.SourceRecord(
        url=record.target_uri,
        payload=record.payload,
        content_type=record.content_type,
        warc_path=warc_relpath,
        record_id=record.record_id,
        warc_date=record.headers.get("WARC-Date", ""),
        payload_digest=record.headers.get("WARC-Payload-Digest")
        or record.headers.get("WARC-Block-Digest"),
        http_status=record.http_status,
    )
    result = extract.extract(source)
    if isinstance(result, extract.NotAnArticle):
        return ArticleOutcome("not-article", reason=result.reason)
    errors = schemas.validate(result, "article")
    if errors:
        return ArticleOutcome("invalid", reason="article fails schemas/article.schema.json",
                              article=result, errors=errors)
    if not SAFE_ID.match(str(result.get("id", ""))):
        return ArticleOutcome("invalid", reason=f"unsafe article id {result.get('id')!r}",
                              article=result)
    return ArticleOutcome("stored", article=result,
                          path=article_relpath(result["id"], record))


ARTICLE_URN = "urn:archiver:article:"


def write_conversion(writer: WarcFileWriter, outcome: ArticleOutcome, source_uri: str,
                     source_id: str, when: datetime) -> None:
    """The article as a WARC conversion record pointing at its source record.

    Its target URI is `urn:archiver:article:<page URL>`, not the page URL itself: replay
    tools index conversion records, and one under the page's URL would be served in place
    of the page (the convention ArchiveWeb.page follows with its urn:pageinfo: records)."""
    if outcome.status != "stored" or outcome.article is None:
        return
    writer.write_record(
        "conversion", ARTICLE_URN + source_uri,
        extractors().article_json_bytes(outcome.article),
        when, content_type="application/json", payload_digest=None,
        extra={"WARC-Refers-To": source_id},
    )


def place_article(archive: Archive, outcome: ArticleOutcome, data: bytes | None = None) -> str:
    """Where a derived article goes, never over a different file: "new" (its snapshot path is
    free), "unchanged" (identical bytes already there) or "changed" (a new file beside it,
    named by a digest of its bytes). Sets outcome.path accordingly. `data`: the article's
    file bytes, when the caller has made them already."""
    assert outcome.path is not None and outcome.article is not None
    if data is None:
        data = extractors().article_json_bytes(outcome.article)
    target = archive.resolve(outcome.path)
    if not target.exists():
        return "new"
    if target.read_bytes() == data:
        outcome.sha256 = hashlib.sha256(data).hexdigest()
        return "unchanged"
    digest = hashlib.sha256(data).hexdigest()[:12]
    outcome.path = str(Path(outcome.path).with_name(f"{target.stem}--{digest}.json"))
    return "changed"


@dataclass
class StoredUnit:
    """A WARC written into the archive, with what was derived from it."""

    warc: FileInfo
    records: list[RecordRef]
    article: ArticleOutcome | None
    article_file: FileInfo | None = None

    def manifest_fields(self) -> dict[str, Any]:
        files = [self.warc.to_dict()]
        if self.article_file:
            files.append(self.article_file.to_dict())
        art = self.article.manifest_entry() if self.article else None
        return {
            "files": files,
            "records": [{"id": r.record_id, "type": r.rec_type, "file": self.warc.path,
                         "uri": r.target_uri, "offset": r.offset} for r in self.records],
            "articles": [art] if art else [],
        }


WriteRecords = Callable[[WarcFileWriter], RecordRef | None]


def store_warc(archive: Archive, when: datetime, operator: str | None, description: str,
               write_records: WriteRecords, derive: bool = True,
               warcinfo: dict[str, str] | None = None) -> StoredUnit:
    """Write a new WARC (warcinfo + what `write_records` writes), derive the article from the
    source record it returns, and put the article file in place. No manifest entry yet.
    `warcinfo` overrides warcinfo fields (the crawler's robots policy and User-Agent)."""
    capture_id = new_capture_id(when)
    rel = archive.warc_relpath(capture_id, when)
    outcome: ArticleOutcome | None = None
    with archive.atomic_file(rel) as f:
        writer = WarcFileWriter(f, Path(rel).name)
        writer.write_warcinfo({**warcinfo_fields(operator, description), **(warcinfo or {})},
                              when)
        source = write_records(writer)
        if source is not None and derive:
            f.flush()
            # cap decompression just past what extraction accepts (bombs stop here)
            stored = read_record_at(Path(f.name), source.offset,
                                    cap=extractors().MAX_PAYLOAD_BYTES + 1)
            outcome = derive_article(stored, rel)
            write_conversion(writer, outcome, source.target_uri or "", source.record_id, when)
        refs = list(writer.refs)
    unit = StoredUnit(archive.file_info(rel), refs, outcome)
    if outcome is not None:
        unit.article_file = store_article(archive, outcome)
    return unit


def store_article(archive: Archive, outcome: ArticleOutcome) -> FileInfo | None:
    """Put a stored article's file in place, durably (never over a different file: see
    place_article), and record its sha256 on the outcome. None when nothing is stored."""
    if outcome.status != "stored" or not outcome.path or outcome.article is None:
        return None
    data = extractors().article_json_bytes(outcome.article)
    if place_article(archive, outcome, data) != "unchanged":
        archive.write_bytes(outcome.path, data)
    outcome.sha256 = hashlib.sha256(data).hexdigest()
    return FileInfo(outcome.path, outcome.sha256, len(data))


def index_warcs(archive: Archive, *relpaths: str) -> str | None:
    """Give each WARC that has none its own CDXJ in indexes/ (read from the file: a WARC made
    elsewhere, or one per ingested document; the committer writes rolling WARCs' own at
    seal). Never a rewrite of a merged index. Derived data (`archiver index` rebuilds it),
    so a failure here is a warning, never a failed capture."""
    from archiver.store import cdxj

    try:
        for rel in relpaths:
            if not (archive.root / cdxj.index_name(rel)).exists():
                cdxj.index_warc_file(archive, rel)
    except Exception as exc:
        return f"indexes not updated ({type(exc).__name__}: {exc}); run `archiver index`"
    return None


