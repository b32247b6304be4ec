"""archiver's recording proxy: the browser's only way out.

An HTTP/1.1 forward proxy on 127.0.0.1 (absolute-form requests for http://, CONNECT for
https://). A CONNECT tunnel is terminated here with a leaf certificate from the run's CA
(ca.py), so the proxy sees each request in clear. Every request is then made by the proxy
itself, upstream, through the same socket recorder `capture` uses (fetch.RecordingSocket):
the request bytes as sent and the response bytes as received become an `Exchange`, stored by
the same record writer as a plain capture. The browser is sent exactly the bytes received.

One upstream connection per exchange: each response record then carries the TLS facts of
the handshake that fetched it (tls.py), and no read-ahead of one response can leak into
another's recording. Requests are refused (403, logged) when the guard (guard.py) says so.

The proxy keeps a `PageLog` for the page being captured (pages are captured one at a time):
its exchanges, refused requests, failures, TLS facts per origin, bytes used against the
page's byte budget.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.capture import fetch
from archiver.capture.browser import guard, tls
from archiver.capture.browser.ca import Authority
from archiver.capture.fetch import Exchange, Recording

READ_CHUNK = 64 * 1024
MAX_HEAD = 64 * 1024
CLIENT_IDLE = 30.0  # seconds a browser connection may sit idle between requests
LATE_REQUEST_SECONDS = 10.0  # time given to a request made after the page's deadline
DEADLINE_MARGIN = 1.5  # upstream reads of the page's requests end this long after it
# Hop-by-hop headers meant for the proxy, never sent upstream (RFC 9110 section 7.6.1)
PROXY_HEADERS = (b"proxy-connection", b"proxy-authorization", b"proxy-authenticate")
# Content-Encodings the archive's readers decode (warcio for extraction and validation, pywb
# for replay): Chromium also offers zstd and dictionary transport (dcb, dcz), which none of
# them reads, so a page stored that way could be neither extracted nor checked.
READABLE_ENCODINGS = (b"gzip", b"deflate", b"br", b"identity")


@dataclass(frozen=True)
class ProxyOptions:
    allowed: frozenset[tuple[str, int]] = frozenset()
    ca_file: Path | None = None
    timeout: float = 30.0  # connect and each read upstream


@dataclass
class PageLog:
    """What the proxy saw while one page was captured."""

    deadline: float  # time.monotonic(): upstream reads stop here
    max_bytes: int  # the page's byte budget, all responses together
    used: int = 0
    exchanges: list[Exchange] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    tls: dict[str, tls.TlsFacts] = field(default_factory=dict)  # origin -> first handshake


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: RecordingProxy


class RecordingProxy:
    """Start with `RecordingProxy(options)`, point the browser at `address`, and bracket
    each page with begin_page / end_page."""

    def __init__(self, options: ProxyOptions) -> None:
        self.options = options
        self.authority = Authority.create()
        self.anchors = tls.roots(options.ca_file)
        self._tmp = tempfile.TemporaryDirectory(prefix="archiver-proxy-")
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._inflight = 0
        self.page: PageLog | None = None
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.proxy = self
        self._thread = threading.Thread(target=self.server.serve_forever, name="proxy",
                                        daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def begin_page(self, deadline: float, max_bytes: int) -> None:
        with self._lock:
            self.page = PageLog(deadline, max_bytes)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight (at most `timeout` s); whether it is so."""
        with self._idle:
            return self._idle.wait_for(lambda: self._inflight == 0, timeout=timeout)

    def end_page(self, wait: float) -> PageLog:
        """The page's log, once its requests in flight are done (at most `wait` seconds)."""
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout=wait)
            page, self.page = self.page, None
        assert page is not None
        return page

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._tmp.cleanup()

    # ------------------------------------------------------------------ per request

    def server_context(self, host: str) -> ssl.SSLContext:
        """The TLS context the browser's tunnel to `host` is terminated with."""
        with self._lock:
            if host not in self._contexts:
                chain, key = self.authority.leaf(host)
                name = f"{len(self._contexts)}"
                cert_path, key_path = Path(self._tmp.name, name + ".pem"), \
                    Path(self._tmp.name, name + ".key")
                cert_path.write_bytes(chain)
                key_path.write_bytes(key)
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(cert_path, key_path)
                ctx.set_alpn_protocols(["http/1.1"])  # the recorder speaks HTTP/1.1 only
                self._contexts[host] = ctx
            return self._contexts[host]

    def _note(self, page: PageLog | None, kind: str, item: Any) -> None:
        """Log on the page the request was made for (not one begun since)."""
        with self._lock:
            if page is not None:
                getattr(page, kind).append(item)

    def forward(self, url: str, method: str, head_lines: list[bytes], body: bytes,
                client: socket.socket) -> bool:
        """Make the request upstream, record it, relay the answer. Returns whether the
        browser connection can carry another request."""
        with self._lock:
            self._inflight += 1
            page = self.page
        try:
            return self._forward(url, method, head_lines, body, client, page)
        finally:
            with self._idle:
                self._inflight -= 1
                self._idle.notify_all()

    def _forward(self, url: str, method: str, head_lines: list[bytes], body: bytes,
                 client: socket.socket, page: PageLog | None) -> bool:
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        port = parts.port or (443 if https else 80)
        when = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        try:
            address = guard.resolve(host, port, self.options.allowed)
        except guard.Refused as exc:
            self._note(page, "blocked", {"url": url, "reason": str(exc), "at": when})
            _send_simple(client, 403, "Forbidden", f"archiver refused {url}: {exc}\n")
            return True
        except guard.Unresolved as exc:
            self._note(page, "failed", {"url": url, "reason": str(exc), "at": when})
            _send_simple(client, 502, "Bad Gateway", f"{exc}\n")
            return True
        now = time.monotonic()
        deadline = now + self.options.timeout
        if page is not None:
            # a request of the page's steps ends a little after them: the step that waited
            # for it times out first and is the one marked, not a 502 raced against it
            deadline = max(page.deadline, now) + DEADLINE_MARGIN \
                if now < page.deadline else now + LATE_REQUEST_SECONDS
        limit = None
        if page is not None:
            with self._lock:
                limit = max(0, page.max_bytes - page.used)
        exchange = self._exchange(url, host, port, address, https, method, head_lines, body,
                                  deadline, limit, page)
        if exchange.status is None:
            self._note(page, "failed", {"url": url, "reason": exchange.error, "at": when})
            _send_simple(client, 502, "Bad Gateway", f"archiver could not fetch {url}: "
                                                     f"{exchange.error}\n")
            exchange.close()
            return False
        with self._lock:
            # a page whose end_page has returned is being stored (and its exchanges closed)
            # already: a request that outlived it is relayed, like one between pages
            kept = False
            if page is not None and page is self.page:
                kept = True
                page.used += exchange.payload_size
                page.exchanges.append(exchange)
        try:
            return _relay(client, exchange, method)
        finally:
            if not kept:  # in no page log (which closes it once stored): free its body now
                exchange.close()

    def _exchange(self, url: str, host: str, port: int, address: str, https: bool,
                  method: str, head_lines: list[bytes], body: bytes, deadline: float,
                  limit: int | None, page: PageLog | None) -> Exchange:
        exchange = Exchange(url=url, started_at=datetime.now(UTC))
        rec = Recording()
        t0 = time.monotonic()
        sock: Any = None
        facts: tls.TlsFacts | None = None
        try:
            sock = socket.create_connection(
                (address, port), timeout=max(0.1, min(self.options.timeout, deadline - t0)))
            if https:
                sock, facts = tls.handshake(sock, host, port, self.anchors)
                exchange.warc_headers = facts.warc_headers()
                with self._lock:
                    if page is not None:
                        page.tls.setdefault(f"https://{host}:{port}", facts)
            else:
                exchange.warc_headers = [("WARC-Protocol", "http/1.1")]
            rsock = fetch.RecordingSocket(sock)
            fetch.begin_recording(rec, deadline)
            path = urlsplit(url)._replace(scheme="", netloc="", fragment="").geturl() or "/"
            rsock.sendall(b"%s %s HTTP/1.1\r\n" % (method.encode("ascii"), path.encode("ascii"))
                          + b"".join(head_lines) + b"\r\n" + body)
            response = http.client.HTTPResponse(rsock, method=method)  # type: ignore[arg-type]
            response.begin()
            exchange.status, exchange.reason = response.status, response.reason
            exchange.headers = {k.lower(): v for k, v in response.getheaders()}
            size = 0
            while chunk := response.read(READ_CHUNK):
                size += len(chunk)
                if limit is not None and size >= limit:
                    exchange.truncated = "length"
                    break
        except (OSError, http.client.HTTPException, ValueError) as exc:
            exchange.error = fetch.describe_error(exc)
            if isinstance(exc, ssl.SSLError):
                exchange.error = "TLS error: " + exchange.error
            if exchange.status is not None and exchange.truncated is None:
                exchange.truncated = "time" if "time" in exchange.error else "disconnect"
        finally:
            fetch.end_recording()
            if sock is not None:
                sock.close()
            exchange.elapsed = time.monotonic() - t0
            fetch.fill_from_recording(exchange, rec)
            if exchange.ip is None:
                exchange.ip, exchange.port = address, port
        return exchange


def _send_simple(client: socket.socket, status: int, reason: str, text: str) -> None:
    body = text.encode("utf-8", "replace")
    with contextlib.suppress(OSError):
        client.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                       b"Content-Length: %d\r\n\r\n" % (status, reason.encode(), len(body))
                       + body)


def _relay(client: socket.socket, exchange: Exchange, method: str) -> bool:
    """Send the browser the bytes received; whether its connection may be reused."""
    try:
        client.sendall(exchange.response_head)
        exchange.response_body.seek(0)
        while chunk := exchange.response_body.read(READ_CHUNK):
            client.sendall(chunk)
        exchange.response_body.seek(0)
    except OSError:
        return False
    if exchange.truncated or exchange.error:
        return False  # the browser must see the answer end here
    headers = exchange.headers
    framed = ("content-length" in headers or "chunked" in headers.get("transfer-encoding", "")
              or method == "HEAD" or exchange.status in (204, 304)
              or (exchange.status or 0) < 200)
    return framed and "close" not in headers.get("connection", "").lower()


class _Handler(socketserver.BaseRequestHandler):
    """One browser connection: requests in order, a CONNECT switching it to TLS."""

    def handle(self) -> None:
        proxy: RecordingProxy = self.server.proxy  # type: ignore[attr-defined]
        conn: socket.socket = self.request
        conn.settimeout(CLIENT_IDLE)
        reader = conn.makefile("rb")
        origin: str | None = None  # "host:port" inside a CONNECT tunnel
        try:
            while True:
                request = _read_request(reader)
                if request is None:
                    return
                method, target, head_lines, body = request
                if method == "CONNECT":
                    if origin is not None:
                        return
                    conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                    host = target.rsplit(":", 1)[0].strip("[]")
                    conn = proxy.server_context(host).wrap_socket(conn, server_side=True)
                    reader = conn.makefile("rb")
                    origin = target
                    continue
                if origin is not None:
                    url = f"https://{origin.removesuffix(':443')}{target}"
                elif target.startswith("http://"):
                    url = target
                else:
                    _send_simple(conn, 400, "Bad Request", "absolute http:// URL expected\n")
                    return
                if _is_upgrade(head_lines):  # websockets are not recorded (see README)
                    _send_simple(conn, 501, "Not Implemented", "upgrade not supported\n")
                    return
                if not proxy.forward(url, method, head_lines, body, conn):
                    return
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()


def _is_upgrade(head_lines: list[bytes]) -> bool:
    return any(line.lower().startswith(b"upgrade:") for line in head_lines)


def _readable_encodings(header: bytes) -> bytes:
    """The Accept-Encoding line with only the codings in READABLE_ENCODINGS."""
    name, _, value = header.partition(b":")
    kept = [c.strip() for c in value.strip().split(b",")
            if c.split(b";")[0].strip().lower() in READABLE_ENCODINGS]
    return name + b": " + b", ".join(kept) + b"\r\n"


def _read_request(reader: Any) -> tuple[str, str, list[bytes], bytes] | None:
    """(method, target, header lines as received minus the proxy's own, body)."""
    line = reader.readline(MAX_HEAD)
    while line in (b"\r\n", b"\n"):
        line = reader.readline(MAX_HEAD)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise ValueError("bad request line")
    method, target = parts[0], parts[1]
    lines: list[bytes] = []
    length = 0
    total = 0
    while True:
        header = reader.readline(MAX_HEAD)
        total += len(header)
        if not header or total > MAX_HEAD:
            raise ValueError("request head too long or cut short")
        if header in (b"\r\n", b"\n"):
            break
        name = header.split(b":", 1)[0].strip().lower()
        if name == b"content-length":
            length = int(header.split(b":", 1)[1].strip())
        if name in PROXY_HEADERS:
            continue
        if name == b"accept-encoding":
            header = _readable_encodings(header)
        lines.append(header)
    body = reader.read(length) if length else b""
    return method, target, lines, body
