"""`archiver qa`: replay browser captures in pywb and score them against what was captured."""

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
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    quiet_option,
    shown,
)


@click.command("qa")
@click.argument("url", required=False)
@click.option("--all", "all_captures", is_flag=True,
              help="Every URL with a browser capture (its latest one).")
@click.option("--min-screenshot", type=click.FloatRange(0, 1), default=0.9, show_default=True,
              help="Lowest share of pixels alike (pixelmatch, threshold 0.1) that passes.")
@click.option("--min-text", type=click.FloatRange(0, 1), default=0.95, show_default=True,
              help="Lowest text match (1 - Levenshtein / longer length) that passes.")
@click.option("--diff-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Write each screenshot diff here as PNG (mismatched pixels in red).")
@click.option("--page-timeout", type=click.FloatRange(min=0.5), default=60.0,
              show_default=True, help="Seconds for the replayed page's steps.")
@click.option("--chromium", "chromium_path", default="/usr/bin/chromium", show_default=True,
              help="The Chromium executable (the same one as for capture --browser).")
@archive_option
@json_option
@quiet_option
@handle_errors
def qa_command(url: str | None, all_captures: bool, min_screenshot: float, min_text: float,
               diff_dir: Path | None, page_timeout: float, chromium_path: str,
               archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Replay each browser capture in pywb with the same Chromium and compare it with what
    the browser saw at capture: viewport screenshot, visible text, resources loaded/failed.

    Reads the archive only (the replay runs from a temporary config, as `replay` does).

    \b
    Examples:
      archiver qa https://example.org/story
      archiver qa --all --json --diff-dir /tmp/qa-diffs
    Exit status: 0 every capture at or above the thresholds, 1 any below (or not
    replayable), 2 usage error.
    """
    from archiver.access.qa import run_qa
    from archiver.access.replay import require_pywb
    from archiver.capture.browser.page import BrowserOptions, require_chromium

    if (url is None) == (not all_captures):
        raise UsageFailure("give one URL or --all")
    archive = existing_archive(archive_dir)
    require_pywb()
    require_chromium(chromium_path)
    options = BrowserOptions(executable=chromium_path, page_timeout=page_timeout,
                             step_timeout=min(BrowserOptions.step_timeout, page_timeout))

    def report(result: Any) -> None:
        if as_json:
            emit_json(result.to_dict())
        elif not (quiet and result.ok):
            click.echo(render(result))

    results = run_qa(archive, url, options, min_screenshot=min_screenshot, min_text=min_text,
                     diff_dir=diff_dir, on_result=report)
    bad = sum(1 for r in results if not r.ok)
    if not as_json and not quiet:
        click.echo(f"{len(results) - bad} of {len(results)} browser captures pass"
                   + (f", {bad} below the thresholds" if bad else ""))
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


def render(r: Any) -> str:
    label = "ok" if r.ok else "LOW"
    if r.error:
        return f"{'FAILED':7} {shown(r.url)} (seq {r.seq}): {shown(r.error)}"
    cap, rep = r.capture_resources, r.replay_resources
    return (f"{label:7} {shown(r.url)} (seq {r.seq}) screenshot {r.screenshot:.3f} "
            f"text {r.text:.3f} resources capture {cap.get('loaded', 0)} ok/"
            f"{cap.get('failed', 0)} failed, replay {rep.get('loaded', 0)} ok/"
            f"{rep.get('failed', 0)} failed" + (f"  diff {r.diff}" if r.diff else ""))
