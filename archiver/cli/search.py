"""`archiver search`: full text over the archive's articles."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver.cli.options import (
    Failure,
    archive_option,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    shown,
)

BOLD = ("\x1b[1m", "\x1b[0m")
PLAIN = ("[", "]")


@click.command("search")
@click.argument("query")
@click.option("--since", default=None, metavar="DATE",
              help="Published on or after DATE (YYYY-MM-DD, YYYY-MM or YYYY).")
@click.option("--until", default=None, metavar="DATE",
              help="Published on or before DATE (the whole day, month or year).")
@click.option("--section", default=None, help="Only this section (diacritics optional).")
@click.option("--author", default=None,
              help="Only bylines or authors containing this name (diacritics optional).")
@click.option("--source", default=None, help="Only this source, e.g. VOV.VN or TTXVN.")
@click.option("--limit", default=20, show_default=True, type=int, help="Hits to show.")
@click.option("--all-snapshots", is_flag=True,
              help="Search every snapshot, not only the latest of each article.")
@archive_option
@json_option
@handle_errors
def search(query: str, since: str | None, until: str | None, section: str | None,
           author: str | None, source: str | None, limit: int, all_snapshots: bool,
           archive_dir: Path | None, as_json: bool) -> None:
    """Search the title, lead, body and byline of the archive's articles, best first (bm25).

    Words are all required; "quoted phrases" match in order; OR, NOT, parentheses and a
    trailing * (prefix) work too. Diacritics are optional: "quyen con nguoi" finds
    "quyền con người", and d finds đ. Each hit shows id, date, title, byline and a snippet
    with the matched words marked. `--json` prints one object per hit.

    \b
    Examples:
      archiver search "quyen con nguoi"
      archiver search 'đường sắt' --since 2026-11-01 --section "Xã hội" --limit 5
      archiver search Hanoi --author "Minh Thu" --json
    Exit status: 0 hits found, 1 no hit, 2 malformed query or no archive.
    """
    from archiver.access import search as library

    archive = existing_archive(archive_dir)
    filters = library.Filters(since, until, section, author, source)
    marks = PLAIN if as_json or not sys.stdout.isatty() else BOLD
    hits = library.search(archive, query, filters, limit, all_snapshots, marks)
    for hit in hits:
        if as_json:
            emit_json(hit.to_dict())
            continue
        byline = f"  ({shown(hit.byline)})" if hit.byline else ""
        click.echo(f"{(hit.date or '-')[:10]:10}  {hit.article_id}  "
                   f"{shown(hit.title or '(untitled)')}{byline}")
        click.echo(f"    {_snippet(hit.snippet, marks)}")
    if not hits:
        raise Failure(f"no article matches {query!r}")


def _snippet(text: str, marks: tuple[str, str]) -> str:
    """One terminal line: paragraph breaks become spaces, control characters from the
    page are escaped, and only our own marks stay live."""
    line = shown(" ".join(text.split()))
    for mark in marks:
        line = line.replace(shown(mark), mark)
    return line
