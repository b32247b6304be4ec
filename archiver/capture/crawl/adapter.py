"""The crawler's one door into the capture/store API: fetch one URL and commit it the way
`archiver capture` does (WARC -> article -> manifest entry), read a stored payload back,
record the crawl events, and answer "is this article already archived?".

Captures go through the same storage engine as `archiver capture`: the records of one
capture built by capture/records.py, the article derived from the stored record, and the
run's group committer (rolling WARCs, one manifest append per batch). A worker hands its
capture to the committer and goes back to fetching: `on_durable` is called (from the
committing thread) once the capture's batch is durable, and only then does the crawl mark
the URL done, so the crawl state never marks done a URL that a crash could lose. Links are
read from the capture's own record bytes before they leave the worker (the evidence, not the
wire). A fetch without any answer, and robots.txt, still wait for their commit. Page
requisites are deduplicated (an image unchanged since the last crawl becomes a revisit
record); pages, robots.txt, sitemaps and feeds are stored whole, since their links are read
back from the stored payload.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from archiver.base import agent
from archiver.base.errors import UsageError
from archiver.capture.fetch import (
    RETRY_STATUSES,
    Fetcher,
    FetchOptions,
    HostPacer,
    parse_retry_after,
)
from archiver.capture.records import write_capture
from archiver.pipeline.commit import (
    derive_article,
    index_warcs,
    record_event,
    write_conversion,
)
from archiver.pipeline.committer import Committer as RunCommitter
from archiver.pipeline.committer import PendingCapture
from archiver.pipeline.dedup import Dedup, build_until_queued
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog
from archiver.store.rolling import open_path
from archiver.store.warc import WarcFileWriter, read_record_at, read_record_from

REDIRECTS = (301, 302, 303, 307, 308)
MAX_PARSE_BYTES = 20 * 1024 * 1024  # payload read back for link discovery
# Workers do not wait for their commits: a batch is committed at 64 captures or this long
# after its first one (what a crash can lose, and how long a URL stays `active`).
CRAWL_BATCH_SECONDS = 0.2


@dataclass(frozen=True)
class CommitOptions:
    crawl_id: str
    operator: str | None = None
    extract: bool = True
    robots: str = "obey"
    contact: str | None = None
    timeout: float = 30.0
    max_time: float = 120.0
    max_bytes: int = 50 * 1024 * 1024

    def user_agent(self) -> str:
        base = agent.user_agent()
        return base[:-1] + f"; +{self.contact})" if self.contact else base


@dataclass
class Captured:
    """What the crawler needs to know about one committed (or failed) fetch."""

    url: str
    status: int | None = None
    content_type: str | None = None
    location: str | None = None  # absolute redirect target, not fetched
    retry_after: float | None = None
    error: str | None = None
    seq: int | None = None
    warc: str | None = None
    offset: int | None = None  # the response record, for reading the payload back
    record_ids: list[str] = field(default_factory=list)
    article: str | None = None  # article id when one was stored
    unreachable: bool = False  # sent, and no answer came (refused, timed out, reset)
    rendered_offset: int | None = None  # crawl --browser: the rendered-DOM record
    base_url: str | None = None  # where the page's links resolve (the browser's final URL)
    durable: bool = True  # False: its entry is not written yet; on_durable will say when
    body: tuple[bytes, str | None] | None = None  # the stored response's payload, type
    found: Any = None  # discover.Found from that payload (the crawl engine fills it)
    token: int = -1  # the engine's name for it, until durable

    @property
    def answered(self) -> bool:
        return self.status is not None

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "status": self.status, "error": self.error,
                "manifest_seq": self.seq, "warc": self.warc, "article": self.article,
                "location": self.location}


class CrawlRun:
    """What the crawl's workers share: the run's group committer and the dedup lookups."""

    def __init__(self, archive: Archive, options: CommitOptions, workers: int) -> None:
        self.archive, self.options = archive, options
        self.committer = RunCommitter(
            archive, options.operator, f"crawl {options.crawl_id}",
            batch_seconds=CRAWL_BATCH_SECONDS,
            warcinfo={"robots": options.robots,
                      "http-header-user-agent": options.user_agent()})
        self.dedup = Dedup(archive, "url")

    def close(self) -> None:
        self.committer.close()
        self.dedup.close()


class CrawlWorker:
    """One per worker thread: its own Fetcher (session, socket recorder)."""

    def __init__(self, run: CrawlRun, pacer: HostPacer,
                 on_fetched: Callable[[str, float | None, bool], None] | None = None,
                 ) -> None:
        self.run, self.archive, self.options = run, run.archive, run.options
        # told as soon as the network part is over: a 429/503's Retry-After, and whether the
        # fetch failed (no answer, or 429/5xx), for the host's failures in a row
        self.on_fetched = on_fetched
        # No redirects followed and no retries inside the fetch: the crawler queues a
        # redirect's target and re-queues a retry, so both pass the seen-check and the
        # host's politeness like any other request.
        options = self.options
        fetch = FetchOptions(timeout=options.timeout, max_time=options.max_time,
                             max_bytes=options.max_bytes, retries=0, max_redirects=0)
        self.fetcher = Fetcher(fetch, pacer)
        self.fetcher.session.headers["User-Agent"] = options.user_agent()

    def close(self) -> None:
        self.fetcher.close()

    def capture(self, url: str, discovery: dict[str, Any], derive: bool,
                dedup: bool = False,
                on_durable: Callable[[dict[str, Any]], None] | None = None) -> Captured:
        """Fetch and submit one URL. With `on_durable`, an answered fetch returns as soon as
        its bytes are handed over (`durable` False, `seq` None, `body` the payload to read
        links from) and `on_durable(entry)` follows when its batch is committed; without,
        it returns once committed."""
        try:
            result = self.fetcher.fetch(url)
        except UsageError as exc:
            if self.on_fetched:
                self.on_fetched(url, None, False)
            return Captured(url, error=str(exc).removeprefix(f"{url}: "))
        if self.on_fetched:
            final = result.final
            hold = parse_retry_after(final.headers.get("retry-after")) \
                if final is not None and final.status in (429, 503) else None
            failed = final is None or final.status in RETRY_STATUSES
            self.on_fetched(url, hold, failed)
        try:
            return self._commit(result, discovery, derive, dedup, on_durable)
        finally:
            result.close()

    def _commit(self, result: Any, discovery: dict[str, Any], derive: bool,
                dedup: bool, on_durable: Callable[[dict[str, Any]], None] | None
                ) -> Captured:
        final = result.final
        out = Captured(result.url, status=result.status, error=result.error)
        if final is not None and final.status in REDIRECTS:
            out.error = None  # the hop was not followed on purpose: its target is queued
            if final.headers.get("location"):
                try:
                    out.location = urljoin(result.url, final.headers["location"].strip())
                except ValueError:
                    out.error = "invalid redirect location"
        if final is not None:
            out.content_type = final.headers.get("content-type")
            out.retry_after = parse_retry_after(final.headers.get("retry-after"))
        source = {"url": result.url, "final_url": result.final_url, "status": result.status,
                  "redirects": result.redirect_chain()}
        opts = self.options
        if final is None:
            out.unreachable = True
            event = manifest.new_event("capture", "failure", result.error or "no response",
                                       operator=opts.operator, source=source,
                                       discovery=discovery)
            out.seq = self.run.committer.submit_and_wait(PendingCapture(event))["seq"]
            return out
        ok = final.status is not None and final.status < 400 and not out.error
        entry, warc = build_until_queued(
            lambda: self._build(result, discovery, derive, dedup, out, source, ok, on_durable),
            self.run.dedup)
        out.seq = entry.get("seq")  # None until durable
        out.durable = out.seq is not None
        out.warc = warc
        out.record_ids = [r["id"] for r in entry.get("records", [])]
        answers = [r for r in entry.get("records", []) if r["type"] in ("response", "revisit")]
        out.offset = answers[-1]["offset"] if answers and answers[-1]["type"] == "response" \
            else None
        return out

    def _build(self, result: Any, discovery: dict[str, Any], derive: bool, dedup: bool,
               out: Captured, source: dict[str, Any], ok: bool,
               on_durable: Callable[[dict[str, Any]], None] | None
               ) -> tuple[dict[str, Any], str]:
        """Reserve a file, build the capture's records for it and submit them; its entry
        (with `on_durable`: its file facts, the entry being written later)."""
        final, opts = result.final, self.options
        warc, warcinfo_id = self.run.committer.reserve()
        buffer = io.BytesIO()
        writer = WarcFileWriter(buffer, warc.rsplit("/", 1)[-1])
        writer.warcinfo_id = warcinfo_id
        written = write_capture(writer, result, self.run.dedup if dedup else None, None)
        article = None
        if written.final is not None and written.revisit is None and derive and opts.extract \
                and ok:
            stored = read_record_from(buffer.getvalue(), written.final.offset)
            article = derive_article(stored, warc)
            write_conversion(writer, article, written.final.target_uri or "",
                             written.final.record_id, final.started_at)
        detail = [f"HTTP {final.status}"]
        if out.location:
            detail.append(f"redirect to {out.location} queued")
        if out.error:
            detail.append(out.error)
        if written.revisit is not None:
            detail.append(f"payload unchanged since {written.revisit['refers_to_date']}")
        if article is not None:
            detail.append(f"article {article.article_id}" if article.status == "stored"
                          else f"{article.status}: {article.reason}")
            if article.status == "stored":
                out.article = article.article_id
        event = manifest.new_event("capture", "success" if ok else "failure", "; ".join(detail),
                                   operator=opts.operator, source=source, discovery=discovery,
                                   revisit=written.revisit)
        pending = PendingCapture(event, warc, buffer.getvalue(), list(writer.refs),
                                 written.replayable, article,
                                 on_queued=self.run.dedup.queued_mine)
        if on_durable is None:
            return self.run.committer.submit_and_wait(pending), warc
        if written.final is not None and written.final.rec_type == "response":
            stored = read_record_from(pending.data, written.final.offset, cap=MAX_PARSE_BYTES)
            out.body = (stored.payload, stored.http_headers.get("content-type"))
        pending.on_commit = on_durable
        return self.run.committer.submit(pending), warc


def read_payload(archive: Archive, captured: Captured) -> tuple[bytes, str | None]:
    """The stored response's payload (chunking and Content-Encoding removed, capped) and
    its Content-Type: discovery works from the evidence, not from the wire."""
    if captured.warc is None or captured.offset is None:
        return b"", None
    record = read_record_at(open_path(archive, captured.warc), captured.offset,
                            cap=MAX_PARSE_BYTES)
    return record.payload, record.http_headers.get("content-type")


def read_rendered(archive: Archive, captured: Captured) -> bytes:
    """crawl --browser: the rendered-DOM record's content (the HTML after scripts ran)."""
    if captured.warc is None or captured.rendered_offset is None:
        return b""
    record = read_record_at(open_path(archive, captured.warc), captured.rendered_offset,
                            cap=MAX_PARSE_BYTES)
    return record.payload


def record_crawl_event(archive: Archive, outcome: str, detail: str, operator: str | None,
                       details: dict[str, Any], summary: dict[str, Any] | None = None) -> int:
    entry = record_event(archive, "crawl", outcome, detail, operator, details=details,
                         summary=summary)
    return int(entry["seq"])


def committed_since(archive: Archive, seq: int, crawl_id: str) -> Iterator[tuple[str, Captured]]:
    """Captures this crawl committed after manifest entry `seq`, as (URL, Captured): what a
    killed run finished but may not have marked done in its state."""
    for entry in manifest.iter_entries(archive.manifest_path):
        if entry.get("seq", -1) <= seq or entry.get("event") != "capture":
            continue
        if (entry.get("discovery") or {}).get("crawl") != crawl_id:
            continue
        if not entry.get("records"):
            continue  # no answer, nothing stored: the URL is fetched again (a paused host's)
        src = entry.get("source") or {}
        responses = [r for r in entry.get("records", []) if r.get("type") == "response"]
        page = (entry.get("browser") or {}).get("page_record")  # crawl --browser
        if page:
            responses = [r for r in responses if r.get("id") == page]
        last = responses[-1] if responses else None
        arts = entry.get("articles") or []
        captured = Captured(
            src.get("url", ""), status=src.get("status"), seq=entry["seq"],
            warc=last["file"] if last else None, offset=last.get("offset") if last else None,
            article=arts[0]["id"] if arts else None)
        if page:  # crawl --browser: the rendered DOM's links too, resolved where it ended
            dom = next((a["record_id"] for a in entry["browser"].get("attachments") or []
                        if a.get("kind") == "dom"), None)
            captured.rendered_offset = next((r.get("offset") for r in entry["records"]
                                             if r.get("id") == dom), None) if dom else None
            captured.base_url = src.get("final_url") or src.get("url")
        if captured.warc and captured.offset is not None and captured.status in REDIRECTS:
            record = read_record_at(open_path(archive, captured.warc), captured.offset, cap=0)
            location = record.http_headers.get("location")
            captured.location = urljoin(captured.url, location) if location else None
        yield captured.url, captured


def archived_article_urls(archive: Archive) -> Iterator[str]:
    """URLs of pages archived as dated articles: an incremental crawl skips them. Only
    articles with a publication date count: a section page that the generic extractor
    turned into an "article" has none, and must be fetched again to find new links.
    The catalog answers when it exists (archiver/store/catalog.py); else the manifest and
    the article files it names."""
    if (archive.root / "catalog.sqlite").exists():
        cat = Catalog.open(archive)  # catches up with the manifest first
        try:
            for row in cat.articles(latest=True):
                if row.get("url") and row.get("published_at"):
                    yield row["url"]
        finally:
            cat.close()
        return
    if not archive.manifest_path.is_file():
        return
    for entry in manifest.iter_entries(archive.manifest_path):
        if entry.get("event") not in ("capture", "ingestion") or not entry.get("articles"):
            continue
        src = entry.get("source") or {}
        for art in entry["articles"]:
            if not _dated(archive, art.get("path")):
                continue
            for url in {src.get("url"), src.get("final_url"), art.get("url")}:
                if url:
                    yield url


def _dated(archive: Archive, relpath: str | None) -> bool:
    try:
        data = json.loads(archive.resolve(relpath or "").read_bytes())
    except (OSError, ValueError, UsageError):
        return False
    return bool(isinstance(data, dict) and data.get("published_at"))


def index(archive: Archive, warcs: list[str]) -> str | None:
    """Per-WARC CDXJ files in indexes/ for WARCs that have none yet (the committer writes one
    when it seals a rolling WARC)."""
    return index_warcs(archive, *warcs)
