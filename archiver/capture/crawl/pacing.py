"""Per-host politeness, shared by the scheduler (which host may get a request now) and the
fetchers (which wait for their host's slot just before each request, redirect hops and
retries included, so the spacing holds at the socket).

A host's delay is `--delay`, or its robots.txt Crawl-delay when that is larger. A 429 or 503
with Retry-After pushes that host's next slot back; other hosts go on. A host that fails
`max_failures` times in a row (no answer, or 5xx after retries) is paused for the rest of the
run, with a message; its URLs stay queued for a --resume. So is a host that did not answer a
request at all (refused, timed out) once its retries are spent: nothing else will get through.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from archiver.capture.fetch import HostPacer

MAX_BACKOFF = 300.0  # never wait longer than this on a server's say-so


@dataclass
class HostState:
    delay: float
    next_at: float = 0.0  # monotonic time of the next allowed request
    last_at: float | None = None  # when the last request was allowed to start
    last_done: float | None = None  # when the last request's fetch ended
    active: int = 0
    failures: int = 0  # in a row
    paused: str | None = None  # why, once paused
    pause_reported: bool = False


class Politeness(HostPacer):
    """Every host's clock. `wait(url)` is what the capture Fetcher calls before a request."""

    def __init__(self, delay: float, host_workers: int, max_failures: int) -> None:
        super().__init__(delay)
        self.host_workers = max(1, host_workers)
        self.max_failures = max_failures
        self.hosts: dict[str, HostState] = {}
        self._lock = threading.Lock()

    def state(self, host: str) -> HostState:
        with self._lock:
            return self._state(host)

    def _state(self, host: str) -> HostState:
        st = self.hosts.get(host)
        if st is None:
            st = self.hosts[host] = HostState(self.delay)
        return st

    def set_crawl_delay(self, host: str, crawl_delay: float | None) -> None:
        """robots.txt Crawl-delay wins when it is larger than --delay."""
        with self._lock:
            st = self._state(host)
            st.delay = max(self.delay, crawl_delay or 0.0)
            # the gap after robots.txt itself counts too
            last = st.last_done if self.host_workers == 1 else st.last_at
            if last is not None:
                st.next_at = max(st.next_at, last + st.delay)

    def wait(self, url: str) -> None:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            st = self._state(host)
            now = time.monotonic()
            slot = max(now, st.next_at)
            st.next_at = slot + st.delay
            st.last_at = slot
        if slot > now:
            time.sleep(slot - now)

    def request_done(self, url: str, retry_after: float | None = None,
                     failed: bool = False) -> None:
        """Called by a worker as soon as its fetch ends: the host may take another request
        (storing and parsing overlap it). With one request per host at a time, the delay
        also runs from here (as wget --wait and Heritrix do): the gap the server
        sees between two requests is then at least the delay, whatever the scheduling jitter
        on our side."""
        host = urlsplit(url).netloc.lower()
        with self._lock:
            st = self._state(host)
            st.active -= 1  # the host is free again while we store and parse
            st.last_done = time.monotonic()
            if self.host_workers == 1:
                st.next_at = max(st.next_at, st.last_done + st.delay)
            if retry_after is not None:  # 429/503 Retry-After: held back before it is stored
                st.next_at = max(st.next_at, st.last_done + min(retry_after, MAX_BACKOFF))
            # Failures in a row are counted here, as the fetch ends, not once it is stored
            # (a group commit later): no request goes out after the one that pauses the host.
            st.failures = st.failures + 1 if failed else 0
            if st.paused is None and self.max_failures and st.failures >= self.max_failures:
                st.paused = (f"host {host} paused after {st.failures} failures in a row; "
                             "its queued URLs are kept for --resume")

    def pause(self, host: str, reason: str) -> str | None:
        """Pause `host` for the rest of the run now (it cannot be reached); the message,
        when this paused it."""
        with self._lock:
            st = self._state(host)
            if st.paused is not None:
                return None
            st.paused = f"host {host} paused: {reason}; its queued URLs are kept for --resume"
            st.pause_reported = True
            return st.paused

    def ready(self, host: str, now: float) -> bool:
        """May the scheduler hand this host a URL now?"""
        with self._lock:
            st = self._state(host)
            return st.paused is None and st.active < self.host_workers and st.next_at <= now

    def has_room(self, host: str) -> bool:
        with self._lock:
            st = self._state(host)
            return st.paused is None and st.active < self.host_workers

    def next_ready_at(self, host: str) -> float:
        with self._lock:
            return self._state(host).next_at

    def started(self, host: str) -> None:
        with self._lock:
            self._state(host).active += 1

    def ended(self, host: str, retry_after: float | None = None) -> str | None:
        """Account for one stored fetch (its back-off); returns the message, once, when the
        host is paused (request_done counted the failures)."""
        with self._lock:
            st = self._state(host)
            if retry_after is not None:
                st.next_at = max(st.next_at, time.monotonic() + min(retry_after, MAX_BACKOFF))
            if st.paused is not None and not st.pause_reported:
                st.pause_reported = True
                return st.paused
            return None

    def paused(self) -> dict[str, str]:
        with self._lock:
            return {h: st.paused for h, st in self.hosts.items() if st.paused}
