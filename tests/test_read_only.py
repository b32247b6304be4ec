"""An archive this process cannot write (a replica on read-only media or mount, an immutable
copy) is still checked, searched, viewed and exported: nothing in it is written or even
attempted (no lock file, no catalog), and whatever is made instead is made elsewhere and
removed. Each case runs twice: on an archive made really read-only (chattr +i as root,
chmod a-w otherwise; skipped where neither is possible), and on a writable one declared
read-only, where a snapshot proves nothing was written although it could have been."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, Cli

from archiver.store.archive import Archive

EXTRA = "Tin mới về zebrafinch.\n\nPV/VOV.VN\n"


def snapshot(root: Path) -> dict[str, tuple[float, str]]:
    """Every entry under the root (files, folders, FIFOs alike): mtime and content digest."""
    found = {}
    for path in sorted(root.rglob("*")):
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "-"
        found[path.relative_to(root).as_posix()] = (path.stat().st_mtime, digest)
    return found


def make_read_only(root: Path) -> None:
    if os.geteuid() == 0:  # root writes through permissions: only the immutable flag stops it
        done = subprocess.run(["chattr", "-R", "+i", str(root)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a read-only archive here: {done.stderr.decode()[:100]}")
    else:
        subprocess.run(["chmod", "-R", "a-w", str(root)], check=True)
    assert Archive(root).read_only()


def make_writable(root: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-R", "-i", str(root)], capture_output=True)
    subprocess.run(["chmod", "-R", "u+w", str(root)], check=True)


@pytest.fixture(params=["none", "current", "stale"])
def archive(request, tmp_path: Path) -> Path:
    """Two ingested documents; catalog.sqlite absent, current, or one entry behind."""
    root = tmp_path / "archive"
    run = Cli(root)
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    assert run("ls").exit_code == 0  # makes the catalog
    behind = tmp_path / "catalog-behind.sqlite"
    shutil.copy(root / "catalog.sqlite", behind)
    extra = tmp_path / "extra.txt"
    extra.write_text(EXTRA, encoding="utf-8")
    assert run("ingest", str(extra), "--url", "https://vov.vn/extra-1").exit_code == 0
    for suffix in ("-wal", "-shm"):
        (root / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    if request.param == "none":
        (root / "catalog.sqlite").unlink()
    elif request.param == "stale":
        shutil.copy(behind, root / "catalog.sqlite")
    else:
        assert run("ls").exit_code == 0  # current, and checkpointed on close
    return root


@pytest.fixture(params=["really", "declared"])
def read_only(request, archive: Path, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where private catalogs go
    if request.param == "really":
        make_read_only(archive)
    else:
        monkeypatch.setattr(Archive, "read_only", lambda self: True)
    before = snapshot(archive)
    yield archive
    try:
        assert snapshot(archive) == before  # nothing written, nothing attempted
        assert list(scratch.iterdir()) == []  # and nothing left behind elsewhere
    finally:
        make_writable(archive)


def test_audit_and_validate_a_read_only_archive(read_only):
    run = Cli(read_only)
    audit = run("audit", "--json")
    assert audit.exit_code == 0, audit.output
    codes = {f["code"] for f in json.loads(audit.stdout)["findings"]}
    assert codes == {"unsigned"}  # the catalog was read (or is absent), and agrees
    validate = run("validate", "--json")
    assert validate.exit_code == 0, validate.output
    assert json.loads(validate.stdout)["articles"] == 2


def test_search_and_views_of_a_read_only_archive(read_only):
    run = Cli(read_only)
    found = run("search", "zebrafinch", "--json")
    assert found.exit_code == 0 and "extra" in found.output  # the newest entry's article too
    listed = run("ls", "--json")
    assert listed.exit_code == 0 and len(listed.stdout.splitlines()) == 2
    assert run("show", "https://vov.vn/extra-1").exit_code == 0


@pytest.mark.parametrize("kind", ["bag", "wacz", "parquet"])
def test_export_from_a_read_only_archive(read_only, tmp_path, kind):
    out = tmp_path / f"out.{kind}"
    result = Cli(read_only)("export", kind, str(out))
    assert result.exit_code == 0, result.output
    assert out.exists()


@pytest.mark.parametrize("archive", ["current"], indirect=True)
@pytest.mark.parametrize("command", [
    ("ingest", str(SEED_DOCUMENT)), ("capture", "http://127.0.0.1:9/x"),
    ("crawl", "http://127.0.0.1:9/"), ("extract", "--all"), ("index",),
    ("audit", "--record"), ("repair", "--yes"), ("sign",)])
def test_writers_refuse_a_read_only_archive_in_one_line_before_any_work(read_only, command):
    result = Cli(read_only)(*command)
    assert result.exit_code == 2, result.output
    [line] = result.output.splitlines()
    assert "read-only" in line and f"`archiver {' '.join(command[:1])}" in line


@pytest.mark.parametrize("archive", ["current"], indirect=True)
def test_a_dry_run_repair_of_a_read_only_archive_reads_only(read_only):
    result = Cli(read_only)("repair")
    assert result.exit_code == 0 and "nothing to repair" in result.output
