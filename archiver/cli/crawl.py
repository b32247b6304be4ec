"""`archiver crawl`: discover a site's pages and capture them with their requisites."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageFailure,
    archive_option,
    browser_page_options,
    emit_json,
    handle_errors,
    json_option,
    operator_option,
    quiet_option,
    shown,
    sign_head,
    warn,
    writable_archive,
)
from archiver.cli.timestamping import stamp_final_head, timestamp_options, timestamp_urls

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_duration(text: str | None) -> float:
    """`90`, `90s`, `30m`, `2h`, `1d` -> seconds."""
    if not text:
        return 0.0
    match = _DURATION.match(text)
    if not match:
        raise UsageFailure(f"--max-time {text!r}: expected a duration like 90s, 30m or 2h")
    return float(match[1]) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match[2]]


@click.command()
@click.argument("seeds", nargs=-1)
@click.option("--seeds", "seed_file", type=click.Path(path_type=Path), default=None,
              help="File of seed URLs, one per line (# comments).")
@click.option("--scope", type=click.Choice(["page", "prefix", "host", "domain"]),
              default="host", show_default=True,
              help="Pages to follow: the seeds only, under a seed's folder, a seed's host, "
                   "or its domain with subdomains.")
@click.option("--include", multiple=True, metavar="REGEX",
              help="Also crawl canonical URLs matching REGEX (repeatable).")
@click.option("--exclude", multiple=True, metavar="REGEX",
              help="Never crawl canonical URLs matching REGEX (repeatable; wins).")
@click.option("--depth", type=click.IntRange(min=0), default=5, show_default=True,
              help="Link hops from a seed (pagination included).")
@click.option("--max-pages", type=click.IntRange(min=0), default=0,
              help="Stop after this many HTML pages (requisites, robots.txt, sitemaps and "
                   "feeds not counted); 0 = no limit.")
@click.option("--host-max-pages", type=click.IntRange(min=0), default=0,
              help="Per-host page cap, a trap guard; 0 = no limit.")
@click.option("--max-time", default=None, metavar="DURATION",
              help="Stop after this long (90s, 30m, 2h); --resume continues.")
@click.option("--delay", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds between requests to one host (robots.txt Crawl-delay wins "
                   "when larger).")
@click.option("--host-workers", type=click.IntRange(min=1, max=16), default=1,
              show_default=True, help="Parallel requests per host.")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=4, show_default=True,
              help="Parallel requests in total.")
@click.option("--robots", type=click.Choice(["obey", "ignore"]), default="obey",
              show_default=True, help="robots.txt policy (recorded in warcinfo and the "
                                      "crawl event).")
@click.option("--contact", default=None, metavar="URL-OR-EMAIL",
              help="Put in the User-Agent so site owners can reach you.")
@click.option("--requisites/--no-requisites", default=True, show_default=True,
              help="Capture images, stylesheets, scripts and fonts of every page.")
@click.option("--requisites-scope", type=click.Choice(["any", "domain"]), default="any",
              show_default=True, help="Hosts requisites may come from (CDNs are common).")
@click.option("--sitemaps/--no-sitemaps", default=True, show_default=True,
              help="Read sitemaps named by robots.txt and /sitemap.xml.")
@click.option("--feeds/--no-feeds", default=True, show_default=True,
              help="Read RSS/Atom feeds pages advertise (or given as seeds).")
@click.option("--resume", is_flag=True, help="Continue the last unfinished crawl here.")
@click.option("--resume-id", default=None, metavar="CRAWL-ID",
              help="Continue this unfinished crawl.")
@click.option("--recapture", is_flag=True,
              help="Fetch article pages already archived again.")
@click.option("--no-extract", is_flag=True, help="Store WARCs only; extract later.")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Retries on connection errors and 429/5xx (Retry-After honoured).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds to wait to connect and for each read.")
@click.option("--browser", "use_browser", is_flag=True,
              help="Capture each page with headless Chromium through archiver's recording "
                   "proxy, as `capture --browser` does (screenshots, rendered DOM, text, TLS, "
                   "provenance summary); links come from the raw page and the rendered DOM. "
                   "Pages then go one at a time through one browser; the browser fetches "
                   "their requisites. Give it again with --resume.")
@browser_page_options
@archive_option
@operator_option
@json_option
@timestamp_options
@quiet_option
@handle_errors
def crawl(seeds: tuple[str, ...], seed_file: Path | None, scope: str,
          include: tuple[str, ...], exclude: tuple[str, ...], depth: int, max_pages: int,
          host_max_pages: int, max_time: str | None, delay: float, host_workers: int,
          workers: int, robots: str, contact: str | None, requisites: bool,
          requisites_scope: str, sitemaps: bool, feeds: bool, resume: bool,
          resume_id: str | None, recapture: bool, no_extract: bool, retries: int,
          timeout: float, use_browser: bool, page_timeout: float, viewport: str,
          allow_hosts: tuple[str, ...], ca_file: Path | None, chromium_path: str,
          restart_every: int, archive_dir: Path | None, operator: str | None, as_json: bool,
          timestamp: bool, tsa: tuple[str, ...], tsa_timeout: float, quiet: bool) -> None:
    """Crawl from seed URLs: follow links, sitemaps and feeds in scope, obey robots.txt,
    pace each host, capture every page with its images and stylesheets into the archive
    (the same WARC, article and manifest path as `capture`), and record how each URL was
    found. The state lives in the archive (crawls/<crawl-id>/state.sqlite): after Ctrl-C
    or a crash, --resume goes on without fetching anything committed again. A rerun with
    the same seeds fetches seeds, feeds and sitemaps again and skips articles already
    archived.

    \b
    Examples:
      archiver crawl https://vov.vn/chinh-tri/ --scope prefix --depth 3 --contact me@example.org
      archiver crawl --seeds seeds/vov.txt --max-pages 500 --json
      archiver crawl --browser https://example.org/news/ --depth 1 --max-pages 20
      archiver crawl --resume
    Exit status: 0 crawl completed (4xx answers are counted, not failures); 1 a seed or
    fetches failed (5xx after retries, network errors) or a host was paused; 2 usage error.
    """
    import re as regex

    from archiver.base.errors import UsageError
    from archiver.capture.crawl.engine import Crawl, CrawlOptions
    from archiver.capture.run import read_seed_list

    browser = None
    if use_browser:
        from archiver.capture.browser.page import BrowserOptions
        from archiver.cli.capture import browser_options as make_browser_options

        browser = make_browser_options(BrowserOptions.max_bytes, timeout, page_timeout,
                                       viewport, False, allow_hosts, ca_file, chromium_path,
                                       restart_every)
    archive = writable_archive(archive_dir, "crawl")
    tsa_urls = timestamp_urls(timestamp, tsa)
    events = _Reporter(as_json, quiet)
    if resume or resume_id:
        if seeds or seed_file:
            raise UsageFailure("--resume continues a crawl with its own seeds; give none")
        try:
            job = Crawl.resume(archive, resume_id, on_event=events, browser=use_browser)
        except UsageError as exc:
            raise UsageFailure(str(exc)) from exc
    else:
        all_seeds = list(seeds) + (read_seed_list(seed_file) if seed_file else [])
        if not all_seeds:
            raise UsageFailure("no seeds given (pass URLs or --seeds FILE, or --resume)")
        for pattern in include + exclude:
            try:
                regex.compile(pattern)
            except regex.error as exc:
                raise UsageFailure(f"bad regex {pattern!r}: {exc}") from exc
        options = CrawlOptions(
            seeds=tuple(all_seeds), scope=scope, include=include, exclude=exclude,
            depth=depth, max_pages=max_pages, max_time=parse_duration(max_time),
            host_max_pages=host_max_pages, delay=delay, host_workers=host_workers,
            workers=workers, robots=robots, contact=contact, requisites=requisites,
            requisites_scope=requisites_scope, sitemaps=sitemaps, feeds=feeds,
            recapture=recapture, extract=not no_extract, retries=retries, timeout=timeout,
            operator=operator, browser=use_browser)
        try:
            job = Crawl.start(archive, options, on_event=events)
        except UsageError as exc:
            raise UsageFailure(str(exc)) from exc
    events({"event": "crawl", "crawl_id": job.crawl_id, "seeds": list(job.options.seeds)})
    summary = job.run(on_progress=events.progress, browser=browser)
    events.clear()
    stamp_final_head(archive, tsa_urls, tsa_timeout)
    sign_head(archive)
    if as_json:
        emit_json({"event": "summary", **summary})
    else:
        click.echo(render_summary(summary))
    bad = summary["failures"] or summary["failed_seeds"] or summary["paused_hosts"]
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


class _Reporter:
    """Events as JSON lines, or as text lines plus a one-line progress display on a
    terminal (stderr, redrawn in place)."""

    def __init__(self, as_json: bool, quiet: bool) -> None:
        self.as_json, self.quiet = as_json, quiet
        self.tty = sys.stderr.isatty() and not as_json
        self.shown_progress = False

    def __call__(self, event: dict[str, Any]) -> None:
        if self.as_json:
            emit_json(event)
            return
        kind = event.get("event")
        if kind in ("host-paused", "warning"):
            self.clear()
            warn(event["message"])
        elif kind == "crawl":
            if not self.quiet:
                click.echo(f"crawl {event['crawl_id']}: {len(event['seeds'])} seed(s)")
        elif kind == "fetch" and (event["state"] == "failed"
                                  or not (self.quiet or self.tty)):
            self.clear()
            click.echo(render_fetch(event), err=event["state"] == "failed" and self.quiet)

    def progress(self, p: dict[str, Any]) -> None:
        if not self.tty:
            return
        done = p["done_by_role"]
        line = (f"pages {done.get('page', 0)}  requisites {done.get('requisite', 0)}  "
                f"articles {p['articles']}  queued {p['queued']}  "
                f"failed {p['states'].get('failed', 0)}  "
                f"skipped {sum(p['skips'].values())}")
        click.echo("\r" + line[:200] + "\x1b[K", nl=False, err=True)
        self.shown_progress = True

    def clear(self) -> None:
        if self.shown_progress:
            click.echo("\r\x1b[K", nl=False, err=True)
            self.shown_progress = False


def render_fetch(e: dict[str, Any]) -> str:
    label = {"done": "ok", "failed": "FAILED", "retry": "retry", "paused": "paused"}[e["state"]]
    status = e.get("status") or "---"
    line = f"{label:6} {status} {e['role']:9} {shown(e['url'])}"
    if e.get("location"):
        line += f" -> {shown(e['location'])}"
    if e.get("article"):
        line += f"  article {e['article']}"
    if e.get("error"):
        line += f": {shown(e['error'])}"
    return line


def render_summary(s: dict[str, Any]) -> str:
    skips = ", ".join(f"{n} {reason}" for reason, n in sorted(s["skips"].items())) or "none"
    lines = [
        f"crawl {s['crawl_id']} {s['status']} in {s['elapsed_s']:.1f} s: {s['pages']} pages, "
        f"{s['requisites']} requisites, {s['articles']} articles stored, "
        f"{s['robots']} robots.txt, {s['sitemaps']} sitemaps, {s['feeds']} feeds",
        f"  failures {s['failures']}, HTTP 4xx {s['http_errors']}, still queued {s['queued']}",
        f"  skipped: {skips}",
    ]
    for host, message in s["paused_hosts"].items():
        lines.append(f"  paused {host}: {message}")
    for seed in s["failed_seeds"]:
        lines.append(f"  seed failed: {shown(seed)}")
    if s["status"] != "finished":
        lines.append(f"  continue with: archiver crawl --resume-id {s['crawl_id']}")
    return "\n".join(lines)
