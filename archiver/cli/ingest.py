"""`archiver ingest`: local documents and WARCs made elsewhere."""

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
    handle_errors,
    json_option,
    operator_option,
    quiet_option,
    render_article_outcome,
    shown,
    sign_head,
    warn,
    writable_archive,
)
from archiver.cli.timestamping import stamp_final_head, timestamp_options, timestamp_urls


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--url", default=None, help="Source URL of the document (one file only).")
@click.option("--accept-invalid", is_flag=True,
              help="Ingest WARC files even when validation finds errors (the findings are "
                   "recorded in the manifest).")
@archive_option
@operator_option
@timestamp_options
@json_option
@quiet_option
@handle_errors
def ingest(paths: tuple[Path, ...], url: str | None, accept_invalid: bool,
           archive_dir: Path | None, operator: str | None, timestamp: bool,
           tsa: tuple[str, ...], tsa_timeout: float, as_json: bool, quiet: bool) -> None:
    """Bring local documents (HTML, plain-text transcripts) into the archive.

    Each document becomes a WARC `resource` record whose target URI is --url or, for a
    transcript, the URL on its last line (for HTML: its canonical link), plus a `metadata`
    record about the file. Folders are walked; seed lists (files of URLs) are skipped.
    Works offline. Ingesting the same bytes for the same URL twice is a no-op.

    WARC and ARC files made by other tools (wget, Heritrix, Browsertrix) are validated first
    and refused if invalid (unless --accept-invalid), copied verbatim into warcs/, and their
    HTML records extracted (revisits resolved to their originals).

    \b
    Examples:
      archiver ingest seeds/
      archiver ingest saved-page.html --url https://vov.vn/...-post1064050.vov
      archiver ingest crawl.warc.gz
    """
    from archiver.ingest.paths import ingest_paths

    if url and (len(paths) > 1 or paths[0].is_dir()):
        raise UsageFailure("--url applies to a single file")
    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise UsageFailure(f"{p}: no such file or folder")
    archive = writable_archive(archive_dir, "ingest")
    tsa_urls = timestamp_urls(timestamp, tsa)

    def report(outcome: Any) -> None:
        if as_json:
            emit_json(outcome.to_dict())
        elif not (quiet and outcome.ok):
            click.echo(render_ingest(outcome))

    outcomes = ingest_paths(archive, list(paths), url, accept_invalid, operator,
                            on_done=report, on_warning=warn)
    stamp_final_head(archive, tsa_urls, tsa_timeout)
    sign_head(archive)
    failed = sum(1 for o in outcomes if not o.ok)
    if not as_json and not quiet:
        done = sum(1 for o in outcomes if o.status in ("ingested", "already-ingested"))
        click.echo(f"{done} documents in the archive, {failed} failed, "
                   f"{len(outcomes) - done - failed} skipped")
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def render_ingest(o: Any) -> str:
    label = {"ingested": "ok", "already-ingested": "same", "skipped": "skip",
             "failed": "FAILED"}[o.status]
    line = f"{label:7} {shown(o.path)}"
    if o.url:
        line += f" <{shown(o.url)}>"
    if o.warc:
        line += f"  [{o.warc}]"
    if o.reason:
        line += f": {shown(o.reason)}"
    return line + render_article_outcome(o.article)
