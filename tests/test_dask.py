"""--dask: a real `dask scheduler` and two `dask worker` processes on 127.0.0.1, started here;
audit, validate and extract --all on a tampered archive give what the local run gives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, Cli, free_port
from http_fixture import VOV_PATH, FixtureServer

pytest.importorskip("distributed")

from archiver.base import cluster as cluster_mod
from archiver.base.cluster import Cluster
from archiver.check import audit as audit_mod
from archiver.check import audit_cluster, fixity, ranges, validate
from archiver.check.warccheck.paths import check_one
from archiver.store import manifest
from archiver.store.archive import Archive


class DaskProcesses:
    """`dask scheduler` + N `dask worker` subprocesses (the commands a real cluster runs)."""

    def __init__(self, workers: int = 2) -> None:
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
             "--port", str(port), "--no-dashboard", "--no-show"], **quiet)
        self.workers = [subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads",
             "1", "--nworkers", "1", "--no-dashboard", "--no-nanny", "--name", f"w{i}"],
            **quiet) for i in range(workers)]
        from dask.distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=30)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[DaskProcesses]:
    procs = DaskProcesses()
    yield procs
    procs.stop()


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dask") / "archive"
    srv = FixtureServer().start()
    try:
        run = Cli(root)
        for path in (VOV_PATH, "/gzip", "/chunked", "/article", "/redirect/1"):
            assert run("capture", srv.url(path)).exit_code == 0
        assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    finally:
        srv.shutdown()
        srv.server_close()
    return root


def tampered_copy(clean: Path, dest: Path, damage_warcs: bool = True) -> Path:
    """Several kinds of damage at once: a flipped byte, bytes appended, a lost article, an
    edited manifest entry, an orphan."""
    shutil.copytree(clean, dest)
    warcs = sorted(p.relative_to(dest).as_posix() for p in (dest / "warcs").rglob("*.warc.gz"))
    assert len(warcs) >= 3
    if damage_warcs:
        data = bytearray((dest / warcs[0]).read_bytes())
        for i in range(16):  # one flipped byte can still inflate (a literal); 16 cannot
            data[len(data) // 2 + i] ^= 0xFF
        (dest / warcs[0]).write_bytes(bytes(data))
        with open(dest / warcs[-1], "ab") as f:
            f.write(b"junk")
    article = sorted((dest / "articles").rglob("*.json"))[0]
    article.unlink()
    lines = (dest / "manifest.jsonl").read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"outcome": "success"', b'"outcome": "failure"', 1)
    (dest / "manifest.jsonl").write_bytes(b"".join(lines))
    (dest / "warcs" / "stray.warc.gz").write_bytes(b"")
    return dest


def without_timings(output: str) -> list[dict]:
    docs = [json.loads(line) for line in output.splitlines() if line.strip()]
    for doc in docs:
        doc.pop("seconds", None)
    return docs


def test_audit_validate_extract_match_the_local_run(clean, dask_cluster, tmp_path):
    root = tampered_copy(clean, tmp_path / "archive")
    run = Cli(root)
    for command in (["audit"], ["validate"]):
        local = run(*command, "--json")
        remote = run(*command, "--json", "--dask", dask_cluster.address)
        assert local.exit_code == remote.exit_code == 1
        assert without_timings(remote.stdout) == without_timings(local.stdout)
        assert len(without_timings(local.stdout)[0]["findings"]) >= 3
    # extract writes: each run on its own copy, same outputs and same files written
    root = tampered_copy(clean, tmp_path / "one")
    run = Cli(root)
    other = tmp_path / "other"
    shutil.copytree(root, other)
    local = run("extract", "--all", "--json")
    remote = Cli(other)("extract", "--all", "--json", "--dask", dask_cluster.address)
    assert local.exit_code == remote.exit_code
    assert without_timings(remote.stdout) == without_timings(local.stdout)
    statuses = {d["status"] for d in without_timings(local.stdout)}
    assert {"new", "damaged"} <= statuses  # the lost article; the damaged WARC
    assert article_files(other) == article_files(root)


def article_files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / "articles").rglob("*.json"))}


def test_a_worker_killed_mid_audit_changes_nothing(clean, tmp_path, monkeypatch):
    root = tampered_copy(clean, tmp_path / "archive")
    archive = Archive(root)
    local = audit_mod.audit(archive).to_dict()
    monkeypatch.setattr(audit_cluster, "TASK_FILES", 1)  # many small tasks, some in flight
    procs = DaskProcesses()
    killed = []

    def kill_one(done: int, submitted: int, done_bytes: int) -> None:
        if not killed:
            victim = procs.workers[0]
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait(timeout=10)
            killed.append(done)

    try:
        with Cluster(procs.address) as cluster:
            remote = audit_mod.audit(archive, cluster=cluster, task_progress=kill_one).to_dict()
    finally:
        procs.stop()
    assert killed == [1]
    for report in (local, remote):
        report.pop("seconds")
    assert remote == local
    assert local["errors"] >= 3


def big_warc(path: Path, records: int = 120) -> None:
    """A per-record gzip WARC of incompressible pages; two records carry wrong digests."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    rnd = random.Random(7)
    words = [bytes(rnd.choices(b"abcdefghijklmnopqrstuvwxyz", k=rnd.randint(2, 9)))
             for _ in range(5000)]
    with open(path, "wb") as f:
        for i in range(records):
            paras = b"".join(b"<p>" + b" ".join(rnd.choices(words, k=120)) + b".</p>"
                             for _ in range(25))
            body = (b"<html><head><title>Story %d</title></head><body><article><h1>Story %d"
                    b"</h1>%s</article></body></html>" % (i, i, paras))
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                               ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            raw = io.BytesIO()
            writer = WARCWriter(raw, gzip=False, warc_version="WARC/1.1")
            writer.write_record(writer.create_warc_record(
                f"https://example.org/p{i}", "response", payload=io.BytesIO(body),
                http_headers=http))
            data = raw.getvalue()
            if i in (40, 95):  # one byte changed after the digests were made
                data = data.replace(b"<h1>Story", b"<h1>Storx")
            f.write(gzip.compress(data))


def test_one_large_warc_in_ranges_gives_the_whole_file_findings(dask_cluster, tmp_path,
                                                                monkeypatch):
    source = tmp_path / "big.warc.gz"
    big_warc(source)
    root = tmp_path / "archive"
    assert Cli(root)("ingest", str(source), "--accept-invalid").exit_code == 0
    archive = Archive(root)
    rel = next(f["path"] for e in manifest.iter_entries(archive.manifest_path)
               for f in e["files"] if f["path"].endswith("big.warc.gz"))
    path = str(root / rel)
    size = os.path.getsize(path)
    windows = ranges.cut(size, ranges.record_boundaries(archive, [rel])[rel], 200_000)
    assert len(windows) >= 4
    whole = check_one(path)
    merged = ranges.merge(path, size, [check_one(path, w) for w in windows])
    assert merged is not None and merged.to_dict() == whole.to_dict()
    assert [f.code for f in whole.findings].count("block-digest-mismatch") == 2
    assert whole.records == 120

    monkeypatch.setattr(ranges, "RANGE_BYTES", 200_000)
    local = validate.validate_archive(archive).to_dict()
    submitted = []
    with Cluster(dask_cluster.address) as cluster:
        on = validate.Distributed(cluster, lambda d, s, b: submitted.append(s))
        remote = validate.validate_archive(archive, on=on).to_dict()
    for report in (local, remote):
        report.pop("seconds")
    assert remote == local
    assert max(submitted) >= len(windows)  # the big file did go out in ranges


def test_dask_errors_are_one_line_and_exit_2(clean, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster_mod, "CONNECT_TIMEOUT", "2s")
    run = Cli(clean)
    bad = run("audit", "--dask", "nonsense")
    assert bad.exit_code == 2 and "tcp://HOST:PORT" in bad.output
    before = (clean / "manifest.jsonl").read_bytes()
    started = time.monotonic()
    gone = run("audit", "--record", "--dask", f"tcp://127.0.0.1:{free_port()}")
    assert gone.exit_code == 2 and "cannot reach the Dask scheduler" in gone.output
    assert time.monotonic() - started < 30
    assert (clean / "manifest.jsonl").read_bytes() == before  # nothing written


def test_without_the_extra_dask_is_a_one_line_error(clean, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if not installed
    result = Cli(clean)("validate", "--dask", "local:1")
    assert result.exit_code == 2
    assert "archiver[dask]" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_worker_that_cannot_see_the_archive_reports_it(clean):
    exp = audit_mod.expectations(next(manifest.iter_entries(clean / "manifest.jsonl")))[0]
    [(number, [finding])] = fixity.check_batch("/nowhere/archive",
                                           [(1, audit_mod.check_file, (exp,))])
    assert (number, finding.code, finding.where) == (1, "archive-unreachable", exp.path)
    assert "/nowhere/archive" in finding.message


def test_a_scheduler_gone_mid_run_is_a_clear_error(clean, monkeypatch):
    monkeypatch.setattr(audit_cluster, "TASK_FILES", 1)
    before = (clean / "manifest.jsonl").read_bytes()
    procs = DaskProcesses()
    killed = []

    def kill_scheduler(done: int, submitted: int, done_bytes: int) -> None:
        if not killed:
            procs.scheduler.send_signal(signal.SIGKILL)
            killed.append(done)

    try:
        gone = pytest.raises(cluster_mod.ClusterError, match="went away")
        with gone, Cluster(procs.address) as cluster:
            audit_mod.audit(Archive(clean), cluster=cluster, task_progress=kill_scheduler)
    finally:
        procs.stop()
    assert killed and (clean / "manifest.jsonl").read_bytes() == before


def test_index_on_the_cluster_gives_the_local_indexes(clean, dask_cluster, tmp_path):
    """Every WARC's index made on the workers, index.cdxj merged from them: the same files,
    byte for byte, as `archiver index` reading every WARC here."""
    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copytree(clean, local)
    shutil.copytree(clean, remote)
    for root in (local, remote):
        shutil.rmtree(root / "indexes")  # derived: both runs must make it again
    assert Cli(local)("index").exit_code == 0
    result = Cli(remote)("index", "--json", "--dask", dask_cluster.address)
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(local) for p in (local / "indexes").glob("*.cdxj"))
    assert len(files) >= 3
    assert files == sorted(p.relative_to(remote) for p in (remote / "indexes").glob("*.cdxj"))
    for rel in files:
        assert (remote / rel).read_bytes() == (local / rel).read_bytes()
    assert (remote / "index.cdxj").read_bytes() == (local / "index.cdxj").read_bytes()
    assert json.loads(result.stdout)["lines"] == len(
        (local / "index.cdxj").read_text().splitlines())


def test_the_library_audit_on_the_cluster_checks_checkpoints(clean, dask_cluster, tmp_path,
                                                             monkeypatch):
    """Checkpoints are verified by audit() itself: a library caller with a cluster gets the
    same findings as a local run, the edited checkpoint among them."""
    from archiver.store import signing

    monkeypatch.setenv(signing.ENV_KEY, str(tmp_path / "keys" / "ed25519.key"))
    monkeypatch.delenv(signing.ENV_TRUSTED, raising=False)
    signing.keygen()
    root = tmp_path / "archive"
    shutil.copytree(clean, root)
    assert Cli(root)("checkpoint").exit_code == 0
    (note,) = (root / "checkpoints").glob("*.note")
    note.write_bytes(note.read_bytes().replace(b"archive\n", b"archivf\n", 1))
    local = audit_mod.audit(Archive(root), jobs=1)
    with Cluster(dask_cluster.address) as cluster:
        remote = audit_mod.audit(Archive(root), cluster=cluster)
    assert [f.to_dict() for f in remote.findings] == [f.to_dict() for f in local.findings]
    assert "checkpoint-changed" in {f.code for f in remote.findings}
