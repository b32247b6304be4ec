"""capture: URL -> request/response records per hop and attempt, metadata -> article ->
manifest entry, through one group committer per run.

Workers are threads, each with its own Fetcher (session, recorder). A worker builds its
capture's WARC records in memory (gzip members, compressed outside the GIL), has the article
extracted in a worker process (extraction is CPU-bound Python: processes let it overlap
fetching and writing on every core), and hands the lot to the committer, which appends it
to the run's rolling WARC and commits entries in batches (archiver.pipeline.committer)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.base.errors import UnreadableInputError, UsageError
from archiver.capture.fetch import Fetcher, FetchOptions, FetchResult, HostPacer, check_url
from archiver.capture.records import write_capture
from archiver.pipeline.commit import ArticleOutcome, write_conversion
from archiver.pipeline.committer import (
    DEFAULT_BATCH_SECONDS,
    DEFAULT_BATCH_SIZE,
    Committer,
    PendingCapture,
)
from archiver.pipeline.dedup import Dedup, Earlier, build_until_queued, validators
from archiver.pipeline.extractors import Extractors, default_processes
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.rolling import DEFAULT_MAX_SIZE, DEFAULT_PREFIX
from archiver.store.warc import (
    WarcFileWriter,
    read_record_from,
)


@dataclass(frozen=True)
class CaptureOptions:
    fetch: FetchOptions = field(default_factory=FetchOptions)
    operator: str | None = None
    workers: int = 4
    extract: bool = True
    warc_prefix: str = DEFAULT_PREFIX
    warc_size: int = DEFAULT_MAX_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    batch_seconds: float = DEFAULT_BATCH_SECONDS
    extract_processes: int | None = None  # None: one per core for runs of 8+ pages
    dedup: str = "url"  # revisit records for payloads already archived: url | any | off


@dataclass
class CaptureOutcome:
    """The result for one URL, as the CLI reports it."""

    url: str
    final_url: str | None = None
    status: int | None = None
    warc: str | None = None
    record_ids: list[str] = field(default_factory=list)
    article: ArticleOutcome | None = None
    error: str | None = None
    truncated: str | None = None
    seq: int | None = None
    not_modified: bool = False  # a 304 to our conditional request: archived as a revisit

    @property
    def outcome(self) -> str:
        if self.warc is None:
            return "failed"
        ok_status = self.status is not None and (200 <= self.status < 300 or self.not_modified)
        if self.error or not ok_status:
            return "http-error" if self.status else "failed"
        if self.truncated in ("time", "disconnect"):
            return "incomplete"  # the server stopped short or too slowly; a cap we set is fine
        if self.article is not None and self.article.status == "invalid":
            return "invalid-article"
        return "archived"

    @property
    def ok(self) -> bool:
        return self.outcome == "archived"

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "status": self.status,
            "warc": self.warc,
            "record_ids": self.record_ids,
            "outcome": self.outcome,
            "error": self.error,
            "truncated": self.truncated,
            "article": self.article.to_dict() if self.article else None,
            "manifest_seq": self.seq,
        }


def read_seed_list(path: Path) -> list[str]:
    """One URL per line; blank lines and `#` comments ignored."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableInputError(f"{path}: cannot read seed list: {exc}") from exc
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@dataclass
class CaptureRun:
    """What every worker of one run shares."""

    archive: Archive
    options: CaptureOptions
    committer: Committer
    extractors: Extractors | None
    dedup: Dedup | None = None
    on_done: Callable[[CaptureOutcome], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def done(self, outcome: CaptureOutcome) -> Callable[[dict[str, Any]], None]:
        """The committer calls this once the capture's entry is written."""
        def committed(entry: dict[str, Any]) -> None:
            outcome.seq = entry["seq"]
            if self.on_done:
                with self.lock:
                    self.on_done(outcome)
        return committed


def capture_urls(archive: Archive, urls: Iterable[str], options: CaptureOptions,
                 on_done: Callable[[CaptureOutcome], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> list[CaptureOutcome]:
    """Capture every URL (in parallel), calling `on_done` as each is committed; results in
    input order."""
    urls = list(urls)
    pacer = HostPacer(options.fetch.delay)
    local = threading.local()
    fetchers: list[Fetcher] = []
    lock = threading.Lock()
    committer = Committer(archive, options.operator, f"capture of {len(urls)} URL(s)",
                          prefix=options.warc_prefix, max_size=options.warc_size,
                          batch_size=options.batch_size, batch_seconds=options.batch_seconds)
    processes = options.extract_processes
    if processes is None:
        processes = default_processes(len(urls))
    if on_warning:
        for action in committer.recovered:
            on_warning(f"recovered after an earlier crash: {action}")
    extractors = Extractors(processes) if options.extract else None
    dedup = Dedup(archive, options.dedup) if options.dedup != "off" else None
    run = CaptureRun(archive, options, committer, extractors, dedup, on_done)

    def work(url: str) -> CaptureOutcome:
        if not hasattr(local, "fetcher"):
            local.fetcher = Fetcher(options.fetch, pacer)
            with lock:
                fetchers.append(local.fetcher)
        return capture_one(run, local.fetcher, url)

    try:
        with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
            outcomes = list(pool.map(work, urls))
    finally:
        for f in fetchers:
            f.close()
        if extractors is not None:
            extractors.close()
        committer.close()
        if dedup is not None:
            dedup.close()
    return outcomes


def capture_one(run: CaptureRun, fetcher: Fetcher, url: str) -> CaptureOutcome:
    prior = None
    try:
        check_url(url)
        prior = run.dedup.last_capture(url) if run.dedup else None
        result = fetcher.fetch(url, validators(prior))  # refuses bad URLs before any traffic
    except UsageError as exc:
        outcome = CaptureOutcome(url=url, error=str(exc).removeprefix(f"{url}: "))
        run.done(outcome)({"seq": None})  # nothing to commit: report it now
        return outcome
    try:
        return _store(run, result, prior)
    finally:
        result.close()


def _store(run: CaptureRun, result: FetchResult, prior: Earlier | None) -> CaptureOutcome:
    options = run.options
    outcome = CaptureOutcome(url=result.url, final_url=result.final_url, status=result.status,
                             error=result.error)
    source = {"url": result.url, "final_url": result.final_url, "status": result.status,
              "redirects": result.redirect_chain()}
    answered = [e for e in result.exchanges if e.status is not None]
    if not answered:
        event = manifest.new_event("capture", "failure", result.error or "no response",
                                   operator=options.operator, source=source)
        run.committer.submit(PendingCapture(event, on_commit=run.done(outcome)))
        return outcome
    return build_until_queued(lambda: _store_in_file(run, result, prior, outcome, source),
                              run.dedup)


def _store_in_file(run: CaptureRun, result: FetchResult, prior: Earlier | None,
                   outcome: CaptureOutcome, source: dict[str, Any]) -> CaptureOutcome:
    warc, warcinfo_id = run.committer.reserve()
    buffer = io.BytesIO()
    writer = WarcFileWriter(buffer, warc.rsplit("/", 1)[-1])
    writer.warcinfo_id = warcinfo_id
    return _build_and_submit(run, result, prior, outcome, source, warc, buffer, writer)


def _build_and_submit(run: CaptureRun, result: FetchResult, prior: Earlier | None,
                      outcome: CaptureOutcome, source: dict[str, Any], warc: str,
                      buffer: io.BytesIO, writer: WarcFileWriter) -> CaptureOutcome:
    options = run.options
    written = write_capture(writer, result, run.dedup, prior)
    source_ref = written.final
    if written.revisit is not None:  # unchanged: the article of the referred capture stands
        outcome.not_modified = result.status == 304
        written.revisit["article"] = run.dedup.article_of(written.revisit["refers_to"]) \
            if run.dedup else None
        outcome.article = ArticleOutcome(
            "unchanged", reason=f"payload unchanged since {written.revisit['refers_to_date']}",
            path=written.revisit["article"])
    elif source_ref is not None and run.extractors is not None:
        stored = read_record_from(buffer.getvalue(), source_ref.offset)
        outcome.article = run.extractors.derive(stored, warc)
        write_conversion(writer, outcome.article, source_ref.target_uri or "",
                         source_ref.record_id, datetime.now(UTC))
    final = result.final
    outcome.warc = warc
    outcome.record_ids = [r.record_id for r in writer.refs]
    outcome.truncated = final.truncated if final else None
    status, detail = _event_outcome(outcome)
    event = manifest.new_event("capture", status, detail, operator=options.operator,
                               source=source, revisit=written.revisit)
    run.committer.submit(PendingCapture(event, warc, buffer.getvalue(), list(writer.refs),
                                        written.replayable, outcome.article, run.done(outcome),
                                        on_queued=run.dedup.queued_mine if run.dedup else None))
    return outcome


def _event_outcome(outcome: CaptureOutcome) -> tuple[str, str]:
    parts = [f"HTTP {outcome.status}"]
    if outcome.truncated:
        parts.append(f"truncated ({outcome.truncated})")
    if outcome.error:
        parts.append(outcome.error)
    art = outcome.article
    if art is not None:
        parts.append(f"article {art.article_id}" if art.status == "stored"
                     else f"{art.status}: {art.reason}")
    return ("success" if outcome.outcome == "archived" else "failure"), "; ".join(parts)
