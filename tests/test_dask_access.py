"""export and index --rebuild with --dask: the workers of a real `dask scheduler` + `dask
worker` cluster on 127.0.0.1 read the files, this process writes the export or the catalog:
the same bytes and rows, the same refusals."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Cli

pytest.importorskip("distributed")

from test_dask import DaskProcesses, tampered_copy
from test_dask import clean as clean

from archiver.access import export, rows
from archiver.base.cluster import Cluster
from archiver.base.errors import UnreadableInputError
from archiver.store import catalog_rows
from archiver.store.archive import Archive
from archiver.store.catalog_rows import entry_rows_task


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[DaskProcesses]:
    procs = DaskProcesses()
    yield procs
    procs.stop()


@pytest.fixture
def tasks_run(monkeypatch) -> list[str]:
    """The label of every task that ran through Cluster.map_ordered (this process is the
    client: the CLI runs in it)."""
    labels: list[str] = []
    original = Cluster.map_ordered

    def counted(self, tasks, progress=None, label="archiver"):
        for result in original(self, tasks, progress, label):
            labels.append(label)
            yield result

    monkeypatch.setattr(Cluster, "map_ordered", counted)
    return labels


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sidecar(path: Path) -> dict:
    return json.loads(Path(f"{path}.meta.json").read_text())


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_article_tables_are_the_local_bytes(clean, dask_cluster, tmp_path, fmt, tasks_run):
    run = Cli(clean)
    local, remote = tmp_path / f"local.{fmt}", tmp_path / f"remote.{fmt}"
    assert run("export", fmt, str(local)).exit_code == 0
    assert tasks_run == []
    result = run("export", fmt, str(remote), "--json", "--dask", dask_cluster.address)
    assert result.exit_code == 0, result.output
    assert tasks_run == ["export"]
    assert json.loads(result.stdout)["rows"] >= 3
    assert digest(remote) == digest(local)
    assert sidecar(remote)["sha256"] == sidecar(local)["sha256"] == digest(local)
    # the command that remakes it: where files were read is no part of the result
    assert sidecar(remote)["command"] == sidecar(local)["command"].replace("local.", "remote.")


def test_capture_rows_from_warc_headers_on_the_workers(clean, dask_cluster, tmp_path,
                                                       monkeypatch, tasks_run):
    """Without a catalog the capture rows come from the WARC headers: read on the workers
    (several tasks), the same file as reading them here."""
    monkeypatch.setattr(rows, "open_catalog", lambda archive: None)
    monkeypatch.setattr(rows, "CAPTURES_PER_TASK", 2)
    run = Cli(clean)
    local, remote = tmp_path / "local.jsonl", tmp_path / "remote.jsonl"
    assert run("export", "jsonl", str(local), "--what", "captures").exit_code == 0
    result = run("export", "jsonl", str(remote), "--what", "captures", "--dask",
                 dask_cluster.address)
    assert result.exit_code == 0, result.output
    assert len(local.read_text().splitlines()) >= 5
    assert remote.read_bytes() == local.read_bytes()
    assert len(tasks_run) >= 3


def test_packages_check_on_the_workers(clean, dask_cluster, tmp_path, tasks_run):
    run = Cli(clean)
    wacz = tmp_path / "all.wacz"
    result = run("export", "wacz", str(wacz), "--json", "--dask", dask_cluster.address)
    assert result.exit_code == 0, result.output
    assert tasks_run == ["export-check"]
    local = tmp_path / "local.wacz"
    assert run("export", "wacz", str(local)).exit_code == 0
    with zipfile.ZipFile(wacz) as remote_zip, zipfile.ZipFile(local) as local_zip:
        assert sorted(remote_zip.namelist()) == sorted(local_zip.namelist())
        warcs = [n for n in local_zip.namelist() if n.startswith("archive/")]
        assert warcs and all(remote_zip.read(n) == local_zip.read(n) for n in warcs)
    bag = tmp_path / "bag"
    result = run("export", "bag", str(bag), "--dask", dask_cluster.address)
    assert result.exit_code == 0, result.output
    import bagit

    bagit.Bag(str(bag)).validate()


def test_damage_refuses_the_package_as_locally(clean, dask_cluster, tmp_path):
    root = tampered_copy(clean, tmp_path / "archive")
    run = Cli(root)
    for kind in ("wacz", "bag"):
        local = run("export", kind, str(tmp_path / f"local-{kind}"), "--json")
        remote = run("export", kind, str(tmp_path / f"remote-{kind}"), "--json", "--dask",
                     dask_cluster.address)
        assert local.exit_code == remote.exit_code == 1
        assert json.loads(remote.stdout) == json.loads(local.stdout)
        codes = {f["code"] for f in json.loads(local.stdout)["findings"]}
        assert "damaged-file" in codes
        assert not (tmp_path / f"remote-{kind}").exists()


def test_a_worker_that_cannot_see_the_archive_says_so(clean):
    item = export.pack_list(Archive(clean))[0]
    found, size = export.check_files_task("/nowhere/archive", [item])
    assert [(f.code, f.where) for f in found] == [("archive-unreachable", item.relpath)]
    assert size == item.size and "/nowhere/archive" in found[0].message
    with pytest.raises(UnreadableInputError, match="/nowhere/archive"):
        rows._article_rows_task("/nowhere/archive", [])
    assert entry_rows_task("/nowhere/archive", [{"seq": 0}]) is None


def catalog_dump(root: Path) -> dict[str, list]:
    """Every table, and what the full-text index finds (folded on the workers with --dask)."""
    with sqlite3.connect(root / "catalog.sqlite") as conn:
        dump = {table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
                for table in ("captures", "articles", "files", "meta", "article_text",
                              "search_docs")}
        dump["matches"] = [conn.execute("SELECT rowid FROM article_fts WHERE article_fts "
                                        "MATCH ? ORDER BY rowid", (word,)).fetchall()
                           for word in ("viet", "nam", "chinh", "article")]
    return dump


def test_catalog_rebuilt_on_the_workers_is_the_local_one(clean, dask_cluster, tmp_path,
                                                          monkeypatch, tasks_run):
    monkeypatch.setattr(catalog_rows, "ENTRIES_PER_TASK", 2)  # several tasks
    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copytree(clean, local)
    shutil.copytree(clean, remote)
    assert Cli(local)("index", "--rebuild").exit_code == 0
    result = Cli(remote)("index", "--rebuild", "--json", "--dask", dask_cluster.address)
    assert result.exit_code == 0, result.output
    dump = catalog_dump(local)
    assert len(dump["captures"]) >= 5 and len(dump["articles"]) >= 3
    assert any(dump["matches"]) and len(dump["search_docs"]) == len(dump["articles"])
    assert catalog_dump(remote) == dump
    assert tasks_run.count("catalog") >= 3
    assert json.loads(result.stdout)["catalog"]["articles"] == len(dump["articles"])

