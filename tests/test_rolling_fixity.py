"""Rolling fixity: `audit --budget` checks a share of the archive per run, oldest-verified
first, records the range it covered, goes on from there next time and wraps around; `audit
--status` tells per age band when files were last verified."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from conftest import REPO, Cli

from archiver.base import schemas
from archiver.check import rolling_fixity
from archiver.store import manifest
from archiver.store.archive import Archive


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from builders import build_audit_archive
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return build_audit_archive(tmp_path_factory.mktemp("b") / "archive", 6_000_000, jobs=1)


@pytest.fixture
def archive(built, tmp_path) -> Path:
    shutil.copytree(built, tmp_path / "archive")
    return tmp_path / "archive"


def rolling_events(root: Path) -> list[dict]:
    return [e["details"]["rolling"] for e in manifest.iter_entries(root / "manifest.jsonl")
            if e["event"] == "fixity check" and "rolling" in (e.get("details") or {})]


def test_runs_go_on_from_the_cursor_and_wrap_around(archive):
    run = Cli(archive)
    order = rolling_fixity.read_order(Archive(archive))
    total = len(order.files)
    seen: list[int] = []
    for _ in range(6):
        result = run("audit", "--budget", "30%", "--record", "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        assert report["bytes"] <= 0.3 * report["total_bytes"] or report["files"] == 1
        last = rolling_events(archive)[-1]
        assert last["from"] == (seen[-1] if seen else 0)  # on from where the last one stopped
        seen.append(last["to"])
        assert last["total"] == total and last["full_cycle_seconds"] is not None
    events = rolling_events(archive)
    assert any(e["to"] < e["from"] for e in events)  # wrapped around the order
    covered = {i for e in events for i in rolling_fixity._cyclic(e["from"], e["to"], total)}
    assert covered == set(range(total))  # every file verified within the cycle
    entries = list(manifest.iter_entries(archive / "manifest.jsonl"))
    assert all(schemas.validate(e, "manifest-entry") == [] for e in entries)
    assert run("audit").exit_code == 0


def test_oldest_verified_first(archive):
    """After a run covering the first files, the next starts with the ones not covered."""
    run = Cli(archive)
    assert run("audit", "--budget", "20%", "--record").exit_code == 0
    order = rolling_fixity.read_order(Archive(archive))
    first = rolling_events(archive)[-1]
    covered = set(range(first["from"], first["to"]))
    oldest = min(range(len(order.files)), key=lambda i: (order.verified[i], i))
    assert oldest not in covered and oldest == order.cursor


def test_damage_is_found_when_its_turn_comes_and_recorded_as_failure(archive):
    order = rolling_fixity.read_order(Archive(archive))
    target = order.files[1].path
    data = bytearray((archive / target).read_bytes())
    data[50] ^= 1
    (archive / target).write_bytes(bytes(data))
    result = Cli(archive)("audit", "--budget", "100%", "--record", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert ("checksum-mismatch", target) in {(f["code"], f["where"]) for f in report["findings"]}
    event = [e for e in manifest.iter_entries(archive / "manifest.jsonl")
             if e["event"] == "fixity check"][-1]
    assert event["outcome"]["status"] == "failure"
    assert event["details"]["rolling"]["files"] == len(order.files)


def test_a_time_budget_stops_early_and_says_how_long_a_cycle_takes(archive):
    result = Cli(archive)("audit", "--budget", "0.001s", "--json")
    report = json.loads(result.output)
    assert result.exit_code == 0
    assert report["files"] < report["total"]
    assert "full cycle" in Cli(archive)("audit", "--budget", "1s").output


def test_bad_budgets_are_one_line_exit_2(archive):
    for bad in ("10x", "0%", "150%", "-1m"):
        result = Cli(archive)("audit", "--budget", bad)
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1


def test_status_by_age_band(archive):
    run = Cli(archive)
    assert run("audit", "--budget", "50%", "--record").exit_code == 0
    bands, order = rolling_fixity.status(Archive(archive), now=time.time() + 10 * 86400)
    by_label = {b.label: b.files for b in bands}
    assert by_label["7-30 days"] == len(order.files)  # all verified ~now: 10 days old then
    text = run("audit", "--status").output
    assert "under 1 day" in text and f"{len(order.files)} files" in text
    rows = Cli(archive).json_lines("audit", "--status")
    assert rows[-1]["cursor"] == order.cursor and rows[-1]["files"] == len(order.files)
