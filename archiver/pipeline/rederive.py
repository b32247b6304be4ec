"""extract: re-derive articles offline from the stored WARCs (never the network).

Extraction is deterministic, so re-running it on an unchanged corpus with the same extractor
writes nothing; and a record whose article file is intact and was made by this extractor and
schema version is not even re-derived (`force` re-derives everything). When the output
differs (a newer extractor), the new article goes to a new file beside the old one (files
named by the manifest are never rewritten), its conversion record to a new WARC, and a
`metadata extraction` event names them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archiver import extract
from archiver.base.errors import DamagedFileError
from archiver.pipeline.commit import (
    ArticleOutcome,
    derive_article,
    place_article,
    record_event,
    store_warc,
    write_conversion,
)
from archiver.pipeline.sources import iter_sources
from archiver.store.archive import Archive, FileInfo
from archiver.store.rolling import open_path
from archiver.store.warc import RecordRef, StoredRecord, WarcFileWriter


@dataclass
class ExtractOutcome:
    warc: str
    record_id: str
    url: str
    status: str  # "new", "unchanged", "changed", "not-article", "invalid", "damaged"
    article: ArticleOutcome
    offset: int | None = None  # of a damaged WARC: where it stops parsing

    @property
    def ok(self) -> bool:
        return self.status not in ("invalid", "damaged")

    def to_dict(self, with_article: bool = False) -> dict[str, Any]:
        out = {**self.article.to_dict(), "warc": self.warc, "record_id": self.record_id,
               "url": self.url, "status": self.status}
        if self.offset is not None:
            out["offset"] = self.offset
        if with_article and self.article.article is not None:
            out["article"] = self.article.article
        return out


@dataclass
class _Pending:
    """New article files waiting for their conversion records and manifest event."""

    outcomes: list[ExtractOutcome] = field(default_factory=list)
    sources: list[StoredRecord] = field(default_factory=list)


def manifest_warcs(archive: Archive) -> list[str]:
    from archiver.store import manifest

    seen: dict[str, None] = {}
    for entry in manifest.iter_entries(archive.manifest_path):
        # A rolling WARC is named by its records (and its seal, once sealed), not by the
        # `files` of the captures written into it.
        named = [f.get("path") for f in entry.get("files") or [] if isinstance(f, dict)]
        named += [r.get("file") for r in entry.get("records") or [] if isinstance(r, dict)]
        for path in named:
            if isinstance(path, str) and path.startswith("warcs/"):
                seen.setdefault(path, None)
    return list(seen)


@dataclass(frozen=True)
class KnownArticle:
    """The article file the archive holds for a source record, as recorded."""

    path: str
    sha256: str


def known_articles(archive: Archive) -> dict[str, KnownArticle]:
    """The newest article file recorded for each source record id. The one place that asks:
    the manifest today, the catalog's `articles` table once it exists."""
    from archiver.store import manifest

    known: dict[str, KnownArticle] = {}
    for entry in manifest.iter_entries(archive.manifest_path):
        for art in entry.get("articles") or []:
            if isinstance(art, dict) and art.get("record_id") and art.get("path"):
                known[str(art["record_id"])] = KnownArticle(str(art["path"]),
                                                            str(art.get("sha256") or ""))
    return known


def current_article(archive: Archive, known: KnownArticle | None, warc: str,
                    record: StoredRecord) -> ArticleOutcome | None:
    """The stored article of `record` if re-deriving it would give the same file: intact (its
    sha256 as recorded), from this very record, made by this extractor and schema version.
    None means derive it again."""
    if known is None:
        return None
    try:
        data = archive.resolve(known.path).read_bytes()
    except OSError:  # lost (or an unsafe recorded path): re-derive puts it back
        return None
    if hashlib.sha256(data).hexdigest() != known.sha256:
        return None
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    extraction, capture = doc.get("extraction") or {}, doc.get("capture") or {}
    if (extraction.get("version") != extract.EXTRACTOR_VERSION
            or doc.get("schema_version") != extract.SCHEMA_VERSION
            or capture.get("warc_path") != warc or capture.get("record_id") != record.record_id):
        return None
    return ArticleOutcome("stored", article=doc, path=known.path, sha256=known.sha256)


def iter_derived(archive: Archive, rel: str, known: dict[str, KnownArticle],
                 ) -> Iterator[tuple[StoredRecord, ArticleOutcome, bool]]:
    """(source record, its article, whether the stored article is current and was reused
    instead of re-derived) for each source record of one WARC. Raises DamagedFileError
    where the file stops parsing."""
    for record in iter_sources(open_path(archive, rel)):  # `<rel>.open` while being written
        current = current_article(archive, known.get(record.record_id), rel, record)
        if current is not None:
            yield record, current, True
        else:
            yield record, derive_article(record, rel), False


def matches(selectors: list[str], record: StoredRecord, outcome: ArticleOutcome) -> bool:
    if not selectors:
        return True
    return any(s in (outcome.article_id, record.target_uri, record.record_id) for s in selectors)


def rederive(archive: Archive, selectors: list[str], operator: str | None = None,
             on_done: Callable[[ExtractOutcome], None] | None = None,
             force: bool = False) -> list[ExtractOutcome]:
    """Re-derive the selected records' articles (all when `selectors` is empty). Records
    whose article is current are skipped unless `force`."""
    results: list[ExtractOutcome] = []
    pending = _Pending()
    known = {} if force else known_articles(archive)
    for rel in manifest_warcs(archive):
        try:
            for record, outcome, current in iter_derived(archive, rel, known):
                if not matches(selectors, record, outcome):
                    continue
                result = (ExtractOutcome(rel, record.record_id, record.target_uri, "unchanged",
                                         outcome)
                          if current else _place(archive, rel, record, outcome))
                results.append(result)
                if result.status in ("new", "changed"):
                    pending.outcomes.append(result)
                    pending.sources.append(record)
                if on_done:
                    on_done(result)
        except (DamagedFileError, OSError) as exc:
            # What came before the damage is kept; the other WARCs are still read.
            result = _damaged(rel, exc)
            results.append(result)
            if on_done:
                on_done(result)
    if pending.outcomes:
        _commit(archive, pending, operator)
    return results


def _damaged(rel: str, exc: DamagedFileError | OSError) -> ExtractOutcome:
    if isinstance(exc, DamagedFileError):
        reason, offset = f"stops parsing: {exc.reason}", exc.offset
    else:
        reason, offset = f"cannot read: {exc.strerror or exc}", None
    return ExtractOutcome(rel, "", "", "damaged", ArticleOutcome("damaged", reason=reason),
                          offset=offset)


def _place(archive: Archive, rel: str, record: StoredRecord,
           outcome: ArticleOutcome) -> ExtractOutcome:
    status = outcome.status
    if outcome.status == "stored":
        status = place_article(archive, outcome)
    return ExtractOutcome(rel, record.record_id, record.target_uri, status, outcome)


def _commit(archive: Archive, pending: _Pending, operator: str | None) -> None:
    when = datetime.now(UTC)

    def write(writer: WarcFileWriter) -> RecordRef | None:
        for result, source in zip(pending.outcomes, pending.sources, strict=True):
            write_conversion(writer, result.article, source.target_uri, source.record_id, when)
        return None

    unit = store_warc(archive, when, operator, "re-extraction of stored records", write,
                      derive=False)
    files: list[FileInfo] = [unit.warc]
    articles = []
    for result in pending.outcomes:
        art = result.article
        assert art.path is not None and art.article is not None
        archive.write_bytes(art.path, extract.article_json_bytes(art.article))
        info = archive.file_info(art.path)
        art.sha256 = info.sha256
        files.append(info)
        articles.append(art.manifest_entry())
    fields = unit.manifest_fields()
    fields["files"] = [f.to_dict() for f in files]
    fields["articles"] = articles
    record_event(archive, "metadata extraction", "success",
                 f"{len(articles)} articles re-derived offline from stored records "
                 f"({extract.EXTRACTOR_NAME} {extract.EXTRACTOR_VERSION})", operator, **fields)
