"""Issue 24, item 6c: `search` never shows a capture time where a publication date belongs.

The seed document has no publication date: its hit shows `-` as `ls` does, and in --json
`date` is null (the capture time stays under its own name, `captured_at`); a dated article
shows its publication date."""

from __future__ import annotations

import json
from pathlib import Path

from catalog_helpers import Chain, add_article
from conftest import SEED_DOCUMENT, Cli

from archiver.store.archive import Archive


def test_an_undated_hit_shows_no_date_and_a_dated_one_its_publication_date(
        archive_dir: Path) -> None:
    run = Cli(archive_dir)
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    archive = Archive(archive_dir)
    add_article(archive, Chain(archive), "vov-9", "20261201T010000Z-a9",
                title="Quyền con người", body=["Bảo đảm quyền con người."],
                published_at="2026-11-20T08:00:00+07:00", captured_at="2026-12-01T01:00:00Z")
    text = run("search", "quyen con nguoi")
    assert text.exit_code == 0, text.output
    lines = {line.split()[1]: line for line in text.stdout.splitlines()
             if not line.startswith(" ")}
    assert lines["vov-1064050"].startswith("-           vov-1064050")  # as `ls`: undated
    assert lines["vov-9"].startswith("2026-11-20  vov-9")  # published, not captured (12-01)
    result = run("search", "quyen con nguoi", "--json")
    hits = {h["id"]: h for h in (json.loads(x) for x in result.stdout.splitlines())}
    seed = hits["vov-1064050"]
    assert seed["date"] is None and seed["published_at"] is None
    assert seed["captured_at"]  # the capture time, named as such
    assert hits["vov-9"]["date"] == "2026-11-20T08:00:00+07:00"
    assert hits["vov-9"]["captured_at"] == "2026-12-01T01:00:00Z"
