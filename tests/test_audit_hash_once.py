"""Issue 24, item 9 (part): audit hashes a file once when several entries name it.

Later entries naming the same file with the same claim get their records and article checked
without hashing the bytes again; a claim that differs from the first is hashed against its
own checksum (and reported as conflicting), as before."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_DOCUMENT, Cli

from archiver.check import audit as audit_mod
from archiver.check import fixity
from archiver.store import manifest
from archiver.store.archive import Archive


@pytest.fixture
def named_thrice(archive_dir: Path) -> tuple[Archive, dict[str, Any], dict[str, Any]]:
    assert Cli(archive_dir)("ingest", str(SEED_DOCUMENT)).exit_code == 0
    entry = list(manifest.iter_entries(archive_dir / "manifest.jsonl"))[-1]
    warc = next(f for f in entry["files"] if f["path"].startswith("warcs/"))
    record = next(r for r in entry["records"] if r["file"] == warc["path"])
    for _ in range(2):  # two more entries claim the WARC, the same bytes, the same record
        manifest.append(archive_dir / "manifest.jsonl", manifest.new_event(
            "fixity check", "success", files=[warc], records=[record]))
    return Archive(archive_dir), warc, record


def hashed(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    counts: Counter[str] = Counter()
    real = fixity.sha256_file

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        counts[Path(path).name] += 1
        return real(path, *args, **kwargs)

    monkeypatch.setattr(fixity, "sha256_file", counting)
    return counts


def test_a_file_named_by_three_entries_is_hashed_once(named_thrice, monkeypatch) -> None:
    archive, warc, _ = named_thrice
    counts = hashed(monkeypatch)
    report = audit_mod.audit(archive, jobs=1)
    assert report.ok, [f.render() for f in report.findings]
    assert counts[Path(warc["path"]).name] == 1
    assert report.files == 2 + 2  # the ingestion's WARC and article, then two claims again


def test_a_later_entry_still_has_its_records_checked(named_thrice, monkeypatch) -> None:
    archive, warc, record = named_thrice
    manifest.append(archive.manifest_path, manifest.new_event(
        "fixity check", "success", files=[warc],
        records=[{**record, "offset": record["offset"] + 1}]))  # a record where none is
    counts = hashed(monkeypatch)
    report = audit_mod.audit(archive, jobs=1)
    assert [f.code for f in report.findings if f.severity == "error"] == ["unknown-record-id"]
    assert counts[Path(warc["path"]).name] == 1


def test_a_different_claim_is_hashed_against_its_own_checksum(named_thrice,
                                                              monkeypatch) -> None:
    archive, warc, _ = named_thrice
    manifest.append(archive.manifest_path, manifest.new_event(
        "fixity check", "success", files=[{**warc, "sha256": "0" * 64}]))
    counts = hashed(monkeypatch)
    report = audit_mod.audit(archive, jobs=1)
    errors = sorted(f.code for f in report.findings if f.severity == "error")
    assert errors == ["checksum-mismatch", "conflicting-entries"]
    assert counts[Path(warc["path"]).name] == 2  # the first claim, and the forged one


def test_the_claim_index_tells_a_path_named_again_across_its_merges(monkeypatch) -> None:
    monkeypatch.setattr(audit_mod.ClaimIndex, "RECENT", 4)  # merge every 4 keys
    index = audit_mod.ClaimIndex()
    paths = [f"articles/a{i}/x.json" for i in range(30)]
    assert [index.add(p) for p in paths] == [False] * 30
    assert [index.add(p) for p in paths[::7]] == [True] * 5
    assert all(p in index for p in paths) and "articles/none.json" not in index
    assert index.repeated() == {audit_mod.ClaimIndex.key(p) for p in paths[::7]}
