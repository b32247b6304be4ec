"""The browser side of `capture --browser`: Debian's Chromium driven by Playwright, every
request through the recording proxy, and the page steps, each bounded in time.

Steps (after Scoop and Browsertrix): load, network idle, scroll to the bottom in viewport
steps until nothing new loads (lazy images, infinite lists; capped), back to the top; then
the attachments (screenshots, rendered DOM, visible text, optional PDF). `--page-timeout`
bounds load + network idle + scrolling together, and each of those also has its own
`step_timeout`; an attachment has `step_timeout` of its own. A step that runs out of time
is recorded as "timeout" and makes the capture PARTIAL; the next steps still run on what
the page shows.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from archiver.base.errors import ArchiverError, UsageError
from archiver.capture.browser.proxy import PageLog, ProxyOptions, RecordingProxy
from archiver.store.archive import hash_file

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
INSTALL_HINT = "apt-get install chromium"
SCROLL_CAP = 40  # viewport steps at most: an infinite list ends here
SETTLE_SECONDS = 1.5
REPLAY_SETTLE_SECONDS = 0.5  # after a scroll step, wait this long at most for requests to finish
# Chromium flags: no traffic of its own (updates, sync, field trials), no QUIC (it would
# bypass an HTTP proxy). Browser.launch_args adds the proxy's: loopback through the proxy
# too (Chromium bypasses proxies for localhost unless told `<-loopback>`), and only our
# CA's keys trusted beyond the system.
BASE_ARGS = ("--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--disable-quic",
             "--disable-default-apps", "--metrics-recording-only", "--mute-audio")


@dataclass(frozen=True)
class BrowserOptions:
    executable: str = DEFAULT_EXECUTABLE
    page_timeout: float = 60.0
    step_timeout: float = 20.0
    max_bytes: int = 50 * 1024 * 1024
    viewport: tuple[int, int] = (1600, 900)
    pdf: bool = False
    allowed: frozenset[tuple[str, int]] = frozenset()
    ca_file: Path | None = None
    scroll_cap: int = SCROLL_CAP
    timeout: float = 30.0  # the proxy's connect / read timeout upstream
    restart_every: int = 100  # pages per Chromium: a long run keeps its memory flat


@dataclass
class Step:
    name: str
    outcome: str  # ok | timeout | error | skipped
    seconds: float = 0.0
    detail: str = ""
    started_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "outcome": self.outcome,
                               "seconds": round(self.seconds, 3)}
        if self.detail:
            out["detail"] = self.detail
        if self.started_at:
            out["started_at"] = self.started_at
        return out


@dataclass
class PageView:
    """What the browser made of one page."""

    url: str
    final_url: str
    status: int | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    steps: list[Step] = field(default_factory=list)
    screenshot_full: bytes | None = None
    screenshot_view: bytes | None = None
    dom: str | None = None
    text: str | None = None
    pdf: bytes | None = None
    user_agent: str = ""
    loaded: list[str] = field(default_factory=list)  # responses < 400
    failed: list[str] = field(default_factory=list)  # >= 400 or no answer
    requested: set[str] = field(default_factory=set)  # every URL the page asked for

    @property
    def partial(self) -> list[str]:
        return [s.name for s in self.steps if s.outcome == "timeout"]


def first_line(exc: BaseException) -> str:
    """An error as one line: Playwright's messages run to the browser's whole log (and
    may be empty, when the exception's name is what there is to say)."""
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def require_chromium(executable: str) -> None:
    """One line naming the install step when the browser or Playwright is missing."""
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        raise UsageError(f"--browser needs Chromium at {executable}: {INSTALL_HINT}")
    import importlib.util

    if importlib.util.find_spec("playwright") is None:
        raise UsageError("--browser needs Playwright: pip install 'archiver[browser]'")


@cache
def executable_facts(executable: str) -> dict[str, str]:
    """sha256 of the executable launched and, when it is Debian's launcher script, of the
    binary that script runs (/usr/lib/chromium/chromium)."""
    facts = {"path": executable, "sha256": hash_file(Path(executable))[0]}
    with open(executable, "rb") as f:
        script = f.read(2) == b"#!"
    binary = Path(executable).parent.parent / "lib" / "chromium" / "chromium"
    if script and binary.is_file():
        facts["binary"] = str(binary)
        facts["binary_sha256"] = hash_file(binary)[0]
    return facts


class Browser:
    """One Playwright, one Chromium, one recording proxy for a run; pages one at a time."""

    def __init__(self, options: BrowserOptions, replay_base: str | None = None) -> None:
        """With `replay_base` (a pywb URL) the browser reads a replay instead: no proxy,
        and every request not to `replay_base` is refused (replay must not reach the live
        web; those count as failed resources)."""
        require_chromium(options.executable)
        from playwright.sync_api import sync_playwright

        self.options = options
        self.replay_base = replay_base
        self.proxy = None if replay_base else RecordingProxy(ProxyOptions(
            allowed=options.allowed, ca_file=options.ca_file, timeout=options.timeout))
        self._closed = False
        try:
            self._pw = sync_playwright().start()
        except Exception:
            if self.proxy is not None:
                self.proxy.close()
            raise
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=options.executable, args=self.launch_args(), headless=True)
        except Exception as exc:
            self._pw.stop()
            if self.proxy is not None:
                self.proxy.close()
            # Playwright's message is the browser's whole log: one line of it, no traceback
            raise ArchiverError(f"Chromium at {options.executable} did not start: "
                                f"{first_line(exc)}") from exc

    def launch_args(self) -> list[str]:
        # --ignore-certificate-errors-spki-list trusts exactly our run's keys, nothing else;
        # Playwright's ignore_https_errors would accept any certificate at all, so a request
        # that reached an origin without the proxy would go unnoticed.
        args = list(BASE_ARGS)
        if self.proxy is not None:
            args += [f"--proxy-server={self.proxy.address}", "--proxy-bypass-list=<-loopback>",
                     "--ignore-certificate-errors-spki-list="
                     + ",".join(self.proxy.authority.pins)]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        return args

    def versions(self) -> dict[str, Any]:
        from importlib import metadata

        return {"chromium": self.browser.version,
                "playwright": metadata.version("playwright"),
                "executable": executable_facts(self.options.executable)}

    def user_agent(self) -> str:
        """The User-Agent this Chromium sends (for the WARC files' warcinfo)."""
        page = self.browser.new_page()
        try:
            return str(page.evaluate("navigator.userAgent"))
        finally:
            page.close()

    def close(self) -> None:
        """Idempotent: a second call (a run's `finally` after a failed restart) must not
        raise, Playwright's objects being unusable once it is stopped."""
        if self._closed:
            return
        self._closed = True
        try:
            self.browser.close()
        finally:
            self._pw.stop()
            if self.proxy is not None:
                self.proxy.close()

    def capture(self, url: str) -> tuple[PageView, PageLog]:
        """Run the steps on `url`; the proxy's log of the page comes with it."""
        assert self.proxy is not None
        deadline = time.monotonic() + self.options.page_timeout
        self.proxy.begin_page(deadline, self.options.max_bytes)
        try:
            view = self.view(url, deadline)
        finally:
            log = self.proxy.end_page(wait=max(1.0, deadline - time.monotonic()) + 2.0)
        return view, log

    def view(self, url: str, deadline: float | None = None,
             attachments: tuple[str, ...] = ("full", "view", "dom", "text", "pdf")
             ) -> PageView:
        """The page steps, then the attachments named (each if the options allow)."""
        opts = self.options
        view = PageView(url=url, final_url=url)
        if deadline is None:
            deadline = time.monotonic() + opts.page_timeout
        context = self.browser.new_context(
            viewport={"width": opts.viewport[0], "height": opts.viewport[1]},
            service_workers="block")  # a service worker could answer from its own cache
        try:
            if self.replay_base is not None:
                base = self.replay_base
                context.route("**/*", lambda route: route.continue_()
                              if route.request.url.startswith(base) else route.abort())
            page = context.new_page()
            page.on("response", lambda r: (view.loaded if r.status < 400 else view.failed)
                    .append(r.url))
            page.on("requestfailed", lambda r: view.failed.append(r.url))
            page.on("request", lambda r: view.requested.add(r.url))
            view.user_agent = str(page.evaluate("navigator.userAgent"))
            self._steps(page, view, deadline)
            self._attachments(page, view, attachments)
        finally:
            context.close()
        return view

    def _step(self, view: PageView, name: str, budget: float,
              action: Callable[[float], str | None]) -> bool:
        """Run one step with `budget` seconds (ms for Playwright); record its outcome."""
        from playwright.sync_api import Error, TimeoutError

        step = Step(name, "ok", started_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"))
        view.steps.append(step)
        if budget <= 0.05:  # an earlier step used the page's time: it is the one marked
            step.outcome, step.detail = "skipped", "no time left of --page-timeout"
            return False
        t0 = time.monotonic()
        try:
            said = action(budget)  # a step may say how it ended (scroll: the cap)
            step.detail = said if isinstance(said, str) else ""
        except TimeoutError:
            step.outcome, step.detail = "timeout", f"not done in {budget:.1f} s"
        except Error as exc:
            step.outcome, step.detail = "error", first_line(exc)
        step.seconds = time.monotonic() - t0
        return step.outcome == "ok"

    def _steps(self, page: Any, view: PageView, deadline: float) -> None:
        limit = self.options.step_timeout

        def left() -> float:
            return min(limit, deadline - time.monotonic())

        def load(budget: float) -> str | None:
            response = page.goto(view.url, wait_until="load", timeout=budget * 1000)
            if response is not None:
                view.status = response.status
            return None

        self._step(view, "load", left(), load)
        view.final_url = page.url if page.url.startswith(("http://", "https://")) else view.url
        self._step(view, "network idle", left(),
                   lambda b: page.wait_for_load_state("networkidle", timeout=b * 1000))
        self._step(view, "scroll", left(), lambda b: self._scroll(page, time.monotonic() + b))
        self._step(view, "scroll to top", limit,
                   lambda b: page.evaluate("window.scrollTo(0, 0)"))

    def _scroll(self, page: Any, until: float) -> str:
        """Viewport by viewport to the bottom, letting each step's requests finish, until the
        bottom stays the bottom (nothing new loaded) or the cap."""
        from playwright.sync_api import TimeoutError

        for _ in range(self.options.scroll_cap):
            if time.monotonic() >= until:
                raise TimeoutError("scrolling did not reach a stable bottom")
            page.evaluate("window.scrollBy(0, window.innerHeight)")
            self._settle(page, until)
            at_bottom = page.evaluate(
                "window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 2")
            if at_bottom:
                page.wait_for_timeout(200)  # a lazy list appends after its request ends
                self._settle(page, until)
                if page.evaluate("window.scrollY + window.innerHeight >= "
                                 "document.documentElement.scrollHeight - 2"):
                    return ""
        return f"stopped at the cap of {self.options.scroll_cap} viewport steps"

    def _settle(self, page: Any, until: float) -> None:
        """Let the requests a scroll step started finish (at most SETTLE_SECONDS)."""
        budget = min(SETTLE_SECONDS, max(0.0, until - time.monotonic()))
        if self.proxy is not None:
            self.proxy.wait_idle(budget)
            return
        # no proxy to ask (replay): Playwright's network idle is a page load state, reached
        # once; a short pause lets a lazy image's request start and end
        page.wait_for_timeout(min(REPLAY_SETTLE_SECONDS, budget) * 1000)

    def _attachments(self, page: Any, view: PageView, wanted: tuple[str, ...]) -> None:
        budget = self.options.step_timeout
        ms = budget * 1000

        def full(_: float) -> None:
            view.screenshot_full = page.screenshot(full_page=True, timeout=ms)

        def viewport(_: float) -> None:
            view.screenshot_view = page.screenshot(full_page=False, timeout=ms)

        def dom(_: float) -> None:
            view.dom = page.content()

        def text(_: float) -> None:
            view.text = str(page.evaluate("document.body ? document.body.innerText : ''"))

        for name, label, action in (("full", "screenshot (full page)", full),
                                    ("view", "screenshot (viewport)", viewport),
                                    ("dom", "rendered DOM", dom), ("text", "visible text", text)):
            if name in wanted:
                self._step(view, label, budget, action)
        if self.options.pdf and "pdf" in wanted:
            def pdf(_: float) -> None:
                view.pdf = page.pdf(print_background=True)

            self._step(view, "PDF", budget, pdf)
