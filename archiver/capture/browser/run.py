"""capture --browser: each URL through the browser; the exchanges its proxy recorded, the
attachments and the article go into one capture, through the same group committer, record
writer, dedup and manifest entry as `capture` (archiver.capture.run).

Pages are captured one at a time by one browser (Playwright's sync API is single-threaded;
the proxy serves the page's parallel requests on its own threads). A page's records:

- request + response (or revisit) per exchange the proxy made, in the order they started,
  with WARC-Protocol / WARC-Cipher-Suite; one metadata record (fetch facts);
- the attachments as resource records (archiver.store.attachments), the provenance summary
  last, naming the digest of every record before it;
- the article's conversion record: from the page's own response, or, when that holds no
  article (a body written by script), from the rendered-DOM record, which its evidence names.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urldefrag, urljoin

from archiver.base import agent
from archiver.capture.browser import summary
from archiver.capture.browser.page import Browser, BrowserOptions, PageView, first_line
from archiver.capture.browser.proxy import PageLog
from archiver.capture.fetch import Exchange, FetchResult, check_url
from archiver.capture.records import write_capture
from archiver.capture.run import CaptureOptions, CaptureOutcome
from archiver.pipeline.commit import ArticleOutcome, derive_article, write_conversion
from archiver.pipeline.committer import Committer, PendingCapture
from archiver.pipeline.dedup import Dedup, build_until_queued
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.attachments import Attachment, write_attachment
from archiver.store.warc import WarcFileWriter, read_record_from


@dataclass
class BrowserOutcome(CaptureOutcome):
    partial: list[str] = field(default_factory=list)
    blocked: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # as committed (offsets)
    page_record: str | None = None  # the page's response record

    @property
    def outcome(self) -> str:
        base = super().outcome
        return "incomplete" if base == "archived" and self.partial else base

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "partial": self.partial, "blocked": self.blocked,
                "attachments": self.attachments}


def capture_browser(archive: Archive, urls: Iterable[str], options: CaptureOptions,
                    browser_options: BrowserOptions,
                    on_done: Callable[[CaptureOutcome], None] | None = None,
                    on_warning: Callable[[str], None] | None = None) -> list[BrowserOutcome]:
    urls = list(urls)
    for url in urls:
        check_url(url)
    browser = Browser(browser_options)  # fails first, before anything is written
    versions = browser.versions()
    # warcinfo names the client that made the requests: this Chromium, through the proxy
    warcinfo = {"http-header-user-agent": browser.user_agent(),
                "browser": f"Chromium/{versions['chromium']} Playwright/{versions['playwright']}"
                           f" executable-sha256:{versions['executable']['sha256']}"}
    try:
        committer = Committer(archive, options.operator,
                              f"browser capture of {len(urls)} URL(s)",
                              prefix=options.warc_prefix, max_size=options.warc_size,
                              batch_size=options.batch_size,
                              batch_seconds=options.batch_seconds, warcinfo=warcinfo)
    except BaseException:
        browser.close()
        raise
    if on_warning:
        for action in committer.recovered:
            on_warning(f"recovered after an earlier crash: {action}")
    dedup = Dedup(archive, options.dedup) if options.dedup != "off" else None
    outcomes = []
    try:
        for n, url in enumerate(urls):
            if n and n % max(1, browser_options.restart_every) == 0:
                browser.close()  # a fresh Chromium (and proxy) every N pages
                browser = Browser(browser_options)
            try:
                view, log = browser.capture(url)
            except Exception as exc:  # the browser itself failed (crashed, closed)
                error = f"browser failed: {first_line(exc)}"
                outcome = BrowserOutcome(url=url, error=error)
                committer.submit(PendingCapture(
                    manifest.new_event("capture", "failure", error,
                                       operator=options.operator, source={"url": url}),
                    on_commit=_reporter(outcome, on_done)))
                outcomes.append(outcome)
                browser.close()
                browser = Browser(browser_options)  # a fresh one for the next page
                continue
            try:
                outcomes.append(_store(committer, options, browser_options, versions, view,
                                       log, dedup, on_done))
            finally:
                for exchange in log.exchanges:
                    exchange.close()
    finally:
        browser.close()
        committer.close()
        if dedup is not None:
            dedup.close()
    return outcomes


def capture_page(browser: Browser, committer: Committer, url: str, options: CaptureOptions,
                 browser_options: BrowserOptions, versions: dict[str, Any],
                 event_fields: dict[str, Any] | None = None) -> BrowserOutcome:
    """One page through a running browser, for a caller with its own loop (crawl
    --browser): stored as capture_browser stores it, without dedup (every record whole), and
    returned once its manifest entry is committed (`seq`, `records` with offsets). A browser
    that fails raises (the caller starts a fresh one)."""
    view, log = browser.capture(url)
    done = threading.Event()
    try:  # built again for the next file when another worker filled the reserved one
        outcome = build_until_queued(
            lambda: _store(committer, options, browser_options, versions, view, log, None,
                           lambda _o: done.set(), event_fields), None)
    finally:
        for exchange in log.exchanges:
            exchange.close()
    committer.wait_for(done)
    return outcome


def _reporter(outcome: BrowserOutcome, on_done: Callable[[CaptureOutcome], None] | None
              ) -> Callable[[dict[str, Any]], None]:
    def committed(entry: dict[str, Any]) -> None:
        outcome.seq = entry["seq"]
        outcome.records = list(entry.get("records") or [])
        if on_done:
            on_done(outcome)
    return committed


def _page_exchange(view: PageView, exchanges: list[Exchange]) -> Exchange | None:
    """The page's own document: the first answer for its final URL (else its URL)."""
    for wanted in (urldefrag(view.final_url)[0], urldefrag(view.url)[0]):
        for e in exchanges:
            if e.url == wanted and e.status is not None:
                return e
    return None


def _redirects(url: str, exchanges: list[Exchange]) -> list[dict[str, Any]]:
    """The navigation's hops (the other exchanges are the page's resources)."""
    chain: list[dict[str, Any]] = []
    current = urldefrag(url)[0]
    by_url: dict[str, Exchange] = {}
    for e in exchanges:
        by_url.setdefault(e.url, e)
    while current in by_url and len(chain) < 20:
        e = by_url[current]
        chain.append({"url": e.url, "status": e.status, "location": e.headers.get("location")})
        location = e.headers.get("location")
        if e.status not in (301, 302, 303, 307, 308) or not location:
            break
        current = urljoin(current, location)
    return chain


def _attachments(view: PageView, log: PageLog) -> list[Attachment]:
    out = []
    url = view.final_url
    if view.screenshot_full is not None:
        out.append(Attachment("screenshot-full", view.screenshot_full, "image/png", url))
    if view.screenshot_view is not None:
        out.append(Attachment("screenshot-view", view.screenshot_view, "image/png", url))
    if view.dom is not None:
        out.append(Attachment("dom", view.dom.encode("utf-8"), "text/html; charset=utf-8", url))
    if view.text is not None:
        out.append(Attachment("text", view.text.encode("utf-8"), "text/plain; charset=utf-8",
                              url))
    if view.pdf is not None:
        out.append(Attachment("pdf", view.pdf, "application/pdf", url))
    for origin, facts in sorted(log.tls.items()):
        doc = {**facts.to_dict(), "chain_pem": facts.chain_pem()}
        out.append(Attachment("tls", json.dumps(doc, indent=1, sort_keys=True).encode("utf-8"),
                              "application/json", origin, tuple(facts.warc_headers())))
    return out


def _store(committer: Committer, options: CaptureOptions, browser_options: BrowserOptions,
           versions: dict[str, Any], view: PageView, log: PageLog, dedup: Dedup | None,
           on_done: Callable[[CaptureOutcome], None] | None,
           event_fields: dict[str, Any] | None = None) -> BrowserOutcome:
    """The page's records and manifest entry, submitted to the committer (WarcFull when its
    reserved file filled up meanwhile: built again by the caller). `event_fields` go into the
    entry too (a crawl's `discovery`)."""
    more = event_fields or {}
    exchanges = sorted(log.exchanges, key=lambda e: e.started_at)
    for item in log.blocked + log.failed:
        # Chromium makes requests of its own that no flag stops (IdentityManager's
        # ListAccounts at profile start, cef #4276): they go through the proxy like the
        # page's, and are told apart here by whether the page asked for the URL
        item["by"] = "page" if item["url"] in view.requested else "browser"
    page_exchange = _page_exchange(view, exchanges)
    redirects = _redirects(view.url, exchanges)
    outcome = BrowserOutcome(url=view.url, final_url=view.final_url,
                             status=page_exchange.status if page_exchange else view.status,
                             partial=view.partial, blocked=log.blocked)
    source = {"url": view.url, "final_url": view.final_url, "status": outcome.status,
              "redirects": redirects}

    committed = _reporter(outcome, on_done)
    if page_exchange is None:
        failed = [f["reason"] for f in log.failed if urldefrag(f["url"])[0] == view.url]
        failed += [b["reason"] for b in log.blocked if urldefrag(b["url"])[0] == view.url]
        outcome.error = failed[0] if failed else _first_problem(view) or "no response"
        event = manifest.new_event("capture", "failure", outcome.error,
                                   operator=options.operator, source=source,
                                   browser=_browser_field(view, log, [], None), **more)
        committer.submit(PendingCapture(event, on_commit=committed))
        return outcome
    warc, warcinfo_id = committer.reserve()
    buffer = io.BytesIO()
    writer = WarcFileWriter(buffer, warc.rsplit("/", 1)[-1])
    writer.warcinfo_id = warcinfo_id
    result = FetchResult(url=view.url, exchanges=exchanges, final_url=view.final_url)
    written = write_capture(writer, result, dedup, None, source=page_exchange)
    assert written.final is not None
    page_id = written.final.record_id
    when = datetime.now(UTC)
    items = [write_attachment(writer, a, view.final_url, page_id, when)
             for a in _attachments(view, log)]
    facts = {
        "url": view.url, "final_url": view.final_url,
        "captured_at": view.started_at.isoformat().replace("+00:00", "Z"),
        "ips": sorted({e.ip for e in exchanges if e.ip and e.url == page_exchange.url}),
        "software": agent.software(), "browser": versions,
        "viewport": "x".join(map(str, browser_options.viewport)), "user_agent": view.user_agent,
        "steps": [s.to_dict() for s in view.steps], "partial": view.partial,
        "blocked": log.blocked, "tls": [f.to_dict() for _, f in sorted(log.tls.items())],
        "records": [{"id": r.record_id, "type": r.rec_type, "uri": r.target_uri or "",
                     "digest": r.block_digest or ""} for r in writer.refs],
    }
    items.append(write_attachment(
        writer, Attachment("summary", summary.render(facts), "text/html; charset=utf-8",
                           view.final_url), view.final_url, page_id, when))
    outcome.attachments = items
    outcome.page_record = page_id
    outcome.article = _article(options, written, buffer, warc, items, writer, dedup)
    outcome.warc = warc
    outcome.record_ids = [r.record_id for r in writer.refs]
    outcome.truncated = page_exchange.truncated
    outcome.not_modified = False
    status = "success" if outcome.outcome == "archived" else \
        ("warning" if outcome.outcome == "incomplete" else "failure")
    detail = f"HTTP {outcome.status}"
    if view.partial:
        detail += "; PARTIAL: timed out: " + ", ".join(view.partial)
    if outcome.article is not None:
        art = outcome.article
        detail += f"; article {art.article_id}" if art.status == "stored" \
            else f"; {art.status}: {art.reason}"
    event = manifest.new_event("capture", status, detail, operator=options.operator,
                               source=source, revisit=written.revisit,
                               browser=_browser_field(view, log, items, page_id, versions),
                               **more)
    # the attachments are indexed too, as `archiver index` (cdxj-indexer: response, revisit,
    # resource) would index them: replay tools find a page's screenshot by its urn:view: URI
    attached = {i["record_id"] for i in items}
    indexed = written.replayable + [(r, None, r.content_type) for r in writer.refs
                                    if r.record_id in attached]
    # on_queued: the payloads this page claimed in dedup may be referred to once queued
    # (dedup.claim's protocol, as capture.run follows it)
    committer.submit(PendingCapture(event, warc, buffer.getvalue(), list(writer.refs),
                                    indexed, outcome.article, committed,
                                    on_queued=dedup.queued_mine if dedup else None))
    return outcome


def _article(options: CaptureOptions, written: Any, buffer: io.BytesIO, warc: str,
             items: list[dict[str, Any]], writer: WarcFileWriter,
             dedup: Dedup | None) -> ArticleOutcome | None:
    if not options.extract:
        return None
    dom = next((i for i in items if i["kind"] == "dom"), None)
    if written.revisit is not None:
        # The raw page is unchanged. If its article came from the raw page, it stands; if
        # the raw page held none, what scripts wrote may have changed: the DOM decides.
        earlier = dedup.article_of(written.revisit["refers_to"]) if dedup else None
        written.revisit["article"] = earlier
        if earlier is not None or dom is None:
            return ArticleOutcome("unchanged", path=earlier,
                                  reason="page payload unchanged since "
                                         + written.revisit["refers_to_date"])
        article = ArticleOutcome("not-article", reason="unchanged raw page held no article")
    else:
        stored = read_record_from(buffer.getvalue(), written.final.offset)
        article = derive_article(stored, warc)
    source_ref = written.final
    if article.status == "not-article" and dom is not None:
        # The raw answer holds no article (its body is written by script): extract from
        # what the browser rendered. The record keeps its own id (the article's evidence
        # names it); its URL is the page's, so the article's URL and id are the page's.
        dom_ref = next(r for r in writer.refs if r.record_id == dom["record_id"])
        rendered = read_record_from(buffer.getvalue(), dom_ref.offset)
        rendered = dataclasses.replace(
            rendered, headers={**rendered.headers, "WARC-Target-URI": written.final.target_uri})
        from_dom = derive_article(rendered, warc)
        if from_dom.status != "not-article":
            article, source_ref = from_dom, dom_ref
    write_conversion(writer, article, written.final.target_uri or "", source_ref.record_id,
                     datetime.now(UTC))
    return article


def _browser_field(view: PageView, log: PageLog, items: list[dict[str, Any]],
                   page_id: str | None, versions: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    out: dict[str, Any] = {
        "steps": [s.to_dict() for s in view.steps],
        "partial": view.partial,
        "blocked": log.blocked,
        "attachments": items,
        "resources": {"loaded": len(view.loaded), "failed": len(view.failed)},
    }
    if page_id:
        out["page_record"] = page_id
    if versions:
        out["browser"] = versions
    return out


def _first_problem(view: PageView) -> str | None:
    for step in view.steps:
        if step.outcome != "ok":
            return f"{step.name}: {step.outcome} {step.detail}".strip()
    return None

