"""Commands that fit archiver into the web-archiving ecosystem: `index` (CDXJ for pywb),
`export wacz|bag`, and the snapshot views `show`, `diff`, `ls`.

cli.py imports this module at its very end and adds `COMMANDS` to the group, so importing the
shared decorators from archiver.cli here is safe (the group exists by then).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli import (
    EXIT_OK,
    Failure,
    UsageFailure,
    archive_option,
    byte_progress,
    emit_json,
    handle_errors,
    json_option,
    open_archive,
    quiet_option,
)
from archiver.store import Archive


def _existing_archive(archive_dir: Path | None) -> Archive:
    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no archive here")
    return archive


# ---------------------------------------------------------------- index


@click.command("index")
@archive_option
@json_option
@quiet_option
@handle_errors
def index_command(archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Rebuild the CDXJ index (index.cdxj) from every WARC in the archive.

    capture and ingest keep the index current; run this after restoring or copying WARCs
    by hand, or if index.cdxj was lost. pywb reads the file as it is (see the README).

    \b
    Examples:
      archiver index
      archiver index --archive /data/archive --json
    """
    from archiver import index

    archive = _existing_archive(archive_dir)
    total = len(index.warc_relpaths(archive))
    with byte_progress(total, not as_json and not quiet, "indexing") as bar:
        stats = index.rebuild(archive, progress=lambda _rel: bar.update(1))
    if as_json:
        emit_json(stats.to_dict())
    elif not quiet:
        click.echo(f"{archive.index_path}: {stats.lines} records from {stats.warcs} WARC files")


# ---------------------------------------------------------------- export


@click.group("export")
def export_group() -> None:
    """Package the archive for others: WACZ for replay tools, BagIt for repositories.

    Both hold every file the manifest names plus the manifest; each file is checked against
    the manifest's sha256 before it is packed, and a damaged file stops the export.

    \b
    Examples:
      archiver export wacz collection.wacz
      archiver export bag handover-2026-11/
    """


@export_group.command("wacz")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", default=None, help="Collection title in datapackage.json.")
@archive_option
@json_option
@quiet_option
@handle_errors
def export_wacz_command(out: Path, title: str | None, archive_dir: Path | None, as_json: bool,
                        quiet: bool) -> None:
    """Write a WACZ 1.1.1 package (WARCs, CDXJ index, pages, manifest, articles) to OUT.

    Pages list every 2xx HTML capture with its time and its article's title. Open the file
    in ReplayWeb.page or pywb, or check it with `wacz validate -f OUT`.

    \b
    Example:
      archiver export wacz vov-2026-11.wacz --title "VOV, November 2026"
    """
    from archiver import export

    archive = _existing_archive(archive_dir)
    total = sum(f.size for f in export.pack_list(archive))
    with byte_progress(total, not as_json and not quiet, "checking") as bar:
        result = export.export_wacz(archive, out, title, progress=bar.update)
    _report_export(result, as_json, quiet)


@export_group.command("bag")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--organization", default=None,
              help="Source-Organization in bag-info.txt "
                   "[default: $ARCHIVER_ORGANIZATION or the operator].")
@click.option("--external-id", default=None,
              help="External-Identifier in bag-info.txt [default: the archive's name and "
                   "manifest head hash, naming exactly this state].")
@archive_option
@json_option
@quiet_option
@handle_errors
def export_bag_command(out: Path, organization: str | None, external_id: str | None,
                       archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Write a BagIt (RFC 8493) bag to the new folder OUT, with sha256 and sha512 manifests.

    OUT/data/ is a copy of the archive (warcs/, articles/, manifest.jsonl), so
    `archiver audit --archive OUT/data` works on it; `bagit.py --validate OUT` checks it.

    \b
    Example:
      archiver export bag handover/ --organization "Example Library" --external-id coll-42
    """
    from archiver import export

    archive = _existing_archive(archive_dir)
    info = export.default_bag_info(archive, organization, external_id)
    total = sum(f.size for f in export.pack_list(archive))
    with byte_progress(total, not as_json and not quiet, "bagging") as bar:
        result = export.export_bag(archive, out, info, progress=bar.update)
    _report_export(result, as_json, quiet)


def _report_export(result: Any, as_json: bool, quiet: bool) -> None:
    if as_json:
        emit_json(result.to_dict())
        return
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not quiet:
        pages = f", {result.pages} pages" if result.kind == "wacz" else ""
        click.echo(f"{result.path}: {result.kind}, {result.files} files, "
                   f"{result.bytes} bytes{pages}")


# ---------------------------------------------------------------- show


@click.command("show")
@click.argument("what", metavar="URL|ID")
@archive_option
@json_option
@handle_errors
def show_command(what: str, archive_dir: Path | None, as_json: bool) -> None:
    """List every snapshot of an article (capture time, text digest) and print the latest.

    URL|ID is an article id, the article's URL, or a URL that was captured (before or after
    redirects). `--json` prints one object per article, with the latest article in full.

    \b
    Examples:
      archiver show vov-1064050
      archiver show https://vov.vn/...-post1064050.vov --json
    Exit status: 0 found, 1 nothing in the archive by that name, 2 no archive.
    """
    from archiver import snapshots

    archive = _existing_archive(archive_dir)
    found = snapshots.find(archive, what)
    if not found:
        raise Failure(f"{what}: no article with this id or URL in the archive")
    for history in found:
        if as_json:
            emit_json({"id": history.article_id,
                       "snapshots": [s.to_dict(archive) for s in history.snapshots],
                       "latest": history.latest.load(archive)})
        else:
            click.echo(render_history(archive, history))


def render_history(archive: Archive, history: Any) -> str:
    lines = [f"{history.article_id}  {len(history.snapshots)} snapshots"]
    previous = None
    for snap in history.snapshots:
        digest = (snap.text_sha256 or "-")[:12]
        change = "" if previous is None else (
            "  text unchanged" if snap.text_sha256 == previous else "  text changed")
        lines.append(f"  #{snap.number:<3} {snap.captured_at(archive)}  text {digest}  "
                     f"{snap.path}{change}")
        previous = snap.text_sha256
    lines += ["", render_article(history.latest.load(archive))]
    return "\n".join(lines)


def render_article(article: dict[str, Any]) -> str:
    byline = (article.get("byline") or {}).get("raw")
    meta = " · ".join(x for x in (byline, article.get("published_at"), article.get("url")) if x)
    parts = [str(article.get("title") or "(untitled)"), meta, ""]
    if article.get("lead"):
        parts += [str(article["lead"]), ""]
    parts += [str(p) + "\n" for p in article.get("body") or []]
    return "\n".join(parts).rstrip()


# ---------------------------------------------------------------- diff


@click.command("diff")
@click.argument("what", metavar="URL|ID")
@click.option("--from", "from_", default=None, metavar="N",
              help="Older snapshot: number as `show` lists it (negative counts from the "
                   "end) or part of its file name [default: the one before --to].")
@click.option("--to", default=None, metavar="N",
              help="Newer snapshot, same forms [default: the latest].")
@archive_option
@json_option
@handle_errors
def diff_command(what: str, from_: str | None, to: str | None, archive_dir: Path | None,
                 as_json: bool) -> None:
    """Say whether an article's text changed between two snapshots and show the changed
    paragraphs (lead and body; a title change is noted too).

    Equal text_sha256 digests settle "unchanged" without comparing text.

    \b
    Examples:
      archiver diff vov-1064050
      archiver diff https://vov.vn/...-post1064050.vov --from 1 --to 3 --json
    Exit status: 0 compared (changed or not), 1 fewer than two snapshots, 2 usage error.
    """
    from archiver import snapshots

    archive = _existing_archive(archive_dir)
    history = snapshots.find_one(archive, what)
    if len(history.snapshots) < 2:
        raise Failure(f"{history.article_id} has one snapshot; nothing to compare")
    new = history.pick(to, -1)
    old = history.pick(from_, new.number - 2 if new.number > 1 else 0)
    if old.number == new.number:
        raise UsageFailure("--from and --to name the same snapshot")
    result = snapshots.diff(archive, history, old, new)
    if as_json:
        emit_json(result.to_dict(archive))
    else:
        click.echo(render_diff(archive, result))
    sys.exit(EXIT_OK)


def render_diff(archive: Archive, d: Any) -> str:
    head = (f"{d.article_id}: #{d.old.number} ({d.old.captured_at(archive)}) -> "
            f"#{d.new.number} ({d.new.captured_at(archive)}): ")
    lines = [head + ("text changed" if d.changed else "text unchanged")]
    if d.title_change:
        lines += [f"title: {d.title_change[0]!r} -> {d.title_change[1]!r}"]
    for h in d.hunks:
        lines.append(f"@@ paragraph {h.old_start} -> {h.new_start} ({h.op}) @@")
        lines += [f"- {p}" for p in h.removed] + [f"+ {p}" for p in h.added]
    return "\n".join(lines)


# ---------------------------------------------------------------- ls


@click.command("ls")
@click.option("--sort", "sort_key", type=click.Choice(["date", "id", "title", "snapshots"]),
              default="date", show_default=True,
              help="Order by publication date (else capture time), id, title or count.")
@click.option("--reverse", "-r", is_flag=True, help="Newest (or last) first.")
@archive_option
@json_option
@handle_errors
def ls_command(sort_key: str, reverse: bool, archive_dir: Path | None, as_json: bool) -> None:
    """List the archive's articles: id, date, title, byline, source, number of snapshots.

    `--json` prints one object per line.

    \b
    Examples:
      archiver ls
      archiver ls --sort date --reverse --json
    """
    from archiver import snapshots

    archive = _existing_archive(archive_dir)
    rows = snapshots.list_articles(archive, sort_key, reverse)
    for row in rows:
        if as_json:
            emit_json(row.to_dict())
        else:
            byline = f"  ({row.byline})" if row.byline else ""
            source = f"  [{row.source}]" if row.source else ""
            click.echo(f"{(row.date or '-')[:25]:25} {row.article_id:24} x{row.snapshots:<3} "
                       f"{row.title or '(untitled)'}{byline}{source}")


COMMANDS = [index_command, export_group, show_command, diff_command, ls_command]
