"""crawl --browser: the crawl's pages captured through the browser runner, the way
`capture --browser` captures them (archiver.capture.browser.run): raw exchanges through the
recording proxy, screenshots, rendered DOM, visible text, TLS facts, the provenance summary,
the article from the raw page or the rendered DOM, one manifest entry per page with the
crawl's `discovery`.

Playwright's sync objects belong to the thread that made them, so one thread owns the
browser: the engine runs every page on one single-thread executor, and this worker is made,
used and closed on that thread only. Robots.txt, sitemaps and feeds stay plain fetches on
the other workers. The browser fetches each page's requisites itself (recorded in the page's
capture), so the crawl does not queue them again.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urldefrag

from archiver.capture.browser.page import Browser, BrowserOptions, first_line
from archiver.capture.browser.run import BrowserOutcome, capture_page
from archiver.capture.crawl.adapter import Captured, CrawlRun
from archiver.capture.run import CaptureOptions
from archiver.pipeline.committer import PendingCapture
from archiver.store import manifest


class BrowserWorker:
    """One Chromium (started on first use, on the calling thread) for the crawl's pages."""

    def __init__(self, run: CrawlRun, options: BrowserOptions) -> None:
        self.run, self.options = run, options
        self.capture_options = CaptureOptions(operator=run.options.operator,
                                              extract=run.options.extract, dedup="off")
        self.browser: Browser | None = None
        self.versions: dict[str, Any] = {}
        self.pages = 0
        self.thread: int | None = None

    def _owned(self) -> None:
        ident = threading.get_ident()
        if self.thread is None:
            self.thread = ident
        assert self.thread == ident, "Playwright objects are used on one thread only"

    def capture(self, url: str, discovery: dict[str, Any], derive: bool) -> Captured:
        self._owned()
        if self.browser is not None and self.pages \
                and self.pages % max(1, self.options.restart_every) == 0:
            self.close()  # a fresh Chromium every N pages, as capture --browser
        self.pages += 1
        options = self.capture_options if derive else \
            CaptureOptions(operator=self.capture_options.operator, extract=False, dedup="off")
        try:
            if self.browser is None:
                self.browser = Browser(self.options)
                self.versions = self.browser.versions()
            outcome = capture_page(self.browser, self.run.committer, url, options,
                                   self.options, self.versions, {"discovery": discovery})
        except Exception as exc:  # the browser failed (to start, or on the page): the page
            # fails (retried, then its host paused, as an unanswered fetch) and a fresh
            # Chromium takes the next one
            self.close()
            error = f"browser failed: {first_line(exc)}"
            return self._failure(url, error, discovery)
        return captured(outcome)

    def _failure(self, url: str, error: str, discovery: dict[str, Any]) -> Captured:
        event = manifest.new_event("capture", "failure", error,
                                   operator=self.run.options.operator, source={"url": url},
                                   discovery=discovery)
        entry = self.run.committer.submit_and_wait(PendingCapture(event))
        return Captured(url, error=error, seq=entry["seq"], unreachable=True)

    def close(self) -> None:
        if self.browser is not None:
            self._owned()
            browser, self.browser = self.browser, None
            browser.close()


def captured(outcome: BrowserOutcome) -> Captured:
    """What the crawl engine needs of a browser capture: the page's response record (links
    are read back from it) and the rendered-DOM record (links scripts wrote)."""
    out = Captured(outcome.url, status=outcome.status, error=outcome.error, seq=outcome.seq,
                   warc=outcome.warc, record_ids=[r["id"] for r in outcome.records])
    # no page record: no answer came (its host is paused, as for a plain fetch), unless the
    # proxy's guard refused the page before any traffic: then a failed URL, as a plain
    # fetch's refused URL is (the host is not down)
    refused = any(urldefrag(b.get("url", ""))[0] == outcome.url for b in outcome.blocked)
    out.unreachable = outcome.warc is None and not refused
    if outcome.article is not None and outcome.article.status == "stored":
        out.article = outcome.article.article_id
    offsets = {r["id"]: r.get("offset") for r in outcome.records}
    if outcome.page_record:
        out.offset = offsets.get(outcome.page_record)
    dom = next((a["record_id"] for a in outcome.attachments if a["kind"] == "dom"), None)
    if dom is not None:
        out.rendered_offset = offsets.get(dom)
    out.base_url = outcome.final_url or outcome.url
    return out
