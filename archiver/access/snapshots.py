"""Repeated snapshots of one article: which captures exist, the latest one, and what changed.

Capturing a URL again is normal (daily snapshots). Each capture's article goes to its own file
`articles/<article-id>/<snapshot>.json`, so snapshots never overwrite each other. Every
capture/ingestion event names the article files it produced with their `text_sha256`, and
catalog.sqlite (derived from those events) answers "which snapshots has this article" by
index, so listing snapshots reads neither the whole manifest nor the article files, and
deciding "did the text change" compares two digests before any file is opened. When the
catalog cannot be opened (a read-only copy of an archive), the manifest is read instead.

Snapshots are listed in manifest order (the order they entered the archive); a re-extraction of
the same capture (same source record, newer extractor) replaces that capture's entry rather
than counting as a new snapshot.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from archiver.base.errors import DamagedFileError, StoreError, UsageError
from archiver.base.findings import Finding
from archiver.store import manifest
from archiver.store.archive import Archive


@dataclass
class Snapshot:
    """One capture of an article, as the manifest names it."""

    article_id: str
    path: str  # the article file, relative to the archive root
    url: str | None  # the article's URL
    source_urls: tuple[str, ...]  # what was asked for and where redirects ended
    record_id: str  # the WARC record the article came from
    text_sha256: str | None
    sha256: str  # of the article file
    seq: int  # manifest entry that recorded it
    recorded_at: str  # that entry's time
    number: int = 0  # 1-based position among the article's snapshots
    _article: dict[str, Any] | None = field(default=None, repr=False)
    row: dict[str, Any] | None = field(default=None, repr=False)  # its catalog row, if any

    def load(self, archive: Archive) -> dict[str, Any]:
        """The article document (read once, then kept). A missing or damaged file raises
        StoreError (DamagedFileError, with the offset where the JSON breaks)."""
        if self._article is None:
            path = archive.resolve(self.path)
            try:
                data = path.read_bytes()
            except FileNotFoundError as exc:
                raise StoreError(f"{self.path}: article file named by the manifest is missing "
                                 "(run `archiver audit`)") from exc
            except OSError as exc:
                raise DamagedFileError(self.path, None, f"cannot read: {exc}") from exc
            try:
                doc = json.loads(data)
            except ValueError as exc:
                raise DamagedFileError(self.path, _byte_offset(data, exc),
                                       f"not readable JSON: {exc}") from exc
            if not isinstance(doc, dict):
                raise DamagedFileError(self.path, 0, "not a JSON object")
            self._article = doc
        return self._article

    def captured_at(self, archive: Archive) -> str:
        """The WARC-Date of the source record: when the page was fetched."""
        if self.row is not None and self.row["captured_at"]:
            return str(self.row["captured_at"])  # the catalog read it from the file
        capture = self.load(archive).get("capture") or {}
        return str(capture.get("warc_date") or self.recorded_at)

    def matches(self, query: str) -> bool:
        return query == self.article_id or query == self.url or query in self.source_urls

    def to_dict(self, archive: Archive) -> dict[str, Any]:
        capture = self.load(archive).get("capture") or {}
        return {
            "number": self.number,
            "captured_at": self.captured_at(archive),
            "text_sha256": self.text_sha256,
            "path": self.path,
            "sha256": self.sha256,
            "record_id": self.record_id,
            "warc_path": capture.get("warc_path"),
            "manifest_seq": self.seq,
        }


@dataclass
class ArticleHistory:
    """Every snapshot of one article, oldest first."""

    article_id: str
    snapshots: list[Snapshot]

    @property
    def latest(self) -> Snapshot:
        return self.snapshots[-1]

    def pick(self, selector: str | None, default: int) -> Snapshot:
        """A snapshot by 1-based number (negative counts from the end), or the default."""
        if selector is None:
            return self.snapshots[default]
        try:
            n = int(selector)
        except ValueError:
            matches = [s for s in self.snapshots if selector in s.path]
            if len(matches) == 1:
                return matches[0]
            raise UsageError(f"{selector!r}: not a snapshot number or a unique snapshot "
                             f"name of {self.article_id}") from None
        count = len(self.snapshots)
        if not (1 <= n <= count or -count <= n <= -1):
            raise UsageError(f"{self.article_id} has {count} snapshots; there is no #{n}")
        return self.snapshots[n - 1 if n > 0 else n]


def _byte_offset(data: bytes, exc: ValueError) -> int | None:
    """Where in the file JSON parsing failed, in bytes (JSONDecodeError counts characters)."""
    if isinstance(exc, UnicodeDecodeError):
        return exc.start
    if isinstance(exc, json.JSONDecodeError):
        return len(data.decode("utf-8", "replace")[:exc.pos].encode("utf-8"))
    return None


def iter_snapshots(archive: Archive) -> Iterator[Snapshot]:
    """Every article file the manifest names, in manifest order (duplicates included)."""
    if not archive.manifest_path.is_file():
        raise UsageError(f"{archive.manifest_path}: no archive here")
    for entry in manifest.iter_entries(archive.manifest_path):
        source = entry.get("source") or {}
        source_urls = tuple(str(u) for u in (source.get("url"), source.get("final_url")) if u)
        for art in entry.get("articles") or []:
            if not art.get("id") or not art.get("path"):
                continue
            yield Snapshot(
                article_id=str(art["id"]), path=str(art["path"]), url=art.get("url"),
                source_urls=source_urls, record_id=str(art.get("record_id") or art["path"]),
                text_sha256=art.get("text_sha256"), sha256=str(art.get("sha256") or ""),
                seq=int(entry.get("seq", -1)), recorded_at=str(entry.get("at") or ""),
            )


def witness_records(archive: Archive, seqs: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The attachments (kind, uri, record_id, sha256, size, content_type) of the browser
    captures (capture --browser) recorded at these manifest seqs: what the browser saw of the
    page an article came from. The catalog keeps no attachments, so this reads the manifest
    once, stopping at the last seq asked for."""
    wanted = set(seqs)
    out: dict[int, list[dict[str, Any]]] = {}
    if not wanted:
        return out
    last = max(wanted)
    for entry in manifest.iter_entries(archive.manifest_path):
        seq = entry.get("seq")
        if seq in wanted and isinstance(entry.get("browser"), dict):
            out[seq] = list(entry["browser"].get("attachments") or [])
        if isinstance(seq, int) and seq >= last:
            break
    return out


def catalog_snapshots(archive: Archive, article_ids: list[str] | None = None
                      ) -> Iterator[Snapshot] | None:
    """The same snapshots from catalog.sqlite (all, or of these articles), or None when the
    catalog cannot be opened (a read-only copy of an archive): then the manifest serves."""
    from archiver.store.catalog import Catalog

    if not archive.manifest_path.is_file():
        raise UsageError(f"{archive.manifest_path}: no archive here")
    try:
        catalog = Catalog.open(archive)
    except StoreError:
        return None
    return _rows_as_snapshots(catalog, article_ids)


def _rows_as_snapshots(catalog: Any, article_ids: list[str] | None) -> Iterator[Snapshot]:
    with catalog:
        for article_id in article_ids if article_ids is not None else [None]:
            for row in catalog.snapshots_of(article_id):
                yield snapshot_from_row(row)


def snapshot_from_row(row: dict[str, Any]) -> Snapshot:
    """A snapshot from its catalog row (`Catalog.snapshots_of`)."""
    urls = tuple(str(u) for u in (row["source_url"], row["final_url"]) if u)
    snap = Snapshot(article_id=row["id"], path=row["path"], url=row["url"], source_urls=urls,
                    record_id=row["record_id"], text_sha256=row["text_sha256"],
                    sha256=row["sha256"], seq=row["seq"], recorded_at=row["recorded_at"])
    snap.row = row
    return snap


def histories(archive: Archive, article_ids: list[str] | None = None
              ) -> dict[str, ArticleHistory]:
    """Every article's snapshots (or these articles'), one per source record (a
    re-extraction replaces the earlier article of the same capture in place), numbered in
    manifest order."""
    snaps = catalog_snapshots(archive, article_ids)
    if snaps is None:
        wanted = set(article_ids) if article_ids is not None else None
        snaps = (s for s in iter_snapshots(archive)
                 if wanted is None or s.article_id in wanted)
    return group(snaps)


def group(snaps: Iterable[Snapshot]) -> dict[str, ArticleHistory]:
    """Snapshots (in manifest order) as histories: one snapshot per source record, the
    latest extraction of a record replacing the earlier one in its place."""
    by_id: dict[str, dict[str, Snapshot]] = {}
    for snap in snaps:
        records = by_id.setdefault(snap.article_id, {})
        earlier = records.pop(snap.record_id, None)
        if earlier is not None:
            snap.source_urls = tuple(dict.fromkeys(earlier.source_urls + snap.source_urls))
            snap.seq = earlier.seq  # keep the capture's place in the order
        records[snap.record_id] = snap
    out: dict[str, ArticleHistory] = {}
    for article_id, records in by_id.items():
        ordered = sorted(records.values(), key=lambda s: s.seq)
        for number, snap in enumerate(ordered, start=1):
            snap.number = number
        out[article_id] = ArticleHistory(article_id, ordered)
    return out


def find(archive: Archive, query: str) -> list[ArticleHistory]:
    """Histories of the articles `query` names: an article id, the article's URL, or a URL
    that was captured (before or after redirects). The catalog answers which articles
    those are; without it, every snapshot the manifest names is tested."""
    from archiver.store.catalog import Catalog

    if not archive.manifest_path.is_file():
        raise UsageError(f"{archive.manifest_path}: no archive here")
    try:
        with Catalog.open(archive) as catalog:
            ids: list[str] | None = catalog.article_ids_matching(query)
    except StoreError:
        ids = None
    found = [h for h in histories(archive, ids).values()
             if any(s.matches(query) for s in h.snapshots)]
    return sorted(found, key=lambda h: h.article_id)


def find_one(archive: Archive, query: str) -> ArticleHistory:
    found = find(archive, query)
    if not found:
        raise UsageError(f"{query}: no article with this id or URL in the archive")
    if len(found) > 1:
        ids = ", ".join(h.article_id for h in found)
        raise UsageError(f"{query}: names several articles ({ids}); pass an article id")
    return found[0]


# ---------------------------------------------------------------- diff


@dataclass(frozen=True)
class Hunk:
    """One run of changed paragraphs (numbers are 1-based positions in lead + body)."""

    op: str  # "replace", "delete" or "insert"
    old_start: int
    new_start: int
    removed: tuple[str, ...]
    added: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "old_start": self.old_start, "new_start": self.new_start,
                "removed": list(self.removed), "added": list(self.added)}


@dataclass
class TextDiff:
    """Whether the article text differs between two snapshots, and where."""

    article_id: str
    old: Snapshot
    new: Snapshot
    changed: bool
    title_change: tuple[str | None, str | None] | None = None
    hunks: list[Hunk] = field(default_factory=list)

    def to_dict(self, archive: Archive) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.article_id,
            "from": self.old.to_dict(archive),
            "to": self.new.to_dict(archive),
            "text_changed": self.changed,
            "hunks": [h.to_dict() for h in self.hunks],
        }
        if self.title_change is not None:
            out["title"] = {"from": self.title_change[0], "to": self.title_change[1]}
        return out


def paragraphs(article: dict[str, Any]) -> list[str]:
    """The text `text_sha256` covers: the lead (if any), then the body paragraphs."""
    lead = article.get("lead")
    return ([lead] if lead else []) + [str(p) for p in article.get("body") or []]


def diff(archive: Archive, history: ArticleHistory, old: Snapshot, new: Snapshot) -> TextDiff:
    """Compare two snapshots: equal `text_sha256` means unchanged text without reading the
    files for the body; otherwise a paragraph-level diff (difflib) says what changed."""
    old_article, new_article = old.load(archive), new.load(archive)
    result = TextDiff(history.article_id, old, new, changed=False)
    if old_article.get("title") != new_article.get("title"):
        result.title_change = (old_article.get("title"), new_article.get("title"))
    if old.text_sha256 and old.text_sha256 == new.text_sha256:
        return result
    a, b = paragraphs(old_article), paragraphs(new_article)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            result.hunks.append(Hunk(op, i1 + 1, j1 + 1, tuple(a[i1:i2]), tuple(b[j1:j2])))
    result.changed = bool(result.hunks)
    return result


# ---------------------------------------------------------------- listing


@dataclass(frozen=True)
class ArticleSummary:
    """One line of `archiver ls`: the latest snapshot's metadata and the snapshot count."""

    article_id: str
    date: str | None  # published_at; None when the article states no real date
    title: str | None
    byline: str | None
    source: str | None
    url: str | None
    snapshots: int
    latest_path: str
    captured_at: str | None = None  # the latest snapshot's capture time

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.article_id, "date": self.date, "title": self.title,
                "byline": self.byline, "source": self.source, "url": self.url,
                "snapshots": self.snapshots, "latest": self.latest_path,
                "captured_at": self.captured_at}


SORT_KEYS = ("date", "id", "title", "snapshots")
# "No date" written as a date: Go's zero time.Time and .NET's DateTime.MinValue (Hugo and
# other generators print it into JSON-LD and meta tags of undated pages).
PLACEHOLDER_YEAR = "0001-"


def publication_date(article: dict[str, Any]) -> str | None:
    """The article's stated publication date, or None (absent or a placeholder)."""
    value = article.get("published_at")
    if not isinstance(value, str) or not value or value.startswith(PLACEHOLDER_YEAR):
        return None
    return value


def summarize(archive: Archive, history: ArticleHistory) -> ArticleSummary:
    latest = history.latest
    row = latest.row
    if row is not None and row["schema_version"] is not None:
        # the catalog holds these fields of the article file: no need to open it
        return ArticleSummary(
            article_id=history.article_id,
            date=publication_date({"published_at": row["published_at"]}),
            title=row["title"], byline=row["byline"], source=row["source"], url=row["url"],
            snapshots=len(history.snapshots), latest_path=latest.path,
            captured_at=latest.captured_at(archive))
    article = latest.load(archive)
    byline = article.get("byline") or {}
    publisher = article.get("publisher") or {}
    return ArticleSummary(
        article_id=history.article_id,
        date=publication_date(article),
        title=article.get("title"),
        byline=byline.get("raw"),
        source=byline.get("source") or publisher.get("name"),
        url=article.get("url"),
        snapshots=len(history.snapshots),
        latest_path=latest.path,
        captured_at=latest.captured_at(archive),
    )


def problem(exc: StoreError) -> Finding:
    """A missing or damaged article file, as a finding for the views to report."""
    if isinstance(exc, DamagedFileError):
        return Finding("error", "damaged-file", exc.path, exc.reason, offset=exc.offset)
    where, _, message = str(exc).partition(": ")
    return Finding("error", "missing-file", where, message)


def list_articles(archive: Archive, sort: str = "date", reverse: bool = False,
                  problems: list[Finding] | None = None) -> list[ArticleSummary]:
    """Every article in the archive, one summary each, sorted; rows without the sort value
    (an undated article when sorting by date) come last, also when reversed. With `problems`,
    an article whose latest file is missing or damaged is a finding there, not an error."""
    if sort not in SORT_KEYS:
        raise UsageError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)}")
    rows = []
    for history in histories(archive).values():
        try:
            rows.append(summarize(archive, history))
        except StoreError as exc:  # one unreadable article file does not hide the others
            if problems is None:
                raise
            problems.append(problem(exc))
    present = [r for r in rows if getattr(r, _attr(sort)) is not None]
    missing = [r for r in rows if getattr(r, _attr(sort)) is None]
    present.sort(key=lambda r: (_sort_value(r, sort), r.article_id), reverse=reverse)
    return present + sorted(missing, key=lambda r: r.article_id)


def _attr(sort: str) -> str:
    return "article_id" if sort == "id" else sort


def _sort_value(row: ArticleSummary, sort: str) -> Any:
    value = getattr(row, _attr(sort))
    if sort == "date":
        return _utc_key(str(value))
    return value.casefold() if isinstance(value, str) else value


def _utc_key(value: str) -> str:
    """RFC 3339 dates with different offsets (+07:00, Z) compared as instants."""
    from datetime import UTC, datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).isoformat()
    except ValueError:
        return value
