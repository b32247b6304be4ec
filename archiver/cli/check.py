"""`archiver validate`, `audit` and `repair`: checking what is stored."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    LazyProgress,
    UsageFailure,
    archive_option,
    cluster_for,
    dask_option,
    handle_errors,
    json_option,
    open_archive,
    operator_option,
    print_report,
    quiet_option,
    task_progress,
    writable_archive,
)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@archive_option
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=None,
              help="WARC files checked in parallel processes [default: CPU count].")
@dask_option
@json_option
@quiet_option
@handle_errors
def validate(paths: tuple[Path, ...], archive_dir: Path | None, jobs: int | None,
             dask_address: str | None, as_json: bool, quiet: bool) -> None:
    """Check stored content: WARCs record by record (stricter than `warcio check`), articles
    against their schema and linked to existing records, manifest entries against theirs.

    With PATHs, check those WARC/ARC files or folders only (no archive needed).
    In an archive, findings in a foreign WARC that its ingestion accepted (recorded in the
    manifest entry) are listed as ACCEPTED with that entry's seq, apart from the errors.

    \b
    Examples:
      archiver validate
      archiver validate crawl.warc.gz other-crawls/ --json
      archiver validate --dask local:4
    Exit status: 0 no errors (warnings and accepted findings allowed), 1 errors found,
    2 unreadable input.
    """
    import os

    from archiver.check import validate as validate_mod

    jobs = jobs or os.cpu_count() or 1
    for p in paths:
        if not p.exists():
            raise UsageFailure(f"{p}: no such file or folder")
    show_progress = not as_json and not quiet and sys.stderr.isatty()

    def progress(name: str) -> None:
        if show_progress and not dask_address:
            click.echo(f"checked {name}", err=True)

    archive = None if paths else open_archive(archive_dir)
    if archive is not None and not archive.exists():
        raise UsageFailure(f"{archive.root}: no archive here")
    tasks = task_progress(show_progress, "validating")
    with cluster_for(dask_address) as cluster:
        on = validate_mod.Distributed(cluster, tasks) if cluster else None
        if archive is None:
            report = validate_mod.validate_paths(list(paths), jobs, progress, on=on)
        else:
            report = validate_mod.validate_archive(archive, jobs, progress, on=on)
    if dask_address:
        tasks.finish()
    if archive is not None and not as_json and not quiet:
        for line in report.accepted_lines():
            click.echo(line)
    print_report(report, as_json, quiet)
    unreadable = any(f.code == "unreadable-file" for f in report.findings)
    sys.exit(EXIT_USAGE if unreadable and paths else EXIT_OK if report.ok else EXIT_FINDINGS)




@click.command()
@archive_option
@operator_option
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=None,
              help="Workers checking files in parallel: processes, threads for a small "
                   "manifest [default: CPU count].")
@click.option("--record", is_flag=True,
              help="Append a `fixity check` event with the outcome to the manifest.")
@click.option("--witness", "witnesses", multiple=True,
              help="A witness's vkey (or a file holding it), repeatable: checkpoints must "
                   "carry its cosignatures (see `archiver checkpoint`, `archiver cosign`).")
@click.option("--witnesses-min", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --witness: cosignatures each checkpointed seq needs, on a "
                   "checkpoint at or after it.")
@dask_option
@json_option
@quiet_option
@handle_errors
def audit(archive_dir: Path | None, operator: str | None, jobs: int | None, record: bool,
          witnesses: tuple[str, ...], witnesses_min: int,
          dask_address: str | None, as_json: bool, quiet: bool) -> None:
    """Prove the manifest and the stored files still agree.

    Recomputes sha256 and size of every file the manifest names, verifies the hash chain
    (order, links, each entry's hash) and every entry's schema, checks every named WARC record
    id and article id, and lists orphan files. Reports every finding, then a summary.

    \b
    Examples:
      archiver audit
      archiver audit --json --record
      archiver audit --dask tcp://scheduler.example.org:8786
      archiver audit --witness "example.org/w1+1a2b3c4d+BAi..." --witnesses-min 1
    Exit status: 0 clean (warnings allowed), 1 any error found, 2 no readable archive.
    """
    from archiver.check import audit as audit_mod

    archive = writable_archive(archive_dir, "audit --record") if record \
        else open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest to audit")
    from archiver.store import checkpoints, signing

    verifiers = _witness_keys(witnesses, witnesses_min)
    bar = LazyProgress(not as_json and not quiet and not dask_address, "auditing")
    tasks = task_progress(not as_json and not quiet, "auditing")
    try:
        with cluster_for(dask_address) as cluster:
            report = audit_mod.audit(archive, jobs=jobs, progress=bar.update,
                                     on_start=bar.start, cluster=cluster, task_progress=tasks)
    finally:
        bar.finish()
        if dask_address:
            tasks.finish()
    report.findings += checkpoints.verify(archive, signing.trusted_keys(), verifiers,
                                          witnesses_min)
    if record:
        from archiver.pipeline.commit import (
            record_event,  # imports the extractors: only when needed
        )

        status = "success" if report.ok else "failure"
        record_event(archive, "fixity check", status, report.summary(), operator,
                     summary={k: v for k, v in report.to_dict().items() if k != "findings"},
                     findings=[f.to_dict() for f in report.findings if f.severity == "error"][:100])
    print_report(report, as_json, quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_FINDINGS)





def _witness_keys(witnesses: tuple[str, ...], minimum: int) -> list[Any]:
    """The witnesses' vkeys, checked before any work (a bad one is a usage error)."""
    from archiver.store import checkpoints

    verifiers = [checkpoints.load_verifier(w) for w in witnesses]
    if verifiers and minimum > len({v.name for v in verifiers}):
        raise UsageFailure(f"--witnesses-min {minimum} is more than the {len(verifiers)} "
                           "witness(es) given")
    return verifiers


@click.command()
@archive_option
@operator_option
@click.option("--yes", is_flag=True, help="Do it; without this only say what would be done.")
@handle_errors
def repair(archive_dir: Path | None, operator: str | None, yes: bool) -> None:
    """Finish what a crash left, and record each change in the manifest.

    A torn last manifest line (power loss mid-append) is cut: only the incomplete tail after
    the last newline, never a whole entry. A rolling WARC left `.open` by a killed writer is
    cut back to its last committed capture and sealed (the next capture does this too).

    \b
    Example:
      archiver repair --yes
    """
    from archiver.check.repair import repair_torn_tail, repair_warcs

    archive = writable_archive(archive_dir, "repair --yes") if yes \
        else open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest")
    click.echo(repair_torn_tail(archive, operator, dry_run=not yes))
    for line in repair_warcs(archive, operator, dry_run=not yes):
        click.echo(line)
