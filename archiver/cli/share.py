"""`archiver index` and `archiver export wacz|bag`: the archive in the formats other tools read."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    LazyProgress,
    archive_option,
    byte_progress,
    cluster_for,
    dask_option,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    quiet_option,
    task_progress,
)


@click.command("index")
@click.option("--rebuild", is_flag=True,
              help="Also rebuild catalog.sqlite (captures, articles, full-text search) "
                   "from the manifest, WARC headers and article files.")
@dask_option
@archive_option
@json_option
@quiet_option
@handle_errors
def index_command(rebuild: bool, dask_address: str | None, archive_dir: Path | None,
                  as_json: bool, quiet: bool) -> None:
    """Rebuild the CDXJ indexes from every WARC in the archive: index.cdxj (one merged file)
    and each WARC's own file in indexes/ where it is missing; with --rebuild, the catalog
    (catalog.sqlite, which search, show and ls read) too. With --dask, every WARC's index is
    made anew on the cluster's workers, and index.cdxj is their merge; with --rebuild, the
    workers also read the record headers and article files the catalog's rows come from
    (this process alone writes catalog.sqlite).

    capture, crawl and ingest keep them current; run this after restoring or copying WARCs
    by hand, or if a derived file was lost or damaged. pywb reads indexes/ and index.cdxj
    (see the README). None of them is ever the source of truth: the manifest is.
    A damaged WARC is reported (file and offset) and the others are still indexed.

    \b
    Examples:
      archiver index
      archiver index --rebuild --archive /data/archive --json
      archiver index --rebuild --dask tcp://scheduler:8786
    Exit status: 0 indexed, 1 a WARC is damaged (the rest indexed), 2 no archive.
    """
    from archiver.base.errors import StoreError
    from archiver.pipeline.commit import index_warcs
    from archiver.store import cdxj
    from archiver.store.catalog import Catalog

    archive = existing_archive(archive_dir, writes="index")
    result: dict[str, Any] = {}
    with cluster_for(dask_address) as cluster:
        if cluster is not None:
            tasks = task_progress(not as_json and not quiet, "indexing")
            try:
                _, _, damaged = cdxj.rebuild_warc_indexes(archive, cluster, tasks)
            finally:
                tasks.finish()
            stats = cdxj.merge_warc_indexes(archive, damaged)
        else:
            relpaths = cdxj.warc_relpaths(archive)
            with byte_progress(len(relpaths), not as_json and not quiet, "indexing") as bar:
                stats = cdxj.rebuild(archive, progress=lambda _rel: bar.update(1))
            index_warcs(archive, *relpaths)
        result.update(stats.to_dict())
        if rebuild:
            try:
                catalog = Catalog.open(archive, catch_up=False)
            except StoreError:
                catalog = Catalog.recreate(archive)  # damaged: derived data, make it anew
            with catalog:
                catalog.rebuild(cluster)
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
    """Hand the archive over: WACZ for replay tools, BagIt for repositories, and tables
    (Parquet, CSV, JSON Lines) of articles or captures for research.

    WACZ and bags hold every file the manifest names plus the manifest; each file is checked
    against the manifest's sha256 before it is packed. Damaged or missing files are all
    listed (for a WARC, with the offsets of the damage) and nothing is packaged (exit status
    1). Tables come with OUT.meta.json naming the manifest head they were made from.

    \b
    Examples:
      archiver export wacz collection.wacz
      archiver export bag handover-2026-11/
      archiver export parquet articles.parquet --latest
    """


FILE = click.Path(dir_okay=False, path_type=Path)


@export_group.command("wacz")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--title", default=None, help="Collection title in datapackage.json.")
@click.option("--sign", is_flag=True,
              help="Sign the package (WACZ Signing and Verification 0.1.0). Alone: anonymous, "
                   "ECDSA P-384 with the key of `archiver keygen --wacz` [$ARCHIVER_WACZ_KEY].")
@click.option("--sign-key", type=FILE, default=None,
              help="The private key (PEM) to sign with: a P-384 key for an anonymous "
                   "signature, or the key of --sign-cert.")
@click.option("--sign-cert", type=FILE, default=None,
              help="Domain signing: the certificate chain (PEM, leaf first) whose key signs; "
                   "needs --sign-key and --tsa.")
@click.option("--domain", default=None,
              help="Domain signing: the domain to claim [default: the certificate's CN or "
                   "first DNS name].")
@click.option("--tsa", "tsa_url", default=None,
              help="Domain signing: the RFC 3161 time-stamp authority's URL.")
@click.option("--tsa-cert", type=FILE, default=None,
              help="Domain signing: the TSA's PEM chain, for a TSA whose replies carry no "
                   "certificate.")
@click.option("--tsa-timeout", type=float, default=10.0, show_default=True,
              help="Seconds to wait for the TSA.")
@dask_option
@archive_option
@json_option
@quiet_option
@handle_errors
def export_wacz_command(out: Path, title: str | None, sign: bool, sign_key: Path | None,
                        sign_cert: Path | None, domain: str | None, tsa_url: str | None,
                        tsa_cert: Path | None, tsa_timeout: float, dask_address: str | None,
                        archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Write a WACZ 1.1.1 package (WARCs, CDXJ index, pages, manifest, articles) to OUT.

    Pages list every 2xx HTML capture with its time and its article's title. The manifest's
    proofs (manifest.sig.jsonl and any time-stamp or checkpoint files beside it) travel in
    archiver/. Open the file in ReplayWeb.page or pywb, check it with `wacz validate -f OUT`,
    and its signature with `archiver verify OUT`.

    \b
    Examples:
      archiver export wacz vov-2026-11.wacz --title "VOV, November 2026"
      archiver export wacz signed.wacz --sign
      archiver export wacz signed.wacz --sign-cert example.org.pem --sign-key example.org.key \\
          --tsa https://freetsa.org/tsr
      archiver export wacz all.wacz --dask tcp://scheduler:8786
    """
    from archiver.access import export
    from archiver.access.wacz_signing import SignOptions

    options = None
    if sign or sign_key or sign_cert:
        options = SignOptions(key=sign_key, cert=sign_cert, tsa_url=tsa_url, tsa_cert=tsa_cert,
                              domain=domain, tsa_timeout=tsa_timeout)
        options.check()
    archive = existing_archive(archive_dir)
    _package(archive, "checking", as_json, quiet, dask_address,
             lambda files, progress, cluster: export.export_wacz(
                 archive, out, title, progress=progress, cluster=cluster, files=files,
                 sign=options), proofs=True)


@export_group.command("bag")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--organization", default=None,
              help="Source-Organization in bag-info.txt "
                   "[default: $ARCHIVER_ORGANIZATION or the operator].")
@click.option("--external-id", default=None,
              help="External-Identifier in bag-info.txt [default: the archive's name and "
                   "manifest head hash, naming exactly this state].")
@dask_option
@archive_option
@json_option
@quiet_option
@handle_errors
def export_bag_command(out: Path, organization: str | None, external_id: str | None,
                       dask_address: str | None, archive_dir: Path | None, as_json: bool,
                       quiet: bool) -> None:
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
    _package(archive, "bagging", as_json, quiet, dask_address,
             lambda files, progress, cluster: export.export_bag(
                 archive, out, info, progress=progress, cluster=cluster, files=files))


def _package(archive: Any, label: str, as_json: bool, quiet: bool, dask_address: str | None,
             make: Callable[[Any, Callable[[int], None], Any], Any],
             proofs: bool = False) -> None:
    """A WACZ or a bag: every named file checked (with a byte progress bar), then packed;
    a damaged or missing file refuses the whole package. The manifest is read once, here:
    its list of files gives the bar's total and is what `make` packs."""
    from archiver.access import export

    files = export.pack_list(archive, proofs=proofs)
    try:
        with cluster_for(dask_address) as cluster, \
                byte_progress(sum(f.size for f in files), not as_json and not quiet,
                              label) as bar:
            result = make(files, bar.update, cluster)
    except export.ExportRefused as refused:
        _report_refused(refused, as_json)
    _report_export(result, as_json, quiet)


TABLE_HELP = {
    "parquet": ("Parquet (pyarrow; needs pip install 'archiver[parquet]')", "parquet"),
    "csv": ("CSV (RFC 4180, UTF-8)", "csv"),
    "jsonl": ("JSON Lines", "jsonl"),
}


def _table_command(fmt: str) -> click.Command:
    label, ext = TABLE_HELP[fmt]

    @click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--what", type=click.Choice(["articles", "captures"]), default="articles",
                  show_default=True,
                  help="articles: one row per snapshot; captures: one row per response, "
                       "revisit or resource record.")
    @click.option("--latest", is_flag=True, help="Articles: only each article's latest "
                                                 "snapshot.")
    @dask_option
    @archive_option
    @json_option
    @quiet_option
    @handle_errors
    def command(out: Path, what: str, latest: bool, dask_address: str | None,
                archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
        from archiver.access import tabular

        archive = existing_archive(archive_dir)
        # The command that remakes this export, with every choice spelled out (--dask
        # left out: where the files are read changes no byte of the result).
        argv = ["archiver", "export", fmt, str(out), "--what", what,
                *(["--latest"] if latest else []), "--archive", str(archive.root)]
        progress = LazyProgress(not as_json and not quiet, "exporting")
        try:
            with cluster_for(dask_address) as cluster:
                result = tabular.export_table(archive, out, fmt, what, latest,
                                              command=shlex.join(argv), progress=progress,
                                              cluster=cluster)
        finally:
            progress.finish()
        if as_json:
            emit_json(result.to_dict())
        elif not quiet:
            click.echo(f"{result.path}: {result.rows} rows ({what}), {result.size} bytes, "
                       f"sha256 {result.sha256}; manifest seq {result.manifest_seq} "
                       f"(see {result.sidecar})")

    command.__doc__ = f"""Export the archive's articles or captures as {label} to OUT.

    Articles: id, url, title, lead, body, published_at (+ its UTC offset), section, byline,
    authors, source, publisher, language, text_sha256, capture time, WARC file and record,
    article file and sha256. Captures: url, timestamp, status, MIME type, payload digest,
    WARC file, offset, length, revisit-of, discovered-via. OUT.meta.json records the manifest
    head (seq, hash), the command, the software, the row count and OUT's sha256.

    \b
    Examples:
      archiver export {fmt} articles.{ext}
      archiver export {fmt} latest.{ext} --latest
      archiver export {fmt} captures.{ext} --what captures
      archiver export {fmt} all.{ext} --dask tcp://scheduler:8786
    With --dask, the cluster's workers read the article files (captures come from the
    catalog in one query, or from the WARC headers on the workers without one); this
    process writes OUT, the same bytes as without --dask.
    """
    return export_group.command(fmt)(command)


for _fmt in TABLE_HELP:
    _table_command(_fmt)


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
