"""audit across copies and `repair --from`: a damaged file is named, then replaced only with
bytes whose sha256 our manifest names (never a copy's own claim), with a `replacement` event;
a file with no good copy stays reported and untouched."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, Cli
from http_fixture import VOV_PATH, FixtureServer

from archiver.base import schemas
from archiver.store import manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """An archive (a capture's sealed rolling WARC, an ingest) and a replica of it."""
    base = tmp_path_factory.mktemp("built")
    root, copy = base / "archive", base / "copy"
    srv = FixtureServer().start()
    try:
        run = Cli(root)
        assert run("capture", srv.url(VOV_PATH)).exit_code == 0
        assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    finally:
        srv.shutdown()
        srv.server_close()
    assert run("replicate", str(copy), "--name", "vault").exit_code == 0
    return root, copy


@pytest.fixture
def pair(built, tmp_path) -> tuple[Path, Path]:
    """Fresh copies of both; replicas.json pointed at the new replica's place."""
    root, copy = tmp_path / "archive", tmp_path / "copy"
    shutil.copytree(built[0], root)
    shutil.copytree(built[1], copy)
    registry = json.loads((root / "replicas.json").read_text())
    registry["replicas"]["vault"]["url"] = str(copy)
    (root / "replicas.json").write_text(json.dumps(registry))
    return root, copy


def named(root: Path) -> dict[str, str]:
    return {f["path"]: f["sha256"] for e in manifest.iter_entries(root / "manifest.jsonl")
            for f in e.get("files") or []}


def flip(path: Path, at: int = 300) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x20
    path.write_bytes(bytes(data))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def the_warc(root: Path) -> str:
    """The capture's WARC (sealed: its seal event names it)."""
    return next(f["path"] for e in manifest.iter_entries(root / "manifest.jsonl")
                if e["event"] == "message digest calculation" for f in e["files"])


def test_flipped_byte_named_then_repaired_from_a_copy(pair):
    root, _ = pair
    run = Cli(root)
    warc = the_warc(root)
    want = named(root)[warc]
    flip(root / warc)
    damaged = (root / warc).read_bytes()

    audit = run("audit", "--json")
    assert audit.exit_code == 1
    assert ("checksum-mismatch", warc) in {(f["code"], f["where"])
                                           for f in json.loads(audit.output)["findings"]}
    across = json.loads(run("audit", "--copies", "--json").output)
    assert across["good_copies"][warc] == 1 and warc in across["one_or_no_good_copy"]

    listed = run("repair", "--from", "vault")  # without --yes: a list, nothing changed
    assert listed.exit_code == 0 and f"would-replace: {warc}" in listed.output
    assert (root / warc).read_bytes() == damaged

    done = run("repair", "--from", "vault", "--yes")
    assert done.exit_code == 0, done.output
    assert sha(root / warc) == want
    event = [e for e in manifest.iter_entries(root / "manifest.jsonl")
             if e["event"] == "replacement"][-1]
    assert event["details"] == {"file": warc, "found_sha256": hashlib.sha256(damaged).hexdigest(),
                                "sha256": want, "source": "vault",
                                "source_url": event["details"]["source_url"]}
    assert event["agent"]["software"] == "archiver"
    assert schemas.validate(event, "manifest-entry") == []
    assert run("audit").exit_code == 0
    assert run("audit", "--copies").exit_code == 0


def test_a_missing_file_is_replaced_and_recorded_as_missing(pair):
    root, _ = pair
    article = next(p for p in named(root) if p.startswith("articles/"))
    (root / article).unlink()
    assert Cli(root)("repair", "--from", "vault", "--yes").exit_code == 0
    assert sha(root / article) == named(root)[article]
    event = [e for e in manifest.iter_entries(root / "manifest.jsonl")
             if e["event"] == "replacement"][-1]
    assert event["details"]["found_sha256"] == "missing"


def test_a_forged_claim_in_the_copy_is_never_believed(pair):
    """Both copies damaged; the copy's manifest forged to claim its damaged bytes (every
    hash recomputed): repair refuses, the file stays as it was, and the fork is named."""
    root, copy = pair
    run = Cli(root)
    warc = the_warc(root)
    flip(root / warc, 300)
    flip(copy / warc, 400)
    ours_before = (root / warc).read_bytes()
    forged_sha, forged_size = sha(copy / warc), (copy / warc).stat().st_size
    entries = list(manifest.iter_entries(copy / "manifest.jsonl"))
    for entry in entries:
        for f in entry.get("files") or []:
            if f["path"] == warc:
                f["sha256"], f["size"] = forged_sha, forged_size
    for i, entry in enumerate(entries):
        entry["prev"] = manifest.GENESIS if i == 0 else entries[i - 1]["hash"]
        entry["hash"] = manifest.entry_hash(entry)
    (copy / "manifest.jsonl").write_bytes(b"".join(manifest.canonical(e) + b"\n"
                                                   for e in entries))
    assert Cli(copy)("audit").exit_code == 0  # the forgery is consistent on its own...

    result = run("repair", "--from", "vault", "--yes", "--json")
    assert result.exit_code == 1
    mends = [json.loads(line) for line in result.output.splitlines()]
    assert {"path": warc, "outcome": "no-good-copy"}.items() <= mends[0].items()
    assert (root / warc).read_bytes() == ours_before  # untouched
    assert not [e for e in manifest.iter_entries(root / "manifest.jsonl")
                if e["event"] == "replacement"]
    across = json.loads(run("audit", "--copies", "--json").output)
    codes = {(f["code"], f["where"]) for f in across["findings"]}
    assert ("copy-fork", "vault") in codes  # ...but it is not our chain
    assert ("no-good-copy", warc) in codes


def test_a_good_file_is_never_overwritten(pair):
    root, copy = pair
    warc = the_warc(root)
    flip(copy / warc)  # the copy is the damaged one
    before = (root / warc).stat()
    result = Cli(root)("repair", "--from", "vault", "--yes")
    assert result.exit_code == 0 and "0 replaced" in result.output
    after = (root / warc).stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)


def test_an_unknown_replica_is_one_line_exit_2(pair):
    root, _ = pair
    result = Cli(root)("audit", "--replica", "nowhere")
    assert result.exit_code == 2 and "no such replica" in result.output
    assert "vault" in result.output


def test_an_unreadable_file_here_is_one_line_not_a_traceback(pair):
    """A folder planted where this archive's article should be: open_regular refuses it
    with an OSError, which audit --copies must report in one line (catch_exceptions=False
    would raise a traceback here)."""
    root, _ = pair
    article = next(p for p in named(root) if p.startswith("articles/"))
    (root / article).unlink()
    (root / article).mkdir()
    result = Cli(root)("audit", "--copies")
    assert result.exit_code == 1 and "not a regular file" in result.output


def test_one_copy_named_twice_is_counted_once(pair):
    """`--copies` plus `--replica PATH` of the same replica (or a name given twice) must not
    count one copy as two good ones."""
    root, copy = pair
    across = json.loads(Cli(root)("audit", "--copies", "--replica", str(copy),
                                  "--replica", "vault", "--json").output)
    assert len(across["copies"]) == 1
    assert set(across["good_copies"].values()) == {2}  # this archive and the one copy


def test_a_copy_behind_is_reported_with_how_far(pair, tmp_path):
    root, _ = pair
    run = Cli(root)
    (tmp_path / "more.txt").write_text("Tin mới về zebrafinch.\n\nPV/VOV.VN\n")
    more = run("ingest", str(tmp_path / "more.txt"), "--url", "https://vov.vn/extra-1")
    assert more.exit_code == 0
    report = json.loads(run("audit", "--copies", "--json").output)
    state = report["copies"][0]
    assert state["state"] == "prefix" and state["behind"] >= 2  # replication, ingestion
    assert state["not_yet_copied"] >= 1 and not state["missing"]
    assert report["ok"]  # behind is not damage
    assert ("copy-behind", "vault") in {(f["code"], f["where"]) for f in report["findings"]}


LINES = [json.dumps({"seq": i, "hash": f"h{i}"}).encode() + b"\n" for i in range(6)]


@pytest.mark.parametrize("chunk", [1, 5, 1 << 20])  # streamed: a line split across reads
@pytest.mark.parametrize(("theirs", "expected"), [
    (b"".join(LINES), ("prefix", 5, None, 6)),
    (b"".join(LINES[:2]), ("prefix", 1, None, 2)),
    (b"", ("prefix", -1, None, 0)),
    (b"".join(LINES[:3]) + LINES[3].replace(b"h3", b"h9") + LINES[4], ("fork", 2, 3, 5)),
    (LINES[0].replace(b"h0", b"hX"), ("fork", -1, 0, 1)),
    (b"".join(LINES) + b'{"seq": 6}\n{"seq": 7}\n', ("ahead", 7, None, 8)),
    (b"".join(LINES[:2]) + LINES[2][:9], ("fork", 1, 2, 3)),  # torn: its last line differs
])
def test_lineage_compares_manifests_streamed(tmp_path, monkeypatch, chunk, theirs, expected):
    from archiver.check import copies
    from archiver.store.destinations import Folder

    monkeypatch.setattr(copies, "LINEAGE_CHUNK", chunk)
    ours = tmp_path / "ours.jsonl"
    ours.write_bytes(b"".join(LINES) + b'{"seq": 6}\n')  # a line past the head compared
    (tmp_path / "copy").mkdir()
    assert copies.lineage(ours, sum(map(len, LINES)), Folder(tmp_path / "copy")).state == "none"
    (tmp_path / "copy" / "manifest.jsonl").write_bytes(theirs)
    found = copies.lineage(ours, sum(map(len, LINES)), Folder(tmp_path / "copy"))
    assert (found.state, found.head_seq, found.fork_seq, found.lines) == expected
