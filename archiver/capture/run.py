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
from archiver.capture.fetch import Exchange, Fetcher, FetchOptions, FetchResult, HostPacer
from archiver.pipeline.commit import ArticleOutcome, write_conversion
from archiver.pipeline.committer import (
    DEFAULT_BATCH_SECONDS,
    DEFAULT_BATCH_SIZE,
    Committer,
    PendingCapture,
)
from archiver.pipeline.extractors import Extractors, default_processes
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.rolling import DEFAULT_MAX_SIZE, DEFAULT_PREFIX
from archiver.store.warc import (
    RecordRef,
    WarcFileWriter,
    new_record_id,
    read_record_from,
    sha256_label,
    warc_fields,
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

    @property
    def outcome(self) -> str:
        if self.warc is None:
            return "failed"
        if self.error or self.status is None or not 200 <= self.status < 300:
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
    extractors = Extractors(processes) if options.extract else None
    run = CaptureRun(archive, options, committer, extractors, on_done)

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
    return outcomes


def capture_one(run: CaptureRun, fetcher: Fetcher, url: str) -> CaptureOutcome:
    try:
        result = fetcher.fetch(url)  # refuses bad URLs before any traffic
    except UsageError as exc:
        outcome = CaptureOutcome(url=url, error=str(exc).removeprefix(f"{url}: "))
        run.done(outcome)({"seq": None})  # nothing to commit: report it now
        return outcome
    try:
        return _store(run, result)
    finally:
        result.close()


def _store(run: CaptureRun, result: FetchResult) -> CaptureOutcome:
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
    warc, warcinfo_id = run.committer.reserve()
    buffer = io.BytesIO()
    writer = WarcFileWriter(buffer, warc.rsplit("/", 1)[-1])
    writer.warcinfo_id = warcinfo_id
    source_ref, replayable = _write_exchanges(writer, result)
    if source_ref is not None and run.extractors is not None:
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
                               source=source)
    run.committer.submit(PendingCapture(event, warc, buffer.getvalue(), list(writer.refs),
                                        replayable, outcome.article, run.done(outcome)))
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


Replayable = list[tuple[RecordRef, int | None, str | None]]


def _write_exchanges(writer: WarcFileWriter,
                     result: FetchResult) -> tuple[RecordRef | None, Replayable]:
    """request + response for every answered exchange; one metadata record for the fetch.
    Returns the final response record (the article's source) and, for the index, each
    response with its HTTP status and Content-Type."""
    final_ref: RecordRef | None = None
    replayable: Replayable = []
    for exchange in result.exchanges:
        if exchange.status is None:
            continue
        response_id = new_record_id()
        writer.write_record(
            "request", exchange.url, exchange.request_bytes, exchange.started_at,
            content_type="application/http; msgtype=request",
            payload_digest=sha256_label(_request_payload_sha256(exchange.request_bytes)),
            extra={"WARC-Concurrent-To": response_id, **_ip_header(exchange)},
        )
        final_ref = _write_response(writer, exchange, response_id)
        replayable.append((final_ref, exchange.status, exchange.headers.get("content-type")))
    if final_ref is not None:
        writer.write_record(
            "metadata", result.url, _metadata_block(result), datetime.now(UTC),
            content_type="application/warc-fields", payload_digest=None,
            extra={"WARC-Concurrent-To": final_ref.record_id},
        )
    return final_ref, replayable


def _write_response(writer: WarcFileWriter, exchange: Exchange, record_id: str) -> RecordRef:
    extra = _ip_header(exchange)
    if exchange.truncated:
        extra["WARC-Truncated"] = exchange.truncated
    block = _Concat(exchange.response_head, exchange.response_body)
    assert exchange.payload_sha256 is not None
    return writer.write_record(
        "response", exchange.url, block, exchange.started_at,
        content_type="application/http; msgtype=response",
        payload_digest=sha256_label(exchange.payload_sha256),
        extra=extra, record_id=record_id,
    )


def _ip_header(exchange: Exchange) -> dict[str, str]:
    return {"WARC-IP-Address": exchange.ip} if exchange.ip else {}


def _request_payload_sha256(request_bytes: bytes) -> bytes:
    import hashlib

    head_end = request_bytes.find(b"\r\n\r\n")
    body = request_bytes[head_end + 4:] if head_end >= 0 else b""
    return hashlib.sha256(body).digest()


def _metadata_block(result: FetchResult) -> bytes:
    """Fetch facts a reader may need later: timings, addresses, the hop chain, failures."""
    exchanges = [
        {
            "url": e.url,
            "started_at": e.started_at.isoformat().replace("+00:00", "Z"),
            "elapsed_ms": round(e.elapsed * 1000, 3),
            "status": e.status,
            "ip": e.ip,
            "port": e.port,
            "location": e.headers.get("location"),
            "payload_bytes": e.payload_size,
            "truncated": e.truncated,
            "error": e.error,
        }
        for e in result.exchanges
    ]
    fields: dict[str, Any] = {"seed-url": result.url, "final-url": result.final_url}
    if result.error:
        fields["error"] = result.error
    fields["exchange"] = exchanges
    fields["redirect-chain"] = result.redirect_chain()
    return warc_fields(fields)


class _Concat:
    """head bytes + body file as one seekable read-only stream (no copy of the body)."""

    def __init__(self, head: bytes, body: Any) -> None:
        self.head, self.body = head, body
        body.seek(0, 2)
        self.size = len(head) + body.tell()
        self.pos = 0

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = {0: pos, 1: self.pos + pos, 2: self.size + pos}[whence]
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.size - self.pos
        out = b""
        if self.pos < len(self.head):
            out = self.head[self.pos:self.pos + n]
        if len(out) < n:
            self.body.seek(max(0, self.pos + len(out) - len(self.head)))
            out += self.body.read(n - len(out))
        self.pos += len(out)
        return out
