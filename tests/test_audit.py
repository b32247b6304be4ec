"""The manifest chain and `archiver audit`: a tamper matrix, each case caught and named."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, SEED_DOCUMENT, Cli, build_two_captures_and_ingest

from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.signing import SIG_NAME


@pytest.fixture(scope="module")
def clean_archive(tmp_path_factory) -> Path:
    """Two captures and one ingest, audited clean once; tests tamper with copies."""
    return build_two_captures_and_ingest(tmp_path_factory.mktemp("clean") / "archive")


@pytest.fixture
def copy(clean_archive, tmp_path) -> Path:
    dest = tmp_path / "archive"
    shutil.copytree(clean_archive, dest)
    return dest


def audit_json(root: Path) -> tuple[int, dict]:
    result = Cli(root)("audit", "--json")
    return result.exit_code, json.loads(result.output)


def codes(report: dict) -> set[tuple[str, str]]:
    """Findings about the data; the signature file's own findings are tested on their own."""
    return {(f["code"], f["where"]) for f in report["findings"] if f["where"] != SIG_NAME}


def entries(root: Path) -> list[dict]:
    return list(manifest.iter_entries(root / "manifest.jsonl"))


def a_warc(root: Path) -> str:
    return next(f["path"] for e in entries(root) for f in e.get("files", [])
                if f["path"].startswith("warcs/"))


def an_article(root: Path) -> str:
    return next(f["path"] for e in entries(root) for f in e["files"]
                if f["path"].startswith("articles/"))


def manifest_lines(root: Path) -> list[bytes]:
    return (root / "manifest.jsonl").read_bytes().splitlines(keepends=True)


def write_lines(root: Path, lines: list[bytes]) -> None:
    (root / "manifest.jsonl").write_bytes(b"".join(lines))


def test_clean_archive_audits_clean(copy):
    code, report = audit_json(copy)
    assert code == 0, report
    assert report["errors"] == 0 and codes(report) == set()
    signing = [(f["severity"], f["code"]) for f in report["findings"] if f["where"] == SIG_NAME]
    assert signing == [("warning", "unsigned")]  # no key: a warning, never a failure
    assert report["entries"] == 5  # 2 captures, the seal of each run's WARC, 1 ingest
    assert report["files"] == 6  # 3 WARCs + 3 articles


def test_text_summary_line(copy):
    result = Cli(copy)("audit")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].startswith("audit OK: 5 manifest entries, 6 files")


def test_flipped_byte_in_a_warc(copy):
    rel = a_warc(copy)
    path = copy / rel
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, report = audit_json(copy)
    assert code == 1
    assert codes(report) == {("checksum-mismatch", rel)}
    finding = next(f for f in report["findings"] if f["code"] == "checksum-mismatch")
    assert finding["details"]["expected"] != finding["details"]["actual"]


def test_truncated_warc(copy):
    rel = a_warc(copy)
    path = copy / rel
    path.write_bytes(path.read_bytes()[:-100])
    code, report = audit_json(copy)
    assert code == 1
    assert codes(report) == {("size-changed", rel), ("checksum-mismatch", rel)}


def test_bytes_appended_to_a_warc(copy):
    rel = a_warc(copy)
    with open(copy / rel, "ab") as f:
        f.write(b"extra")
    code, report = audit_json(copy)
    assert code == 1
    assert ("size-changed", rel) in codes(report)


def test_deleted_article_file(copy):
    rel = an_article(copy)
    (copy / rel).unlink()
    code, report = audit_json(copy)
    assert code == 1
    assert codes(report) == {("missing-file", rel)}


def test_one_character_of_article_text_changed(copy):
    rel = an_article(copy)
    path = copy / rel
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    first = doc["body"][0]
    # swap two characters: same bytes, same size, different text
    changed = text.replace(first, first[1] + first[0] + first[2:], 1)
    assert changed != text and len(changed.encode()) == len(text.encode())
    path.write_text(changed, encoding="utf-8")
    code, report = audit_json(copy)
    assert code == 1
    assert codes(report) == {("checksum-mismatch", rel)}


def test_manifest_line_deleted_in_the_middle(copy):
    lines = manifest_lines(copy)
    assert b'"event":"capture"' in lines[2]
    del lines[2]
    write_lines(copy, lines)
    code, report = audit_json(copy)
    assert code == 1
    found = codes(report)
    assert ("seq-out-of-order", "manifest.jsonl:3") in found
    assert ("broken-link", "manifest.jsonl:3") in found
    # the deleted capture's article is now an orphan
    assert any(c == "orphan-file" and w.startswith("articles/") for c, w in found)


def test_a_deleted_seal_event_leaves_an_unsealed_warc(copy):
    lines = manifest_lines(copy)
    assert b'"event":"message digest calculation"' in lines[1]
    sealed = json.loads(lines[1])["files"][0]["path"]
    del lines[1]
    write_lines(copy, lines)
    code, report = audit_json(copy)
    assert code == 1
    assert ("unsealed-file", sealed) in codes(report)


def test_two_manifest_lines_swapped(copy):
    lines = manifest_lines(copy)
    lines[0], lines[1] = lines[1], lines[0]
    write_lines(copy, lines)
    code, report = audit_json(copy)
    assert code == 1
    found = codes(report)
    assert ("seq-out-of-order", "manifest.jsonl:1") in found
    assert ("broken-link", "manifest.jsonl:1") in found
    assert ("broken-link", "manifest.jsonl:2") in found


def test_edited_byline_with_recomputed_hash_is_still_caught(copy):
    lines = manifest_lines(copy)
    entry = json.loads(lines[0])
    entry["articles"][0]["byline"]["raw"] = "Someone Else/VOV.VN"
    entry["hash"] = manifest.entry_hash(entry)
    lines[0] = manifest.canonical(entry) + b"\n"
    write_lines(copy, lines)
    code, report = audit_json(copy)
    assert code == 1
    found = codes(report)
    assert ("broken-link", "manifest.jsonl:2") in found  # the next entry still links the old hash
    assert ("edited-entry", "manifest.jsonl:1") not in found  # its own hash was made to match
    article = entry["articles"][0]["path"]
    assert ("byline-mismatch", article) in found  # and the article file disagrees


def test_edited_entry_without_recomputing_its_hash(copy):
    lines = manifest_lines(copy)
    lines[2] = lines[2].replace(b'"detail":"', b'"detail":"x', 1)
    write_lines(copy, lines)
    code, report = audit_json(copy)
    assert code == 1
    assert ("edited-entry", "manifest.jsonl:3") in codes(report)


def test_torn_last_line_then_repair(copy):
    lines = manifest_lines(copy)
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    write_lines(copy, lines)
    code, report = audit_json(copy)
    assert code == 1
    assert ("torn-line", "manifest.jsonl:5") in codes(report)

    run = Cli(copy)
    dry = run("repair")
    assert "would cut" in dry.output
    assert manifest_lines(copy)[-1] == lines[-1]
    fixed = run("repair", "--yes")
    assert fixed.exit_code == 0 and "removed" in fixed.output
    after = entries(copy)
    assert [e["seq"] for e in after] == [0, 1, 2, 3, 4]  # the torn 5th line became the repair
    assert after[-1]["event"] == "repair"
    code, report = audit_json(copy)
    assert ("torn-line", "manifest.jsonl:5") not in codes(report)
    assert {c for c, _ in codes(report)} <= {"orphan-file"}  # the torn entry's files


def test_appending_refuses_to_build_on_a_torn_line(copy):
    with open(copy / "manifest.jsonl", "ab") as f:
        f.write(b'{"seq": 3, "trunc')
    with pytest.raises(Exception, match="torn write"):
        manifest.append(copy / "manifest.jsonl", manifest.new_event("validation", "success"))


def test_orphan_warc_is_a_warning_only(copy):
    rel = a_warc(copy)
    orphan = (copy / rel).with_name("20200101T000000Z-deadbeef.warc.gz")
    shutil.copy(copy / rel, orphan)
    code, report = audit_json(copy)
    assert code == 0
    assert report["errors"] == 0
    assert codes(report) == {("orphan-file", Archive(copy).relpath(orphan))}


def test_unknown_record_id(copy):
    lines = manifest_lines(copy)
    entry = json.loads(lines[-1])
    entry["records"][1]["id"] = "<urn:uuid:00000000-0000-0000-0000-000000000000>"
    entry["hash"] = manifest.entry_hash(entry)
    lines[-1] = manifest.canonical(entry) + b"\n"
    write_lines(copy, lines)
    code, report = audit_json(copy)
    assert code == 1
    assert ("unknown-record-id", entry["records"][1]["file"]) in codes(report)


def test_record_appends_a_fixity_check_event(copy):
    result = Cli(copy)("audit", "--record")
    assert result.exit_code == 0
    last = entries(copy)[-1]
    assert last["event"] == "fixity check"
    assert last["outcome"]["status"] == "success"
    assert last["summary"]["files"] == 6
    assert list(manifest.verify_chain(copy / "manifest.jsonl")) == []


def test_no_archive_is_exit_2(tmp_path):
    result = Cli(tmp_path / "nothing")("audit")
    assert result.exit_code == 2
    assert "no manifest" in result.output


def test_log_shows_provenance(copy):
    result = Cli(copy)("log", "--url", "post1064050")
    assert result.exit_code == 0
    assert "capture success" in result.output
    assert "ingestion success" in result.output
    assert "byline 'PV/VOV.VN' authors ['PV'] source 'VOV.VN'" in result.output
    events = Cli(copy).json_lines("log", "--event", "ingestion")
    assert [e["event"] for e in events] == ["ingestion"]
    assert events[0]["source"]["file"]["name"] == SEED_DOCUMENT.name


def test_record_ids_at_reads_headers_of_plain_and_gzip_records(tmp_path):
    import gzip
    from datetime import UTC, datetime

    from archiver.store.warc import WarcFileWriter, record_ids_at

    gz = tmp_path / "x.warc.gz"
    with open(gz, "wb") as f:
        writer = WarcFileWriter(f, gz.name)
        refs = [writer.write_record("resource", f"https://example.org/{n}", b"a" * size,
                                    datetime.now(UTC), content_type="text/plain",
                                    payload_digest=None) for n, size in ((1, 9000), (2, 1))]
    assert record_ids_at(gz, [r.offset for r in refs] + [5]) == {
        refs[0].offset: refs[0].record_id, refs[1].offset: refs[1].record_id, 5: None}
    # the same records uncompressed, as foreign tools may write them
    data = gz.read_bytes()
    members = [gzip.decompress(data[r.offset:r.offset + r.length]) for r in refs]
    plain = tmp_path / "x.warc"
    plain.write_bytes(b"".join(members))
    assert record_ids_at(plain, [0, len(members[0]), 3]) == {
        0: refs[0].record_id, len(members[0]): refs[1].record_id, 3: None}


def test_record_ids_read_from_the_hashed_bytes_agree_with_reading_the_file(tmp_path):
    """Audit takes the record ids from the buffer it hashes: a header block cut by the end of
    a read is left to record_ids_at, and the two together give every id record_ids_at does,
    for records spanning several reads of the buffer."""
    import random
    from datetime import UTC, datetime

    from archiver.check import fixity
    from archiver.store.archive import COPY_CHUNK
    from archiver.store.warc import WarcFileWriter, record_ids_at, record_ids_in

    rng = random.Random(3)
    gz = tmp_path / "x.warc.gz"
    with open(gz, "wb") as f:
        writer = WarcFileWriter(f, gz.name)
        refs = [writer.write_record("resource", f"https://example.org/{n}",
                                    rng.randbytes(rng.randrange(1, 300_000)),
                                    datetime.now(UTC), content_type="application/octet-stream",
                                    payload_digest=None) for n in range(40)]
    data = gz.read_bytes()
    assert len(data) > 3 * COPY_CHUNK
    offsets = [*sorted(r.offset for r in refs), len(data) - 5]  # and one where none starts
    expected = record_ids_at(gz, offsets)
    assert expected[refs[7].offset] == refs[7].record_id and expected[len(data) - 5] is None

    # a chunk that ends inside record 7's header block: its id is left for the file read
    cut = memoryview(data)[:refs[7].offset + 20]
    found = record_ids_in(cut, 0, offsets)
    assert refs[7].offset not in found
    assert found == {r.offset: r.record_id for r in refs[:7]}
    # the same bytes seen from an offset inside the file
    assert record_ids_in(memoryview(data)[refs[3].offset:refs[5].offset + 2000],
                         refs[3].offset, offsets) == \
        {r.offset: r.record_id for r in refs[3:6]}

    sha, size, in_read = fixity.sha256_file(gz, offsets)
    assert (sha, size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert in_read.items() <= expected.items() and len(in_read) >= len(offsets) - 4
    exp = fixity.Expected("x.warc.gz", sha, size, 1, {r.record_id: r.offset for r in refs})
    assert list(fixity._check_records(gz, exp, in_read)) == []
    assert list(fixity._check_records(gz, exp, found)) == []  # records 7-39 read from the file
    exp.records["<urn:uuid:not-there>"] = refs[9].offset + 1
    [finding] = fixity._check_records(gz, exp, found)
    assert (finding.code, finding.offset) == ("unknown-record-id", refs[9].offset + 1)


def test_two_entries_claiming_one_file_with_different_checksums(copy):
    lines = manifest_lines(copy)
    entry = json.loads(lines[-1])
    claimed = entry["files"][0]
    forged = manifest.new_event("ingestion", "success", source={"url": "https://example.org/"},
                                files=[{**claimed, "sha256": "0" * 64}])
    manifest.append(copy / "manifest.jsonl", forged)
    code, report = audit_json(copy)
    assert code == 1
    found = codes(report)
    assert ("conflicting-entries", claimed["path"]) in found
    assert ("checksum-mismatch", claimed["path"]) in found  # the forged claim fails fixity


def test_forked_workers_give_the_same_findings_in_order_as_threads(copy, monkeypatch):
    """A large manifest's files and chain are checked by forked processes (batches of files,
    and the chain with the catalog as one task beside them); their findings must merge back
    exactly where the one-thread order puts them, as threads' do for a small one."""
    from concurrent.futures import ThreadPoolExecutor

    from archiver.check import audit as audit_mod

    lines = manifest_lines(copy)
    lines[0], lines[1] = lines[1], lines[0]  # chain findings on lines 1 and 2
    lines[2] = lines[2].replace(b'"detail":"', b'"detail":"x', 1)  # edited entry, line 3
    write_lines(copy, lines)
    rel = a_warc(copy)
    data = bytearray((copy / rel).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / rel).write_bytes(bytes(data))
    (copy / an_article(copy)).unlink()
    # and a catalog row that disagrees with the manifest (checked beside the chain)
    with sqlite3.connect(copy / "catalog.sqlite") as conn:
        assert conn.execute("UPDATE captures SET offset = offset + 1 WHERE rowid = "
                            "(SELECT min(rowid) FROM captures)").rowcount == 1

    def run(threshold: int) -> list[dict]:
        monkeypatch.setattr(audit_mod, "FORK_BYTES", threshold)
        monkeypatch.setattr(audit_mod, "BATCH_FILES", 1)  # a batch a file: many in flight
        report = audit_mod.audit(Archive(copy), jobs=2)
        return [f.to_dict() for f in report.findings]

    with audit_mod._workers(Archive(copy), 2) as pool:  # small: threads
        assert isinstance(pool, ThreadPoolExecutor)
    monkeypatch.setattr(audit_mod, "FORK_BYTES", 0)
    with audit_mod._workers(Archive(copy), 2) as pool:
        assert not isinstance(pool, ThreadPoolExecutor)
        assert pool.submit(os.getpid).result() != os.getpid()  # a forked process
    in_process, forked_findings = run(1 << 40), run(0)
    assert forked_findings == in_process
    found = [(f["code"], f["where"]) for f in in_process]
    assert {"checksum-mismatch", "missing-file", "edited-entry", "broken-link",
            "catalog-row-mismatch"} <= {code for code, _ in found}
    # one sequential pass's order: line 1's chain findings, then its (the seal's) file, then
    # line 2's chain findings
    at = found.index(("checksum-mismatch", rel))
    assert all(i < at for i, (_, w) in enumerate(found) if w == "manifest.jsonl:1")
    assert all(i > at for i, (_, w) in enumerate(found) if w == "manifest.jsonl:2")
    assert ("broken-link", "manifest.jsonl:2") in found


def test_sha256_file_and_ranges_with_reused_per_thread_buffers(tmp_path):
    """The fixity hashing reuses one read buffer per thread: digests of many files of sizes
    around the buffer's, hashed by several threads at once, are still each file's own."""
    import hashlib
    import random
    from concurrent.futures import ThreadPoolExecutor

    from archiver.check import fixity
    from archiver.store.archive import COPY_CHUNK

    rng = random.Random(7)
    sizes = [0, 1, COPY_CHUNK - 1, COPY_CHUNK, COPY_CHUNK + 1, 3 * COPY_CHUNK + 5] * 3
    paths = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}"
        path.write_bytes(rng.randbytes(size))
        paths.append(path)
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(fixity.sha256_file, paths))
    assert got == [(hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size, {})
                   for p in paths]
    data = paths[-1].read_bytes()
    for offset, length in [(0, len(data)), (5, COPY_CHUNK + 7), (len(data) - 3, 3)]:
        expected = hashlib.sha256(data[offset:offset + length]).hexdigest()
        assert fixity._hash_range(paths[-1], offset, length) == expected
    assert fixity._hash_range(paths[-1], len(data) - 3, 4) is None  # past the end


@pytest.mark.parametrize("fork_bytes", [0, 1 << 40])  # forked processes, threads
def test_progress_adds_up_to_the_manifest_batch_by_batch(copy, monkeypatch, fork_bytes):
    from archiver.check import audit as audit_mod

    monkeypatch.setattr(audit_mod, "FORK_BYTES", fork_bytes)
    monkeypatch.setattr(audit_mod, "BATCH_FILES", 1)
    started, told = [], []
    report = audit_mod.audit(Archive(copy), jobs=2, on_start=started.append,
                             progress=told.append)
    assert report.ok
    assert started == [(copy / "manifest.jsonl").stat().st_size] == [sum(told)]
    assert len(told) > 2 and all(n > 0 for n in told)


def _busy_forked_audit(copy: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """An audit in its own process group whose two forked workers are busy (a 3 GB sparse
    file to hash: seconds of work), and their process ids."""
    with open(copy / a_warc(copy), "r+b") as f:
        f.truncate(3 << 30)
    code = ("import sys; from archiver.check import audit; audit.FORK_BYTES = 0; "
            "from archiver.cli.main import main; main()")
    proc = subprocess.Popen([sys.executable, "-c", code, "audit", "--quiet", "--archive",
                             str(copy)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    while len(children.read_text().split()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    return proc, [int(pid) for pid in children.read_text().split()]


def test_ctrl_c_stops_forked_workers_quietly(copy):
    """Ctrl-C reaches the whole process group: the workers leave it to the parent, which stops
    them; no worker prints a traceback of its own, and none is left running."""
    proc, _ = _busy_forked_audit(copy)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert err.decode().split() == ["Aborted!"], err.decode()  # no worker's own report
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # no worker left in the group


def test_a_killed_worker_ends_the_audit_with_an_error_not_a_hang(copy):
    """The OOM killer, or an operator, kills a worker mid-batch: its batch is lost, and
    audit says it concludes nothing (a multiprocessing.Pool would have waited forever)."""
    proc, workers = _busy_forked_audit(copy)
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    [line] = err.decode().splitlines()
    assert line.startswith("Error: a worker process died") and "run the command again" in line
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)


def _audit_in_child(root: str) -> list[dict]:
    from archiver.check import audit as audit_mod

    return [f.to_dict() for f in audit_mod.audit(Archive(Path(root))).findings]


def test_audit_inside_a_daemonic_worker_checks_in_threads(copy, monkeypatch):
    """A pool's worker (daemonic) may not start processes: audit checks in threads."""
    import multiprocessing

    from archiver.check import audit as audit_mod

    lines = manifest_lines(copy)
    lines[0], lines[1] = lines[1], lines[0]
    write_lines(copy, lines)
    monkeypatch.setattr(audit_mod, "FORK_BYTES", 0)  # inherited by the forked pool
    with multiprocessing.get_context("fork").Pool(1) as pool:
        found = pool.apply(_audit_in_child, (str(copy),))
    assert found == _audit_in_child(str(copy))
    assert {"code": "broken-link", "where": "manifest.jsonl:1"}.items() <= \
        next(f for f in found if f["code"] == "broken-link").items()
