"""`archiver log`, `show`, `diff` and `ls`: what the archive holds and how it changed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli.options import (
    EXIT_FINDINGS,
    EXIT_OK,
    Failure,
    UsageFailure,
    archive_option,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    open_archive,
)
from archiver.store.archive import Archive


@click.command()
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
    from archiver.store import manifest

    archive = open_archive(archive_dir)
    if not archive.manifest_path.is_file():
        raise UsageFailure(f"{archive.manifest_path}: no manifest yet")
    proofs = Proofs(archive)
    for entry in manifest.resolved_entries(archive.manifest_path):  # agents given whole
        src = entry.get("source") or {}
        if event_filter and entry.get("event") != event_filter:
            continue
        urls = (str(src.get("url") or ""), str(src.get("final_url") or ""))
        if url_filter and not any(url_filter in u for u in urls):
            continue
        proof = proofs.earliest(entry.get("seq"))
        if as_json:
            shown_entry = {**entry, "proof": proof} if proof else entry
            click.echo(json.dumps(shown_entry, sort_keys=True, ensure_ascii=False))
        else:
            click.echo(render_event(entry) + (render_proof(proof) if proof else ""))


class Proofs:
    """The time-stamp tokens the manifest records, by the seq they prove: a token over seq M
    proves every entry up to M through the chain, so an entry's earliest proof is the token
    with the earliest genTime among those over seq >= its own. As recorded, not verified:
    `archiver audit --tsa-roots` verifies them."""

    def __init__(self, archive: Archive) -> None:
        from archiver.store import timestamps

        records = sorted(timestamps.all_recorded(archive), key=lambda r: (r.seq, r.gen_time))
        self.seqs = [r.seq for r in records]
        self.best: list[dict[str, Any]] = []  # suffix minimum of genTime
        best: dict[str, Any] | None = None
        for r in reversed(records):
            if best is None or r.gen_time < best["gen_time"]:
                best = {"seq": r.seq, "gen_time": r.gen_time, "tsa": r.tsa,
                        "tsa_subject": r.tsa_subject, "token": r.token, "verified": False}
            self.best.append(best)
        self.best.reverse()

    def earliest(self, seq: Any) -> dict[str, Any] | None:
        from bisect import bisect_left

        if not isinstance(seq, int):
            return None
        i = bisect_left(self.seqs, seq)
        return self.best[i] if i < len(self.best) else None


def render_proof(p: dict[str, Any]) -> str:
    return (f"\n    existed by {p['gen_time']} ({p['tsa_subject'] or p['tsa']}; token over seq "
            f"{p['seq']}: {p['token']}, recorded)")


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
    for t in entry.get("timestamps") or []:
        if isinstance(t, dict):
            kind = f" renewing {t.get('renews')}" if t.get("renews") else ""
            lines.append(f"    token {t.get('token')} seq {t.get('seq')} genTime "
                         f"{t.get('gen_time')} by {t.get('tsa_subject') or t.get('tsa')}{kind}")
    browser = entry.get("browser") or {}
    for att in browser.get("attachments") or []:  # capture --browser: what the browser saw
        lines.append("    " + render_attachment(att))
    for b in browser.get("blocked") or []:
        lines.append(f"    refused {b['url']}: {b['reason']}")
    if outcome.get("detail"):
        lines.append(f"    {outcome['detail']}")
    return "\n".join(lines)






@click.command("show")
@click.argument("what", metavar="URL|ID")
@archive_option
@json_option
@handle_errors
def show_command(what: str, archive_dir: Path | None, as_json: bool) -> None:
    """List every snapshot of an article (capture time, text digest) and print the latest.

    URL|ID is an article id, the article's URL, or a URL that was captured (before or after
    redirects). `--json` prints one object per article, with the latest article in full.
    A snapshot from `capture --browser` lists its attachments (screenshots, DOM, text, TLS,
    provenance summary): kind, URI, WARC record id, sha256, size.

    \b
    Examples:
      archiver show vov-1064050
      archiver show https://vov.vn/...-post1064050.vov --json
    Exit status: 0 found, 1 nothing by that name or an article file is missing or damaged
    (reported with its offset; the other articles are still shown), 2 no archive.
    """
    from archiver.access import snapshots
    from archiver.base.errors import StoreError

    archive = existing_archive(archive_dir)
    found = snapshots.find(archive, what)
    if not found:
        raise Failure(f"{what}: no article with this id or URL in the archive")
    damaged = 0
    witnessed = snapshots.witness_records(
        archive, [s.seq for history in found for s in history.snapshots])
    for history in found:
        try:
            if as_json:
                emit_json({"id": history.article_id,
                           "snapshots": [{**s.to_dict(archive),
                                          **({"attachments": witnessed[s.seq]}
                                             if s.seq in witnessed else {})}
                                         for s in history.snapshots],
                           "latest": history.latest.load(archive)})
            else:
                click.echo(render_history(archive, history, witnessed))
        except StoreError as exc:  # a missing or damaged article file: say so, go on
            click.echo(snapshots.problem(exc).render(), err=True)
            damaged += 1
    sys.exit(EXIT_FINDINGS if damaged else EXIT_OK)


def render_attachment(att: dict[str, Any]) -> str:
    """One attachment of a browser capture, as `log` and `show` list it."""
    return (f"attachment {att['kind']} {att['uri']} {att['record_id']} "
            f"sha256 {att['sha256']} ({att['size']} bytes)")


def render_history(archive: Archive, history: Any,
                   witnessed: dict[int, list[dict[str, Any]]] | None = None) -> str:
    """The snapshot list (each browser capture's attachments under its snapshot), then the
    latest article."""
    lines = [f"{history.article_id}  {len(history.snapshots)} snapshots"]
    previous = None
    for snap in history.snapshots:
        digest = (snap.text_sha256 or "-")[:12]
        change = "" if previous is None else (
            "  text unchanged" if snap.text_sha256 == previous else "  text changed")
        lines.append(f"  #{snap.number:<3} {snap.captured_at(archive)}  text {digest}  "
                     f"{snap.path}{change}")
        for att in (witnessed or {}).get(snap.seq, []):  # capture --browser: what it saw
            lines.append("       " + render_attachment(att))
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
    from archiver.access import snapshots

    archive = existing_archive(archive_dir)
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






@click.command("ls")
@click.option("--sort", "sort_key", type=click.Choice(["date", "id", "title", "snapshots"]),
              default="date", show_default=True,
              help="Order by publication date (undated articles last), id, title or count.")
@click.option("--reverse", "-r", is_flag=True, help="Newest (or last) first.")
@archive_option
@json_option
@handle_errors
def ls_command(sort_key: str, reverse: bool, archive_dir: Path | None, as_json: bool) -> None:
    """List the archive's articles: id, publication date, title, byline, source, number of
    snapshots. An article that states no publication date shows `-` (`null` in `--json`,
    which also gives the latest capture time as `captured_at`). An article whose file is
    missing or damaged is reported on stderr (file and offset); the others are listed.

    \b
    Examples:
      archiver ls
      archiver ls --sort date --reverse --json
    Exit status: 0 listed, 1 an article file is missing or damaged, 2 no archive.
    """
    from archiver.access import snapshots

    archive = existing_archive(archive_dir)
    problems: list[Any] = []
    rows = snapshots.list_articles(archive, sort_key, reverse, problems)
    for row in rows:
        if as_json:
            emit_json(row.to_dict())
        else:
            byline = f"  ({row.byline})" if row.byline else ""
            source = f"  [{row.source}]" if row.source else ""
            click.echo(f"{(row.date or '-')[:25]:25} {row.article_id:24} x{row.snapshots:<3} "
                       f"{row.title or '(untitled)'}{byline}{source}")
    for finding in problems:  # on stderr: the listing itself stays clean for pipes
        click.echo(json.dumps(finding.to_dict()) if as_json else finding.render(), err=True)
    sys.exit(EXIT_FINDINGS if problems else EXIT_OK)
