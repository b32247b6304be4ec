"""`archiver replay`: serve the archive with pywb until Ctrl-C."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import click

from archiver.cli.options import (
    archive_option,
    emit_json,
    existing_archive,
    handle_errors,
    json_option,
    quiet_option,
    shown,
)


@click.command("replay")
@click.option("--port", "-p", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--host", "-b", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0: every interface).")
@click.option("--open", "open_browser", is_flag=True,
              help="Open the collection in the default web browser.")
@click.option("--list", "list_links", is_flag=True,
              help="Print the replay URL of each article's latest capture.")
@archive_option
@json_option
@quiet_option
@handle_errors
def replay_command(port: int, host: str, open_browser: bool, list_links: bool,
                   archive_dir: Path | None, as_json: bool, quiet: bool) -> None:
    """Replay the archive in pywb, reading its WARCs and CDXJ indexes in place.

    Prints the collection URL once pywb answers, then serves until Ctrl-C. Open
    COLLECTION/<URL> for the latest capture of a URL, COLLECTION/<YYYYMMDDhhmmss>/<URL> for
    the one nearest that time. Needs pywb: pip install 'archiver[replay]'.

    \b
    Examples:
      archiver replay
      archiver replay --port 8090 --list
      archiver replay --host 0.0.0.0 --open
    """
    from archiver.access import replay

    archive = existing_archive(archive_dir)
    replay.require_pywb()
    links = []
    if list_links:  # read before starting, so a damaged article fails fast
        links = list(replay.latest_links(archive))
    server = replay.Replay(archive, host, port)
    server.start()
    try:
        collection = server.collection_url
        if as_json:
            emit_json({"collection": collection,
                       "indexes": [str(p) for p in replay.index_sources(archive).values()],
                       "config": str(server.config_path), "pid": server.pid})
        elif not quiet:
            click.echo(f"pywb is replaying {archive.root} at {collection}  (Ctrl-C stops)")
        for link in links:
            if as_json:
                emit_json(link.to_dict(collection))
            else:
                click.echo(f"{link.replay_url(collection)}  "
                           f"{shown(link.title or link.article_id)}")
        if open_browser:
            webbrowser.open(collection)
    except BaseException:
        server.stop()
        raise
    code = server.wait()
    if not quiet and not as_json:
        click.echo("pywb stopped", err=True)
    if code not in (0, None):
        raise click.ClickException(f"pywb exited with code {code}")
