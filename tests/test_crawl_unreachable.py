"""Issue 24, item 6b: a crawl whose host cannot be reached ends, and says why.

A host that refuses connections, or accepts and never answers, once its request's retries are
spent is paused with its URLs left queued for --resume; a crawl with nothing else to do ends
at once: exit 1, a summary naming the host and the reason. (Before, robots.txt's retry was
never sent again and the crawl waited for it forever.)"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli, free_port
from silent_server import SilentServer

from archiver.capture.crawl.frontier import Frontier


def crawl(run: Cli, *args: str) -> tuple[int, list[dict[str, Any]], float]:
    started = time.monotonic()
    # --max-time: before the fix the crawl never ended; now a guard, never reached
    result = run("crawl", *args, "--json", *([] if "--resume-id" in args
                                             else ["--max-time", "15s"]))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, time.monotonic() - started


def queued_urls(archive: Path, crawl_id: str) -> list[str]:
    frontier = Frontier(archive / "crawls" / crawl_id / "state.sqlite")
    try:
        rows = frontier.db.execute("SELECT url FROM urls WHERE state = 'queued' ORDER BY url")
        return [r[0] for r in rows]
    finally:
        frontier.close()


def test_a_refusing_host_is_paused_and_the_crawl_ends(archive_dir: Path) -> None:
    port = free_port()  # nothing listens there
    run = Cli(archive_dir)
    code, lines, seconds = crawl(run, f"http://127.0.0.1:{port}/", "--retries", "1")
    assert code == 1
    assert seconds < 10
    summary = lines[-1]
    assert summary["event"] == "summary" and summary["status"] == "paused hosts"
    host = f"127.0.0.1:{port}"
    assert list(summary["paused_hosts"]) == [host]
    assert "refused" in summary["paused_hosts"][host]
    assert any(e["event"] == "host-paused" and e["host"] == host for e in lines)
    # nothing lost: the seed and robots.txt wait for --resume, which ends as fast
    crawl_id = summary["crawl_id"]
    assert queued_urls(archive_dir, crawl_id) == [f"http://{host}/", f"http://{host}/robots.txt"]
    code, lines, seconds = crawl(run, "--resume-id", crawl_id)
    assert code == 1 and seconds < 10
    assert list(lines[-1]["paused_hosts"]) == [host]
    assert queued_urls(archive_dir, crawl_id) == [f"http://{host}/", f"http://{host}/robots.txt"]


def test_a_host_that_never_answers_is_paused_after_its_timeouts(archive_dir: Path) -> None:
    silent = SilentServer().start()
    try:
        run = Cli(archive_dir)
        code, lines, seconds = crawl(run, silent.url("/"), "--timeout", "2", "--retries", "1",
                                     "--robots", "ignore")
    finally:
        silent.close()
    assert code == 1
    assert seconds < 12  # two attempts of 2 s, a short back-off
    host = f"127.0.0.1:{silent.port}"
    summary = lines[-1]
    assert list(summary["paused_hosts"]) == [host]
    assert "2 times" in summary["paused_hosts"][host]
    assert summary["queued"] == 2 and summary["failures"] == 0  # the seed, /sitemap.xml


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def test_a_browser_page_the_guard_refused_is_a_failed_url_not_a_down_host() -> None:
    # crawl --browser: no page record either way, but only "no answer" pauses the host
    from archiver.capture.browser.run import BrowserOutcome
    from archiver.capture.crawl.witness import captured

    url = "http://10.255.255.1/page"
    refused = BrowserOutcome(url=url, error="10.255.255.1:80 is private",
                             blocked=[{"url": url, "reason": "10.255.255.1:80 is private"}])
    assert not captured(refused).unreachable
    silent = BrowserOutcome(url=url, error="timed out")
    assert captured(silent).unreachable
