"""The report in a real browser: Debian's Chromium, headless, through Playwright, opens the
pages from file:// with every non-file request aborted (and counted: none may happen), on
an archive made by crawling a loopback news site, ingesting the seed and capturing one
story three times. Checks: no console error, every overview chart an SVG with as many
marks as its figure has values, an article page with its snapshots and events, the search
box finding a query typed without diacritics, and the JavaScript fold equal to archiver's
Python fold character by character."""

from __future__ import annotations

import json
import shutil
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_DOCUMENT, Cli
from crawl_site import NewsSite
from news_site import TITLE, serve_news, three_snapshots

from archiver.store.fulltext import fold

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
VIETNAMESE = ["Quyền con người", "ĐẢNG CỘNG SẢN VIỆT NAM", "Đức Tuấn", "thủy văn", "Hà Nội",
              "Thời tiết: mưa rào cuối tuần", "Nguyễn Thị Minh Khai", "ươ ưở ỡ ặ ậ ẫ ẽ ỵ ỹ",
              "Tiếng Việt có dấu", "Khánh Hòa", "Bà Rịa – Vũng Tàu",
              # decomposed (NFD) text, as some pages send it
              unicodedata.normalize("NFD", "Đà Nẵng, Huế, Quảng Trị")]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).is_file() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed")
    root = tmp_path_factory.mktemp("report")
    run = Cli(root / "archive")
    with NewsSite() as site:
        result = run("crawl", site.home, "--max-pages", "40", "--delay", "0.01",
                     "--workers", "2")
        assert result.exit_code == 0, result.output
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    news = serve_news()
    server = next(news)
    try:
        three_snapshots(run, server)
    finally:
        next(news, None)
    assert run("audit", "--record").exit_code == 0
    out = root / "report"
    result = run("report", str(out), "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.stdout.splitlines()]
    yield {"out": out, "figures": [x for x in lines if "figure" in x], "summary": lines[-1]}


@pytest.fixture(scope="module")
def browser(built: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Visit:
    """A page opened from disk with the network cut off, and what happened while it was."""

    def __init__(self, browser: Any, path: Path, anchor: str = "") -> None:
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error"
                     else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(path.as_uri() + (f"#{anchor}" if anchor else ""))
        self.page.wait_for_load_state("load")

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def close(self) -> None:
        assert self.requests == [], self.requests  # nothing left the page
        assert self.errors == [], self.errors
        self.context.close()


def test_overview_charts_are_drawn_with_their_marks_offline(built, browser):
    visit = Visit(browser, built["out"] / "index.html")
    charts = visit.page.evaluate("""() => [...document.querySelectorAll('svg.chart')].map(s => {
        const marks = [...s.querySelectorAll(`g[id^="${s.dataset.figure}-mark-"]`)];
        const box = s.getBoundingClientRect();
        return {name: s.dataset.figure, declared: Number(s.dataset.marks), marks: marks.length,
                width: box.width, height: box.height,
                drawn: marks.filter(g => { const b = g.getBBox(); return b.width > 0 &&
                                           b.height > 0; }).length};
    })""")
    overview = [f for f in built["figures"] if f["figure"] != "fixity_coverage"]
    assert [c["name"] for c in charts] == [f["figure"] for f in overview]
    for chart, fig in zip(charts, overview, strict=True):
        expected = len(fig["x"]) * len(fig["series"])
        assert chart["marks"] == chart["declared"] == expected > 0, chart
        assert chart["width"] > 300 and chart["height"] > 100, chart
        nonzero = sum(1 for values in fig["series"].values() for v in values if v)
        assert chart["drawn"] >= nonzero > 0, chart  # a bar for every non-zero value
    # the numbers one click away
    details = visit.page.locator("#captures_per_day details")
    details.locator("summary").click()
    assert details.locator("td").first.is_visible()
    visit.close()


def index_entries(out: Path) -> list[list[Any]]:
    text = (out / "search-index.js").read_text(encoding="utf-8")
    return json.loads(text.removeprefix("window.ARCHIVER_SEARCH=").removesuffix(";\n"))


def test_article_page_shows_snapshots_diff_and_events(built, browser):
    [story] = [e for e in index_entries(built["out"]) if e[2] == TITLE]
    path, _, anchor = story[1].partition("#")
    visit = Visit(browser, built["out"] / path, anchor)
    page = visit.page.locator(f"article[id=\"{anchor}\"]")
    assert visit.page.evaluate("location.hash") == f"#{anchor}"
    assert page.locator("h1").inner_text() == TITLE
    assert page.locator("tr.snapshot").count() == 3
    assert page.locator("tr.snapshot").nth(1).inner_text().count("text changed") == 1
    assert "unchanged" in page.locator("tr.snapshot").nth(2).inner_text()
    assert page.locator("details.diff ins").first.is_visible()
    events = page.locator("tr.event")
    assert events.count() == 3
    first = events.first.inner_text()
    assert "capture" in first and "sha256:" in first
    assert page.locator("tr.capture a", has_text="replay").count() == 3
    visit.close()


def test_the_search_box_finds_a_folded_query(built, browser):
    visit = Visit(browser, built["out"] / "index.html")
    page = visit.page
    page.fill("#search", "THOI TIET ha noi")
    hits = page.locator("#hits li")
    assert hits.count() == 1 and TITLE in hits.first.inner_text()
    hits.first.locator("a").click()
    page.wait_for_load_state("load")
    assert page.locator("article:target h1").inner_text() == TITLE
    page.go_back()
    page.fill("#search", "pv/vov.vn")  # bylines too
    assert page.locator("#hits li").count() >= 2
    page.fill("#search", "zzz khong co")
    assert page.locator("#hits").get_attribute("data-hits") == "0"
    visit.close()


def test_the_articles_page_lists_every_article(built, browser):
    visit = Visit(browser, built["out"] / "articles.html")
    rows = visit.page.locator("#articles tbody tr")
    assert rows.count() == built["summary"]["articles"] == len(index_entries(built["out"]))
    assert visit.page.locator("#articles tbody a", has_text=TITLE).count() == 1
    visit.close()


def test_the_javascript_fold_is_archivers_fold(built, browser):
    visit = Visit(browser, built["out"] / "index.html")
    texts = VIETNAMESE + ["".join(chr(c) for c in range(start, min(start + 512, 0x10000))
                                  if not 0xD800 <= c < 0xE000)
                          for start in range(0x80, 0x10000, 512)]
    folded = visit.page.evaluate("texts => texts.map(archiverFold)", texts)
    for text, js in zip(texts, folded, strict=True):
        python = fold(text)
        if js != python:
            diffs = [(hex(ord(a)), b, c) for a, b, c in zip(text, js, python, strict=False)
                     if b != c]
            pytest.fail(f"folds differ: {diffs[:5]}")
    assert folded[0] == "Quyen con nguoi" and folded[2] == "Duc Tuan"
    visit.close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q", "-p", "no:xdist"]))
