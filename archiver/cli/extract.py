"""`archiver extract`: (re-)derive articles from the stored records."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    Failure,
    UsageFailure,
    archive_option,
    cluster_for,
    dask_option,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    operator_option,
    quiet_option,
    render_article_outcome,
    task_progress,
)


@click.command()
@click.argument("selectors", nargs=-1)
@click.option("--all", "all_records", is_flag=True, help="Every source record in the archive.")
@click.option("--force", is_flag=True,
              help="Re-derive every selected record, also those whose article is current.")
@archive_option
@operator_option
@dask_option
@json_option
@quiet_option
@handle_errors
def extract(selectors: tuple[str, ...], all_records: bool, force: bool, archive_dir: Path | None,
            operator: str | None, dask_address: str | None, as_json: bool,
            quiet: bool) -> None:
    """Re-derive articles offline from the stored WARC records (never a second fetch).

    SELECTORS are article ids, URLs or WARC record ids. Output is deterministic: on an
    unchanged corpus nothing is written. A different result (a newer extractor) goes to a new
    file beside the old one, with a conversion record and a `metadata extraction` event.
    A record whose article file is intact and was made by this extractor and schema version
    is reported `unchanged` without re-deriving it; --force re-derives it anyway.

    \b
    Examples:
      archiver extract --all
      archiver extract vov-1064050 --json
      archiver extract --all --force
      archiver extract --all --dask tcp://scheduler.example.org:8786
    A damaged WARC is reported (file and offset) and the others are still read.
    Exit status: 0 fine, 1 an article failed its schema or a WARC is damaged, 2 usage error.
    """
    from archiver.pipeline.rederive import rederive

    if not selectors and not all_records:
        raise UsageFailure("name articles/URLs/record ids, or pass --all")
    archive = existing_archive(archive_dir, writes="extract")

    def report(o: Any) -> None:
        if as_json:
            emit_json(o.to_dict(with_article=True))
        elif o.status == "damaged":
            at = f" @{o.offset}" if o.offset is not None else ""
            click.echo(f"ERROR: {o.warc}{at}: damaged WARC, {o.article.reason}; the rest "
                       "of the archive was read (run `archiver audit`)")
        elif not (quiet and o.ok):
            click.echo(f"{o.status:11} {o.url}  [{o.warc}]" + render_article_outcome(o.article))

    tasks = task_progress(not as_json and not quiet, "extracting")
    with cluster_for(dask_address) as cluster:
        outcomes = rederive(archive, list(selectors), operator, on_done=report, force=force,
                            cluster=cluster, progress=tasks)
    if dask_address:
        tasks.finish()
    if selectors and not any(o.status != "damaged" for o in outcomes):
        raise Failure("nothing matched: " + " ".join(selectors))
    bad = sum(1 for o in outcomes if not o.ok)
    if not as_json and not quiet:
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        click.echo(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no sources")
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)
