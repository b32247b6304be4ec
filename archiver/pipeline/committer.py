"""Group commit: captures become durable together, in batches, and exist only once their
manifest entries are written.

A capture hands the committer its WARC bytes (whole gzip members, built by the worker), its
derived article and its manifest event. The committer appends the bytes to the rolling WARC
the capture reserved and queues the entry. Every `batch_size` captures or `batch_seconds`
(whichever comes first) it commits the batch, in the order that keeps a crash harmless:

1. fsync the open WARC files (the captures' bytes are on disk);
2. write the batch's article files (each fsynced, then renamed, then each folder fsynced);
3. append every entry in one write and one fsync (manifest.append_many): the commit point;
4. then derived data, which a crash may lose and `archiver index` rebuilds: the batch's
   CDXJ lines, the catalog;
5. seal WARC files that are full (or all of them at the end of the run): a
   `message digest calculation` event with the file's sha256 and size, then the rename
   from `.open` (recovery finishes a rename the crash interrupted).

A crash loses at most the batch in flight: bytes no entry names, which recovery cuts.
Defaults: 64 captures or 2 seconds. At ~3 ms per fsync, one manifest fsync per 64 captures
is what lets capture keep pace with wget; 2 seconds bounds what a slow crawl can lose.

A full batch is committed by the committer's own thread, so the worker whose capture filled it
goes back to fetching; only when `BACKLOG` batches are queued does a submitting worker commit
itself (the brake that keeps a disk slower than the network from piling up captures).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archiver.pipeline.commit import (
    ArticleOutcome,
    extractors,
    place_article,
    record_events,
    warcinfo_fields,
)
from archiver.store import cdxj
from archiver.store.archive import Archive, FileInfo
from archiver.store.catalog_rows import RecordHead, known_head
from archiver.store.recovery import recover, seal_event
from archiver.store.rolling import DEFAULT_MAX_SIZE, DEFAULT_PREFIX, RollingWarcs, WarcFull
from archiver.store.warc import RecordRef, warcinfo_record

DEFAULT_BATCH_SIZE = 64
DEFAULT_BATCH_SECONDS = 2.0
BACKLOG = 4  # batches queued before a submitting worker commits them itself


@dataclass
class PendingCapture:
    """One capture on its way in: the bytes, the article, the event, and who to tell."""

    event: dict[str, Any]  # manifest event body; the committer adds the file facts
    warc: str | None = None  # the relpath `reserve()` gave, None when nothing was written
    data: bytes = b""  # its records, whole gzip members, offsets relative to this buffer
    refs: list[RecordRef] = field(default_factory=list)
    cdxj: list[tuple[RecordRef, int | None, str | None]] = field(default_factory=list)
    article: ArticleOutcome | None = None
    on_commit: Callable[[dict[str, Any]], None] | None = None
    # once it is in the queue: a capture submitted later commits in its batch or a later one
    on_queued: Callable[[], None] | None = None


@dataclass
class _Queued:
    pending: PendingCapture
    entry_fields: dict[str, Any]
    article_file: tuple[str, bytes] | None
    cdxj_lines: list[str]
    heads: dict[tuple[str, int], RecordHead] = field(default_factory=dict)  # for the catalog


class Committer:
    """The single writer of one run: rolling WARCs, article files, manifest entries."""

    def __init__(self, archive: Archive, operator: str | None, description: str, *,
                 prefix: str = DEFAULT_PREFIX, max_size: int = DEFAULT_MAX_SIZE,
                 batch_size: int = DEFAULT_BATCH_SIZE,
                 batch_seconds: float = DEFAULT_BATCH_SECONDS,
                 warcinfo: dict[str, str] | None = None) -> None:
        self.archive = archive.ensure()
        self.operator = operator
        # A writer killed earlier left an .open file: cut what it never committed, seal it.
        # (One line per action, for the caller to show.)
        self.recovered = recover(archive, operator)
        # `warcinfo` overrides fields (the crawler's robots policy and User-Agent)
        fields = {**warcinfo_fields(operator, description), **(warcinfo or {})}
        self.warcs = RollingWarcs(archive, lambda name: warcinfo_record(name, fields),
                                  prefix=prefix, max_size=max_size)
        self.batch_size = max(1, batch_size)
        self.batch_seconds = batch_seconds
        self._queue: list[_Queued] = []
        self._queue_since = 0.0
        self._cdxj: dict[str, list[str]] = {}  # every line of each open file, for its seal
        self._lock = threading.Lock()  # the queue
        self._commit_lock = threading.Lock()  # one commit at a time, in order
        self._closed = threading.Event()
        self._due = threading.Event()  # a batch is full: the committer's thread commits it
        self._timer = threading.Thread(target=self._tick, name="committer", daemon=True)
        self._timer.start()
        self.error: BaseException | None = None

    # ------------------------------------------------------------ capture side

    def reserve(self) -> tuple[str, str]:
        """The WARC the caller's capture will go into (for its article's warc_path) and the
        id of that file's warcinfo record (for its records' WARC-Warcinfo-ID)."""
        return self.warcs.reserve()

    def submit(self, pending: PendingCapture) -> dict[str, Any]:
        """Append the capture's bytes now; its entry is written with the next batch (and
        `pending.on_commit` called then, from the committing thread). Returns the entry's
        file facts known now (`records` with their offsets, `ranges`, `articles`). Raises
        WarcFull when its reserved file filled up meanwhile: reserve again and rebuild."""
        if self.error is not None:
            raise self.error
        fields: dict[str, Any] = {}
        lines: list[str] = []
        heads: dict[tuple[str, int], RecordHead] = {}
        article_file = None
        if pending.warc is not None and pending.data:
            try:
                rng, base = self.warcs.append(pending.warc, pending.data)
            except WarcFull:
                self.warcs.release(pending.warc)  # the caller builds it again for a new file
                raise
            fields["ranges"] = [rng.to_dict()]
            fields["records"] = [
                {"id": r.record_id, "type": r.rec_type, "file": pending.warc,
                 "uri": r.target_uri, "offset": base + r.offset, "length": r.length}
                for r in pending.refs]
            lines = [cdxj.cdxj_line(r.target_uri or "", r.date, r.rec_type, mime, status,
                                    r.payload_digest, base + r.offset, r.length,
                                    pending.warc + ".open")
                     for r, status, mime in pending.cdxj]
            for r, status, mime in pending.cdxj:
                if (head := known_head(r, status, mime)) is not None:
                    heads[(pending.warc, base + r.offset)] = head
            article_file = self._article_file(pending.article)
            art = pending.article.manifest_entry() if pending.article else None
            fields["articles"] = [art] if art else []
            if article_file is not None:
                fields["files"] = [FileInfo(article_file[0], art["sha256"] if art else "",
                                            len(article_file[1])).to_dict()]
        with self._lock:
            if not self._queue:
                self._queue_since = time.monotonic()
            self._queue.append(_Queued(pending, fields, article_file, lines, heads))
            queued = len(self._queue)
        if pending.on_queued:
            pending.on_queued()
        if pending.warc is not None:
            self.warcs.release(pending.warc)  # queued: its file may be sealed after its entry
        if queued >= BACKLOG * self.batch_size:
            self.commit()
        elif queued >= self.batch_size:
            self._due.set()
        return fields

    def submit_and_wait(self, pending: PendingCapture) -> dict[str, Any]:
        """Submit the capture and wait until its entry is written (the committer's own
        failure raised here rather than waited on for ever); its entry."""
        committed: list[dict[str, Any]] = []
        done = threading.Event()

        def on_commit(entry: dict[str, Any]) -> None:
            committed.append(entry)
            done.set()

        pending.on_commit = on_commit
        self.submit(pending)
        while not done.wait(0.5):
            if self.error is not None:
                raise self.error
        return committed[0]

    def _article_file(self, outcome: ArticleOutcome | None) -> tuple[str, bytes] | None:
        if outcome is None or outcome.status != "stored" or not outcome.article:
            return None
        data = extractors().article_json_bytes(outcome.article)
        outcome.sha256 = hashlib.sha256(data).hexdigest()
        with self._commit_lock:  # placement looks at files earlier batches wrote
            state = place_article(self.archive, outcome, data)
        assert outcome.path is not None
        return None if state == "unchanged" else (outcome.path, data)

    # ------------------------------------------------------------ commit side

    def commit(self, seal_all: bool = False) -> None:
        with self._commit_lock:
            with self._lock:
                batch, self._queue = self._queue, []
            try:
                self._commit(batch, seal_all)
            except BaseException as exc:
                self.error = exc
                raise

    def _commit(self, batch: list[_Queued], seal_all: bool) -> None:
        if batch:
            self.warcs.sync()
            self.archive.write_files([q.article_file for q in batch if q.article_file])
            events = [{**q.pending.event, **q.entry_fields} for q in batch]
            heads = {k: h for q in batch for k, h in q.heads.items()}
            docs = {q.article_file[0]: q.pending.article.article for q in batch
                    if q.article_file and q.pending.article and q.pending.article.article}
            entries = record_events(self.archive, events, heads, docs)
            self._index(batch, entries)
            for q, entry in zip(batch, entries, strict=True):
                if q.pending.on_commit:
                    q.pending.on_commit(entry)
        with self._lock:  # captures queued for the next batch: their file waits for them
            waiting = {q.pending.warc for q in self._queue}
        for relpath in self.warcs.sealable(all_files=seal_all):
            if relpath not in waiting:
                self._seal(relpath)

    def _index(self, batch: list[_Queued], entries: list[dict[str, Any]]) -> None:
        by_file: dict[str, list[str]] = {}
        for q in batch:
            if q.cdxj_lines and q.pending.warc:
                by_file.setdefault(q.pending.warc, []).extend(q.cdxj_lines)
        for relpath, lines in by_file.items():
            self._cdxj.setdefault(relpath, []).extend(lines)
            cdxj.write_batch_index(self.archive, relpath, entries[0]["seq"], lines)

    def _seal(self, relpath: str) -> None:
        sealed = self.warcs.seal_prepare(relpath)
        if sealed is None:
            return
        sha256, size = sealed
        record_events(self.archive, [seal_event(relpath, sha256, size, self.operator)])
        self.warcs.seal_finish(relpath)
        lines = [line.replace(f'"{relpath}.open"', f'"{relpath}"')
                 for line in self._cdxj.pop(relpath, [])]
        cdxj.write_warc_index(self.archive, relpath, lines)

    def close(self) -> None:
        """Commit what is queued and seal every file of this run."""
        self._closed.set()
        self._due.set()
        self._timer.join()
        if self.error is None:
            self.commit(seal_all=True)

    def _tick(self) -> None:
        """Commit a batch once it is full, or has waited `batch_seconds` even if no capture
        follows."""
        while True:
            self._due.wait(min(0.25, self.batch_seconds))
            self._due.clear()
            if self._closed.is_set():
                return  # close() commits the rest
            with self._lock:
                due = len(self._queue) >= self.batch_size or (bool(self._queue) and \
                    time.monotonic() - self._queue_since >= self.batch_seconds)
            if due:
                try:
                    self.commit()
                except BaseException:
                    return  # self.error holds it; the next submit raises it
