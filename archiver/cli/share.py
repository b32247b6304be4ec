"""`archiver index` and `archiver export wacz|bag`: the archive in the formats other tools read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    archive_option,
    byte_progress,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    quiet_option,
)


@click.command("index")
@click.option("--rebuild", is_flag=True,
              help="Also rebuild catalog.sqlite (captures, articles, full-text search) "
                   "from the manifest, WARC headers and article files.")
@archive_option
@json_option
@quiet_option
@handle_errors
def index_command(rebuild: bool, archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Rebuild the CDXJ index (index.cdxj) from every WARC in the archive; with --rebuild,
    the catalog (catalog.sqlite, which search, show and ls read) too.

    capture and ingest keep both current; run this after restoring or copying WARCs
    by hand, or if a derived file was lost or damaged. pywb reads index.cdxj as it is
    (see the README). Neither file is ever the source of truth: the manifest is.
    A damaged WARC is reported (file and offset) and the others are still indexed.

    \b
    Examples:
      archiver index
      archiver index --rebuild --archive /data/archive --json
    Exit status: 0 indexed, 1 a WARC is damaged (the rest indexed), 2 no archive.
    """
    from archiver.base.errors import StoreError
    from archiver.store import cdxj
    from archiver.store.catalog import Catalog

    archive = existing_archive(archive_dir)
    total = len(cdxj.warc_relpaths(archive))
    with byte_progress(total, not as_json and not quiet, "indexing") as bar:
        stats = cdxj.rebuild(archive, progress=lambda _rel: bar.update(1))
    result: dict[str, Any] = stats.to_dict()
    if rebuild:
        try:
            catalog = Catalog.open(archive, catch_up=False)
        except StoreError:
            catalog = Catalog.recreate(archive)  # damaged: derived data, make it anew
        with catalog:
            catalog.rebuild()
            result["catalog"] = catalog.counts()
    if as_json:
        emit_json(result)
    else:
        for finding in stats.findings:
            click.echo(finding.render())
        if not quiet:
            click.echo(f"{archive.index_path}: {stats.lines} records from {stats.warcs} "
                       f"WARC files" + (f", {len(stats.findings)} damaged" if stats.findings
                                        else ""))
        if rebuild and not quiet:
            counts = result["catalog"]
            click.echo(f"{archive.root / 'catalog.sqlite'}: {counts['captures']} captures, "
                       f"{counts['articles']} article snapshots, {counts['files']} files "
                       f"(manifest seq {counts['manifest_seq']})")
    sys.exit(EXIT_OK if stats.ok else EXIT_FINDINGS)






@click.group("export")
def export_group() -> None:
    """Package the archive for others: WACZ for replay tools, BagIt for repositories.

    Both hold every file the manifest names plus the manifest; each file is checked against
    the manifest's sha256 before it is packed. Damaged or missing files are all listed (for
    a WARC, with the offsets of the damage) and nothing is packaged (exit status 1).

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
    from archiver.access import export

    archive = existing_archive(archive_dir)
    total = sum(f.size for f in export.pack_list(archive))
    try:
        with byte_progress(total, not as_json and not quiet, "checking") as bar:
            result = export.export_wacz(archive, out, title, progress=bar.update)
    except export.ExportRefused as refused:
        _report_refused(refused, as_json)
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
    from archiver.access import export

    archive = existing_archive(archive_dir)
    info = export.default_bag_info(archive, organization, external_id)
    total = sum(f.size for f in export.pack_list(archive))
    try:
        with byte_progress(total, not as_json and not quiet, "bagging") as bar:
            result = export.export_bag(archive, out, info, progress=bar.update)
    except export.ExportRefused as refused:
        _report_refused(refused, as_json)
    _report_export(result, as_json, quiet)


def _report_refused(refused: Any, as_json: bool) -> None:
    """Every damaged or missing file, then exit 1: nothing was packaged."""
    if as_json:
        emit_json({"ok": False, "findings": [f.to_dict() for f in refused.findings]})
    else:
        click.echo(str(refused), err=True)
    sys.exit(EXIT_FINDINGS)


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
