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
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import extract
from archiver.base.cluster import Cluster, Task, unreachable_archive
from archiver.base.cluster import Progress as TaskProgress
from archiver.base.errors import DamagedFileError, UnreadableInputError
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
             force: bool = False, cluster: Cluster | None = None,
             progress: TaskProgress | None = None) -> list[ExtractOutcome]:
    """Re-derive the selected records' articles (all when `selectors` is empty). Records
    whose article is current are skipped unless `force`. With a Dask `cluster`, its workers
    derive (a few WARCs per task) and this process alone writes: article files, the
    conversion WARC, the manifest event."""
    run = _Run(archive, selectors, on_done)
    known = {} if force else known_articles(archive)
    if cluster is not None:
        for rel, derived, damaged in _derive_on(cluster, archive, known, progress):
            for record, outcome, current in derived:
                run.take(rel, record, outcome, current)
            if damaged is not None:
                run.add(damaged)
    for rel in manifest_warcs(archive) if cluster is None else []:
        try:
            for record, outcome, current in iter_derived(archive, rel, known):
                run.take(rel, record, outcome, current)
        except (DamagedFileError, OSError) as exc:
            # What came before the damage is kept; the other WARCs are still read.
            run.add(_damaged(rel, exc))
    if run.pending.outcomes:
        _commit(archive, run.pending, operator)
    return run.results


@dataclass
class _Run:
    archive: Archive
    selectors: list[str]
    on_done: Callable[[ExtractOutcome], None] | None
    results: list[ExtractOutcome] = field(default_factory=list)
    pending: _Pending = field(default_factory=_Pending)

    def take(self, rel: str, record: StoredRecord, outcome: ArticleOutcome,
             current: bool) -> None:
        if not matches(self.selectors, record, outcome):
            return
        result = (ExtractOutcome(rel, record.record_id, record.target_uri, "unchanged", outcome)
                  if current else _place(self.archive, rel, record, outcome))
        if result.status in ("new", "changed"):
            self.pending.outcomes.append(result)
            self.pending.sources.append(record)
        self.add(result)

    def add(self, result: ExtractOutcome) -> None:
        self.results.append(result)
        if self.on_done:
            self.on_done(result)


Derived = tuple[StoredRecord, ArticleOutcome, bool]
FileResult = tuple[str, list[Derived], ExtractOutcome | None]  # (WARC, sources, damage)


def _derive_on(cluster: Cluster, archive: Archive, known: dict[str, KnownArticle],
               progress: TaskProgress | None) -> Iterator[FileResult]:
    shared = cluster.share(known)  # sent to the workers once, not with every task
    tasks = (Task(derive_files, (str(archive.root), batch, shared), size)
             for batch, size in _batches(archive, manifest_warcs(archive)))
    for results in cluster.map_ordered(tasks, progress, "extract"):
        if results is None:
            raise UnreadableInputError(unreachable_archive(str(archive.root))
                                       + "; nothing was written")
        yield from results


def derive_files(root: str, rels: list[str],
                 known: dict[str, KnownArticle]) -> list[FileResult] | None:
    """A worker's task: iter_derived over these WARCs, reading only. Payloads are dropped
    from the records returned (the client needs their ids and URIs, not their bytes)."""
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():
        return None
    out: list[FileResult] = []
    for rel in rels:
        derived: list[Derived] = []
        try:
            for record, outcome, current in iter_derived(archive, rel, known):
                derived.append((replace(record, payload=b""), outcome, current))
            out.append((rel, derived, None))
        except (DamagedFileError, OSError) as exc:  # sent back as its outcome: it pickles
            out.append((rel, derived, _damaged(rel, exc)))
    return out


TASK_FILES, TASK_BYTES = 64, 64 * 1024 * 1024  # WARCs per extract task, at most


def _batches(archive: Archive, rels: list[str]) -> Iterator[tuple[list[str], int]]:
    batch: list[str] = []
    size = 0
    for rel in rels:
        path = open_path(archive, rel)
        n = path.stat().st_size if path.is_file() else 0
        if batch and (len(batch) >= TASK_FILES or size + n > TASK_BYTES):
            yield batch, size
            batch, size = [], 0
        batch.append(rel)
        size += n
    if batch:
        yield batch, size


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
