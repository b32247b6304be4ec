"""extract: re-derive articles offline from the stored WARCs (never the network).

Extraction is deterministic, so re-running it on an unchanged corpus with the same extractor
writes nothing. When the output differs (a newer extractor), the new article goes to a new
file beside the old one (files named by the manifest are never rewritten), its conversion
record to a new WARC, and a `metadata extraction` event names them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver import extract
from archiver.base.cluster import Cluster, Task
from archiver.base.cluster import Progress as TaskProgress
from archiver.base.errors import UnreadableInputError
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
from archiver.store.warc import RecordRef, StoredRecord, WarcFileWriter


@dataclass
class ExtractOutcome:
    warc: str
    record_id: str
    url: str
    status: str  # "new", "unchanged", "changed", "not-article", "invalid"
    article: ArticleOutcome

    @property
    def ok(self) -> bool:
        return self.status != "invalid"

    def to_dict(self, with_article: bool = False) -> dict[str, Any]:
        out = {**self.article.to_dict(), "warc": self.warc, "record_id": self.record_id,
               "url": self.url, "status": self.status}
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
        for f in entry.get("files") or []:
            if isinstance(f, dict) and str(f.get("path", "")).startswith("warcs/"):
                seen.setdefault(f["path"], None)
    return list(seen)


Derived = tuple[str, StoredRecord, ArticleOutcome]


def iter_derived(archive: Archive, cluster: Cluster | None = None,
                 progress: TaskProgress | None = None) -> Iterator[Derived]:
    """Every source record's article, WARC by WARC in manifest order; on a Dask cluster, a
    few WARCs per task, the results in the same order (the workers only read)."""
    rels = manifest_warcs(archive)
    if cluster is None:
        for rel in rels:
            yield from derive_files(str(archive.root), [rel]) or []
        return
    tasks = (Task(derive_files, (str(archive.root), batch), size)
             for batch, size in _batches(archive, rels))
    for derived in cluster.map_ordered(tasks, progress, "extract"):
        if derived is None:
            raise UnreadableInputError(f"a Dask worker cannot read the archive at {archive.root}"
                                       " (workers must mount it at the same path); nothing "
                                       "was written")
        yield from derived


def derive_files(root: str, rels: list[str]) -> list[Derived] | None:
    """The articles of these WARCs (a task: reads only). Payloads are dropped from the
    records returned: the client needs their ids and URIs, not their bytes."""
    archive = Archive(Path(root))
    if len(rels) > 0 and not archive.manifest_path.is_file():
        return None
    out = []
    for rel in rels:
        for record in iter_sources(archive.resolve(rel)):
            outcome = derive_article(record, rel)
            out.append((rel, replace(record, payload=b""), outcome))
    return out


TASK_FILES, TASK_BYTES = 64, 64 * 1024 * 1024  # WARCs per extract task, at most


def _batches(archive: Archive, rels: list[str]) -> Iterator[tuple[list[str], int]]:
    batch: list[str] = []
    size = 0
    for rel in rels:
        path = archive.resolve(rel)
        n = path.stat().st_size if path.is_file() else 0
        if batch and (len(batch) >= TASK_FILES or size + n > TASK_BYTES):
            yield batch, size
            batch, size = [], 0
        batch.append(rel)
        size += n
    if batch:
        yield batch, size


def matches(selectors: list[str], record: StoredRecord, outcome: ArticleOutcome) -> bool:
    if not selectors:
        return True
    return any(s in (outcome.article_id, record.target_uri, record.record_id) for s in selectors)


def rederive(archive: Archive, selectors: list[str], operator: str | None = None,
             on_done: Callable[[ExtractOutcome], None] | None = None,
             cluster: Cluster | None = None,
             progress: TaskProgress | None = None) -> list[ExtractOutcome]:
    """Re-derive the selected (or all) articles; only this process writes (article files,
    the conversion WARC, the manifest event), also when a Dask `cluster` derives them."""
    results: list[ExtractOutcome] = []
    pending = _Pending()
    for rel, record, outcome in iter_derived(archive, cluster, progress):
        if not matches(selectors, record, outcome):
            continue
        result = _place(archive, rel, record, outcome)
        results.append(result)
        if result.status in ("new", "changed"):
            pending.outcomes.append(result)
            pending.sources.append(record)
        if on_done:
            on_done(result)
    if pending.outcomes:
        _commit(archive, pending, operator)
    return results


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
