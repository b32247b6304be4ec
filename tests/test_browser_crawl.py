"""`crawl --browser`: a crawl's pages captured through Chromium and archiver's recording
proxy, as `capture --browser` captures them, on a loopback site the test starts. Links come
from the raw page and from the rendered DOM (a link only a script writes is followed); the
browser fetches each page's requisites itself, so the crawl queues none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_site import Site
from conftest import Cli

from archiver.capture.browser.page import DEFAULT_EXECUTABLE
from archiver.store import manifest

pytestmark = pytest.mark.skipif(not os.access(DEFAULT_EXECUTABLE, os.X_OK),
                                reason="needs Debian's chromium (apt-get install chromium)")


class Crawled:
    def __init__(self, tmp: Path) -> None:
        self.site = Site()
        self.root = tmp / "archive"
        self.cli = Cli(self.root)
        self.result = self.cli(
            "crawl", self.site.base + "/hub", "--browser", "--allow-host",
            f"127.0.0.1:{self.site.port}", "--depth", "1", "--delay", "0",
            "--no-sitemaps", "--no-feeds", "--page-timeout", "8", "--json")
        self.events = [json.loads(line) for line in self.result.stdout.splitlines()
                       if line.strip()]

    def captures(self) -> dict[str, dict[str, Any]]:
        return {e["source"]["url"].removeprefix(self.site.base): e
                for e in manifest.iter_entries(self.root / "manifest.jsonl")
                if e["event"] == "capture"}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    crawled = Crawled(tmp_path_factory.mktemp("browser-crawl"))
    yield crawled
    crawled.site.close()


def test_pages_go_through_the_browser_and_script_links_are_followed(crawled: Crawled) -> None:
    assert crawled.result.exit_code == 0, crawled.result.output
    summary = crawled.events[-1]
    assert summary["event"] == "summary" and summary["status"] == "finished"
    captures = crawled.captures()
    # the seed, its raw link, the link its script wrote; robots.txt as a plain fetch
    assert {"/hub", "/static", "/written", "/robots.txt"} <= set(captures)
    assert captures["/written"]["discovery"]["via"] == crawled.site.base + "/hub"
    assert captures["/written"]["discovery"]["kind"] == "link"
    assert "browser" not in captures["/robots.txt"]
    for path in ("/hub", "/static", "/written"):
        entry = captures[path]
        assert entry["outcome"]["status"] == "success", entry["outcome"]
        browser = entry["browser"]
        kinds = {a["kind"] for a in browser["attachments"]}
        assert {"screenshot-full", "screenshot-view", "dom", "text", "summary"} <= kinds
        assert browser["page_record"] in {r["id"] for r in entry["records"]}
        assert entry["discovery"]["crawl"] == captures["/hub"]["discovery"]["crawl"]
    # the hub's image came with the hub's capture, through the proxy; no requisite items
    hub_uris = {r["uri"] for r in captures["/hub"]["records"]}
    assert crawled.site.base + "/img/1.png" in hub_uris
    assert not [e for e in crawled.events if e.get("role") == "requisite"]
    assert crawled.site.hits.count("/img/1.png") == 1
    assert crawled.site.hits.count("/hub") == 1  # the page was fetched once, by the browser
    # the static page's article was stored, and the archive is whole
    assert captures["/static"]["articles"]
    assert crawled.cli("audit").exit_code == 0
    warcs = sorted(str(p) for p in (crawled.root / "warcs").rglob("*.warc.gz"))
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *warcs],
                           capture_output=True, text=True, timeout=120)
    assert warcs and check.returncode == 0, check.stdout + check.stderr


def test_browser_usage_errors(crawled: Crawled, tmp_path: Path) -> None:
    cli = Cli(tmp_path / "other")
    result = cli("crawl", crawled.site.base + "/hub", "--browser", "--chromium",
                 str(tmp_path / "no-chromium"))
    assert result.exit_code == 2 and "apt-get install chromium" in result.output
    result = cli("crawl", crawled.site.base + "/hub", "--browser", "--viewport", "wide")
    assert result.exit_code == 2 and "--viewport wide" in result.output


def test_resume_needs_browser_again(crawled: Crawled, tmp_path: Path) -> None:
    """A crawl stopped by --max-time continues (as plain crawls do, a running capture is
    finished first) only through the browser: --resume without --browser is refused before
    anything is recorded."""
    root = tmp_path / "resumed"
    cli = Cli(root)
    allow = ["--allow-host", f"127.0.0.1:{crawled.site.port}"]
    first = cli("crawl", crawled.site.base + "/hub", "--browser", *allow, "--depth", "1",
                "--delay", "0", "--no-sitemaps", "--no-feeds", "--max-time", "1s",
                "--page-timeout", "8")
    assert first.exit_code in (0, 1) and "continue with" in first.output, first.output
    before = (root / "manifest.jsonl").read_bytes()
    plain = cli("crawl", "--resume")
    assert plain.exit_code == 2 and "was started with --browser" in plain.output
    assert (root / "manifest.jsonl").read_bytes() == before
    for _ in range(6):  # each resume runs 1 s more, finishing the page under way
        done = cli("crawl", "--resume", "--browser", *allow, "--page-timeout", "8")
        assert done.exit_code in (0, 1), done.output
        if "continue with" not in done.output:
            break
    assert "continue with" not in done.output, done.output
    pages = {e["source"]["url"].removeprefix(crawled.site.base): e
             for e in manifest.iter_entries(root / "manifest.jsonl")
             if e["event"] == "capture" and e["source"]["url"] != crawled.site.base
             + "/robots.txt"}
    assert set(pages) == {"/hub", "/static", "/written"}
    assert all(e["browser"]["attachments"] for e in pages.values())


def test_a_browser_that_fails_fails_the_page_not_the_crawl(crawled: Crawled,
                                                           tmp_path: Path) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'not a browser' >&2\nexit 3\n")
    fake.chmod(0o755)
    cli = Cli(tmp_path / "failing")
    result = cli("crawl", crawled.site.base + "/hub", "--browser", "--chromium", str(fake),
                 "--allow-host", f"127.0.0.1:{crawled.site.port}", "--retries", "0",
                 "--no-sitemaps", "--no-feeds", "--delay", "0")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    [hub] = [e for e in manifest.iter_entries(tmp_path / "failing" / "manifest.jsonl")
             if e["event"] == "capture" and e["source"]["url"].endswith("/hub")]
    assert hub["outcome"]["status"] == "failure"
    assert hub["outcome"]["detail"].startswith("browser failed: ")
