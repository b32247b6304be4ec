"""What every command group shares: the options, errors that become one-line messages with
the right exit code, JSON and progress output.

Exit codes: 0 all good; 1 the work ran and found problems (failed URLs, invalid articles,
audit findings); 2 usage errors or unreadable input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from archiver.base.errors import ArchiverError, UnreadableInputError, UsageError
from archiver.store.archive import ENV_ARCHIVE, Archive, default_root

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class Failure(click.ClickException):
    """A clear one-line error: the work ran and something is wrong (exit 1)."""

    exit_code = EXIT_FINDINGS


class UsageFailure(Failure):
    """Bad usage or unreadable input (exit 2)."""

    exit_code = EXIT_USAGE


def fail(exc: ArchiverError) -> NoReturn:
    if isinstance(exc, UsageError | UnreadableInputError):
        raise UsageFailure(str(exc)) from exc
    raise Failure(str(exc)) from exc


def handle_errors(func: F) -> F:
    """Turn library errors into messages, never tracebacks."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ArchiverError as exc:
            fail(exc)
        except BrokenProcessPool as exc:  # the OOM killer, or an operator, killed a worker
            raise Failure("a worker process died before its work was done (killed, or out "
                          "of memory?): this run is incomplete and concludes nothing; run the "
                          "command again (nothing already stored is lost)") from exc

    return wrapper  # type: ignore[return-value]


def archive_option(func: F) -> F:
    return click.option(
        "--archive", "archive_dir", type=click.Path(file_okay=False, path_type=Path),
        default=None, envvar=ENV_ARCHIVE, show_envvar=True,
        help="Archive root folder [default: ./archive].",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True,
                        help="Machine-readable output: one JSON object per line.")(func)


def quiet_option(func: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="Print only problems.")(func)


def operator_option(func: F) -> F:
    return click.option("--operator", default=None,
                        help="Who runs this, for warcinfo and the manifest "
                             "[default: $ARCHIVER_OPERATOR or the login name].")(func)


def dask_option(func: F) -> F:
    return click.option(
        "--dask", "dask_address", default=None, metavar="ADDRESS",
        help="Run on a Dask cluster: tcp://HOST:PORT of a running scheduler whose workers "
             "mount the archive at the same path, or local / local:N worker processes here "
             "(needs the extra: pip install 'archiver[dask]').")(func)


@contextmanager
def cluster_for(address: str | None) -> Iterator[Any]:
    """The Dask cluster named by --dask (None without it), closed afterwards."""
    if address is None:
        yield None
        return
    from archiver.base.cluster import Cluster

    with Cluster(address) as cluster:
        yield cluster


def task_progress(enabled: bool, label: str) -> Any:
    """Tasks done/total and MB/s on stderr, for terminals only."""
    from archiver.base.cluster import TaskProgress

    return TaskProgress(label, enabled and sys.stderr.isatty(),
                        lambda text: click.echo(text, err=True, nl=False))


class SizeType(click.ParamType):
    """Bytes, or a number with a K/M/G suffix (200K, 1G)."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        from archiver.store.rolling import parse_size

        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except UsageError as exc:
            self.fail(str(exc), param, ctx)


def warc_options(func: F) -> F:
    """Where a run's records go and how often they are committed: rolling WARC files and
    group commit (shared by capture, ingest and crawl)."""
    func = click.option("--commit-seconds", type=click.FloatRange(min=0.01), default=2.0,
                        show_default=True,
                        help="...or after this many seconds, whichever comes first.")(func)
    func = click.option("--commit-every", type=click.IntRange(min=1), default=64,
                        show_default=True,
                        help="Make captures durable in batches of this many (a crash loses at "
                             "most one batch, never a committed capture)...")(func)
    func = click.option("--warc-size", type=SizeType(), default="1G", show_default=True,
                        help="Start a new WARC file once one reaches this size (bytes, or "
                             "with K/M/G: 200K, 1G); a capture never spans two files.")(func)
    return click.option("--warc-prefix", default="archiver", show_default=True,
                        help="WARC file names: PREFIX-TIMESTAMP-SERIAL-HOST.warc.gz.")(func)


def browser_page_options(func: F) -> F:
    """How a --browser page is captured (shared by capture and crawl): its time, its
    window, which private addresses it may reach, the roots for origins' certificates, the
    Chromium to drive and how often it is started afresh."""
    func = click.option("--restart-every", type=click.IntRange(min=1), default=100,
                        show_default=True,
                        help="--browser: start a fresh Chromium after this many pages.")(func)
    func = click.option("--chromium", "chromium_path", default="/usr/bin/chromium",
                        show_default=True, help="--browser: the Chromium executable.")(func)
    func = click.option("--ca-file", type=click.Path(path_type=Path, dir_okay=False),
                        default=None,
                        help="--browser: PEM roots to validate origins' certificates against "
                             "[default: the system's].")(func)
    func = click.option("--allow-host", "allow_hosts", multiple=True, metavar="HOST:PORT",
                        help="--browser: let requests reach this loopback/private address "
                             "(refused otherwise, 403 to the browser). Repeatable.")(func)
    func = click.option("--viewport", default="1600x900", show_default=True, metavar="WxH",
                        help="--browser: window size for the page and its screenshots.")(func)
    return click.option("--page-timeout", type=click.FloatRange(min=0.5), default=60.0,
                        show_default=True,
                        help="--browser: seconds for load, network idle and scrolling "
                             "together (each also at most 20 s).")(func)


def open_archive(archive_dir: Path | None) -> Archive:
    return Archive(archive_dir or default_root())


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, sort_keys=True, ensure_ascii=False))


def print_report(report: Any, as_json: bool, quiet: bool) -> None:
    """A checker's report: every finding (errors only with --quiet), then its summary."""
    if as_json:
        emit_json(report.to_dict())
        return
    for finding in report.findings:
        if not (quiet and finding.severity != "error"):
            click.echo(finding.render())
    click.echo(report.summary())


def shown(text: str | None) -> str:
    """Text from the outside world made safe for one terminal line: control characters
    (newlines, ESC sequences) are escaped, so a URL cannot split or forge output lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def sign_head(archive: Archive) -> None:
    """Sign the new chain head when the operator has a key (see `archiver keygen`)."""
    from archiver.store import signing

    if archive.manifest_path.is_file():
        signing.sign_if_key(archive)


def byte_progress(total: int, enabled: bool, label: str) -> Any:
    """A progress bar on stderr for terminals only; a no-op when piped or with --json."""
    if not enabled or not sys.stderr.isatty():
        return _NoProgress()
    return click.progressbar(length=total, label=label, file=sys.stderr, show_eta=True)


class LazyProgress:
    """A byte progress bar whose total is known only once work starts (audit learns it from
    the manifest it is reading anyway)."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.enabled, self.label = enabled, label
        self.bar: Any = None

    def start(self, total: int) -> None:
        self.bar = byte_progress(total, self.enabled, self.label).__enter__()

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int) -> None:
        return None


def writable_archive(archive_dir: Path | None, command: str) -> Archive:
    """The archive for a command that writes to it, refused in one line, before any work,
    when this process cannot write there (read-only media or mount, an immutable copy, no
    permission); reading commands work on such a copy."""
    archive = open_archive(archive_dir)
    if archive.read_only():
        raise UsageFailure(f"{archive.root}: read-only (read-only media or mount, an immutable "
                           f"copy, or no permission); `archiver {command}` writes to it")
    return archive


def existing_archive(archive_dir: Path | None, writes: str | None = None) -> Archive:
    """The archive for a command that needs its manifest; `writes`: the command's name when
    it writes there (see writable_archive)."""
    archive = writable_archive(archive_dir, writes) if writes else open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no archive here")
    return archive


def render_article_outcome(article: Any) -> str:
    """The article part of a capture, ingest or extract line (empty when none was derived)."""
    if article is None:
        return ""
    if article.status == "stored":
        byline = (article.article or {}).get("byline") or {}
        raw = f" ({byline['raw']})" if byline.get("raw") else ""
        return f"  article {article.article_id}{raw}"
    text = f"  {article.status}: {article.reason}"
    for pointer, message in article.errors[:10]:
        text += f"\n    {pointer or '/'}: {message}"
    return text
