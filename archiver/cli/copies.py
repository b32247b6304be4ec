"""`archiver replicate`: keep copies of the archive (folders, sftp://)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    Failure,
    LazyProgress,
    UsageFailure,
    archive_option,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    operator_option,
    quiet_option,
)

if TYPE_CHECKING:  # kept out of start-up: cli.check imports this module's options
    from archiver.check.replicate import Action

F = TypeVar("F", bound=Callable[..., Any])


def host_key_options(f: F) -> F:
    """--known-hosts and --accept-new-host-key, for every command that may reach sftp://."""
    f = click.option("--accept-new-host-key", "accept_new", is_flag=True,
                     help="sftp: a server not yet in the known_hosts file is trusted on first "
                          "use and its key recorded there (OpenSSH's "
                          "StrictHostKeyChecking=accept-new); a changed key is still refused.")(f)
    return click.option("--known-hosts", "known_hosts",
                        type=click.Path(dir_okay=False), default=None,
                        help="sftp: the OpenSSH known_hosts file the server's host key must be "
                             "in [default: the one the replica was registered with, else "
                             "~/.ssh/known_hosts].")(f)


def known_hosts_arg(path: str | None) -> str | None:
    """An absolute path, as replicas.json remembers it (not relative to a cwd)."""
    return str(Path(path).expanduser().absolute()) if path else None


@click.command()
@click.argument("dest")
@archive_option
@click.option("--name", default=None,
              help="The replica's name, remembered in replicas.json for `audit --copies` and "
                   "`repair --from` [default: DEST's last path component].")
@click.option("--key", "key_file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="sftp: the private key file to log in with (only this key is offered).")
@host_key_options
@click.option("--dry-run", is_flag=True, help="List what would be copied; copy nothing.")
@click.option("--checksum", is_flag=True,
              help="Read every file at the copy again (by default one verified in an earlier "
                   "run, with the same size and mtime there, is not re-read).")
@click.option("--wait", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Seconds to wait for another replicate run on this archive to end.")
@operator_option
@json_option
@quiet_option
@handle_errors
def replicate(dest: str, archive_dir: Path | None, name: str | None, key_file: str | None,
              known_hosts: str | None, accept_new: bool, dry_run: bool, checksum: bool,
              wait: float, operator: str | None,
              as_json: bool, quiet: bool) -> None:
    """Copy the archive to DEST, a folder or sftp://user@host[:port]/path, or bring that copy
    up to date: only files DEST lacks or holds with other bytes, each read back at DEST and
    checked against the manifest's sha256 before its final name; the manifest last, so DEST
    is always a valid archive at some earlier head. A `replication` event is recorded.

    \b
    Examples:
      archiver replicate /mnt/backup/archive --name backup-disk
      archiver replicate sftp://archivist@vault.example.org/srv/archive --key ~/.ssh/id_ed25519
      archiver replicate sftp://archivist@vault.example.org/srv/archive --accept-new-host-key
      archiver replicate /mnt/backup/archive --dry-run
    Exit status: 0 copy complete, 1 a file could not be copied or DEST is a fork,
    2 usage error, unreachable DEST, or an sftp host key unknown or changed.
    """
    from filelock import FileLock, Timeout

    from archiver.check import replicate as rep
    from archiver.check.copies import connect

    archive = existing_archive(archive_dir, None if dry_run else "replicate")
    if "://" not in dest:
        dest = str(Path(dest).expanduser().absolute())  # remembered: not relative to a cwd
    name = name or rep.default_name(dest)
    replica = rep.register(archive, name, dest, key_file, known_hosts_arg(known_hosts),
                           accept_new)
    destination = connect(replica)
    lock = FileLock(str(archive.root / rep.LOCK_NAME), timeout=wait)
    bar = LazyProgress(not as_json and not quiet, "replicating")
    try:
        with lock if not dry_run else nullcontext():
            try:
                result = rep.replicate(archive, destination, replica, dry_run=dry_run,
                                       checksum=checksum, progress=bar.update,
                                       on_start=bar.start,
                                       on_action=_show(as_json, quiet))
            finally:
                bar.finish()
            if not dry_run:
                rep.remember(archive, replica, result)
                if result.copied or result.failed or result.skipped:
                    # A run that moved no file (at most the manifest, for events such as the
                    # last run's own) records nothing: else every run would give the next
                    # one a manifest to copy, and a cron job an event a night for nothing.
                    rep.record(archive, result, operator)
    except Timeout as exc:
        raise UsageFailure(f"{archive.root}: another `archiver replicate` is running on this "
                           f"archive ({rep.LOCK_NAME}); try again when it ends, or --wait")\
            from exc
    except OSError as exc:  # the copy's disk or connection failed outside a file's copy
        # (after Timeout: filelock's Timeout is an OSError too)
        raise Failure(f"replicate to {destination.url}: {exc.strerror or exc}; run again to "
                      "resume (the copy is a valid archive at some head meanwhile)") from exc
    finally:
        destination.close()
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.summary())
    sys.exit(EXIT_FINDINGS if result.failed or result.skipped else EXIT_OK)


def _show(as_json: bool, quiet: bool) -> Callable[[Action], None]:
    def show(action: Action) -> None:
        problem = action.action in ("failed", "source-damaged")
        if quiet and not problem:
            return
        if as_json:
            emit_json(action.to_dict())
        elif action.action == "skipped":
            return
        elif problem:
            click.echo(f"ERROR: {action.path}: {action.action}: {action.detail}")
        else:
            click.echo(f"{action.action}: {action.path} ({action.bytes} bytes)")
    return show
