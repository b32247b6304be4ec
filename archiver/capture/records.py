"""The WARC records of one capture, built in memory by the worker that fetched it: a
request/response pair per answered hop and attempt, then one metadata record.

A response whose payload the archive already holds becomes a `revisit` record instead
(WARC 1.1 section 6.7.2, identical-payload-digest: the HTTP headers only, pointing at the
record with the payload), and a 304 answer to a conditional request a `revisit` with the
server-not-modified profile (section 6.7.3) pointing at the capture whose validators were
sent. Replay tools (pywb) resolve both to the original payload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archiver.capture.fetch import Exchange, FetchResult
from archiver.pipeline.dedup import IDENTICAL_PAYLOAD, SERVER_NOT_MODIFIED, Dedup, Earlier
from archiver.store.warc import (
    RecordRef,
    WarcFileWriter,
    new_record_id,
    sha256_label,
    warc_date,
    warc_fields,
)


@dataclass
class CaptureRecords:
    """What `write_capture` wrote: the final response (the article's source) or the revisit
    that stands for it, and each response/revisit with its HTTP status and Content-Type for
    the index."""

    final: RecordRef | None = None
    revisit: dict[str, Any] | None = None  # the manifest's `revisit` field for the final one
    replayable: list[tuple[RecordRef, int | None, str | None]] = field(default_factory=list)
    by_exchange: list[RecordRef] = field(default_factory=list)  # answered exchanges, in order


def write_capture(writer: WarcFileWriter, result: FetchResult, dedup: Dedup | None,
                  prior: Earlier | None, source: Exchange | None = None) -> CaptureRecords:
    """request + response (or revisit) for every answered exchange; one metadata record.
    `prior` is the capture whose validators the first request carried, if any. `source` is
    the exchange whose record is `final` (the page's own document; default the last)."""
    out = CaptureRecords()
    source_ref: RecordRef | None = None
    source_revisit: dict[str, Any] | None = None
    for exchange in result.exchanges:
        if exchange.status is None:
            continue
        response_id = new_record_id()
        writer.write_record(
            "request", exchange.url, exchange.request_bytes, exchange.started_at,
            content_type="application/http; msgtype=request",
            payload_digest=sha256_label(_request_payload_sha256(exchange.request_bytes)),
            extra=[("WARC-Concurrent-To", response_id), *_ip_header(exchange)],
        )
        ref, out.revisit = _write_answer(writer, exchange, response_id, dedup,
                                         prior if exchange.url == result.url else None)
        out.final = ref
        if exchange is source:
            source_ref, source_revisit = ref, out.revisit
        out.by_exchange.append(ref)
        out.replayable.append((ref, exchange.status, exchange.headers.get("content-type")))
    if source_ref is not None:
        out.final, out.revisit = source_ref, source_revisit
    if out.final is not None:
        writer.write_record(
            "metadata", result.url, _metadata_block(result), datetime.now(UTC),
            content_type="application/warc-fields", payload_digest=None,
            extra={"WARC-Concurrent-To": out.final.record_id},
        )
    return out


def _write_answer(writer: WarcFileWriter, exchange: Exchange, record_id: str,
                  dedup: Dedup | None,
                  prior: Earlier | None) -> tuple[RecordRef, dict[str, Any] | None]:
    """The response record, or a revisit when the payload is already archived."""
    assert exchange.payload_sha256 is not None
    digest = sha256_label(exchange.payload_sha256)
    earlier, profile = None, IDENTICAL_PAYLOAD
    if exchange.status == 304 and prior is not None:
        earlier, profile = prior, SERVER_NOT_MODIFIED
    elif dedup is not None and exchange.payload_size and not exchange.truncated:
        # claimed before it is written: a worker fetching the same payload now refers to it
        earlier = dedup.claim(exchange.url, digest, record_id, warc_date(exchange.started_at))
    if earlier is None:
        return _write_response(writer, exchange, record_id), None
    extra = [*_ip_header(exchange), ("WARC-Profile", profile),
             ("WARC-Refers-To-Target-URI", earlier.url),
             ("WARC-Refers-To-Date", earlier.date), ("WARC-Refers-To", earlier.record_id)]
    ref = writer.write_record(
        "revisit", exchange.url, exchange.response_head, exchange.started_at,
        content_type="application/http; msgtype=response",
        # 6.7.2: the payload digest is the original's (the same); a 304 has none of its own
        payload_digest=digest if profile == IDENTICAL_PAYLOAD else None,
        extra=extra, record_id=record_id,
    )
    return ref, {"refers_to": earlier.record_id, "refers_to_uri": earlier.url,
                 "refers_to_date": earlier.date, "profile": profile}


def _write_response(writer: WarcFileWriter, exchange: Exchange, record_id: str) -> RecordRef:
    extra = _ip_header(exchange)
    if exchange.truncated:
        extra.append(("WARC-Truncated", exchange.truncated))
    block = _Concat(exchange.response_head, exchange.response_body)
    assert exchange.payload_sha256 is not None
    return writer.write_record(
        "response", exchange.url, block, exchange.started_at,
        content_type="application/http; msgtype=response",
        payload_digest=sha256_label(exchange.payload_sha256),
        extra=extra, record_id=record_id,
    )


def _ip_header(exchange: Exchange) -> list[tuple[str, str]]:
    """WARC-IP-Address, and the exchange's own headers (WARC-Protocol may repeat)."""
    ip = [("WARC-IP-Address", exchange.ip)] if exchange.ip else []
    return ip + list(exchange.warc_headers)


def _request_payload_sha256(request_bytes: bytes) -> bytes:
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
