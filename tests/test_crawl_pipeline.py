"""The crawl's workers do not wait for their captures' group commit (issue 24 item 7): they
keep fetching while a batch is being made durable, and the frontier marks a URL done only
once its manifest entry is written."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import Cli
from crawl_site import NewsSite

from archiver.capture.crawl import frontier as frontier_module
from archiver.store import manifest


@pytest.fixture
def site():
    with NewsSite() as s:
        yield s


def test_fetching_goes_on_while_a_batch_commits_and_done_means_durable(
        site, run: Cli, archive_dir: Path, monkeypatch):
    real_append = manifest.append_many
    slow = {"calls": 0, "hits_during": 0}
    finished_early: list[tuple[int, int]] = []  # (seq marked done, last seq in the manifest)

    def slow_append(path, events):  # type: ignore[no-untyped-def]
        slow["calls"] += 1
        if slow["calls"] == 3:  # one batch in the middle of the crawl: a slow disk
            before = len(site.hits("pages")) + len(site.hits("cdn"))
            time.sleep(1.0)
            slow["hits_during"] = len(site.hits("pages")) + len(site.hits("cdn")) - before
        return real_append(path, events)

    real_finish = frontier_module.Frontier.finish

    def checked_finish(self, item_id, state, status=None, seq=None, *args):  # type: ignore[no-untyped-def]
        if seq is not None and state in ("done", "failed"):
            last = manifest.read_last(archive_dir / "manifest.jsonl")
            if last is None or last["seq"] < seq:
                finished_early.append((seq, -1 if last is None else last["seq"]))
        return real_finish(self, item_id, state, status, seq, *args)

    monkeypatch.setattr(manifest, "append_many", slow_append)
    monkeypatch.setattr(frontier_module.Frontier, "finish", checked_finish)
    result = run("crawl", site.home, "--delay", "0", "--workers", "4", "--robots", "ignore",
                 "--no-extract", "--json")
    events = [json.loads(line) for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 0, events[-1]
    assert events[-1]["status"] == "finished"
    assert slow["calls"] > 3
    # during the one slow commit the workers went on fetching (they used to wait for it)
    assert slow["hits_during"] >= 20, slow  # 0 when each worker waited for its commit
    assert finished_early == []  # nothing marked done before its entry was written
    done = [e for e in events if e.get("event") == "fetch" and e["state"] == "done"]
    seqs = {e["seq"] for e in manifest.iter_entries(archive_dir / "manifest.jsonl")}
    assert done and all(e["manifest_seq"] in seqs for e in done)
    assert Cli(archive_dir)("audit").exit_code == 0
