"""`archiver timestamp`: RFC 3161 time-stamp tokens over the chain head (and their renewal),
and the --timestamp options capture, crawl and ingest share to prove their final head."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from archiver.base.errors import ArchiverError
from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    UsageFailure,
    archive_option,
    emit_json,
    existing_archive,
    fail,
    handle_errors,
    json_option,
    operator_option,
    quiet_option,
    shown,
    warn,
)
from archiver.store import timestamps
from archiver.store.archive import Archive

F = TypeVar("F", bound=Callable[..., Any])


def tsa_option(func: F) -> F:
    return click.option(
        "--tsa", "tsa", multiple=True, metavar="URL",
        help="A time-stamp authority (RFC 3161 over HTTP), repeatable [default: "
             f"${timestamps.ENV_TSA}, space-separated].")(func)


def tsa_timeout_option(func: F) -> F:
    return click.option(
        "--tsa-timeout", type=click.FloatRange(min=0.1), default=timestamps.DEFAULT_TIMEOUT,
        show_default=True,
        help="Seconds to wait for all TSAs together; one that has not answered by then is "
             "skipped (the head stays pending).")(func)


def tsa_roots_option(func: F) -> F:
    return click.option(
        "--tsa-roots", "tsa_roots", multiple=True, metavar="PEM",
        type=click.Path(dir_okay=False, path_type=str),
        help="PEM file of TSA root certificates you trust, repeatable [default: "
             f"${timestamps.ENV_ROOTS}, {os.pathsep}-separated]; tokens are verified "
             "against these only, never against certificates they carry.")(func)


def timestamp_options(func: F) -> F:
    """--timestamp, --tsa, --tsa-timeout: for capture, crawl and ingest."""
    func = tsa_timeout_option(func)
    func = tsa_option(func)
    return click.option(
        "--timestamp", "timestamp", is_flag=True,
        help="Ask the TSAs (--tsa, else $ARCHIVER_TSA) for an RFC 3161 token over the "
             "final head [default: on when $ARCHIVER_TSA is set]; a TSA that fails or is "
             "slow never fails the run.")(func)


def timestamp_urls(timestamp: bool, tsa: tuple[str, ...]) -> list[str]:
    """The TSAs a capture, crawl or ingest asks when it ends (checked before it starts)."""
    try:
        urls = timestamps.tsa_urls(tsa)
    except ArchiverError as exc:
        fail(exc)
    if timestamp and not urls:
        raise UsageFailure(f"--timestamp: no TSA named (use --tsa URL or set "
                           f"${timestamps.ENV_TSA})")
    return urls


def stamp_final_head(archive: Archive, urls: list[str], timeout: float) -> None:
    """After a capture, crawl or ingest: one round of requests, within `timeout`, reported on
    stderr. Nothing here fails the run: an unproven head stays pending for `archiver
    timestamp`, and later heads prove earlier ones through the chain."""
    if not urls or not archive.manifest_path.is_file():
        return
    try:
        seq, head_hash = timestamps.target_head(archive)
        stamps = timestamps.ask_all(urls, seq, head_hash, timeout)
        timestamps.store(archive, stamps)
    except (ArchiverError, OSError) as exc:  # OSError: a full disk, say; the run is stored
        warn(f"timestamp pending: {exc}")
        return
    for s in stamps:
        if s.granted:
            click.echo(f"timestamp: seq {seq} existed by {s.gen_time} ({shown(s.tsa_subject)}"
                       f", {shown(s.tsa)})", err=True)
        else:
            warn(f"timestamp pending: {shown(s.tsa)}: {shown(s.error)}")


@click.command("timestamp")
@archive_option
@operator_option
@tsa_option
@click.option("--min", "minimum", type=click.IntRange(min=1), default=1, show_default=True,
              help="Exit 1 unless at least this many TSAs granted a token.")
@tsa_timeout_option
@click.option("--renew", is_flag=True,
              help="Renew instead: a new token over each earlier token and its head, for "
                   "every token whose TSA certificate expires within --within.")
@click.option("--within", default="90d", show_default=True, metavar="WINDOW",
              help="With --renew: renew tokens whose TSA certificate expires within this "
                   "long (90d, 12w, 36h).")
@tsa_roots_option
@json_option
@quiet_option
@handle_errors
def timestamp(archive_dir: Path | None, operator: str | None, tsa: tuple[str, ...],
              minimum: int, tsa_timeout: float, renew: bool, within: str,
              tsa_roots: tuple[str, ...], as_json: bool, quiet: bool) -> None:
    """Prove the chain head existed by now: RFC 3161 time-stamp tokens from one or more TSAs.

    Each token (the TSA's full reply) is stored under timestamps/ beside the manifest, and
    a manifest event names it with its sha256, so `archiver audit` covers it and verifies
    it offline against the roots you name (--tsa-roots). With roots here too, a token that
    does not verify against them is refused, not stored.

    \b
    Examples:
      archiver timestamp --tsa https://freetsa.org/tsr
      archiver timestamp --min 2 --tsa http://timestamp.digicert.com \\
        --tsa http://timestamp.sectigo.com
      archiver timestamp --renew --within 90d
    Exit status: 0 at least --min TSAs granted, 1 fewer, 2 usage error or no archive.
    """
    from archiver.check import timestamps as tsa_check

    archive = existing_archive(archive_dir, writes="timestamp")
    urls = timestamps.tsa_urls(tsa)
    if not urls:
        raise UsageFailure(f"no TSA named (use --tsa URL or set ${timestamps.ENV_TSA})")
    roots = tsa_check.roots_from(tsa_roots)
    if renew:
        stamps = _renew(archive, urls, timestamps.parse_window(within), tsa_timeout,
                        as_json, quiet)
        if stamps is None:
            sys.exit(EXIT_OK)
    else:
        seq, head_hash = timestamps.target_head(archive)
        stamps = timestamps.ask_all(urls, seq, head_hash, tsa_timeout)
    if roots is not None:
        for s in stamps:
            if s.granted:
                problem = tsa_check.reply_problem(s.reply, s.message(), s.nonce, roots)
                if problem:
                    s.error, s.reply = f"not trusted: {problem}", b""
    timestamps.store(archive, stamps, operator)
    granted = [s for s in stamps if s.granted]
    for s in stamps:
        _report(s, as_json, quiet)
    tsas = len({s.tsa for s in granted})
    if as_json:
        emit_json({"summary": True, "granted": len(granted), "tsas_granted": tsas,
                   "asked": len(urls), "min": minimum, "ok": tsas >= minimum})
    elif not quiet:
        target = f"seq {stamps[0].seq}" if stamps else "nothing"
        click.echo(f"{tsas} of {len(urls)} TSAs granted a token over {target}"
                   + ("" if tsas >= minimum else f" (fewer than --min {minimum})"))
    sys.exit(EXIT_OK if tsas >= minimum else EXIT_FINDINGS)


def _renew(archive: Archive, urls: list[str], window: Any, timeout: float, as_json: bool,
           quiet: bool) -> list[timestamps.Stamp] | None:
    """Renewal stamps for every due token (None when none is due)."""
    due, late = timestamps.renewable(archive, window)
    for item in late:
        warn(f"{item.rec.token}: its TSA certificate expired "
             f"{timestamps.iso(item.expires)}; a renewal made now cannot carry it (it proves "
             "only that the head existed now)")
    if not due:
        if as_json:
            emit_json({"summary": True, "renewed": 0, "due": 0, "ok": True})
        elif not quiet:
            click.echo("no token's TSA certificate expires within the window: nothing to renew")
        return None
    stamps: list[timestamps.Stamp] = []
    for item in due:
        stamps += timestamps.ask_all(urls, item.rec.seq, item.rec.hash, timeout,
                                     renewals=[(item.rec.token, item.sha256)])
    return stamps


def _report(s: timestamps.Stamp, as_json: bool, quiet: bool) -> None:
    if as_json:
        emit_json({"tsa": s.tsa, "seq": s.seq, "hash": s.hash, "granted": s.granted,
                   "error": s.error or None, "gen_time": s.gen_time or None,
                   "tsa_subject": s.tsa_subject or None, "token": s.path or None,
                   "renews": s.renews, "seconds": round(s.seconds, 3)})
        return
    what = f"renewal of {s.renews}" if s.renews else f"seq {s.seq}"
    if s.granted:
        if not quiet:
            click.echo(f"granted  {what} existed by {s.gen_time} ({shown(s.tsa_subject)}) "
                       f"{shown(s.tsa)} -> {s.path}")
    else:
        click.echo(f"FAILED   {what}: {shown(s.tsa)}: {shown(s.error)}")
