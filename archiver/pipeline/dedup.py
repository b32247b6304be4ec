"""Deduplication: which earlier record already holds a payload, and what to ask a server so
it can say "not modified".

A recaptured page whose payload is unchanged is written as a WARC 1.1 `revisit` record
(identical-payload-digest profile, section 6.7.2): the HTTP headers only, pointing at the
record that holds the payload. The lookup goes to the run's own captures first (not in the
catalog until their batch commits), then to the catalog. `--dedup url` (the default, as
Heritrix and Browsertrix do) matches the same URL only; `any` matches any URL (a shared image
under two addresses); `off` writes every payload.

For a URL captured before, the request carries `If-None-Match` / `If-Modified-Since` from the
last capture's response; a 304 becomes a revisit with the server-not-modified profile
(section 6.7.3) referring to that capture.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from archiver.base.errors import StoreError
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog
from archiver.store.cdxj import surt_key
from archiver.store.rolling import open_path
from archiver.store.warc import read_record_at

IDENTICAL_PAYLOAD = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


@dataclass(frozen=True)
class Earlier:
    """A record that holds a payload: what a revisit refers to."""

    record_id: str
    url: str
    date: str  # its WARC-Date
    digest: str | None = None
    headers: tuple[tuple[str, str], ...] = ()  # its HTTP headers (lower-cased), when read


class Dedup:
    """Payload lookups for one capture run (thread-safe: the catalog handle is too)."""

    def __init__(self, archive: Archive, mode: str = "url") -> None:
        self.archive = archive
        self.mode = mode
        self._seen: dict[tuple[str | None, str], Earlier] = {}  # this run's responses
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

    def find(self, url: str, digest: str) -> Earlier | None:
        """The earliest record holding this payload (of this URL in `url` mode)."""
        if self.mode == "off":
            return None
        with self._lock:
            found = self._seen.get(self._key(url, digest))
        if found is not None:
            return found
        catalog = self._catalog()
        row = catalog.find_digest(url if self.mode == "url" else None, digest) \
            if catalog else None
        return _earlier(row) if row else None

    def note(self, url: str, digest: str, record_id: str, date: str) -> None:
        """A response this run wrote: later duplicates in the run refer to it."""
        if self.mode != "off":
            with self._lock:
                self._seen.setdefault(self._key(url, digest), Earlier(record_id, url, date,
                                                                      digest))

    def forget(self, record_ids: Iterable[str]) -> None:
        """Records noted but never written (their capture is built again elsewhere)."""
        gone = set(record_ids)
        with self._lock:
            for key in [k for k, e in self._seen.items() if e.record_id in gone]:
                del self._seen[key]

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
