"""The command line: options in, library call, text or JSON out, exit code. Nothing else.

Exit codes: 0 all good; 1 the work ran and found problems (failed URLs, invalid articles,
audit findings); 2 usage errors or unreadable input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from archiver import __version__
from archiver.errors import ArchiverError, UnreadableInputError, UsageError
from archiver.store import ENV_ARCHIVE, Archive, default_root

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
def cli() -> None:
    """archiver: capture web pages into WARC 1.1, extract articles, and keep a hash-chained
    provenance manifest you can audit years later.

    \b
    Quick start (offline, the seed document):
      archiver ingest seeds/
      archiver audit
    """


# ---------------------------------------------------------------- capture

@cli.command()
@click.argument("urls", nargs=-1)
@click.option("--seeds", "seed_file", type=click.Path(path_type=Path), default=None,
              help="File of URLs to capture, one per line (# comments).")
@archive_option
@operator_option
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds to wait to connect and for each read.")
@click.option("--max-time", type=click.FloatRange(min=0.1), default=120.0, show_default=True,
              help="Total seconds per URL, all redirects and retries included.")
@click.option("--max-bytes", type=click.IntRange(min=1), default=50 * 1024 * 1024,
              show_default=True, help="Stop reading a body after this many bytes "
                                      "(kept, marked WARC-Truncated: length).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Retries on connection errors and 429/5xx (Retry-After honoured).")
@click.option("--delay", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Politeness: seconds between requests to the same host.")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=4, show_default=True,
              help="URLs fetched in parallel.")
@click.option("--no-extract", is_flag=True, help="Store the WARC only; extract later.")
@json_option
@quiet_option
@handle_errors
def capture(urls: tuple[str, ...], seed_file: Path | None, archive_dir: Path | None,
            operator: str | None, timeout: float, max_time: float, max_bytes: int,
            retries: int, delay: float, workers: int, no_extract: bool, as_json: bool,
            quiet: bool) -> None:
    """Fetch URLs into WARC 1.1 files, extract their articles, record it all in the manifest.

    Every redirect hop and every retried attempt is archived as its own request/response
    pair; 4xx/5xx answers are archived too (they are evidence) and reported as failures.

    \b
    Examples:
      archiver capture https://vov.vn/chinh-tri/...-post1064050.vov
      archiver capture --seeds seeds/vov.txt --json
    Exit status: 0 every URL archived with a 2xx answer, 1 any failed, 2 usage error.
    """
    from archiver.capture import CaptureOptions, capture_urls, read_seed_list
    from archiver.fetch import FetchOptions

    all_urls = list(urls) + (read_seed_list(seed_file) if seed_file else [])
    if not all_urls:
        raise UsageFailure("no URLs given (pass URLs or --seeds FILE)")
    options = CaptureOptions(
        fetch=FetchOptions(timeout=timeout, max_time=max_time, max_bytes=max_bytes,
                           retries=retries, delay=delay),
        operator=operator, workers=workers, extract=not no_extract)

    def report(outcome: Any) -> None:
        if as_json:
            emit_json(outcome.to_dict())
        elif not (quiet and outcome.ok):
            click.echo(render_capture(outcome), err=not outcome.ok and quiet)

    archive = open_archive(archive_dir)
    outcomes = capture_urls(archive, all_urls, options, on_done=report, on_warning=warn)
    sign_head(archive)
    failed = sum(1 for o in outcomes if not o.ok)
    if not as_json and not quiet:
        click.echo(f"{len(outcomes) - failed} of {len(outcomes)} URLs archived"
                   + (f", {failed} with problems" if failed else ""))
    sys.exit(EXIT_FINDINGS if failed else EXIT_OK)


def shown(text: str | None) -> str:
    """Text from the outside world made safe for one terminal line: control characters
    (newlines, ESC sequences) are escaped, so a URL cannot split or forge output lines."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def warn(message: str) -> None:
    click.echo(f"Warning: {message}", err=True)


def sign_head(archive: Archive) -> None:
    """Sign the new chain head when the operator has a key (see `archiver keygen`)."""
    from archiver import signing

    if archive.manifest_path.is_file():
        signing.sign_if_key(archive)


def render_capture(o: Any) -> str:
    if o.warc is None:
        return f"FAILED  {shown(o.url)}: {shown(o.error)}"
    label = {"archived": "ok", "http-error": "HTTP", "failed": "FAILED",
             "incomplete": "PARTIAL", "invalid-article": "INVALID"}[o.outcome]
    line = f"{label:7} {o.status} {shown(o.url)}"
    if o.final_url and o.final_url != o.url:
        line += f" -> {shown(o.final_url)}"
    line += f"  [{o.warc}]"
    if o.truncated:
        line += f" truncated ({o.truncated})"
    if o.error:
        line += f": {shown(o.error)}"
    return line + render_article(o.article)


def render_article(article: Any) -> str:
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


# ---------------------------------------------------------------- ingest

@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--url", default=None, help="Source URL of the document (one file only).")
@click.option("--accept-invalid", is_flag=True,
              help="Ingest WARC files even when validation finds errors (the findings are "
                   "recorded in the manifest).")
@archive_option
@operator_option
@json_option
@quiet_option
@handle_errors
def ingest(paths: tuple[Path, ...], url: str | None, accept_invalid: bool,
           archive_dir: Path | None, operator: str | None, as_json: bool, quiet: bool) -> None:
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
    from archiver.ingest import ingest_paths

    if url and (len(paths) > 1 or paths[0].is_dir()):
        raise UsageFailure("--url applies to a single file")
    for p in paths:
        if not p.exists() and not p.is_symlink():
            raise UsageFailure(f"{p}: no such file or folder")
    archive = open_archive(archive_dir)

    def report(outcome: Any) -> None:
        if as_json:
            emit_json(outcome.to_dict())
        elif not (quiet and outcome.ok):
            click.echo(render_ingest(outcome))

    outcomes = ingest_paths(archive, list(paths), url, accept_invalid, operator,
                            on_done=report, on_warning=warn)
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
    return line + render_article(o.article)


# ---------------------------------------------------------------- extract

@cli.command()
@click.argument("selectors", nargs=-1)
@click.option("--all", "all_records", is_flag=True, help="Every source record in the archive.")
@archive_option
@operator_option
@json_option
@quiet_option
@handle_errors
def extract(selectors: tuple[str, ...], all_records: bool, archive_dir: Path | None,
            operator: str | None, as_json: bool, quiet: bool) -> None:
    """Re-derive articles offline from the stored WARC records (never a second fetch).

    SELECTORS are article ids, URLs or WARC record ids. Output is deterministic: on an
    unchanged corpus nothing is written. A different result (a newer extractor) goes to a new
    file beside the old one, with a conversion record and a `metadata extraction` event.

    \b
    Examples:
      archiver extract --all
      archiver extract vov-1064050 --json
    Exit status: 0 fine, 1 an article failed its schema, 2 usage error.
    """
    from archiver.rederive import rederive

    if not selectors and not all_records:
        raise UsageFailure("name articles/URLs/record ids, or pass --all")
    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no archive here")

    def report(o: Any) -> None:
        if as_json:
            emit_json(o.to_dict(with_article=True))
        elif not (quiet and o.ok):
            click.echo(f"{o.status:11} {o.url}  [{o.warc}]" + render_article(o.article))

    outcomes = rederive(archive, list(selectors), operator, on_done=report)
    if selectors and not outcomes:
        raise Failure("nothing matched: " + " ".join(selectors))
    bad = sum(1 for o in outcomes if not o.ok)
    if not as_json and not quiet:
        counts: dict[str, int] = {}
        for o in outcomes:
            counts[o.status] = counts.get(o.status, 0) + 1
        click.echo(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no sources")
    sys.exit(EXIT_FINDINGS if bad else EXIT_OK)


# ---------------------------------------------------------------- validate

@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@archive_option
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=None,
              help="WARC files checked in parallel processes [default: CPU count].")
@json_option
@quiet_option
@handle_errors
def validate(paths: tuple[Path, ...], archive_dir: Path | None, jobs: int | None,
             as_json: bool, quiet: bool) -> None:
    """Check stored content: WARCs record by record (stricter than `warcio check`), articles
    against their schema and linked to existing records, manifest entries against theirs.

    With PATHs, check those WARC/ARC files or folders only (no archive needed).

    \b
    Examples:
      archiver validate
      archiver validate crawl.warc.gz other-crawls/ --json
    Exit status: 0 no errors (warnings allowed), 1 errors found, 2 unreadable input.
    """
    import os

    from archiver import validate as validate_mod

    jobs = jobs or os.cpu_count() or 1
    for p in paths:
        if not p.exists():
            raise UsageFailure(f"{p}: no such file or folder")
    show_progress = not as_json and not quiet and sys.stderr.isatty()

    def progress(name: str) -> None:
        if show_progress:
            click.echo(f"checked {name}", err=True)

    if paths:
        report = validate_mod.validate_paths(list(paths), jobs, progress)
    else:
        archive = open_archive(archive_dir)
        if not archive.exists():
            raise UsageFailure(f"{archive.root}: no archive here")
        report = validate_mod.validate_archive(archive, jobs, progress)
    print_report(report, as_json, quiet)
    unreadable = any(f.code == "unreadable-file" for f in report.findings)
    sys.exit(EXIT_USAGE if unreadable and paths else EXIT_OK if report.ok else EXIT_FINDINGS)


# ---------------------------------------------------------------- audit

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


@cli.command()
@archive_option
@operator_option
@click.option("--jobs", type=click.IntRange(min=1, max=64), default=None,
              help="Files hashed in parallel [default: CPU count].")
@click.option("--record", is_flag=True,
              help="Append a `fixity check` event with the outcome to the manifest.")
@json_option
@quiet_option
@handle_errors
def audit(archive_dir: Path | None, operator: str | None, jobs: int | None, record: bool,
          as_json: bool, quiet: bool) -> None:
    """Prove the manifest and the stored files still agree.

    Recomputes sha256 and size of every file the manifest names, verifies the hash chain
    (order, links, each entry's hash) and every entry's schema, checks every named WARC record
    id and article id, and lists orphan files. Reports every finding, then a summary.

    \b
    Examples:
      archiver audit
      archiver audit --json --record
    Exit status: 0 clean (warnings allowed), 1 any error found, 2 no readable archive.
    """
    from archiver import audit as audit_mod

    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest to audit")
    bar = LazyProgress(not as_json and not quiet, "auditing")
    try:
        report = audit_mod.audit(archive, jobs=jobs, progress=bar.update, on_start=bar.start)
    finally:
        bar.finish()
    if record:
        from archiver.pipeline import record_event  # imports the extractors: only when needed

        status = "success" if report.ok else "failure"
        record_event(archive, "fixity check", status, report.summary(), operator,
                     summary={k: v for k, v in report.to_dict().items() if k != "findings"},
                     findings=[f.to_dict() for f in report.findings if f.severity == "error"][:100])
    print_report(report, as_json, quiet)
    sys.exit(EXIT_OK if report.ok else EXIT_FINDINGS)


# ---------------------------------------------------------------- log

@cli.command()
@archive_option
@click.option("--url", "url_filter", default=None,
              help="Only events whose source URL or final URL contains this text.")
@click.option("--event", "event_filter", default=None,
              type=click.Choice(["capture", "ingestion", "metadata extraction", "validation",
                                 "fixity check", "repair", "digital signature generation"]),
              help="Only events of this PREMIS type.")
@json_option
@handle_errors
def log(archive_dir: Path | None, url_filter: str | None, event_filter: str | None,
        as_json: bool) -> None:
    """Show the provenance events, oldest first: where did this come from, when, by whom.

    \b
    Examples:
      archiver log
      archiver log --url post1064050 --json
      archiver log --event "fixity check"
    """
    from archiver import manifest

    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest yet")
    for entry in manifest.iter_entries(archive.manifest_path):
        src = entry.get("source") or {}
        if event_filter and entry.get("event") != event_filter:
            continue
        urls = (str(src.get("url") or ""), str(src.get("final_url") or ""))
        if url_filter and not any(url_filter in u for u in urls):
            continue
        click.echo(json.dumps(entry, sort_keys=True, ensure_ascii=False) if as_json
                   else render_event(entry))


def render_event(entry: dict[str, Any]) -> str:
    agent = entry.get("agent") or {}
    outcome = entry.get("outcome") or {}
    src = entry.get("source") or {}
    lines = [f"#{entry.get('seq')} {entry.get('at')} {entry.get('event')} "
             f"{outcome.get('status')} by {agent.get('operator')}@{agent.get('hostname')} "
             f"({agent.get('software')} {agent.get('version')})"]
    if src.get("url"):
        status = f" HTTP {src['status']}" if src.get("status") else ""
        final = f" -> {src['final_url']}" if src.get("final_url") not in (None, src["url"]) else ""
        lines.append(f"    source {src['url']}{final}{status}")
    if src.get("file"):
        lines.append(f"    file {src['file'].get('name')} sha256 {src['file'].get('sha256')}")
    for f in entry.get("files") or []:
        lines.append(f"    stored {f['path']} sha256 {f['sha256']} ({f['size']} bytes)")
    for a in entry.get("articles") or []:
        b = a.get("byline") or {}
        lines.append(f"    article {a['id']} byline {b.get('raw')!r} authors {b.get('authors')} "
                     f"source {b.get('source')!r}")
    if outcome.get("detail"):
        lines.append(f"    {outcome['detail']}")
    return "\n".join(lines)


# ---------------------------------------------------------------- repair

@cli.command()
@archive_option
@operator_option
@click.option("--yes", is_flag=True, help="Do it; without this only say what would be done.")
@handle_errors
def repair(archive_dir: Path | None, operator: str | None, yes: bool) -> None:
    """Remove a torn last manifest line (left by power loss mid-append), and record that.

    Only the incomplete tail after the last newline is cut; whole entries are never touched.

    \b
    Example:
      archiver repair --yes
    """
    from archiver.repair import repair_torn_tail

    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest")
    result = repair_torn_tail(archive, operator, dry_run=not yes)
    click.echo(result)


def main() -> None:
    cli(prog_name="archiver")


def _register_command_modules() -> None:
    """Commands that live beside their library module (one module per job) join the group."""
    from archiver import cli_ecosystem, cli_security

    for module in (cli_ecosystem, cli_security):
        for command in module.COMMANDS:
            cli.add_command(command)


_register_command_modules()
