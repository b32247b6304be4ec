"""What one article's provenance page shows: its snapshots (text changed or not, and the
diff), byline, the capture records of its URL, the manifest events that concern it, and a
screenshot when a browser capture stored one.

Rows come from the catalog (`Catalog.snapshots_of`, the captures table) and the chain pass.
Article files are parsed only for the snapshots whose text digest changed (the diff); each
article's latest file is read and its sha256 compared with the manifest's, so a damaged
file is named on the article's page and on the health page.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from archiver.access import snapshots
from archiver.access.report.chain import Chain, Event
from archiver.base.errors import ArchiverError, StoreError, UsageError
from archiver.store.archive import Archive

SCREENSHOT_TYPES = ("image/png", "image/jpeg", "image/webp")
MAX_DIFF_HUNKS = 50


@dataclass
class SnapshotView:
    snapshot: snapshots.Snapshot
    captured_at: str
    changed: bool | None  # None for the first snapshot
    diff: snapshots.TextDiff | None = None
    problem: str | None = None


@dataclass
class ArticleView:
    article_id: str
    slug: str
    row: dict[str, Any]  # the latest snapshot's catalog row
    snapshots: list[SnapshotView]
    captures: list[dict[str, Any]]
    events: list[Event]
    screenshots: list[dict[str, Any]] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)  # "path: reason"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def slug(article_id: str) -> str:
    """A file name for the article's page: the id when it is plain, else its plain
    characters and a digest of the id (two ids never share a page)."""
    plain = _UNSAFE.sub("_", article_id)[:80]
    if plain == article_id and not article_id.startswith("."):
        return article_id
    return f"{plain.lstrip('.')}-{hashlib.sha256(article_id.encode()).hexdigest()[:10]}"


def view(archive: Archive, conn: Any, history: snapshots.ArticleHistory, chain: Chain
         ) -> ArticleView:
    latest = history.latest
    row = latest.row or {}
    damaged: list[str] = []
    problem = check_file(archive, latest)
    if problem:
        damaged.append(problem)
    views: list[SnapshotView] = []
    previous: snapshots.Snapshot | None = None
    for snap in history.snapshots:
        item = SnapshotView(snap, snap.captured_at(archive), None if previous is None else
                            snap.text_sha256 != previous.text_sha256)
        if previous is not None and item.changed:
            try:
                item.diff = snapshots.diff(archive, history, previous, snap)
                del item.diff.hunks[MAX_DIFF_HUNKS:]
            except StoreError as exc:
                item.problem = snapshots.problem(exc).render()
                if item.problem not in damaged:
                    damaged.append(item.problem)
        views.append(item)
        previous = snap
    seqs = sorted(set(chain.by_article.get(history.article_id, [])))
    captures = _captures(conn, history, seqs)
    seqs = sorted(set(seqs) | {int(c["seq"]) for c in captures})
    events = [chain.events[s] for s in seqs if s in chain.events]
    shots = [c for c in captures if c["record_type"] == "resource"
             and str(c["mime"] or "").split(";")[0] in SCREENSHOT_TYPES]
    return ArticleView(history.article_id, slug(history.article_id), row, views,
                       [c for c in captures if c not in shots], events, shots, damaged)


def check_file(archive: Archive, snap: snapshots.Snapshot) -> str | None:
    """A finding when the article file is missing, unreadable, or not the bytes the
    manifest names (its sha256); None when it is whole. Read, not parsed: the page shows
    the catalog's fields, and the digest alone says the file is the one recorded."""
    try:
        path = archive.resolve(snap.path)
    except UsageError:  # a manifest naming a path outside the archive
        return f"{snap.path}: not a path inside the archive"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return f"{snap.path}: missing (named by the manifest)"
    except OSError as exc:
        return f"{snap.path}: cannot read: {exc.strerror}"
    if snap.sha256 and hashlib.sha256(data).hexdigest() != snap.sha256:
        return f"{snap.path}: damaged: its sha256 is not the one the manifest records"
    return None


def _captures(conn: Any, history: snapshots.ArticleHistory, seqs: list[int]
              ) -> list[dict[str, Any]]:
    """Every capture of the article's URLs (revisits and later captures too: by the SURT
    of the records its snapshots came from) and the records its own manifest events wrote
    (a redirect's first hop, a browser capture's screenshot)."""
    records = [s.record_id for s in history.snapshots]
    marks = ", ".join("?" * len(records))
    sql = (f"SELECT * FROM captures WHERE surt IN (SELECT surt FROM captures WHERE "
           f"record_id IN ({marks}))")
    args: list[Any] = list(records)
    if seqs:
        sql += " OR seq IN ({})".format(", ".join("?" * len(seqs)))
        args += seqs
    cur = conn.execute(sql + " ORDER BY timestamp, seq", args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur]


def screenshot_bytes(archive: Archive, capture: dict[str, Any]) -> bytes | None:
    """The payload of a screenshot record, or None when it cannot be read."""
    from archiver.store.rolling import open_path
    from archiver.store.warc import read_record_at

    try:
        record = read_record_at(open_path(archive, str(capture["file"])),
                                int(capture["offset"]), cap=20 * 1024 * 1024)
    except (OSError, ArchiverError, ValueError):
        return None
    payload = getattr(record, "payload", None)
    return payload if isinstance(payload, bytes) and payload else None
