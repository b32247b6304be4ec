"""HTTP fetching that keeps the exchange exactly as it crossed the wire.

requests/urllib3 parse and de-chunk responses, so their objects cannot give back the bytes the
server sent. We record at the socket instead: each connection's socket is wrapped so that every
byte sent and received during one exchange lands in a `Recording`. One `Fetcher` per thread
(one `requests.Session`, connection reuse); recordings are thread-local, so workers never mix.

Redirects are followed here, not by requests, so that every hop is its own exchange.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from warcio.bufferedreaders import ChunkedDataReader

from archiver.base import agent
from archiver.base.errors import FetchError, UsageError

DEFAULT_TIMEOUT = 30.0  # seconds per connect / per read
DEFAULT_MAX_TIME = 120.0  # seconds for one URL, all hops and retries: stops slow-loris servers
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_RETRIES = 2
MAX_REDIRECTS = 10
MAX_RETRY_AFTER = 60.0  # never sleep longer than this on a server's say-so
READ_CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 4 * 1024 * 1024  # larger bodies spill to a temporary file
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

_tls = threading.local()


class Recording:
    """Bytes of one exchange as sent and as received, plus where they went."""

    def __init__(self) -> None:
        self.sent = io.BytesIO()
        self.received = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        self.ip: str | None = None
        self.port: int | None = None

    def close(self) -> None:
        self.received.close()


def _current_recording() -> Recording | None:
    return getattr(_tls, "recording", None)


class _RecordingSocket:
    """A socket stand-in that copies traffic into the thread's current Recording and enforces
    the per-URL deadline on every receive (a per-read timeout alone lets a server that sends
    one byte a second hold us forever)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._timeout = sock.gettimeout()
        self._io_refs = 0  # open makefile() readers, as socket.socket counts them
        self._closed = False

    def sendall(self, data: bytes, *args: Any) -> None:
        rec = _current_recording()
        if rec is not None:
            if rec.ip is None:
                self._note_peer(rec)
            rec.sent.write(data)
        self._sock.sendall(data, *args)

    def _note_peer(self, rec: Recording) -> None:
        try:
            peer = self._sock.getpeername()
            rec.ip, rec.port = str(peer[0]), int(peer[1])
        except OSError:
            pass

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        deadline: float | None = getattr(_tls, "deadline", None)
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("total time per URL exceeded")
            limit = remaining if self._timeout is None else min(self._timeout, remaining)
            self._sock.settimeout(limit)
        n = self._sock.recv_into(buffer, nbytes, flags)
        rec = _current_recording()
        if rec is not None and n:
            rec.received.write(memoryview(buffer)[:n])
        return n

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def makefile(self, mode: str = "rb", *_: Any, **__: Any) -> io.BufferedReader:
        # http.client reads through this file; SocketIO calls our recv_into.
        self._io_refs += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"), io.DEFAULT_BUFFER_SIZE)  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self) -> None:
        # As socket.socket does: the connection stays open while a makefile() reader is open.
        # http.client closes the socket right after the headers of a `Connection: close`
        # response and reads the body through that reader; closing at once gave EBADF.
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _RecordingHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _RecordingSocket(self.sock)


class _RecordingHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        self.sock = _RecordingSocket(self.sock)


class _RecordingHTTPPool(HTTPConnectionPool):
    ConnectionCls = _RecordingHTTPConnection


class _RecordingHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _RecordingHTTPSConnection


class RecordingAdapter(HTTPAdapter):
    """A requests adapter whose connections record raw traffic. No urllib3 retries: we retry
    ourselves so that every attempt is visible."""

    def __init__(self) -> None:
        super().__init__(max_retries=0, pool_connections=8, pool_maxsize=8)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _RecordingHTTPPool,
            "https": _RecordingHTTPSPool,
        }


@dataclass
class Exchange:
    """One HTTP request and its response (or its failure), as on the wire."""

    url: str
    started_at: datetime
    request_bytes: bytes = b""
    response_head: bytes = b""  # status line + headers, as received
    response_body: Any = None  # file object: body bytes as received (chunking kept)
    status: int | None = None
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names, last wins
    payload_sha256: bytes | None = None
    payload_size: int = 0
    ip: str | None = None
    port: int | None = None
    truncated: str | None = None  # WARC-Truncated reason: "length", "time", "disconnect"
    elapsed: float = 0.0
    error: str | None = None
    # more WARC headers for its request and response records (the browser proxy's
    # WARC-Protocol and WARC-Cipher-Suite, repeated names allowed)
    warc_headers: list[tuple[str, str]] = field(default_factory=list)

    def close(self) -> None:
        if self.response_body is not None:
            self.response_body.close()


@dataclass
class FetchResult:
    """Every exchange made for one URL: redirect hops and retried attempts, in order."""

    url: str
    exchanges: list[Exchange]
    final_url: str
    error: str | None = None  # set when the URL could not be fetched to a final answer

    @property
    def final(self) -> Exchange | None:
        answered = [e for e in self.exchanges if e.status is not None]
        return answered[-1] if answered else None

    @property
    def status(self) -> int | None:
        return self.final.status if self.final else None

    def redirect_chain(self) -> list[dict[str, Any]]:
        return [
            {"url": e.url, "status": e.status, "location": e.headers.get("location")}
            for e in self.exchanges
            if e.status is not None
        ]

    def close(self) -> None:
        for e in self.exchanges:
            e.close()


@dataclass(frozen=True)
class FetchOptions:
    timeout: float = DEFAULT_TIMEOUT
    max_time: float = DEFAULT_MAX_TIME
    max_bytes: int = DEFAULT_MAX_BYTES
    retries: int = DEFAULT_RETRIES
    backoff: float = 0.5  # first retry waits this long, doubling each time
    delay: float = 0.0  # politeness: seconds between requests to one host
    max_redirects: int = MAX_REDIRECTS


def check_url(url: str) -> str:
    """Refuse what we will not fetch: other schemes, no host, spaces and control characters."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. "http://[::1/": urlsplit refuses a bad IPv6 literal
        raise UsageError(f"{url}: invalid URL: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{url}: only http and https URLs can be captured")
    if not parts.hostname:
        raise UsageError(f"{url}: no host name in URL")
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise UsageError(f"{url}: URL contains spaces or control characters")
    return url


class HostPacer:
    """Per-host politeness shared by all workers: at most one request per `delay` seconds."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, url: str) -> None:
        if self.delay <= 0:
            return
        host = urlsplit(url).netloc.lower()
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, 0.0))
            self._next[host] = slot + self.delay
        if slot > now:
            time.sleep(slot - now)


class _HopSession(requests.Session):
    """A session that never looks at Location: we follow redirects ourselves, hop by hop.
    Even with allow_redirects=False requests parses Location to prepare `response.next`,
    and a malformed one ("http://[::1/x") raised ValueError out of session.get()."""

    def get_redirect_target(self, resp: requests.Response) -> None:
        return None


class Fetcher:
    """Fetches URLs one at a time with one session. Not shared between threads."""

    def __init__(self, options: FetchOptions, pacer: HostPacer | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.options = options
        self.pacer = pacer or HostPacer(options.delay)
        self.sleep = sleep
        self.session = _HopSession()
        self.session.headers["User-Agent"] = agent.user_agent()
        adapter = RecordingAdapter()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        """Fetch `url`, following redirects hop by hop. Raises UsageError for a URL we refuse;
        network failures end up in `FetchResult.error` with every exchange made so far.
        `headers` go with the request for `url` itself (a conditional request's validators),
        not with the redirect hops."""
        check_url(url)
        deadline = time.monotonic() + self.options.max_time
        result = FetchResult(url=url, exchanges=[], final_url=url)
        seen = {url}
        current = url
        try:
            for hop in range(self.options.max_redirects + 1):
                exchange = self._fetch_with_retries(current, deadline, result,
                                                    headers if hop == 0 else None)
                if exchange is None:
                    return result
                result.final_url = current
                location = exchange.headers.get("location")
                if exchange.status not in (301, 302, 303, 307, 308) or not location:
                    return result
                current = self._next_hop(current, location, seen)
                seen.add(current)
            result.error = f"more than {self.options.max_redirects} redirects"
        except FetchError as exc:
            result.error = str(exc)
        return result

    @staticmethod
    def _next_hop(current: str, location: str, seen: set[str]) -> str:
        try:
            target = urljoin(current, location.strip())
            scheme = urlsplit(target).scheme
        except ValueError as exc:  # a hostile Location must end this URL, not the whole run
            raise FetchError(f"redirect to an invalid URL refused: {location!r}") from exc
        if scheme not in ("http", "https"):
            raise FetchError(f"redirect to a non-http(s) URL refused: {target}")
        if target in seen:
            raise FetchError(f"redirect loop at {target}")
        return target

    def _fetch_with_retries(self, url: str, deadline: float, result: FetchResult,
                            headers: dict[str, str] | None = None) -> Exchange | None:
        attempt = 0
        while True:
            exchange = self._exchange(url, deadline, headers)
            result.exchanges.append(exchange)
            retry_wait = self._retry_wait(exchange, attempt)
            if retry_wait is None or time.monotonic() + retry_wait >= deadline:
                if exchange.status is None:
                    result.error = exchange.error
                    return None
                return exchange
            self.sleep(retry_wait)
            attempt += 1

    def _retry_wait(self, exchange: Exchange, attempt: int) -> float | None:
        """Seconds to wait before another attempt, or None when we should not retry."""
        if attempt >= self.options.retries:
            return None
        if exchange.status is None and exchange.truncated is None:
            return self.options.backoff * 2**attempt  # connection error: retry
        if exchange.status in RETRY_STATUSES:
            stated = parse_retry_after(exchange.headers.get("retry-after"))
            wait = stated if stated is not None else self.options.backoff * 2**attempt
            return min(wait, MAX_RETRY_AFTER)
        return None

    def _exchange(self, url: str, deadline: float,
                  headers: dict[str, str] | None = None) -> Exchange:
        self.pacer.wait(url)
        exchange = Exchange(url=url, started_at=datetime.now(UTC))
        rec = Recording()
        _tls.recording, _tls.deadline = rec, deadline
        t0 = time.monotonic()
        try:
            remaining = max(0.001, deadline - t0)
            timeout = (min(self.options.timeout, remaining), min(self.options.timeout, remaining))
            response = self.session.get(url, stream=True, allow_redirects=False, timeout=timeout,
                                        headers=headers)
            try:
                self._read_body(response, exchange)
            finally:
                response.close()
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            exchange.error = describe_error(exc)
            if exchange.status is not None and exchange.truncated is None:
                exchange.truncated = "time" if "time" in exchange.error else "disconnect"
        finally:
            _tls.recording = _tls.deadline = None
            exchange.elapsed = time.monotonic() - t0
            _fill_from_recording(exchange, rec)
        return exchange

    def _read_body(self, response: requests.Response, exchange: Exchange) -> None:
        """Consume the body (the socket recording keeps the bytes) up to the size cap."""
        exchange.status, exchange.reason = response.status_code, response.reason or ""
        exchange.headers = {k.lower(): v for k, v in response.headers.items()}
        size = 0
        # decode_content=False: count the entity as sent (Content-Encoding kept, chunking removed)
        for chunk in response.raw.stream(READ_CHUNK, decode_content=False):
            size += len(chunk)
            if size >= self.options.max_bytes:
                exchange.truncated = "length"
                break


def begin_recording(rec: Recording, deadline: float | None) -> None:
    """Record this thread's socket traffic (through RecordingSocket) into `rec` until
    end_recording; every receive fails once `deadline` (time.monotonic) has passed."""
    _tls.recording, _tls.deadline = rec, deadline


def end_recording() -> None:
    _tls.recording = _tls.deadline = None


RecordingSocket = _RecordingSocket  # for other clients of the recorder (the browser proxy)


def fill_from_recording(exchange: Exchange, rec: Recording) -> None:
    """The exchange's request bytes, response head and body (as received) and payload
    digest, from a finished recording (which is closed)."""
    _fill_from_recording(exchange, rec)


def _fill_from_recording(exchange: Exchange, rec: Recording) -> None:
    exchange.request_bytes = rec.sent.getvalue()
    exchange.ip, exchange.port = rec.ip, rec.port
    rec.received.seek(0)
    head = _read_head(rec.received)
    exchange.response_head = head
    body = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    rec.received.seek(len(head))
    while chunk := rec.received.read(1024 * 1024):
        body.write(chunk)
    exchange.response_body = body
    rec.close()
    _digest_payload(exchange)
    if exchange.status is None:
        exchange.response_head = b""  # no usable answer: nothing to archive as a response


def _digest_payload(exchange: Exchange) -> None:
    """Payload digests over the stored body with Transfer-Encoding removed (WARC 1.1 section
    6.3.2; warcio #74 and heritrix3 #769 hashed the chunk framing instead)."""
    sha256 = hashlib.sha256()
    body = exchange.response_body
    body.seek(0)
    stream: Any = body
    if "chunked" in exchange.headers.get("transfer-encoding", "").lower():
        stream = ChunkedDataReader(body)
    size = 0
    try:
        while chunk := stream.read(1024 * 1024):
            sha256.update(chunk)
            size += len(chunk)
    except (ValueError, OSError):  # framing cut short by truncation: digest what decoded
        pass
    exchange.payload_sha256 = sha256.digest()
    exchange.payload_size = size
    body.seek(0)


def _read_head(stream: Any) -> bytes:
    """The status line and headers: everything up to and including the blank line."""
    head = bytearray()
    while line := stream.readline(65537):
        head += line
        if line in (b"\r\n", b"\n"):
            break
    return bytes(head)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def describe_error(exc: BaseException) -> str:
    """One line a person can act on, instead of urllib3's nested reprs."""
    text = str(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error: " + _short(text)
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Name or service not known" in text or "NameResolution" in text or "getaddrinfo" in text:
            return "DNS lookup failed (host not found)"
        if "Connection refused" in text:
            return "connection refused"
        if "timed out" in text or "total time" in text:
            return "timed out while reading the response"
        return "connection failed: " + _short(text)
    timeouts = requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError
    if isinstance(exc, timeouts):
        return "timed out while reading the response"
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return "invalid URL: " + _short(text)
    return f"{type(exc).__name__}: {_short(text)}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
