"""Issue 24, item 1: a first capture killed before its first commit.

The real command runs as a child process and is SIGKILLed at a known point: its first URL
answered and was appended to the `.open` WARC (the batch waits for `--commit-seconds`), its
second URL goes to a server that never answers, so the kill comes while the first capture is
written but not committed, and no manifest exists yet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, Cli
from http_fixture import FixtureServer
from silent_server import SilentServer

from archiver.store import manifest


def killed_first_run(server: FixtureServer, archive: Path) -> Path:
    """Run `archiver capture` until its first capture is appended, SIGKILL it; the orphan."""
    silent = SilentServer().start()
    child = subprocess.Popen(
        [sys.executable, "-m", "archiver", "capture", server.url("/article"), silent.url("/x"),
         "--archive", str(archive), "--workers", "1", "--commit-seconds", "600",
         "--timeout", "60", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert silent.connected.wait(30), "the child never reached its second URL"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        silent.close()
    assert child.returncode == -signal.SIGKILL
    opened = sorted(archive.glob("warcs/*/*/*.warc.gz.open"))
    assert len(opened) == 1 and opened[0].stat().st_size > 1000  # warcinfo + one capture
    assert not (archive / "manifest.jsonl").exists()
    return opened[0]


def test_audit_names_the_orphans_and_repair_recovers_them(server: FixtureServer,
                                                          archive_dir: Path) -> None:
    orphan = killed_first_run(server, archive_dir)
    run = Cli(archive_dir)
    audit = run("audit")
    assert audit.exit_code == 1, audit.output
    rel = orphan.relative_to(archive_dir).as_posix()
    assert rel in audit.output
    assert "interrupted first run" in audit.output
    assert "archiver repair --yes" in audit.output
    recorded = run("audit", "--record")  # no manifest made: its absence is what repair reads
    assert recorded.exit_code == 1 and "not recorded" in recorded.output
    assert not (archive_dir / "manifest.jsonl").exists()

    dry = run("repair")
    assert dry.exit_code == 0, dry.output
    assert f"would: cut {orphan.stat().st_size} uncommitted bytes" in dry.output
    assert orphan.exists() and not (archive_dir / "manifest.jsonl").exists()

    size = orphan.stat().st_size
    done = run("repair", "--yes")
    assert done.exit_code == 0, done.output
    assert not orphan.exists()
    entries = list(manifest.iter_entries(archive_dir / "manifest.jsonl"))
    assert [e["event"] for e in entries] == ["repair"]  # the cut is the first entry
    assert entries[0]["details"]["removed_bytes"] == size
    assert entries[0]["details"]["file"] == rel

    after = run("audit", "--json")
    assert after.exit_code == 0, after.output
    report = json.loads(after.stdout)
    assert report["errors"] == 0 and report["entries"] == 1


def test_the_next_capture_recovers_the_orphan(server: FixtureServer,
                                              archive_dir: Path) -> None:
    orphan = killed_first_run(server, archive_dir)
    run = Cli(archive_dir)
    again = run("capture", server.url("/article"))
    assert again.exit_code == 0, again.output
    assert "recovered after an earlier crash" in again.output
    assert not orphan.exists()
    events = [e["event"] for e in manifest.iter_entries(archive_dir / "manifest.jsonl")]
    assert events[0] == "repair" and "capture" in events
    audit = run("audit")
    assert audit.exit_code == 0, audit.output


def test_the_next_ingest_recovers_the_orphan_too(server: FixtureServer,
                                                 archive_dir: Path) -> None:
    orphan = killed_first_run(server, archive_dir)
    run = Cli(archive_dir)
    result = run("ingest", str(SEED_DOCUMENT))
    assert result.exit_code == 0, result.output
    assert "recovered after an earlier crash" in result.output
    assert not orphan.exists()
    events = [e["event"] for e in manifest.iter_entries(archive_dir / "manifest.jsonl")]
    assert events[:2] == ["repair", "ingestion"]
    assert run("audit").exit_code == 0


def test_an_archive_folder_with_nothing_in_it_is_still_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "archive").mkdir()
    run = Cli(tmp_path / "archive")
    assert run("audit").exit_code == 2
    assert run("repair", "--yes").exit_code == 0  # nothing to do, said so
    assert not (tmp_path / "archive" / "manifest.jsonl").exists()
    nowhere = Cli(tmp_path / "missing")
    assert nowhere("repair", "--yes").exit_code == 2
    assert nowhere("audit").exit_code == 2


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
