"""capture: URL -> WARC (warcinfo, request/response per hop and attempt, metadata) -> article
-> manifest event. Workers are threads, each with its own Fetcher (session, recorder) and its
own output file, so nothing is shared but the per-host pacer and the manifest lock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.base.errors import UnreadableInputError, UsageError
from archiver.capture.fetch import Exchange, Fetcher, FetchOptions, FetchResult, HostPacer
from archiver.pipeline.commit import (
    ArticleOutcome,
    index_warcs,
    record_event,
    store_warc,
)
from archiver.store.archive import Archive
from archiver.store.warc import RecordRef, WarcFileWriter, new_record_id, sha256_label, warc_fields


@dataclass(frozen=True)
class CaptureOptions:
    fetch: FetchOptions = field(default_factory=FetchOptions)
    operator: str | None = None
    workers: int = 4
    extract: bool = True


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


def capture_urls(archive: Archive, urls: Iterable[str], options: CaptureOptions,
                 on_done: Callable[[CaptureOutcome], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> list[CaptureOutcome]:
    """Capture every URL (in parallel), calling `on_done` as each finishes; results in input
    order."""
    archive.ensure()
    urls = list(urls)
    pacer = HostPacer(options.fetch.delay)
    local = threading.local()
    fetchers: list[Fetcher] = []
    lock = threading.Lock()

    def work(url: str) -> CaptureOutcome:
        if not hasattr(local, "fetcher"):
            local.fetcher = Fetcher(options.fetch, pacer)
            with lock:
                fetchers.append(local.fetcher)
        outcome = capture_one(archive, local.fetcher, url, options)
        if on_done:
            with lock:
                on_done(outcome)
        return outcome

    try:
        with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
            outcomes = list(pool.map(work, urls))
    finally:
        for f in fetchers:
            f.close()
    warning = index_warcs(archive, *[o.warc for o in outcomes if o.warc])
    if warning and on_warning:
        on_warning(warning)
    return outcomes


def capture_one(archive: Archive, fetcher: Fetcher, url: str,
                options: CaptureOptions) -> CaptureOutcome:
    try:
        result = fetcher.fetch(url)  # refuses bad URLs before any traffic
    except UsageError as exc:
        return CaptureOutcome(url=url, error=str(exc).removeprefix(f"{url}: "))
    try:
        return _store(archive, result, options)
    finally:
        result.close()


def _store(archive: Archive, result: FetchResult, options: CaptureOptions) -> CaptureOutcome:
    outcome = CaptureOutcome(url=result.url, final_url=result.final_url, status=result.status,
                             error=result.error)
    source = {"url": result.url, "final_url": result.final_url, "status": result.status,
              "redirects": result.redirect_chain()}
    answered = [e for e in result.exchanges if e.status is not None]
    if not answered:
        entry = record_event(archive, "capture", "failure", result.error or "no response",
                             options.operator, source=source)
        outcome.seq = entry["seq"]
        return outcome
    when = answered[0].started_at
    unit = store_warc(archive, when, options.operator, f"capture of {result.url}",
                      lambda w: _write_exchanges(w, result), derive=options.extract)
    final = result.final
    outcome.warc = unit.warc.path
    outcome.record_ids = [r.record_id for r in unit.records]
    outcome.article = unit.article
    outcome.truncated = final.truncated if final else None
    status, detail = _event_outcome(outcome)
    entry = record_event(archive, "capture", status, detail, options.operator, source=source,
                         **unit.manifest_fields())
    outcome.seq = entry["seq"]
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


def _write_exchanges(writer: WarcFileWriter, result: FetchResult) -> RecordRef | None:
    """request + response for every answered exchange; one metadata record for the fetch.
    Returns the final response record: the article's source."""
    final_ref: RecordRef | None = None
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
    if final_ref is not None:
        writer.write_record(
            "metadata", result.url, _metadata_block(result), datetime.now(UTC),
            content_type="application/warc-fields", payload_digest=None,
            extra={"WARC-Concurrent-To": final_ref.record_id},
        )
    return final_ref


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
