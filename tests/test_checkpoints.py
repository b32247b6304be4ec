"""Checkpoints others can cosign: the head as a C2SP signed note (signed-note, tlog-checkpoint),
witness cosignatures (tlog-cosignature/v1), and what audit makes of them: forks, rewritten
heads, missing or edited checkpoint files, too few witnesses. The formats are checked against
the C2SP text itself (its signed-note example vector) and with `cryptography` alone."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, rewrite_history
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archiver.store import checkpoints, manifest, signing
from archiver.store.archive import Archive


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "keys"
    monkeypatch.setenv(signing.ENV_KEY, str(folder / "ed25519.key"))
    monkeypatch.delenv(signing.ENV_TRUSTED, raising=False)
    signing.keygen()
    signing.keygen(folder / "witness1.key")
    signing.keygen(folder / "witness2.key")
    return folder


def grow(archive_dir: Path, entries: int) -> Archive:
    archive = Archive(archive_dir).ensure()
    for i in range(entries):
        manifest.append(archive.manifest_path,
                        manifest.new_event("validation", "success", f"event {i}",
                                           operator="tester"))
    return archive


def audit(run, *args: str) -> tuple[int, list[dict]]:
    result = run("audit", "--json", *args)
    report = json.loads(result.stdout.splitlines()[-1])
    return result.exit_code, [f for f in report["findings"] if f["severity"] != "info"]


def codes(findings: list[dict]) -> set[str]:
    return {f["code"] for f in findings if f["severity"] == "error"}


def checkpoint(run) -> Path:
    [made] = run.json_lines("checkpoint")
    return Path(made["checkpoint"])


def cosign(run, note: Path, key: Path, name: str) -> tuple[Path, str]:
    result = run("cosign", str(note), "--key", str(key), "--name", name, "--json",
                 archive=False)
    assert result.exit_code == 0, result.output
    made = json.loads(result.stdout)
    return Path(made["cosigned"]), made["vkey"]


def test_the_spec_example_note_verifies():
    """c2sp.org/signed-note's own example: its vkey verifies its note with our parser."""
    verifier = checkpoints.Verifier.parse(
        "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k")
    note = checkpoints.Note.parse(
        "This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1Y"
        "Eq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")
    [(name, blob)] = note.signatures
    assert name == verifier.name and blob[:4] == verifier.key_id
    verifier.public.verify(blob[4:], note.text.encode())


def test_a_checkpoint_is_a_c2sp_signed_note_of_the_head(run, keys, archive_dir):
    archive = grow(archive_dir, 3)
    path = checkpoint(run)
    head = manifest.read_last(archive.manifest_path)
    assert head is not None and head["event"] == "digital signature generation"
    assert head["checkpoint"]["file"] == path.relative_to(archive_dir).as_posix()
    text = path.read_text("utf-8")
    body, _, sig_line = text.partition("\n\n")
    origin, size, root = body.split("\n")
    assert origin == "archive" and size == "3"  # seqs 0..2, before the checkpoint's event
    entries = list(manifest.iter_entries(archive.manifest_path))
    assert base64.b64decode(root).hex() == entries[2]["hash"].removeprefix("sha256:")
    dash, name, blob = sig_line.rstrip("\n").split(" ")
    assert dash == "\u2014" and name == "archive"
    raw = base64.b64decode(blob)
    private = serialization.load_pem_private_key((keys / "ed25519.key").read_bytes(), None)
    assert isinstance(private, Ed25519PrivateKey)
    public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    assert raw[:4] == hashlib.sha256(b"archive\n\x01" + public).digest()[:4]
    private.public_key().verify(raw[4:], (body + "\n").encode())
    code, findings = audit(run)
    assert code == 0 and not codes(findings)


def test_a_witness_cosignature_is_tlog_cosignature_v1(run, keys, archive_dir):
    grow(archive_dir, 2)
    note = checkpoint(run)
    cosigned, vkey = cosign(run, note, keys / "witness1.key", "example.org/w1")
    assert cosigned.parent == note.parent and cosigned.suffix == ".cosig"
    text, _, sigs = cosigned.read_text("utf-8").partition("\n\n")
    assert text + "\n" == note.read_text("utf-8").partition("\n\n")[0] + "\n"
    line = sigs.splitlines()[-1]
    assert line.startswith("\u2014 example.org/w1 ")
    raw = base64.b64decode(line.split(" ")[2])
    witness = serialization.load_pem_private_key((keys / "witness1.key").read_bytes(), None)
    assert isinstance(witness, Ed25519PrivateKey)
    public = witness.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
    assert raw[:4] == hashlib.sha256(b"example.org/w1\n\x04" + public).digest()[:4]
    stamp = int.from_bytes(raw[4:12], "big")
    witness.public_key().verify(raw[12:], f"cosignature/v1\ntime {stamp}\n{text}\n".encode())
    assert vkey == "example.org/w1+" + raw[:4].hex() + "+" + base64.b64encode(
        b"\x04" + public).decode()
    code, findings = audit(run, "--witness", vkey)
    assert code == 0 and not codes(findings)


def test_audit_requires_the_witnesses(run, keys, archive_dir):
    grow(archive_dir, 2)
    note = checkpoint(run)
    _, vkey1 = cosign(run, note, keys / "witness1.key", "w1")
    vkey2 = checkpoints.vkey("w2", signing.load_private(keys / "witness2.key").public_key())
    assert audit(run, "--witness", vkey1)[0] == 0
    code, findings = audit(run, "--witness", vkey1, "--witness", vkey2, "--witnesses-min", "2")
    assert code == 1 and codes(findings) == {"checkpoint-unwitnessed"}
    cosign(run, note, keys / "witness2.key", "w2")
    assert audit(run, "--witness", vkey1, "--witness", vkey2, "--witnesses-min", "2")[0] == 0
    too_many = run("audit", "--witness", vkey1, "--witnesses-min", "2")
    assert too_many.exit_code == 2 and "more than" in too_many.output
    bad = run("audit", "--witness", "not-a-vkey+zz+AA")
    assert bad.exit_code == 2 and "vkey" in bad.output


def test_a_later_cosigned_head_covers_earlier_checkpoints(run, keys, archive_dir):
    archive = grow(archive_dir, 2)
    checkpoint(run)
    grow(archive_dir, 2)
    later = checkpoint(run)
    _, vkey = cosign(run, later, keys / "witness1.key", "w1")
    assert audit(run, "--witness", vkey)[0] == 0
    grow(archive.root, 1)
    latest = checkpoint(run)  # not cosigned: the newest seqs are not witnessed
    code, findings = audit(run, "--witness", vkey)
    assert code == 1 and codes(findings) == {"checkpoint-unwitnessed"}
    [unwitnessed] = [f for f in findings if f["severity"] == "error"]
    assert f"size {latest.name.split('-')[0]}:" in unwitnessed["message"]


def test_a_fork_two_heads_for_one_size(run, keys, archive_dir):
    """An operator who signs a second history: the same size, another head."""
    archive = grow(archive_dir, 2)
    note = checkpoint(run)
    cp = checkpoints.Checkpoint.from_text(checkpoints.read_note(note).text)
    forged = checkpoints.Checkpoint(cp.origin, cp.size, "sha256:" + "ab" * 32)
    key = signing.load_private()
    public = checkpoints.raw_public(key.public_key())
    other = checkpoints.Note(forged.text(), [(cp.origin, checkpoints.key_id(
        cp.origin, checkpoints.ED25519, public) + key.sign(forged.text().encode()))])
    checkpoints.note_path(archive, forged).write_text(other.render(), "utf-8")
    code, findings = audit(run)
    assert code == 1 and codes(findings) == {"checkpoint-fork", "checkpoint-mismatch"}


def test_a_deleted_or_edited_checkpoint_is_a_finding(run, keys, archive_dir):
    grow(archive_dir, 2)
    note = checkpoint(run)
    original = note.read_bytes()
    note.write_bytes(original.replace(b"archive\n", b"archivf\n", 1))
    assert codes(audit(run)[1]) >= {"checkpoint-changed"}
    note.unlink()
    code, findings = audit(run)
    assert code == 1 and codes(findings) == {"checkpoint-missing"}


def test_a_tampered_cosignature_is_named(run, keys, archive_dir):
    grow(archive_dir, 2)
    note = checkpoint(run)
    cosigned, vkey = cosign(run, note, keys / "witness1.key", "w1")
    lines = cosigned.read_text("utf-8").splitlines(keepends=True)
    dash, name, blob = lines[-1].rstrip("\n").split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    lines[-1] = f"{dash} {name} {base64.b64encode(bytes(raw)).decode()}\n"
    cosigned.write_text("".join(lines), "utf-8")
    code, findings = audit(run, "--witness", vkey)
    assert code == 1 and codes(findings) == {"bad-cosignature", "checkpoint-unwitnessed"}


def test_a_checkpoint_of_a_rewritten_history(run, keys, archive_dir):
    archive = grow(archive_dir, 3)
    checkpoint(run)
    rewrite_history(archive.manifest_path)
    assert "checkpoint-mismatch" in codes(audit(run)[1])


def test_cosign_refuses_what_is_not_a_checkpoint(run, keys, tmp_path):
    bad = tmp_path / "x.note"
    bad.write_text("hello\n")
    result = run("cosign", str(bad), "--key", str(keys / "witness1.key"), archive=False)
    assert result.exit_code == 2 and "not a signed note" in result.output


def test_checkpoints_travel_in_a_wacz(run, keys, archive_dir, tmp_path):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    note = checkpoint(run)
    out = tmp_path / "x.wacz"
    assert run("export", "wacz", str(out)).exit_code == 0
    with zipfile.ZipFile(out) as zf:
        assert zf.read(f"archiver/checkpoints_{note.name}") == note.read_bytes()
    check = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(out)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout
    checked = run("verify", str(out), "--trusted-key", str(keys / "ed25519.pub"), "--json",
                  archive=False)
    statuses = {json.loads(x)["check"]: json.loads(x)["status"]
                for x in checked.stdout.splitlines()}
    assert statuses["manifest-checkpoints"] == "pass"
    _, vkey = cosign(run, note, keys / "witness1.key", "w1")
    assert run("export", "wacz", str(tmp_path / "y.wacz")).exit_code == 0
    other = checkpoints.vkey("w2", signing.load_private(keys / "witness2.key").public_key())
    for witness, status in ((vkey, "pass"), (other, "fail")):
        witnessed = run("verify", str(tmp_path / "y.wacz"), "--trusted-key",
                        str(keys / "ed25519.pub"), "--witness", witness, "--json",
                        archive=False)
        [line] = [json.loads(x) for x in witnessed.stdout.splitlines()
                  if json.loads(x)["check"] == "manifest-checkpoints"]
        assert line["status"] == status, line
    assert "no checkpoint at or after it carries 1 cosignature" in line["detail"]
    unkeyed = run("verify", str(out), "--json", archive=False)
    assert '"check": "manifest-checkpoints", "detail"' in unkeyed.stdout
    assert {json.loads(x)["check"]: json.loads(x)["status"] for x in
            unkeyed.stdout.splitlines()}["manifest-checkpoints"] == "skip"


def test_a_vkey_whose_base64_holds_a_plus_parses():
    while "+" not in (vkey := checkpoints.vkey("w", Ed25519PrivateKey.generate().public_key())
                      ).split("+", 2)[2]:
        pass
    assert checkpoints.Verifier.parse(vkey).name == "w"


def test_damaged_checkpoint_files_are_findings_never_tracebacks(run, keys, archive_dir):
    """Each byte of a checkpoint and of a cosigned copy flipped, cut, or replaced by a
    newline, an em dash, a '+' or a non-UTF-8 byte: audit's checkpoint step names it."""
    archive = grow(archive_dir, 2)
    note = checkpoint(run)
    cosigned, vkey = cosign(run, note, keys / "witness1.key", "w1")
    witness = [checkpoints.Verifier.parse(vkey)]
    for path in (note, cosigned):
        original = path.read_bytes()
        for i in range(0, len(original), 3):
            for new in (bytes([original[i] ^ 1]), b"", b"\n", "\u2014".encode(), b"+", b"\xff"):
                path.write_bytes(original[:i] + new + original[i + 1:])
                findings = checkpoints.verify(archive, signing.trusted_keys(), witness, 1)
                assert all(f.severity in ("error", "warning") for f in findings)
        path.write_bytes(original)
    result = run("cosign", str(archive_dir / "manifest.jsonl"), "--key",
                 str(keys / "witness1.key"), archive=False)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_the_library_audit_checks_checkpoints_and_witnesses(run, keys, archive_dir):
    """archiver.check.audit.audit itself (what --dask and library callers run), not only the
    CLI, verifies checkpoints and asks for the witnesses it is given."""
    from archiver.check import audit as audit_mod

    archive = grow(archive_dir, 2)
    note = checkpoint(run)
    _, vkey = cosign(run, note, keys / "witness1.key", "w1")
    witness = checkpoints.load_verifier(vkey)
    assert audit_mod.audit(archive, jobs=1, witnesses=[witness]).errors == 0
    other = checkpoints.load_verifier(cosign(run, note, keys / "witness2.key", "w2")[1])
    (other_path,) = [p for p in note.parent.iterdir() if p.name.endswith(".w2.cosig")]
    other_path.unlink()  # w2's cosignature gone: w2 required, missing
    report = audit_mod.audit(archive, jobs=1, witnesses=[witness, other], witnesses_min=2)
    assert {f.code for f in report.findings if f.severity == "error"} == \
        {"checkpoint-unwitnessed"}
    note.write_bytes(note.read_bytes().replace(b"archive\n", b"archivf\n", 1))
    assert "checkpoint-changed" in {f.code for f in audit_mod.audit(archive, jobs=1).findings}


def test_audit_record_records_the_checkpoint_findings(run, keys, archive_dir):
    archive = grow(archive_dir, 2)
    note = checkpoint(run)
    note.write_bytes(note.read_bytes().replace(b"archive\n", b"archivf\n", 1))
    result = run("audit", "--record")
    assert result.exit_code == 1
    last = manifest.read_last(archive.manifest_path)
    assert last is not None and last["event"] == "fixity check"
    assert last["outcome"]["status"] == "failure"
    assert "checkpoint-changed" in {f["code"] for f in last["findings"]}
    assert last["summary"]["errors"] >= 1
