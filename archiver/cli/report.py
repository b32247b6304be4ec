"""`archiver report`: a static, offline site about the archive (see archiver/access/report)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli.options import (
    archive_option,
    emit_json,
    handle_errors,
    json_option,
    open_archive,
    quiet_option,
)


@click.command("report")
@click.argument("out_dir", required=False, type=click.Path(path_type=Path))
@click.option("--replay-base", default="http://127.0.0.1:8080/archive/", show_default=True,
              metavar="URL",
              help="The replay collection URL each capture links into (`archiver replay`).")
@click.option("--max-articles", type=click.IntRange(min=0), default=None, metavar="N",
              help="Write pages for the N newest articles only [default: all]; every "
                   "article is still listed and searchable.")
@archive_option
@json_option
@quiet_option
@handle_errors
def report(out_dir: Path | None, replay_base: str, max_articles: int | None,
           archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Write a static report of the archive to OUT_DIR (default: report/ beside the
    archive), to open in a browser from disk with no network: charts of what was captured
    (per day and hour, status classes, MIME types, hosts, sections, sources, authors,
    publication against capture, revisits, WARC growth), health (last audit, fixity
    coverage, copies, proofs, crawl runs), a provenance page per article (snapshots and
    their diffs, capture records, manifest events, replay links) and a search box.

    It only reads the archive (a read-only replica works) and never writes into it; an
    OUT_DIR inside the archive is refused. `--json` prints the figures behind every chart,
    one object per line, then a summary.

    \b
    Examples:
      archiver report
      archiver report /tmp/vov-report --max-articles 500 --replay-base http://127.0.0.1:8090/archive/
      archiver report --json > figures.jsonl
    Exit status: 0 written, 1 written but an article file is damaged (listed in the
    report), 2 usage error, an OUT_DIR inside (or holding) the archive, or no archive.
    """
    from archiver.access.report import build

    archive = open_archive(archive_dir)
    if not replay_base.endswith("/"):
        replay_base += "/"
    options = build.Options(out_dir, replay_base, max_articles)
    with _Progress(not (as_json or quiet)) as progress:
        result = build.build_report(archive, options, progress)
    if as_json:
        for line in result.json_lines():
            emit_json(line)
    elif not quiet:
        what = "an empty archive" if result.empty else (
            f"{result.articles} article{'' if result.articles == 1 else 's'}, "
            f"{result.article_pages} with a page")
        click.echo(f"report written to {result.out_dir}/index.html ({what})")
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for damaged in result.damaged:
        click.echo(f"damaged: {damaged}", err=True)
    sys.exit(1 if result.damaged else 0)


class _Progress:
    """One status line on stderr (terminals only): the stage and how far it is."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = ""

    def __enter__(self) -> _Progress:
        return self

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        text = f"\r{stage}: {100 * done // total:3d}% ({done:,}/{total:,})"
        if stage == "manifest":
            text = f"\rreading the manifest: {100 * done // total:3d}%"
        if text != self.shown:
            self.shown = text
            click.echo(text.ljust(60), err=True, nl=False)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled and self.shown:
            click.echo("\r" + " " * 60 + "\r", err=True, nl=False)
