"""`archiver capture`: fetch URLs into the archive."""

from __future__ import annotations

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
    render_article_outcome,
    shown,
    sign_head,
    warc_options,
    warn,
    writable_archive,
)
from archiver.cli.timestamping import stamp_final_head, timestamp_options, timestamp_urls


@click.command()
@click.argument("urls", nargs=-1)
@click.option("--seeds", "seed_file", type=click.Path(path_type=Path), default=None,
              help="File of URLs to capture, one per line (# comments).")
@archive_option
@operator_option
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds to wait to connect and for each read.")
@click.option("--max-time", type=click.FloatRange(min=0.1), default=120.0, show_default=True,
              help="Total seconds per URL, all redirects and retries included.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=50 * 1024 * 1024,
              show_default=True, help="Stop reading a body after this many bytes "
                                      "(kept, marked WARC-Truncated: length).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Retries on connection errors and 429/5xx (Retry-After honoured).")
@click.option("--delay", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Politeness: seconds between requests to the same host.")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=4, show_default=True,
              help="URLs fetched in parallel.")
@click.option("--no-extract", is_flag=True, help="Store the WARC only; extract later.")
@click.option("--extract-workers", type=click.IntRange(min=0, max=64), default=None,
              help="Processes extracting articles beside the fetchers (0: in the capturing "
                   "process) [default: one per core for 8 or more URLs, else 0].")
@click.option("--dedup", type=click.Choice(["url", "any", "off"]), default="url",
              show_default=True,
              help="Store a payload the archive already holds as a WARC revisit record: when "
                   "the same URL had it (url), any URL (any), or never (off). With url or any, "
                   "a URL captured before is asked If-None-Match/If-Modified-Since.")
@click.option("--browser", "use_browser", is_flag=True,
              help="Capture with headless Chromium through archiver's recording proxy: raw "
                   "exchanges plus screenshots, rendered DOM, visible text, TLS facts and a "
                   "provenance summary (needs `apt-get install chromium`). --max-bytes then "
                   "caps the whole page.")
@click.option("--pdf", is_flag=True, help="--browser: also keep the page printed to PDF.")
@browser_page_options
@warc_options
@timestamp_options
@json_option
@quiet_option
@handle_errors
def capture(urls: tuple[str, ...], seed_file: Path | None, archive_dir: Path | None,
            operator: str | None, timeout: float, max_time: float, max_bytes: int,
            retries: int, delay: float, workers: int, no_extract: bool,
            extract_workers: int | None, warc_prefix: str, warc_size: int,
            commit_every: int, commit_seconds: float, dedup: str, timestamp: bool,
            tsa: tuple[str, ...], tsa_timeout: float, as_json: bool, quiet: bool,
            use_browser: bool = False, page_timeout: float = 60.0,
            viewport: str = "1600x900", pdf: bool = False,
            allow_hosts: tuple[str, ...] = (), ca_file: Path | None = None,
            chromium_path: str = "/usr/bin/chromium", restart_every: int = 100) -> None:
    """Fetch URLs into WARC 1.1 files, extract their articles, record it all in the manifest.

    Every redirect hop and every retried attempt is archived as its own request/response
    pair; 4xx/5xx answers are archived too (they are evidence) and reported as failures.

    \b
    Examples:
      archiver capture https://vov.vn/chinh-tri/...-post1064050.vov
      archiver capture --seeds seeds/vov.txt --json
      archiver capture --browser --pdf https://example.org/story
    Exit status: 0 every URL archived with a 2xx answer, 1 any failed, 2 usage error.
    A --browser capture with a step that timed out is PARTIAL (exit 1).
    """
    from archiver.capture.fetch import FetchOptions
    from archiver.capture.run import CaptureOptions, capture_urls, read_seed_list

    all_urls = list(urls) + (read_seed_list(seed_file) if seed_file else [])
    if not all_urls:
        raise UsageFailure("no URLs given (pass URLs or --seeds FILE)")
    tsa_urls = timestamp_urls(timestamp, tsa)
    options = CaptureOptions(
        fetch=FetchOptions(timeout=timeout, max_time=max_time, max_bytes=max_bytes,
                           retries=retries, delay=delay),
        operator=operator, workers=workers, extract=not no_extract,
        warc_prefix=warc_prefix, warc_size=warc_size, extract_processes=extract_workers,
        batch_size=commit_every, batch_seconds=commit_seconds, dedup=dedup)

    def report(outcome: Any) -> None:
        if as_json:
            emit_json(outcome.to_dict())
        elif not (quiet and outcome.ok):
            click.echo(render_capture(outcome), err=not outcome.ok and quiet)

    archive = writable_archive(archive_dir, "capture")
    if use_browser:
        witness = browser_options(max_bytes, timeout, page_timeout, viewport, pdf,
                                  allow_hosts, ca_file, chromium_path, restart_every)
        from archiver.capture.browser.run import capture_browser

        outcomes: list[Any] = capture_browser(archive, all_urls, options, witness,
                                              on_done=report, on_warning=warn)
    else:
        outcomes = capture_urls(archive, all_urls, options, on_done=report, on_warning=warn)
    stamp_final_head(archive, tsa_urls, tsa_timeout)
    sign_head(archive)
    failed = sum(1 for o in outcomes if not o.ok)
    if not as_json and not quiet:
        click.echo(f"{len(outcomes) - failed} of {len(outcomes)} URLs archived"
                   + (f", {failed} with problems" if failed else ""))
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def browser_options(max_bytes: int, timeout: float, page_timeout: float, viewport: str,
                     pdf: bool, allow_hosts: tuple[str, ...], ca_file: Path | None,
                     chromium_path: str, restart_every: int) -> Any:
    from archiver.capture.browser.guard import parse_allowed
    from archiver.capture.browser.page import BrowserOptions, require_chromium

    require_chromium(chromium_path)
    width, sep, height = viewport.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) and int(height)):
        raise UsageFailure(f"--viewport {viewport}: expected WIDTHxHEIGHT, e.g. 1600x900")
    if ca_file is not None and not ca_file.is_file():
        raise UsageFailure(f"--ca-file {ca_file}: no such file")
    return BrowserOptions(executable=chromium_path, page_timeout=page_timeout,
                          step_timeout=min(BrowserOptions.step_timeout, page_timeout),
                          max_bytes=max_bytes,
                          viewport=(int(width), int(height)), pdf=pdf,
                          allowed=parse_allowed(allow_hosts), ca_file=ca_file,
                          timeout=timeout, restart_every=restart_every)


def render_capture(o: Any) -> str:
    if o.warc is None:
        return f"FAILED  {shown(o.url)}: {shown(o.error)}"
    label = {"archived": "ok", "http-error": "HTTP", "failed": "FAILED",
             "incomplete": "PARTIAL", "invalid-article": "INVALID"}[o.outcome]
    line = f"{label:7} {o.status} {shown(o.url)}"
    if o.final_url and o.final_url != o.url:
        line += f" -> {shown(o.final_url)}"
    line += f"  [{o.warc}]"
    if o.truncated:
        line += f" truncated ({o.truncated})"
    if o.error:
        line += f": {shown(o.error)}"
    if getattr(o, "partial", None):
        line += f" timed out: {', '.join(o.partial)}"
    if getattr(o, "blocked", None):
        line += f" ({len(o.blocked)} request(s) refused)"
    return line + render_article_outcome(o.article)
