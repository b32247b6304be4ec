"""A file that several manifest entries name with the same digest and size is hashed once by
audit (issue 24 item 9); damage to it is still found, and a claim that disagrees still is."""

from __future__ import annotations

import hashlib
from pathlib import Path

from archiver.check import audit
from archiver.check.fixity import check_file
from archiver.store import manifest
from archiver.store.archive import Archive

DATA = b"x" * 100_000


def archive_naming_twice(root: Path, second_sha: str | None = None) -> Archive:
    archive = Archive(root).ensure()
    archive.write_bytes("articles/a/x.json", DATA)
    sha = hashlib.sha256(DATA).hexdigest()
    for claimed in (sha, second_sha or sha):
        manifest.append(archive.manifest_path, manifest.new_event(
            "ingestion", "success", files=[{"path": "articles/a/x.json", "sha256": claimed,
                                            "size": len(DATA)}]))
    return archive


def test_a_file_named_twice_is_hashed_once(tmp_path):
    archive = archive_naming_twice(tmp_path / "a")
    run = audit.AuditRun(archive, 1, None, set())
    checks = [c for e in manifest.iter_entries(archive.manifest_path) for c in run.note(e)]
    assert [fn for fn, _, _ in checks] == [check_file]  # one hash, not two
    assert run.files == 2 and run.bytes == len(DATA)
    report = audit.audit(archive)
    assert [f.code for f in report.findings if f.severity == "error"] == []
    assert report.files == 2 and report.bytes == len(DATA)


def test_damage_to_it_is_still_found_once(tmp_path):
    archive = archive_naming_twice(tmp_path / "a")
    archive.resolve("articles/a/x.json").write_bytes(b"y" + DATA[1:])
    errors = [f for f in audit.audit(archive).findings if f.severity == "error"]
    assert [(f.code, f.where) for f in errors] == [("checksum-mismatch", "articles/a/x.json")]


def test_a_disagreeing_second_claim_is_checked(tmp_path):
    archive = archive_naming_twice(tmp_path / "a", second_sha="0" * 64)
    run = audit.AuditRun(archive, 1, None, set())
    checks = [c for e in manifest.iter_entries(archive.manifest_path) for c in run.note(e)]
    assert len(checks) == 2  # a different digest is a different claim: checked
    codes = {f.code for f in audit.audit(archive).findings if f.severity == "error"}
    assert "checksum-mismatch" in codes


def test_the_window_forgets_old_claims(tmp_path, monkeypatch):
    monkeypatch.setattr(audit.RecentClaims, "WINDOW", 2)
    recent = audit.RecentClaims()
    claims = [audit.expectations({"files": [{"path": f"f{i}", "sha256": "a", "size": 1}]})[0]
              for i in range(3)]
    assert [recent.seen(c) for c in claims] == [False, False, False]
    assert recent.seen(claims[2]) and recent.seen(claims[1])
    assert not recent.seen(claims[0])  # pushed out of the window: checked again
