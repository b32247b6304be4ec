"""`archiver replicate DEST`: a copy that is at every moment a valid archive at some head,
brought up to date incrementally, healed where it differs from our manifest, refused where
it would be no copy (inside the archive, a fork, a second run at once), and left valid by a
SIGKILL at any point."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, Cli, build_two_captures_and_ingest
from http_fixture import VOV_PATH, FixtureServer

from archiver.store import manifest
from archiver.store.archive import TEMP_PREFIX


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """Two captures (a sealed rolling WARC each) and one ingest (a WARC and an article)."""
    return build_two_captures_and_ingest(tmp_path_factory.mktemp("built") / "archive")


@pytest.fixture
def archive(built, tmp_path) -> Path:
    dest = tmp_path / "archive"
    shutil.copytree(built, dest)
    return dest


def named_files(root: Path) -> dict[str, str]:
    """path -> sha256 of every file a manifest entry names."""
    return {f["path"]: f["sha256"] for e in manifest.iter_entries(root / "manifest.jsonl")
            for f in e.get("files") or []}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def events(root: Path, kind: str) -> list[dict]:
    return [e for e in manifest.iter_entries(root / "manifest.jsonl") if e["event"] == kind]


def test_replicate_to_a_folder_then_a_rerun_copies_nothing(archive, tmp_path):
    run, dest = Cli(archive), tmp_path / "copy"
    result = run("replicate", str(dest), "--name", "disk2", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.splitlines()[-1])
    files = named_files(archive)
    assert summary["files"] == len(files) and summary["ok"]
    for rel, digest in files.items():
        assert sha(dest / rel) == digest  # byte-identical, under the final name
    assert not list(dest.rglob("*.open")) and not list(dest.rglob(".tmp-*"))
    # The copy is a valid archive on its own, at the head copied.
    assert Cli(dest)("audit").exit_code == 0
    copied = list(manifest.iter_entries(dest / "manifest.jsonl"))
    event = events(archive, "replication")[-1]
    assert event["details"]["replica"] == "disk2"
    assert event["details"]["head_seq"] == copied[-1]["seq"]
    assert event["details"]["files"] == len(files)
    assert event["details"]["bytes"] == sum((dest / r).stat().st_size for r in files)
    assert run("audit").exit_code == 0  # the new event type passes the schema and the chain
    known = json.loads((archive / "replicas.json").read_text())["replicas"]
    assert known["disk2"]["url"] == str(dest)

    again = run("replicate", str(dest), "--name", "disk2", "--json")
    assert again.exit_code == 0
    assert json.loads(again.output.splitlines()[-1])["files"] == 0
    assert Cli(dest)("audit").exit_code == 0
    # No file moved: no new event, and the copy now holds our head exactly.
    assert len(events(archive, "replication")) == 1
    assert (dest / "manifest.jsonl").read_bytes() == (archive / "manifest.jsonl").read_bytes()
    up_to_date = json.loads(run("audit", "--copies", "--json").output)
    assert up_to_date["copies"][0]["behind"] == 0 and up_to_date["ok"]


def test_dry_run_lists_and_copies_nothing(archive, tmp_path):
    dest = tmp_path / "copy"
    result = Cli(archive)("replicate", str(dest), "--dry-run")
    assert result.exit_code == 0
    assert all(rel in result.output for rel in named_files(archive))
    assert "would copy" in result.output
    assert not dest.exists() or not any(dest.rglob("*"))
    assert not events(archive, "replication")


def test_a_damaged_or_deleted_replica_file_is_named_then_healed(archive, tmp_path):
    run, dest = Cli(archive), tmp_path / "copy"
    assert run("replicate", str(dest), "--name", "c").exit_code == 0
    article = next(r for r in named_files(archive) if r.startswith("articles/"))
    warc = next(r for r in named_files(archive) if r.startswith("warcs/"))
    (dest / article).unlink()
    data = bytearray((dest / warc).read_bytes())
    data[200] ^= 0x01
    (dest / warc).write_bytes(bytes(data))
    os.utime(dest / warc, (1, 1))  # even with a changed mtime the size is the same

    result = run("audit", "--copies", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    found = {(f["code"], f["where"]) for f in report["findings"]}
    assert ("copy-missing-file", f"c:{article}") in found
    assert ("copy-damaged-file", f"c:{warc}") in found
    assert report["good_copies"][article] == 1
    assert article in report["one_or_no_good_copy"]

    healed = run("replicate", str(dest), "--name", "c", "--checksum", "--json")
    assert healed.exit_code == 0, healed.output
    lines = [json.loads(line) for line in healed.output.splitlines()]
    actions = {(a["path"], a["action"]) for a in lines if "action" in a}
    assert (article, "copy") in actions and (warc, "heal") in actions
    assert sha(dest / warc) == named_files(archive)[warc]
    assert events(archive, "replication")[-1]["details"]["healed"] == [warc]
    assert run("audit", "--copies").exit_code == 0


def test_a_forked_replica_is_named_and_never_written_over(archive, tmp_path):
    run, dest = Cli(archive), tmp_path / "copy"
    assert run("replicate", str(dest), "--name", "c").exit_code == 0
    # Someone else's archive at the same place: entry 1 rewritten, every hash recomputed.
    lines = (dest / "manifest.jsonl").read_bytes().splitlines()
    entries = [json.loads(line) for line in lines]
    entries[1]["outcome"]["detail"] = "another history"
    for i, entry in enumerate(entries):
        entry["prev"] = manifest.GENESIS if i == 0 else entries[i - 1]["hash"]
        entry["hash"] = manifest.entry_hash(entry)
    forged = b"".join(manifest.canonical(e) + b"\n" for e in entries)
    (dest / "manifest.jsonl").write_bytes(forged)
    result = run("audit", "--copies", "--json")
    assert result.exit_code == 1
    fork = [f for f in json.loads(result.output)["findings"] if f["code"] == "copy-fork"]
    assert fork and fork[0]["details"]["fork_seq"] == 1 and "seq 1" in fork[0]["message"]
    refused = run("replicate", str(dest), "--name", "c")
    assert refused.exit_code == 1 and "FORK" in refused.output and "seq 1" in refused.output
    assert "Traceback" not in refused.output
    assert (dest / "manifest.jsonl").read_bytes() == forged


def test_a_copy_inside_the_archive_is_refused(archive):
    result = Cli(archive)("replicate", str(archive / "warcs" / "copy"))
    assert result.exit_code == 2 and "inside the archive" in result.output
    assert not (archive / "warcs" / "copy").exists()


def test_a_second_run_at_once_is_refused_in_one_line(archive, tmp_path):
    from filelock import FileLock

    with FileLock(str(archive / "replicate.lock")):
        result = Cli(archive)("replicate", str(tmp_path / "copy"))
    assert result.exit_code == 2
    assert "another `archiver replicate` is running" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "copy" / "manifest.jsonl").exists()


def test_a_non_archive_folder_is_refused(archive, tmp_path):
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    result = Cli(archive)("replicate", str(tmp_path / "home"))
    assert result.exit_code == 2 and "not a copy of an archive" in result.output


def test_a_first_run_killed_before_its_manifest_is_resumed(archive, tmp_path):
    """Side files go before the manifest: a first run killed between them (or in the
    manifest's own write) leaves them and a temporary, but no manifest. The next run must
    resume, not refuse the folder as a stranger's."""
    run, dest = Cli(archive), tmp_path / "copy"
    assert run("replicate", str(dest), "--name", "disk2").exit_code == 0
    (dest / "manifest.jsonl").unlink()
    (dest / ".tmp-0badf00d-manifest.jsonl").write_bytes(b'{"seq": 0')
    (dest / "index.cdxj").write_bytes(b"")
    result = run("replicate", str(dest), "--name", "disk2")
    assert result.exit_code == 0, result.output
    assert sha(dest / "manifest.jsonl") == sha(archive / "manifest.jsonl")
    assert_valid_copy(archive, dest)


def test_replicate_to_a_read_only_folder_copy_then_audit_and_repair_from_it(archive, tmp_path):
    from test_read_only import make_read_only, make_writable

    run, dest = Cli(archive), tmp_path / "ro"
    assert run("replicate", str(dest), "--name", "ro").exit_code == 0
    make_read_only(dest)
    try:
        assert run("audit", "--replica", "ro").exit_code == 0
        refused = run("replicate", str(dest), "--name", "ro")
        assert refused.exit_code == 2 and "read-only" in refused.output
        article = next(r for r in named_files(archive) if r.startswith("articles/"))
        (archive / article).unlink()
        assert run("repair", "--from", "ro", "--yes").exit_code == 0
        assert sha(archive / article) == named_files(archive)[article]
    finally:
        make_writable(dest)


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    """~24 MB in ~40 WARCs (random image bytes: nothing compresses), so a copy takes long
    enough to be killed in the middle."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from builders import build_audit_archive
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return build_audit_archive(tmp_path_factory.mktemp("big") / "archive", 24_000_000, jobs=1)


def test_sigkill_at_random_points_leaves_a_valid_copy(big, tmp_path):
    source = big
    dest = tmp_path / "copy"
    rng = random.Random(22)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "archiver", "replicate", str(dest), "--archive",
               str(source), "--name", "k", "--quiet"]
    kills, removed = 0, set()
    for run in range(8):  # at least 4 runs; more (up to 8) if kills landed after the end
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # Kill mid-copy, not by the clock: a fixed delay missed a fast run on an idle machine
        # and landed before any write on a loaded one. Wait for the first file under a
        # temporary name at DEST (the copy is writing), then a random moment after it.
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline and not any(
                p.name.startswith(TEMP_PREFIX) for p in dest.rglob("*")):
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        assert_valid_copy(source, dest, lacking=removed)
        if run >= 3 and kills >= 2:
            break
        # Take half the copy's files away between runs: the next one has work again, and
        # must bring them back (until then the copy's audit may name only those).
        files = sorted(named_files(source))
        for rel in rng.sample(files, len(files) // 2):
            if (dest / rel).exists():
                (dest / rel).unlink()
                removed.add(rel)
    assert kills >= 2
    done = subprocess.run(command, env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert_valid_copy(source, dest)
    assert Cli(source)("audit", "--replica", "k").exit_code == 0


def assert_valid_copy(source: Path, dest: Path, lacking: set[str] = frozenset()) -> None:
    """No file under a final name with bytes other than ours; the manifest, if any, a prefix
    of ours and naming only files the copy holds: its audit is clean (warnings allowed) but
    for files taken away by the test (`lacking`)."""
    files = named_files(source)
    for path in dest.rglob("*"):
        rel = path.relative_to(dest).as_posix()
        if rel in files:
            assert sha(path) == files[rel], rel
    if (dest / "manifest.jsonl").exists():
        ours = (source / "manifest.jsonl").read_bytes()
        assert ours.startswith((dest / "manifest.jsonl").read_bytes())
        result = Cli(dest)("audit", "--json")
        errors = [f for f in json.loads(result.output)["findings"] if f["severity"] == "error"]
        assert all(f["code"] == "missing-file" and f["where"] in lacking for f in errors), errors


UNCOMMITTED = b"uncommitted capture bytes, no entry names them"


def open_warc_state(archive: Path) -> tuple[str, bytes]:
    """The archive as it is while its last capture's WARC is still being written: the seal
    event not yet in the manifest, the file still `.open`, an uncommitted capture appended.
    Returns the WARC's name and the seal line taken off."""
    lines = (archive / "manifest.jsonl").read_bytes().splitlines(keepends=True)
    seals = [i for i, line in enumerate(lines)
             if json.loads(line)["event"] == "message digest calculation"]
    last = seals[-1]
    seal = lines[last]
    rel = json.loads(seal)["files"][0]["path"]
    assert last == len(lines) - 1 or json.loads(lines[last + 1])["event"] != "capture"
    (archive / "manifest.jsonl").write_bytes(b"".join(lines[:last] + lines[last + 1:]))
    rest = [json.loads(line) for line in lines[last + 1:]]
    assert not rest or all(e["event"] != "capture" for e in rest)
    (archive / rel).rename(archive / (rel + ".open"))
    with open(archive / (rel + ".open"), "ab") as f:
        f.write(UNCOMMITTED)
    return rel, seal


def test_an_open_warc_goes_up_to_its_last_committed_range_then_sealed(tmp_path):
    root = tmp_path / "archive"
    srv = FixtureServer().start()
    try:
        assert Cli(root)("capture", srv.url(VOV_PATH)).exit_code == 0
    finally:
        srv.shutdown()
        srv.server_close()
    lines = (root / "manifest.jsonl").read_bytes().splitlines(keepends=True)
    if json.loads(lines[-1])["event"] != "message digest calculation":
        pytest.skip("the capture's run did not end with its seal")
    rel, seal = open_warc_state(root)
    sealed_bytes = (root / (rel + ".open")).read_bytes()[:-len(UNCOMMITTED)]
    assert Cli(root)("audit").exit_code == 0  # a valid archive with an open WARC

    dest = tmp_path / "copy"
    assert Cli(root)("replicate", str(dest), "--name", "c").exit_code == 0
    assert not (dest / rel).exists()
    assert (dest / (rel + ".open")).read_bytes() == sealed_bytes  # the committed ranges only
    assert Cli(dest)("audit").exit_code == 0

    # The writer seals it: the seal event is appended, the file renamed and cut.
    (root / (rel + ".open")).write_bytes(sealed_bytes)
    (root / (rel + ".open")).rename(root / rel)
    entry = json.loads(seal)
    body = {k: v for k, v in entry.items() if k not in ("seq", "prev", "hash")}
    manifest.append(root / "manifest.jsonl", body)
    assert Cli(root)("audit").exit_code == 0

    assert Cli(root)("replicate", str(dest), "--name", "c").exit_code == 0
    assert sha(dest / rel) == hashlib.sha256(sealed_bytes).hexdigest()
    assert not (dest / (rel + ".open")).exists()
    assert Cli(dest)("audit").exit_code == 0
    assert Cli(root)("audit", "--copies").exit_code == 0


def test_a_file_damaged_here_is_not_copied_and_the_manifest_stays_behind(archive, tmp_path):
    run, dest = Cli(archive), tmp_path / "copy"
    assert run("replicate", str(dest), "--name", "c").exit_code == 0
    before = (dest / "manifest.jsonl").read_bytes()
    article = next(r for r in named_files(archive) if r.startswith("articles/"))
    (tmp_path / "more.txt").write_text("Tin mới về zebrafinch.\n\nPV/VOV.VN\n")
    assert run("ingest", str(tmp_path / "more.txt"), "--url", "https://vov.vn/x-1").exit_code == 0
    new = next(r for r in named_files(archive) if r.startswith("articles/") and r != article
               and not (dest / r).exists())
    (archive / new).write_bytes(b"damaged here")
    result = run("replicate", str(dest), "--name", "c")
    assert result.exit_code == 1 and f"ERROR: {new}: source-damaged" in result.output
    assert not (dest / new).exists()
    assert (dest / "manifest.jsonl").read_bytes() == before  # still the older, valid head
    assert Cli(dest)("audit").exit_code == 0
    assert events(archive, "replication")[-1]["outcome"]["status"] == "failure"


def test_a_dest_that_fills_up_keeps_its_older_head_and_the_next_run_resumes(big, tmp_path):
    """A real full disk: a 1 MB tmpfs (root only; skipped where mounting is not allowed)."""
    source = big
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode()[:100]}")
    try:
        run, dest = Cli(source), mount / "copy"
        result = run("replicate", str(dest), "--name", "small")
        assert result.exit_code == 1
        assert "No space left on device" in result.output and "older head" in result.output
        assert "Traceback" not in result.output
        assert not list(dest.rglob(".tmp-*"))  # no temporary left behind
        assert not (dest / "manifest.jsonl").exists()
        assert_valid_copy(source, dest)  # what is under a final name is whole and right
        subprocess.run(["mount", "-o", "remount,size=64M", str(mount)], check=True)
        assert run("replicate", str(dest), "--name", "small").exit_code == 0
        assert_valid_copy(source, dest)
        assert Cli(dest)("audit").exit_code == 0
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)


def test_an_open_warc_that_grew_is_brought_up_to_date(tmp_path):
    """The quick check (size and mtime seen before) never keeps an open WARC whose committed
    end moved on: the new ranges are copied."""
    root = tmp_path / "archive"
    srv = FixtureServer().start()
    try:
        assert Cli(root)("capture", srv.url(VOV_PATH), srv.url("/gzip"),
                         "--commit-every", "1").exit_code == 0
    finally:
        srv.shutdown()
        srv.server_close()
    lines = (root / "manifest.jsonl").read_bytes().splitlines(keepends=True)
    parsed = [json.loads(line) for line in lines]
    captures = [i for i, e in enumerate(parsed) if e["event"] == "capture"]
    seal = next(i for i, e in enumerate(parsed) if e["event"] == "message digest calculation")
    rel = parsed[seal]["files"][0]["path"]
    if len(captures) < 2 or any(r["file"] != rel for i in captures for r in parsed[i]["ranges"]):
        pytest.skip("the two captures did not share one rolling WARC")
    whole = (root / rel).read_bytes()
    first = parsed[captures[0]]["ranges"][0]
    end_one = first["offset"] + first["length"]
    # State 1: one capture committed, the WARC open.
    keep = lines[:captures[0] + 1]
    (root / "manifest.jsonl").write_bytes(b"".join(keep))
    (root / rel).rename(root / (rel + ".open"))
    (root / (rel + ".open")).write_bytes(whole[:end_one])
    dest = tmp_path / "copy"
    assert Cli(root)("replicate", str(dest), "--name", "c").exit_code == 0
    assert (dest / (rel + ".open")).read_bytes() == whole[:end_one]
    # State 2: the second capture committed, then the seal: the whole file.
    body = [{k: v for k, v in parsed[i].items() if k not in ("seq", "prev", "hash")}
            for i in range(captures[0] + 1, len(parsed))]
    (root / (rel + ".open")).write_bytes(whole)
    manifest.append_many(root / "manifest.jsonl", [b for b in body if b["event"] == "capture"])
    assert Cli(root)("replicate", str(dest), "--name", "c").exit_code == 0
    assert (dest / (rel + ".open")).read_bytes() == whole
    assert Cli(dest)("audit").exit_code == 0


def test_a_dest_emptied_mid_copy_never_gets_a_manifest_naming_lost_files(archive, tmp_path):
    """DEST's files vanish while the run goes on (an unmount, someone's rm -rf): the
    manifest is not written over what is left; the next run copies everything again."""
    from archiver.check.copies import Replica
    from archiver.check.replicate import replicate
    from archiver.store.archive import Archive
    from archiver.store.destinations import Folder

    dest = tmp_path / "copy"
    total = len(named_files(archive))

    def vanish_at(when: int):
        seen = []

        def on_action(action) -> None:
            seen.append(action.path)
            if len(seen) == when:
                shutil.rmtree(dest / "warcs", ignore_errors=True)  # copies may go on
        return on_action

    # Once every file is copied (before the manifest): found by the last look.
    result = replicate(Archive(archive), Folder(dest), Replica("c", str(dest)),
                       on_action=vanish_at(total))
    assert any("gone from DEST" in a.detail for a in result.failed)
    assert not (dest / "manifest.jsonl").exists()
    # After the first file, while the others are copied: the run fails, no manifest either.
    shutil.rmtree(dest)
    result = replicate(Archive(archive), Folder(dest), Replica("c", str(dest)),
                       on_action=vanish_at(1))
    assert result.failed and not (dest / "manifest.jsonl").exists()
    assert Cli(archive)("replicate", str(dest), "--name", "c").exit_code == 0
    assert Cli(dest)("audit").exit_code == 0


def test_a_file_vanishing_at_dest_is_a_copy_failure_not_our_damage(archive, tmp_path):
    """A FileNotFoundError from DEST (its temporary removed under us) is DEST's failure: our
    own file is sound, so it must not be called `source-damaged`."""
    from archiver.check.copies import Replica
    from archiver.check.replicate import replicate
    from archiver.store.archive import Archive
    from archiver.store.destinations import Folder

    class Vanishing(Folder):
        def _write(self, rel, source, length, progress):
            super()._write(rel, source, length, progress)
            if rel.startswith("articles/"):
                self.path(rel).unlink()  # someone's rm, after the bytes went down
                os.open(self.path(rel), os.O_RDONLY)  # what the read-back meets

    dest = tmp_path / "copy"
    result = replicate(Archive(archive), Vanishing(dest), Replica("c", str(dest)))
    failed = {a.path: a.action for a in result.failed}
    assert failed and all(p.startswith("articles/") for p in failed)
    assert set(failed.values()) == {"failed"}
    assert not (dest / "manifest.jsonl").exists()
