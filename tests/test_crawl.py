"""`archiver crawl` against a real news site on loopback (tests/crawl_site.py), judged by the
server's own request log: what was fetched, how often, in which order and how fast."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, Cli
from crawl_site import CALENDAR_START, CRAWL_DELAY, Hit, NewsSite

from archiver.store import manifest

DELAY = 0.01  # --delay; the pages host's robots.txt Crawl-delay (0.03) must win over it
pytestmark = pytest.mark.slow


@pytest.fixture
def site():
    with NewsSite() as s:
        yield s


def crawl(run: Cli, *args: str) -> tuple[int, list[dict]]:
    result = run("crawl", *args, "--delay", str(DELAY), "--json")
    events = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    return result.exit_code, events


def entries(archive: Path, event: str = "capture") -> list[dict]:
    return [e for e in manifest.iter_entries(archive / "manifest.jsonl") if e["event"] == event]


def gaps(hits: list[Hit]) -> list[float]:
    times = sorted(h.at for h in hits)
    return [b - a for a, b in itertools.pairwise(times)]


def test_crawl_fetches_the_site_once_politely_and_completely(site, run, archive_dir):
    code, events = crawl(run, site.home, "--workers", "4")
    assert code == 0, events[-1]
    summary = events[-1]
    assert summary["event"] == "summary" and summary["status"] == "finished"

    pages = Counter(site.paths("pages"))
    cdn = Counter(site.paths("cdn"))
    # every in-scope article exactly once: linked, paginated, sitemap-only and feed-only ones
    for article in site.site.all_articles():
        assert pages[article.path] == 1, article.path
    assert max(pages.values()) == 1 and max(cdn.values()) == 1
    # robots.txt first on each host; nothing it disallows; nothing off-site
    assert site.hits("pages")[0].path == "/robots.txt"
    assert site.hits("cdn")[0].path == "/robots.txt"
    assert not [p for p in pages if p.startswith("/private/")]
    assert site.hits("offsite") == []
    # tracking parameters and fragments were canonicalised away before the seen-check
    assert not [h for h in site.hits("pages") if "utm_" in h.path or "#" in h.path]
    # requisites: lazy images (data-src), every srcset candidate, CSS and its url()/@import,
    # one level only (the imported stylesheet's font is not fetched)
    for article in site.site.articles:
        assert cdn[f"/img/{article.post}.jpg"] == 1
    thumbs = [a for a in site.site.articles if a.post % 1000 < 2]
    for article in thumbs:
        for size in "sml":
            assert cdn[f"/img/{article.post}-{size}.jpg"] == 1
    for path in ("/themes/vov/css/style.css", "/themes/vov/img/bg.png", "/qc/top.gif"):
        assert pages[path] == 1, path
    assert cdn["/static/vov.css"] == 1 and cdn["/static/fonts.css"] == 1
    assert cdn["/img/sprite.gif"] == 1  # url() inside a stylesheet the page links
    assert "/static/font.woff2" not in cdn
    # traps: the calendar ends at --depth 5 (months within 4 hops of the first), the
    # repeating path at its third repetition
    y, m = CALENDAR_START
    months = {f"/lich/{(y * 12 + m - 1 + d) // 12}-{(m - 1 + d) % 12 + 1:02d}"
              for d in range(-4, 5)}
    assert {p for p in pages if p.startswith("/lich/")} == months
    assert "/tag/x/tag/x/" in pages and "/tag/x/tag/x/tag/x/" not in pages
    # the 404 and the redirect: fetched once each, the redirect's target queued, not followed
    assert pages["/missing"] == 1 and pages["/go/featured"] == 1
    # politeness: Crawl-delay (larger) on the pages host, --delay on the CDN. The pacer
    # spaces request starts; arrival times at the server add a few ms of scheduling jitter
    # on a busy machine, so the smallest gap gets that much slack, the median none.
    for hits, delay in ((site.hits("pages"), CRAWL_DELAY), (site.hits("cdn"), DELAY)):
        spacing = sorted(gaps(hits))
        assert spacing[len(spacing) // 2] >= delay
        assert spacing[0] >= delay - 0.008, spacing[:5]

    skips = summary["skips"]
    assert skips["robots"] == 1 and skips["depth"] == 2
    assert skips["trap: repeated path segments"] >= 1 and skips["out of scope"] >= 1
    assert summary["http_errors"] >= 1 and summary["failures"] == 0
    assert summary["articles"] >= len(site.site.all_articles())

    # the manifest says how every capture was found
    captures = entries(archive_dir)
    assert len(captures) == len(site.log)
    found = {e["source"]["url"].split(":", 2)[2].split("/", 1)[1]: e["discovery"]
             for e in captures}
    only_sitemap, only_feed = site.site.sitemap_only[0], site.site.feed_only[0]
    assert found[only_sitemap.path.lstrip("/")]["kind"] == "sitemap"
    assert found[only_sitemap.path.lstrip("/")]["published"].startswith("2026-11-29")
    assert found[only_feed.path.lstrip("/")]["kind"] == "feed"
    assert found[""]["kind"] == "seed" and found[""]["hops"] == 0
    assert found["robots.txt"]["kind"] == "robots"
    assert found["themes/vov/css/style.css"]["kind"] == "requisite"
    assert found["sitemap-news.xml"]["via"].endswith("/sitemap_index.xml")
    crawl_events = entries(archive_dir, "crawl")
    assert [e["details"]["phase"] for e in crawl_events] == ["start", "end"]
    assert crawl_events[0]["details"]["seeds"] == [site.home]
    assert crawl_events[1]["summary"]["pages"] == summary["pages"]
    # and the archive is whole
    assert run("audit").exit_code == 0


def test_rerun_fetches_only_new_articles(site, run):
    code, _ = crawl(run, site.home, "--no-requisites")
    assert code == 0
    before = len(site.log)
    new = site.add_articles(3)
    code, events = crawl(run, site.home, "--no-requisites")
    assert code == 0, events[-1]
    refetched = set(site.paths("pages", since=before))
    articles = {a.path for a in site.site.all_articles()}
    assert refetched & articles == {a.path for a in new}
    # seeds, feeds and sitemaps are fetched again; section pages too (they list the news)
    assert {"/", "/rss/home.rss", "/sitemap_index.xml", "/sitemap-news.xml",
            "/xa-hoi/"} <= refetched
    assert events[-1]["skips"]["already archived"] >= len(articles) - 3


def test_kill_9_then_resume_fetches_nothing_committed_again(site, run, archive_dir):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "archiver", "crawl", site.home, "--archive", str(archive_dir),
           "--delay", str(DELAY), "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(site.log) < 80 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(site.log)
    committed = {e["source"]["url"] for e in entries(archive_dir)}
    assert committed, "nothing was committed before the kill"

    result = run("crawl", "--resume", "--json")
    assert result.exit_code == 0, result.output[-2000:]
    again = {site.site.pages_base + h.path if h.host == "pages" else
             site.site.cdn_base + h.path for h in site.log[killed_at:]}
    assert not committed & again
    # the final set is complete: every article once in the manifest, and fetched
    captures = Counter(e["source"]["url"] for e in entries(archive_dir))
    for article in site.site.all_articles():
        assert captures[site.site.pages_base + article.path] == 1, article.path
    assert max(captures.values()) == 1
    phases = [e["details"]["phase"] for e in entries(archive_dir, "crawl")]
    assert phases == ["start", "resume", "end"]


def test_host_page_cap_and_max_pages(site, run):
    code, events = crawl(run, site.home, "--host-max-pages", "10", "--no-requisites",
                         "--no-sitemaps", "--no-feeds")
    assert code == 0
    page_hits = [p for p in site.paths("pages") if p != "/robots.txt"]
    assert len(page_hits) == 10
    assert events[-1]["skips"]["trap: host page cap"] > 0
    before = len(site.log)
    code, events = crawl(run, site.home, "--max-pages", "4", "--no-requisites",
                         "--no-sitemaps", "--no-feeds", "--recapture")
    assert len([p for p in site.paths("pages", since=before) if p != "/robots.txt"]) == 4
    assert events[-1]["pages"] == 4


def test_robots_ignore_is_recorded(site, run, archive_dir):
    code, _events = crawl(run, site.home, "--robots", "ignore", "--scope", "page",
                         "--no-requisites", "--no-sitemaps", "--no-feeds")
    assert code == 0
    assert site.paths("pages") == ["/"]
    start = entries(archive_dir, "crawl")[0]
    assert start["details"]["options"]["robots"] == "ignore"
    warc = archive_dir / entries(archive_dir)[0]["records"][0]["file"]
    from warcio.archiveiterator import ArchiveIterator

    with open(warc, "rb") as f:
        info = next(iter(ArchiveIterator(f)))
        assert b"robots: ignore" in info.content_stream().read()


def test_bad_usage_exits_2(run):
    assert run("crawl").exit_code == 2
    assert run("crawl", "ftp://example.org/").exit_code == 2
    assert run("crawl", "http://127.0.0.1:9/", "--include", "(").exit_code == 2
    assert run("crawl", "--resume").exit_code == 2
    assert run("crawl", "http://127.0.0.1:9/", "--max-time", "soon").exit_code == 2
