"""Shared fixtures: a real loopback HTTP server, a fresh archive per test, a CLI runner."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from http_fixture import FixtureServer

from archiver.cli.main import cli

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARCHIVER_SHARED") or REPO.parent / "shared")
SEED_DOCUMENT = REPO / "seeds" / "000_0fe3eec24f29bb98.txt"


@pytest.fixture
def server() -> Iterator[FixtureServer]:
    srv = FixtureServer().start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def archive_dir(tmp_path: Path) -> Path:
    return tmp_path / "archive"


class Cli:
    """Runs `archiver ...` in-process against one archive."""

    def __init__(self, archive: Path) -> None:
        self.archive = archive

    def __call__(self, *args: str, archive: bool = True) -> Result:
        argv = list(args)
        if archive:
            argv += ["--archive", str(self.archive)]
        return CliRunner().invoke(cli, argv, catch_exceptions=False)

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        result = self(*args, "--json")
        return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.fixture
def run(archive_dir: Path) -> Cli:
    return Cli(archive_dir)


def last_capture(archive: Path) -> dict[str, Any]:
    """The newest capture entry (a run ends with seal events for its WARC files)."""
    from archiver.store import manifest

    entries = manifest.iter_entries(archive / "manifest.jsonl")
    return [e for e in entries if e["event"] == "capture"][-1]


def free_port() -> int:
    """A loopback port nobody listens on now (for servers the tests start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_two_captures_and_ingest(root: Path) -> Path:
    """An archive at `root`: two captures (a sealed rolling WARC each) and one ingest (a
    WARC and an article), from a loopback server started and stopped here."""
    from http_fixture import VOV_PATH

    srv = FixtureServer().start()
    try:
        run = Cli(root)
        assert run("capture", srv.url(VOV_PATH)).exit_code == 0
        assert run("capture", srv.url("/gzip")).exit_code == 0
        assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    finally:
        srv.shutdown()
        srv.server_close()
    return root


def rewrite_history(manifest_path: Path) -> None:
    """Forge entry 1's detail and re-chain every entry after it: a hash chain that holds
    over a history that is not the one first written (only signatures, checkpoints and
    time-stamps of the old heads can tell)."""
    from archiver.store import manifest

    entries = list(manifest.iter_entries(manifest_path))
    entries[1]["outcome"]["detail"] = "forged"
    prev = entries[0]["hash"]
    for entry in entries[1:]:
        entry["prev"] = prev
        entry["hash"] = manifest.entry_hash(entry)
        prev = entry["hash"]
    manifest_path.write_bytes(b"".join(manifest.canonical(e) + b"\n" for e in entries))
