"""Deduplication: which earlier record already holds a payload, and what to ask a server so
it can say "not modified".

A recaptured page whose payload is unchanged is written as a WARC 1.1 `revisit` record
(identical-payload-digest profile, section 6.7.2): the HTTP headers only, pointing at the
record that holds the payload. The lookup goes to the run's own captures first (not in the
catalog until their batch commits), then to the catalog. A payload is claimed before it is
written, so two workers fetching it at once store it once, and a revisit waits until its
target's capture is queued for commit, so it is never durable before its target.
`--dedup url` (the default, as Heritrix and Browsertrix do) matches the same URL only; `any`
matches any URL (a shared image under two addresses); `off` writes every payload.

For a URL captured before, the request carries `If-None-Match` / `If-Modified-Since` from the
last capture's response; a 304 becomes a revisit with the server-not-modified profile
(section 6.7.3) referring to that capture.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from archiver.base.errors import StoreError
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog
from archiver.store.cdxj import surt_key
from archiver.store.rolling import WarcFull, open_path
from archiver.store.warc import read_record_at

IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
CLAIM_WAIT = 30.0  # seconds a revisit waits for its target's capture to be queued

T = TypeVar("T")


@dataclass(frozen=True)
class Earlier:
    """A record that holds a payload: what a revisit refers to."""

    record_id: str
    url: str
    date: str  # its WARC-Date
    digest: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # its HTTP headers (lower-cased), when read


@dataclass
class _Claim:
    """A payload this run is writing in full: who (the thread) and whether its capture is
    queued in the committer yet."""

    earlier: Earlier
    owner: int
    key: tuple[str | None, str]
    queued: threading.Event = field(default_factory=threading.Event)
    abandoned: bool = False


class Dedup:
    """Payload lookups for one capture run (thread-safe: the catalog handle is too)."""

    def __init__(self, archive: Archive, mode: str = "url") -> None:
        self.archive = archive
        self.mode = mode
        self._seen: dict[tuple[str | None, str], _Claim] = {}  # this run's responses
        self._unqueued: dict[int, list[_Claim]] = {}  # per thread: claims not yet queued
        self._lock = threading.Lock()
        self._catalog_handle: Catalog | None = None
        self._unavailable = False

    def _catalog(self) -> Catalog | None:
        """Opened on first use (it catches up with the manifest); none for a new archive, or
        when it cannot be opened: then payloads are stored again, never a capture lost."""
        with self._lock:
            if self._catalog_handle is None and self.archive.manifest_path.is_file() \
                    and not self._unavailable:
                try:
                    self._catalog_handle = Catalog.open(self.archive)
                except StoreError as exc:
                    self._unavailable = True
                    logging.getLogger("archiver").warning(
                        "no deduplication against earlier runs: %s", exc)
            return self._catalog_handle

    def _key(self, url: str, digest: str) -> tuple[str | None, str]:
        return (surt_key(url) if self.mode == "url" else None, digest)

    def claim(self, url: str, digest: str, record_id: str, date: str) -> Earlier | None:
        """The record a response with this payload should refer to, or None: then the
        caller holds the claim and writes the payload in full as `record_id`.

        Claim before write, so two workers fetching the same payload at once store it once:
        the second becomes a revisit of the first. A revisit must never be durable before
        its target, so a claim that another capture holds is returned only once that
        capture is queued in the committer (`queued`): batches commit in queue order, so the
        revisit's batch is the target's or a later one. A capture's own claims (two hops of
        one redirect chain) are returned at once: one capture, one batch."""
        if self.mode == "off":
            return None
        key = self._key(url, digest)
        me = threading.get_ident()
        while True:
            with self._lock:
                held = self._seen.get(key)
            if held is None:
                catalog = self._catalog()  # committed earlier: durable already
                row = catalog.find_digest(url if self.mode == "url" else None, digest) \
                    if catalog else None
                if row:
                    return _earlier(row)
                with self._lock:
                    held = self._seen.setdefault(key, _Claim(Earlier(record_id, url, date,
                                                                     digest), me, key))
                    if held.owner == me and held.earlier.record_id == record_id:
                        self._unqueued.setdefault(me, []).append(held)
                        return None  # ours: write it
            if held.owner == me or held.queued.is_set():
                return held.earlier
            if not held.queued.wait(CLAIM_WAIT) or held.abandoned:
                if held.abandoned:
                    continue  # its capture was built again or failed: try again
                return None  # a capture stuck in its build: store this one in full, unclaimed

    def queued_mine(self) -> None:
        """The calling thread's capture is in the committer's queue: revisits may refer to
        the records it claimed. (A worker thread builds one capture at a time.)"""
        with self._lock:
            claims = self._unqueued.pop(threading.get_ident(), [])
        for c in claims:
            c.queued.set()

    def abandon_mine(self) -> None:
        """The calling thread's capture will not be queued as built (it is built again for
        another file, or failed): its claims go, and whoever waits on them claims again."""
        with self._lock:
            claims = self._unqueued.pop(threading.get_ident(), [])
            for claim in claims:
                if self._seen.get(claim.key) is claim:
                    del self._seen[claim.key]
                claim.abandoned = True
        for claim in claims:
            claim.queued.set()

    def last_capture(self, url: str) -> Earlier | None:
        """The latest 2xx response to `url`, with its HTTP headers (for validators)."""
        if self.mode == "off":
            return None
        catalog = self._catalog()
        row = catalog.latest_capture(url) if catalog else None
        if row is None or row["record_type"] != "response" or not 200 <= (row["status"] or 0) < 300:
            return None
        try:
            record = read_record_at(open_path(self.archive, row["file"]), row["offset"], cap=0)
        except Exception:  # a damaged record: fetch unconditionally, audit reports it
            return None
        earlier = _earlier(row)
        return Earlier(earlier.record_id, earlier.url, earlier.date, earlier.digest,
                       tuple(sorted(record.http_headers.items())))

    def article_of(self, record_id: str) -> str | None:
        """The article file derived from that record (what an unchanged capture points at)."""
        catalog = self._catalog()
        return catalog.article_path_for_record(record_id) if catalog else None

    def close(self) -> None:
        with self._lock:
            if self._catalog_handle is not None:
                self._catalog_handle.close()
                self._catalog_handle = None


def validators(earlier: Earlier | None) -> dict[str, str]:
    """Conditional request headers from the last capture's response (RFC 9110 13.1)."""
    if earlier is None:
        return {}
    headers = dict(earlier.headers)
    out = {}
    if headers.get("etag"):
        out["If-None-Match"] = headers["etag"]
    if headers.get("last-modified"):
        out["If-Modified-Since"] = headers["last-modified"]
    return out


def _earlier(row: dict[str, Any]) -> Earlier:
    return Earlier(row["record_id"], row["url"], row["timestamp"], row["payload_digest"])


def build_until_queued(build: Callable[[], T], dedup: Dedup | None) -> T:
    """Run `build` (reserve a rolling WARC, write a capture's records, submit them) until its
    capture is queued: again when its file filled up meanwhile (WarcFull). A build that ends
    without being queued gives up the dedup claims it made: its records will not exist as
    claimed, so nobody may refer to them."""
    while True:
        try:
            return build()
        except WarcFull:
            if dedup is not None:
                dedup.abandon_mine()  # built again for the next file
        except BaseException:
            if dedup is not None:
                dedup.abandon_mine()
            raise
