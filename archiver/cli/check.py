"""`archiver validate`, `audit` and `repair`: checking what is stored."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli.copies import host_key_options, known_hosts_arg
from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    Failure,
    LazyProgress,
    UsageFailure,
    archive_option,
    cluster_for,
    dask_option,
    emit_json,
    handle_errors,
    json_option,
    open_archive,
    operator_option,
    print_report,
    quiet_option,
    task_progress,
    warn,
    writable_archive,
)
from archiver.cli.timestamping import tsa_roots_option


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
@click.option("--copies", is_flag=True,
              help="Check every known copy (replicas.json) against this manifest instead.")
@click.option("--replica", "replicas", multiple=True, metavar="NAME",
              help="Check this copy (a known name, a folder or an sftp:// URL); repeatable.")
@host_key_options
@click.option("--budget", default=None, metavar="TIME|PERCENT",
              help="Rolling fixity: check the files verified longest ago first, until this "
                   "much time (90s, 10m, 1h) or share of the bytes (5%) is spent; with "
                   "--record the range covered is recorded and the next run goes on from it.")
@click.option("--status", "show_status", is_flag=True,
              help="Print, per age band, how many files were last verified when.")
@tsa_roots_option
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
          copies: bool, replicas: tuple[str, ...], known_hosts: str | None, accept_new: bool,
          budget: str | None, show_status: bool, tsa_roots: tuple[str, ...],
          witnesses: tuple[str, ...], witnesses_min: int,
          dask_address: str | None, as_json: bool, quiet: bool) -> None:
    """Prove the manifest and the stored files still agree.

    Recomputes sha256 and size of every file the manifest names, verifies the hash chain
    (order, links, each entry's hash) and every entry's schema, checks every named WARC record
    id and article id, and lists orphan files. Reports every finding, then a summary.

    RFC 3161 time-stamp tokens (`archiver timestamp`) are verified offline against the roots
    you name with --tsa-roots (or $ARCHIVER_TSA_ROOTS): status, imprint, nonce, signature,
    the signer's critical timeStamping EKU, the chain to a named root valid at genTime; each
    one that stands prints "seq N existed by GENTIME (TSA)" (`proofs` in --json).

    \b
    With --copies or --replica, each copy instead: its manifest a prefix of ours (or a
    fork, named by seq), how far behind, files missing, damaged or extra there, and per file
    how many good copies exist (this archive counted).

    \b
    Examples:
      archiver audit
      archiver audit --json --record
      archiver audit --tsa-roots freetsa-cacert.pem
      archiver audit --dask tcp://scheduler.example.org:8786
      archiver audit --copies
      archiver audit --replica backup-disk --replica /media/usb/archive
      archiver audit --budget 1h --record          (a cron line: a rolling cycle)
      archiver audit --status
      archiver audit --witness "example.org/w1+1a2b3c4d+BAi..." --witnesses-min 1
    Exit status: 0 clean (warnings allowed), 1 any error found, 2 no readable archive.
    """
    from archiver.check import audit as audit_mod
    from archiver.check import timestamps as tsa_check

    if copies or replicas:
        _audit_copies(archive_dir, copies, replicas, known_hosts_arg(known_hosts), accept_new,
                      as_json, quiet)
    if budget is not None:
        _audit_budget(archive_dir, budget, record, operator, as_json, quiet)
    if show_status:
        _audit_status(archive_dir, as_json)

    roots = tsa_check.roots_from(tsa_roots)
    archive = writable_archive(archive_dir, "audit --record") if record \
        else open_archive(archive_dir)
    if not archive.manifest_path.is_file() and not archive.exists():
        raise UsageFailure(f"{archive.manifest_path}: no manifest to audit (no archive here)")
    verifiers = witness_keys(witnesses, witnesses_min)
    bar = LazyProgress(not as_json and not quiet and not dask_address, "auditing")
    tasks = task_progress(not as_json and not quiet, "auditing")
    try:
        with cluster_for(dask_address) as cluster:
            report = audit_mod.audit(archive, jobs=jobs, progress=bar.update,
                                     on_start=bar.start, cluster=cluster, task_progress=tasks,
                                     tsa_roots=roots, witnesses=verifiers,
                                     witnesses_min=witnesses_min)
    finally:
        bar.finish()
        if dask_address:
            tasks.finish()
    if record and not archive.manifest_path.is_file():
        # a first run's orphans: recording would create the manifest whose absence makes
        # them errors that `archiver repair` recovers (they would turn into mere warnings)
        warn("not recorded: no manifest yet (run `archiver repair --yes` first)")
    elif record:
        from archiver.store.events import record_event

        status = "success" if report.ok else "failure"
        record_event(archive, "fixity check", status, report.summary(), operator,
                     summary={k: v for k, v in report.to_dict().items() if k != "findings"},
                     findings=[f.to_dict() for f in report.findings if f.severity == "error"][:100])
    if not as_json and not quiet:
        for proof in report.proofs:
            click.echo(tsa_check.proof_line(proof))
    print_report(report, as_json, quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _audit_copies(archive_dir: Path | None, every: bool, names: tuple[str, ...],
                  known_hosts: str | None, accept_new: bool, as_json: bool,
                  quiet: bool) -> None:
    from archiver.check.copies import load_replicas, resolve_replica
    from archiver.check.copy_audit import audit_copies

    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest to audit")
    chosen = list(load_replicas(archive).values()) if every else []
    for name in names:  # one place named twice (by name and by path) counts as one copy
        replica = resolve_replica(archive, name)
        if _place(replica.url) not in {_place(r.url) for r in chosen}:
            chosen.append(replica)
    if not chosen:
        raise UsageFailure("no copies known yet: `archiver replicate DEST --name NAME` first, "
                           "or name one with --replica FOLDER|URL")
    for replica in chosen:
        replica.known_hosts = known_hosts or replica.known_hosts
        replica.accept_new = accept_new
    bar = LazyProgress(not as_json and not quiet, "auditing copies")
    try:
        report = audit_copies(archive, chosen, progress=bar.update, on_start=bar.start)
    except OSError as exc:  # a file of this archive unreadable (a copy's is a finding)
        raise Failure(f"audit --copies: {exc.filename or ''} {exc.strerror or exc}".strip()) \
            from exc
    finally:
        bar.finish()
    if not as_json and not quiet:
        for copy in report.copies:
            state = copy.to_dict(report.head_seq)
            click.echo(f"{copy.name} ({copy.url}): {state['state']}, head seq "
                       f"{state['head_seq']}, {len(copy.good)} good, {len(copy.missing)} "
                       f"missing, {len(copy.damaged)} damaged, {len(copy.extra)} extra")
    print_report(report, as_json, quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _place(url: str) -> str:
    return url if "://" in url else str(Path(url).expanduser().resolve())


def _audit_budget(archive_dir: Path | None, text: str, record: bool, operator: str | None,
                  as_json: bool, quiet: bool) -> None:
    from archiver.check import rolling_fixity

    budget = rolling_fixity.parse_budget(text)
    archive = writable_archive(archive_dir, "audit --record") if record \
        else open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest to audit")
    report = rolling_fixity.rolling_audit(archive, budget)
    if record:
        rolling_fixity.record(archive, report, operator)
    print_report(report, as_json, quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_FINDINGS)


def _audit_status(archive_dir: Path | None, as_json: bool) -> None:
    from archiver.check import rolling_fixity

    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest")
    bands, order = rolling_fixity.status(archive)
    for band in bands:
        row = {"last_verified": band.label, "files": band.files, "bytes": band.bytes,
               "oldest": rolling_fixity.iso(band.oldest)}
        if as_json:
            emit_json(row)
        elif band.files:
            click.echo(f"{band.label:>12}: {band.files} files, {band.bytes / 1e6:.1f} MB "
                       f"(oldest verified {row['oldest']})")
    summary = {"files": len(order.files), "bytes": order.total_bytes, "cursor": order.cursor}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{len(order.files)} files, {order.total_bytes / 1e6:.1f} MB; the next "
                   f"`audit --budget` starts at position {order.cursor}")
    sys.exit(EXIT_OK)


def witness_keys(witnesses: tuple[str, ...], minimum: int) -> list[Any]:
    """The witnesses' vkeys, checked before any work (a bad one is a usage error); for
    audit and verify."""
    from archiver.store import checkpoints

    verifiers = [checkpoints.load_verifier(w) for w in witnesses]
    distinct = len({v.name for v in verifiers})
    if verifiers and minimum > distinct:
        raise UsageFailure(f"--witnesses-min {minimum} is more than the {distinct} distinct "
                           "witness(es) given")
    return verifiers


@click.command()
@archive_option
@operator_option
@click.option("--yes", is_flag=True, help="Do it; without this only say what would be done.")
@click.option("--from", "source", default=None, metavar="NAME",
              help="Replace missing or damaged files with a copy's (a known replica name, a "
                   "folder or an sftp:// URL), only bytes with the sha256 this manifest names.")
@host_key_options
@json_option
@handle_errors
def repair(archive_dir: Path | None, operator: str | None, yes: bool, source: str | None,
           known_hosts: str | None, accept_new: bool, as_json: bool) -> None:
    """Finish what a crash left, and record each change in the manifest.

    A torn last manifest line (power loss mid-append) is cut: only the incomplete tail after
    the last newline, never a whole entry. A rolling WARC left `.open` by a killed writer is
    cut back to its last committed capture and sealed (the next capture does this too).

    With --from NAME: a file missing or damaged here is replaced by the copy's, only when
    the copy's bytes have the sha256 this manifest names (never the copy's own claim), and a
    `replacement` event is recorded. A good file is never overwritten; a file with no good
    copy stays reported and untouched.

    \b
    Examples:
      archiver repair --yes
      archiver repair --from backup-disk          (lists what it would replace)
      archiver repair --from backup-disk --yes
    Exit status: 0 done (or nothing to do), 1 a file could not be repaired.
    """
    from archiver.check.repair import repair_torn_tail, repair_warcs

    if source is not None:
        _repair_from(archive_dir, source, operator, yes, known_hosts_arg(known_hosts),
                     accept_new, as_json)

    archive = writable_archive(archive_dir, "repair --yes") if yes \
        else open_archive(archive_dir)
    if not archive.exists():
        raise UsageFailure(f"{archive.manifest_path}: no manifest (no archive here)")
    if archive.manifest_path.is_file():
        click.echo(repair_torn_tail(archive, operator, dry_run=not yes))
    else:  # a first run killed before its first commit: its .open WARC is still recovered
        click.echo("no manifest yet: nothing committed; recovering unsealed WARCs")
    for line in repair_warcs(archive, operator, dry_run=not yes):
        click.echo(line)


def _repair_from(archive_dir: Path | None, source: str, operator: str | None, yes: bool,
                 known_hosts: str | None, accept_new: bool, as_json: bool) -> None:
    from archiver.check.copies import resolve_replica
    from archiver.check.heal import repair_from

    archive = writable_archive(archive_dir, "repair --from --yes") if yes \
        else open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest")
    try:
        replica = resolve_replica(archive, source)
        replica.known_hosts = known_hosts or replica.known_hosts
        replica.accept_new = accept_new
        report = repair_from(archive, replica, operator, yes)
    except OSError as exc:
        raise Failure(f"repair --from {source}: {exc.strerror or exc}; files replaced so far "
                      "are recorded, the rest untouched") from exc
    if as_json:
        for mend in report.mends:
            emit_json(mend.to_dict())
        emit_json(report.to_dict())
    else:
        for mend in report.mends:
            click.echo(mend.render())
        click.echo(report.summary())
    sys.exit(EXIT_FINDINGS if report.unmended else EXIT_OK)
