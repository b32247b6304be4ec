"""The crawl loop: one scheduling thread owns the frontier; worker threads fetch and commit.

The scheduler picks, host by host, the next URL a host may get now (robots.txt first, then
the politeness clock, then the host's queue order), hands it to a worker (adapter.CrawlWorker:
fetch, WARC, article, links read from the stored record's bytes), and when the worker has
handed its capture to the group committer, offers what it points to. The URL stays `active`
until the committer reports its batch durable; only then is it marked done (workers never
wait on an fsync). A kill before that is settled on --resume from the manifest
(`_settle_committed`), so nothing committed is fetched again, and an `active` URL whose entry
was lost is queued again.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.base.errors import UsageError
from archiver.capture.crawl import adapter
from archiver.capture.crawl.adapter import Captured, CommitOptions, CrawlRun, CrawlWorker
from archiver.capture.crawl.discover import Found, parse
from archiver.capture.crawl.frontier import Frontier, Item
from archiver.capture.crawl.pacing import Politeness
from archiver.capture.crawl.robots import Robots
from archiver.capture.crawl.scope import Scope
from archiver.capture.crawl.traps import TrapLimits, trap_reason
from archiver.capture.crawl.urls import BadUrl, canonical, host_of, robots_url, seen_key
from archiver.capture.fetch import RETRY_STATUSES
from archiver.store.archive import Archive, new_capture_id

if TYPE_CHECKING:
    from archiver.capture.browser.page import BrowserOptions

Event = Callable[[dict[str, Any]], None]
RECENT_OFFERS = 32768  # raw link strings remembered as offered (a few MB)


@dataclass(frozen=True)
class CrawlOptions:
    seeds: tuple[str, ...] = ()
    scope: str = "host"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    depth: int = 5
    max_pages: int = 0  # 0: no limit
    max_time: float = 0.0  # seconds; 0: no limit
    host_max_pages: int = 0  # per-host page cap (a trap guard); 0: no limit
    delay: float = 1.0
    host_workers: int = 1
    workers: int = 4
    robots: str = "obey"
    contact: str | None = None
    requisites: bool = True
    requisites_scope: str = "any"
    sitemaps: bool = True
    feeds: bool = True
    recapture: bool = False
    extract: bool = True
    retries: int = 2
    backoff: float = 1.0  # first retry waits this long on its host, doubling
    max_failures: int = 5  # in a row, then the host is paused
    timeout: float = 30.0
    fetch_max_time: float = 120.0
    operator: str | None = None
    traps: TrapLimits = field(default_factory=TrapLimits)
    # pages through Chromium (crawl --browser); its requisites are the browser's to fetch
    browser: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seeds"], out["include"], out["exclude"] = (list(self.seeds), list(self.include),
                                                        list(self.exclude))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlOptions:
        data = dict(data)
        data["traps"] = TrapLimits(**data.get("traps", {}))
        for name in ("seeds", "include", "exclude"):
            data[name] = tuple(data.get(name, ()))
        return cls(**data)


def crawls_dir(archive: Archive) -> Path:
    return archive.root / "crawls"


def last_unfinished(archive: Archive) -> str | None:
    """The newest crawl of this archive that did not finish (for --resume)."""
    top = crawls_dir(archive)
    for folder in sorted(top.iterdir(), reverse=True) if top.is_dir() else []:
        state = folder / "state.sqlite"
        if state.is_file():
            frontier = Frontier(state)
            try:
                if frontier.get_meta("status") != "finished":
                    return folder.name
            finally:
                frontier.close()
    return None


class Crawl:
    """One crawl's run over its state; `Crawl.start` or `Crawl.resume`, then `run()`."""

    def __init__(self, archive: Archive, crawl_id: str, options: CrawlOptions,
                 frontier: Frontier, on_event: Event | None = None) -> None:
        self.archive, self.crawl_id, self.options = archive, crawl_id, options
        self.frontier = frontier
        self.emit = on_event or (lambda e: None)
        self.scope = Scope(options.scope, [canonical(s) for s in options.seeds],
                           list(options.include), list(options.exclude),
                           options.requisites_scope)
        self.pacing = Politeness(options.delay, options.host_workers, options.max_failures)
        self.robots: dict[str, Robots] = {}
        self.robots_pending: set[str] = set()  # hosts whose robots.txt is being fetched
        self.pages = frontier.pages_dispatched()
        self.stop_reason: str | None = None
        self.wake = threading.Event()  # set by workers: a fetch or a capture has ended
        # Captures handed to the committer and not yet durable: (item, capture, state) by
        # token, marked in the frontier when the committer reports (token, entry) in
        # `durable`; a report that comes first waits in `early`.
        self.awaiting: dict[int, tuple[Item, Captured, str]] = {}
        self.durable: deque[tuple[int, dict[str, Any]]] = deque()
        self.early: dict[int, dict[str, Any]] = {}
        # tokens of captures settled without a mark (queued again for a retry): their reports
        # are dropped, not left in `early` for good
        self.unmarked: set[int] = set()
        self.tokens = itertools.count()
        # Links offered lately and queued (or seen queued): offered again, as every page's
        # navigation is, they change nothing (a row that is not `skipped` stays as it is), so
        # they skip url-normalize, SURT and SQLite (~15% of a crawl's CPU before). Bounded.
        self.recent_offers: set[str] = set()
        self.recent_order: deque[str] = deque()

    # -- creating and resuming ----------------------------------------------------------
    @classmethod
    def start(cls, archive: Archive, options: CrawlOptions,
              on_event: Event | None = None) -> Crawl:
        if not options.seeds:
            raise UsageError("no seeds given")
        for seed in options.seeds:
            try:
                canonical(seed)
            except BadUrl as exc:
                raise UsageError(f"bad seed: {exc}") from exc
        archive.ensure()
        crawl_id = new_capture_id(datetime.now(UTC))
        frontier = Frontier(crawls_dir(archive) / crawl_id / "state.sqlite")
        crawl = cls(archive, crawl_id, options, frontier, on_event)
        with frontier.transaction():
            frontier.set_meta("options", options.to_dict())
            frontier.set_meta("status", "running")
            if not options.recapture:
                frontier.load_archived(_keys(adapter.archived_article_urls(archive)))
            for seed in options.seeds:
                crawl._offer(seed, role="page", kind="seed", seed=None, via=None, hops=0)
                if options.sitemaps and options.robots != "obey":  # no robots.txt to name one
                    crawl._offer(robots_url(seed).replace("/robots.txt", "/sitemap.xml"),
                                 "sitemap", "sitemap", seed, None, 0)
        start_seq = adapter.record_crawl_event(
            archive, "success", f"crawl {crawl_id} started", options.operator,
            details={"crawl_id": crawl_id, "phase": "start", "seeds": list(options.seeds),
                     "scope": crawl.scope.describe(), "options": options.to_dict()})
        frontier.set_meta("start_seq", start_seq)
        return crawl

    @classmethod
    def resume(cls, archive: Archive, crawl_id: str | None,
               on_event: Event | None = None, browser: bool | None = None) -> Crawl:
        """The unfinished crawl, its committed-but-unmarked captures settled. `browser`: how
        the caller will run it, refused (before anything is recorded) unless it is how the
        crawl started."""
        crawl_id = crawl_id or last_unfinished(archive)
        if crawl_id is None:
            raise UsageError(f"{archive.root}: no unfinished crawl to resume")
        state = crawls_dir(archive) / crawl_id / "state.sqlite"
        if not state.is_file():
            raise UsageError(f"no crawl {crawl_id!r} in {archive.root}")
        frontier = Frontier(state)
        if frontier.get_meta("status") == "finished":
            frontier.close()
            raise UsageError(f"crawl {crawl_id} already finished")
        options = CrawlOptions.from_dict(frontier.get_meta("options"))
        if browser is not None and browser != options.browser:
            frontier.close()
            raise UsageError(f"crawl {crawl_id} was started with --browser: give --browser "
                             "again" if options.browser else
                             f"crawl {crawl_id} was started without --browser")
        crawl = cls(archive, crawl_id, options, frontier, on_event)
        crawl._settle_committed(int(frontier.get_meta("start_seq") or 0))
        adapter.record_crawl_event(archive, "success", f"crawl {crawl_id} resumed",
                                   options.operator,
                                   details={"crawl_id": crawl_id, "phase": "resume"})
        return crawl

    def _settle_committed(self, start_seq: int) -> None:
        """Finish, from the stored records, what a killed run committed but did not mark."""
        for url, captured in adapter.committed_since(self.archive, start_seq, self.crawl_id):
            try:
                item = self.frontier.queued_item(seen_key(canonical(url)))
            except BadUrl:
                continue
            if item is not None:
                with self.frontier.transaction():
                    self._settle(item, captured, fetched=False)

    # -- offering URLs ------------------------------------------------------------------
    def _offer(self, url: str, role: str, kind: str, seed: str | None, via: str | None,
               hops: int, css_child: bool = False, published: str | None = None) -> None:
        if url in self.recent_offers:
            return
        raw = url
        try:
            url = canonical(url)
        except BadUrl:
            return
        host = host_of(url)
        skip = self._skip_reason(url, role, kind, hops)
        if not skip and self.options.robots == "obey" and host not in self.robots \
                and self.frontier.robots_for(host) is None:
            self._offer_robots(url, host, seed)
        self.frontier.offer(seen_key(url), url, host, role, kind, seed, via, hops, skip,
                            css_child, published)
        if not skip:  # its row is queued or past it now: a later offer is a no-op
            self.recent_offers.add(raw)
            self.recent_order.append(raw)
            if len(self.recent_order) > RECENT_OFFERS:
                self.recent_offers.discard(self.recent_order.popleft())

    def _offer_robots(self, url: str, host: str, seed: str | None) -> None:
        r_url = robots_url(url)
        self.frontier.offer(seen_key(r_url), r_url, host, "robots", "robots", seed, None, 0)

    def _skip_reason(self, url: str, role: str, kind: str, hops: int) -> str | None:
        if kind == "seed" or role == "robots":
            return None
        trap = trap_reason(url, self.options.traps)
        if trap:
            return trap
        if role == "requisite":
            return self.scope.requisite_reason(url)
        if role in ("sitemap", "feed"):
            return None if self.scope.is_site_host(url) else "out of scope"
        if hops > self.options.depth:
            return "depth"
        reason = self.scope.page_reason(url)
        if reason:
            return reason
        if not self.options.recapture and self.frontier.is_archived(seen_key(url)):
            return "already archived"
        return None

    def _offer_found(self, item: Item, found: Found) -> None:
        seed = item.seed or item.url
        if item.role == "requisite":  # a stylesheet: its url()s and @imports, one level
            for url in found.requisites:
                self._offer(url, "requisite", "requisite", seed, item.url, item.hops,
                            css_child=True)
            return
        page_kind = {"sitemap": "sitemap", "feed": "feed"}.get(found.source, "link")
        if found.source == "feed" and not self.options.feeds:
            return
        if found.source == "sitemap" and not self.options.sitemaps:
            return
        for url in found.pages:
            self._offer(url, "page", page_kind, seed, item.url, item.hops + 1,
                        published=found.published.get(url))
        for url in found.sitemaps:
            self._offer(url, "sitemap", "sitemap", seed, item.url, item.hops)
        if self.options.feeds:
            for url in found.feeds:
                self._offer(url, "feed", "feed", seed, item.url, item.hops)
        if self.options.requisites and not self.options.browser:
            for url in found.requisites:
                self._offer(url, "requisite", "requisite", seed, item.url, item.hops)

    # -- dispatch -----------------------------------------------------------------------
    def _next_item(self, host: str) -> Item | None:
        """The next URL `host` may be sent now, refusing (and recording) what robots.txt or
        a cap forbids; None when the host has nothing to send yet."""
        if host in self.robots_pending:
            return None
        while True:
            item = self.frontier.next_for(host)
            if item is None:
                return None
            if item.role == "robots":
                self.robots_pending.add(host)
                return item
            robots = self._robots(host)
            if robots is None and self.options.robots == "obey":
                # robots.txt not known yet (a resumed crawl): fetch it first
                self.frontier.requeue(item)
                self._offer_robots(item.url, host, item.seed)
                continue
            if robots is not None and not robots.allows(item.url):
                self.frontier.skip_queued(item, "robots")
                continue
            if item.role == "page" and item.attempts == 0:
                cap = self._page_cap_reason(host)
                if cap:
                    self.frontier.skip_queued(item, cap)
                    continue
                self.pages += 1
            return item

    def _page_cap_reason(self, host: str) -> str | None:
        if self.options.max_pages and self.pages >= self.options.max_pages:
            return "max pages"
        if self.options.host_max_pages \
                and self.frontier.count_page(host) > self.options.host_max_pages:
            return "trap: host page cap"
        return None

    def _robots(self, host: str) -> Robots | None:
        if self.options.robots != "obey":
            return None
        if host not in self.robots:
            known = self.frontier.robots_for(host)
            if known is None:
                return None
            self.robots[host] = Robots(known[0], disallow_all=known[1])
            self.pacing.set_crawl_delay(host, self.robots[host].crawl_delay())
        return self.robots[host]

    # -- results --------------------------------------------------------------------------
    def _settle(self, item: Item, cap: Captured, fetched: bool = True) -> None:
        if cap.warc:
            self.frontier.add_warc(cap.warc)
        status = cap.status
        retry = status in RETRY_STATUSES or (status is None and not cap.warc)
        if fetched:
            backoff = cap.retry_after if status in (429, 503) else None
            if retry and backoff is None and item.attempts < self.options.retries:
                backoff = self.options.backoff * 2 ** item.attempts
            message = self.pacing.ended(item.host, retry_after=backoff)
            if message:
                self.emit({"event": "host-paused", "host": item.host, "message": message})
        if retry and item.attempts < self.options.retries and fetched:
            if not cap.durable and self.early.pop(cap.token, None) is None:
                self.unmarked.add(cap.token)
            self.frontier.requeue(item)
            if item.role == "robots":
                self.robots_pending.discard(item.host)  # else its retry is never sent
            self._report(item, cap, "retry")
            return
        if retry and fetched and cap.unreachable:
            # No answer at all (refused, timed out) after every retry: the host is down.
            # Pause it with this URL queued again, robots.txt included, for --resume.
            self.frontier.park(item)
            if item.role == "robots":
                self.robots_pending.discard(item.host)
            message = self.pacing.pause(
                item.host, f"{cap.error or 'no answer'} "
                f"{item.attempts + 1} time{'s' if item.attempts else ''} ({item.url})")
            if message:
                self.emit({"event": "host-paused", "host": item.host, "message": message})
            self._report(item, cap, "paused")
            return
        if item.role == "robots":
            self.robots_pending.discard(item.host)
            self._take_robots(item, cap)
        state = "failed" if retry else "done"
        if cap.durable:
            self._mark(item, cap, state)
        elif (entry := self.early.pop(cap.token, None)) is not None:
            cap.seq, cap.durable = entry["seq"], True
            self._mark(item, cap, state)
        else:
            self.awaiting[cap.token] = (item, cap, state)
        if cap.location:
            self._offer(cap.location, item.role, "redirect", item.seed, item.url, item.hops)
        if cap.found is not None:
            self._offer_found(item, cap.found)
        elif status is not None and 200 <= status < 300 and cap.warc and item.role != "robots":
            payload, ctype = adapter.read_payload(self.archive, cap)
            base = cap.base_url or item.url
            self._offer_found(item, parse(base, ctype, payload, want_css=not item.css_child))
        if cap.rendered_offset is not None:  # crawl --browser: links scripts wrote too
            dom = adapter.read_rendered(self.archive, cap)
            self._offer_found(item, parse(cap.base_url or item.url, "text/html", dom,
                                          want_css=False))

    def _mark(self, item: Item, cap: Captured, state: str) -> None:
        """The URL's outcome in the frontier, once its entry is durable."""
        retry = state == "failed"
        self.frontier.finish(item.id, state, cap.status, cap.seq, cap.warc,
                             cap.error if retry else None, cap.article)
        self._report(item, cap, state)

    def _settle_durable(self) -> None:
        """Mark the URLs whose batches the committer has made durable since last time."""
        while self.durable:
            token, entry = self.durable.popleft()
            if token in self.unmarked:
                self.unmarked.discard(token)
                continue
            waiting = self.awaiting.pop(token, None)
            if waiting is None:
                self.early[token] = entry  # its worker's result is not settled yet
                continue
            item, cap, state = waiting
            cap.seq, cap.durable = entry["seq"], True
            self._mark(item, cap, state)

    def _take_robots(self, item: Item, cap: Captured) -> None:
        payload = adapter.read_payload(self.archive, cap)[0] if cap.warc else b""
        robots = Robots.from_answer(cap.status, payload)
        self.robots[item.host] = robots
        self.frontier.set_robots(item.host, robots.text, robots.disallow_all)
        self.pacing.set_crawl_delay(item.host, robots.crawl_delay())
        if self.options.sitemaps and self.scope.is_site_host(item.url):
            for url in [*robots.sitemaps(), item.url.replace("/robots.txt", "/sitemap.xml")]:
                self._offer(url, "sitemap", "sitemap", item.seed, item.url, 0)

    def _report(self, item: Item, cap: Captured, state: str) -> None:
        self.emit({"event": "fetch", "state": state, "role": item.role, "kind": item.kind,
                   "hops": item.hops, "via": item.via, **cap.to_dict()})

    # -- the loop -----------------------------------------------------------------------
    def run(self, on_progress: Callable[[dict[str, Any]], None] | None = None,
            browser: BrowserOptions | None = None) -> dict[str, Any]:
        """Crawl until the frontier is empty (or a cap, --max-time, Ctrl-C); record the end
        event and return the summary. With `browser`, pages go through one Chromium
        (crawl/witness.py) on one thread of their own: Playwright's objects are tied to the
        thread that made them."""
        opts = self.options
        if opts.browser != (browser is not None):
            raise UsageError("this crawl was started with --browser: give --browser again"
                             if opts.browser else "browser options given to a crawl "
                             "started without --browser")
        commit = CommitOptions(self.crawl_id, opts.operator, opts.extract, opts.robots,
                               opts.contact, opts.timeout, opts.fetch_max_time)
        workers: list[CrawlWorker] = []
        crawl_run = CrawlRun(self.archive, commit, opts.workers)
        local = threading.local()

        def fetched(url: str, retry_after: float | None, failed: bool) -> None:
            self.pacing.request_done(url, retry_after, failed)
            self.wake.set()  # the host may take its next request while this one is stored

        from archiver.capture.crawl.witness import BrowserWorker

        page_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser") \
            if browser is not None else None
        witness = BrowserWorker(crawl_run, browser) if browser is not None else None

        def work(item: Item) -> Captured:
            if witness is not None and item.role == "page":
                cap = witness.capture(item.url, item.discovery(self.crawl_id),
                                      derive=True)
                fetched(item.url, None, cap.status is None or cap.status in RETRY_STATUSES)
                return cap
            if not hasattr(local, "worker"):
                local.worker = CrawlWorker(crawl_run, self.pacing, on_fetched=fetched)
                workers.append(local.worker)
            derive = item.role == "page"
            token = next(self.tokens)

            def on_durable(entry: dict[str, Any]) -> None:  # the committer's thread
                self.durable.append((token, entry))
                self.wake.set()

            cap = local.worker.capture(item.url, item.discovery(self.crawl_id), derive,
                                       dedup=item.role == "requisite",
                                       on_durable=None if item.role == "robots" else on_durable)
            cap.token = token
            if cap.body is not None:  # links, read here: off the scheduling thread
                payload, ctype = cap.body
                cap.body = None
                status = cap.status
                if status is not None and 200 <= status < 300 and cap.warc:
                    cap.found = parse(item.url, ctype, payload, want_css=not item.css_child)
            return cap

        started = time.monotonic()
        self.frontier.set_meta("status", "running")
        active: dict[Future[Captured], Item] = {}
        last_progress = 0.0
        pool = ThreadPoolExecutor(max_workers=max(1, opts.workers))
        try:
            try:
                while True:
                    now = time.monotonic()
                    if opts.max_time and now - started >= opts.max_time:
                        self.stop_reason = "max time"
                        break
                    self._dispatch(pool, active, work, now, page_pool)
                    if not active:
                        if not self._waiting_hosts():
                            break
                        time.sleep(min(0.05, max(0.001, self._next_slot() - now)))  # all paced
                        continue
                    # wake at a completion, at a host freed by a finished fetch, or at the
                    # next host's slot, whichever comes first
                    timeout = min(0.1, max(0.001, self._next_slot() - time.monotonic()))
                    self.wake.wait(timeout)
                    self.wake.clear()
                    done = [f for f in active if f.done()]
                    with self.frontier.transaction():
                        for future in done:
                            self._settle(active.pop(future), future.result())
                        self._settle_durable()
                    if on_progress and now - last_progress > 0.5:
                        last_progress = now
                        on_progress(self._progress())
            except KeyboardInterrupt:
                self.stop_reason = "interrupted"
            # let running fetches finish and commit: nothing half-done is left behind
            for future in list(active):
                cap = future.result()
                with self.frontier.transaction():
                    self._settle(active.pop(future), cap)
        finally:
            pool.shutdown(wait=True)
            if page_pool is not None and witness is not None:
                page_pool.submit(witness.close).result()  # on the browser's own thread
                page_pool.shutdown(wait=True)
            for worker in workers:
                worker.close()
            crawl_run.close()  # the last batch, then every WARC of the run sealed
        with self.frontier.transaction():
            self._settle_durable()
        return self._finish(time.monotonic() - started)

    def _dispatch(self, pool: ThreadPoolExecutor, active: dict[Future[Captured], Item],
                  work: Callable[[Item], Captured], now: float,
                  page_pool: ThreadPoolExecutor | None = None) -> None:
        if len(active) >= self.options.workers:
            return
        with self.frontier.transaction():
            for host in self.frontier.active_hosts():
                if len(active) >= self.options.workers:
                    return
                if not self.pacing.ready(host, now):
                    continue
                item = self._next_item(host)
                if item is None:
                    continue
                self.pacing.started(host)
                chosen = page_pool if page_pool is not None and item.role == "page" else pool
                future = chosen.submit(work, item)
                future.add_done_callback(lambda _f: self.wake.set())
                active[future] = item

    def _waiting_hosts(self) -> list[str]:
        """Hosts with queued URLs that are not paused (the crawl is not over while any)."""
        paused = self.pacing.paused()
        return [h for h in self.frontier.active_hosts() if h not in paused]

    def _next_slot(self) -> float:
        """When the next host with queued URLs and a free request slot may be sent one."""
        hosts = [h for h in self._waiting_hosts() if self.pacing.has_room(h)]
        return min((self.pacing.next_ready_at(h) for h in hosts), default=time.monotonic() + 1)

    def _progress(self) -> dict[str, Any]:
        counts = self.frontier.counts()
        return {"crawl_id": self.crawl_id, "queued": sum(self.frontier.queued.values()),
                **counts}

    def _finish(self, elapsed: float) -> dict[str, Any]:
        counts = self.frontier.counts()
        done = counts["done_by_role"]
        paused = self.pacing.paused()
        failed_seeds = self.frontier.failed_seeds()
        queued = sum(self.frontier.queued.values())
        status = self.stop_reason or ("paused hosts" if paused and queued else "finished")
        summary = {
            "crawl_id": self.crawl_id, "status": status, "elapsed_s": round(elapsed, 3),
            "pages": done.get("page", 0), "requisites": done.get("requisite", 0),
            "robots": done.get("robots", 0), "sitemaps": done.get("sitemap", 0),
            "feeds": done.get("feed", 0), "articles": counts["articles"],
            "failures": counts["states"].get("failed", 0), "http_errors": counts["http_errors"],
            "skips": counts["skips"], "queued": queued, "paused_hosts": paused,
            "failed_seeds": failed_seeds,
        }
        self.frontier.set_meta("status", "finished" if status == "finished" else status)
        warning = adapter.index(self.archive, self.frontier.warcs())
        if warning:
            self.emit({"event": "warning", "message": warning})
        ok = not summary["failures"] and not failed_seeds
        outcome = "success" if ok and status == "finished" else (
            "warning" if ok else "failure")
        summary["manifest_seq"] = adapter.record_crawl_event(
            self.archive, outcome, f"crawl {self.crawl_id} {status}", self.options.operator,
            details={"crawl_id": self.crawl_id, "phase": "end",
                     "seeds": list(self.options.seeds), "scope": self.scope.describe()},
            summary={k: v for k, v in summary.items() if k != "manifest_seq"})
        self.frontier.close()
        return summary


def _keys(urls: Any) -> Any:
    for url in urls:
        try:
            yield seen_key(canonical(url))
        except BadUrl:
            continue
