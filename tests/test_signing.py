"""Signed manifest heads: an attacker who rewrites an entry and recomputes every hash after it
passes the chain check but not the signature check."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.store import manifest, signing
from archiver.store.archive import Archive


@pytest.fixture
def key_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key location outside the archive, and no trusted keys from the real environment."""
    key = tmp_path / "keys" / "ed25519.key"
    monkeypatch.setenv(signing.ENV_KEY, str(key))
    monkeypatch.delenv(signing.ENV_TRUSTED, raising=False)
    return key


def make_archive(root: Path, entries: int = 4) -> Archive:
    archive = Archive(root).ensure()
    for i in range(entries):
        manifest.append(archive.manifest_path,
                        manifest.new_event("validation", "success", f"event {i}",
                                           operator="tester"))
    return archive


def codes(findings: list) -> set[str]:
    return {f.code for f in findings}


def errors(findings: list) -> set[str]:
    return {f.code for f in findings if f.severity == "error"}


def rewrite_history(archive: Archive, seq: int) -> None:
    """Edit entry `seq` and recompute every hash and link after it: a consistent forged chain."""
    entries = list(manifest.iter_entries(archive.manifest_path))
    entries[seq]["outcome"]["detail"] = "forged"
    prev = entries[seq - 1]["hash"] if seq else manifest.GENESIS
    for entry in entries[seq:]:
        entry["prev"] = prev
        entry["hash"] = manifest.entry_hash(entry)
        prev = entry["hash"]
    archive.manifest_path.write_bytes(b"".join(manifest.canonical(e) + b"\n" for e in entries))


def test_keygen_writes_a_private_key_only_the_owner_can_read(run, key_env):
    result = run("keygen", archive=False)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(key_env.stat().st_mode) == 0o600
    assert signing.public_path(key_env).read_bytes().startswith(b"-----BEGIN PUBLIC KEY")
    again = run("keygen", archive=False)
    assert again.exit_code == 2 and "already exists" in again.output


def test_keygen_refuses_a_key_inside_the_archive(run, archive_dir, monkeypatch):
    monkeypatch.setenv(signing.ENV_KEY, str(archive_dir / "ed25519.key"))
    result = run("keygen")
    assert result.exit_code == 2
    assert "must not live inside the archive" in result.output
    assert not (archive_dir / "ed25519.key").exists()


def test_default_key_location_is_the_user_config_folder(monkeypatch, tmp_path):
    monkeypatch.delenv(signing.ENV_KEY, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert signing.default_key_path() == tmp_path / "cfg" / "archiver" / "ed25519.key"


def test_unsigned_archive_is_a_warning(tmp_path, key_env):
    findings = signing.verify(make_archive(tmp_path / "a"))
    assert [(f.severity, f.code) for f in findings] == [("warning", "unsigned")]


def test_sign_then_verify_clean(run, archive_dir, key_env):
    archive = make_archive(archive_dir)
    assert run("keygen", archive=False).exit_code == 0
    result = run("sign")
    assert result.exit_code == 0, result.output
    assert "signed seq 3" in result.output
    assert signing.verify(archive) == []


def test_rewritten_history_with_recomputed_hashes_is_caught(run, archive_dir, key_env):
    archive = make_archive(archive_dir)
    signing.keygen()
    assert run("sign").exit_code == 0
    rewrite_history(archive, 1)
    # The forged chain is self-consistent: only the signature can tell.
    assert list(manifest.verify_chain(archive.manifest_path)) == []
    assert errors(signing.verify(archive)) == {"signed-head-mismatch"}


def test_truncated_history_is_caught(archive_dir, key_env):
    archive = make_archive(archive_dir)
    signing.keygen()
    signing.sign_if_key(archive)
    lines = archive.manifest_path.read_bytes().splitlines(keepends=True)
    archive.manifest_path.write_bytes(b"".join(lines[:-1]))
    assert errors(signing.verify(archive)) == {"signed-entry-missing"}


def test_edited_signature_line_is_caught(archive_dir, key_env):
    archive = make_archive(archive_dir)
    signing.keygen()
    signing.sign_if_key(archive)
    rewrite_history(archive, 2)
    path = signing.sig_path(archive)
    sig = json.loads(path.read_bytes())
    sig["hash"] = list(manifest.iter_entries(archive.manifest_path))[-1]["hash"]
    path.write_bytes(manifest.canonical(sig) + b"\n")  # claim the forged head was signed
    assert errors(signing.verify(archive)) == {"bad-signature"}


def test_archive_re_signed_with_another_key_is_caught(archive_dir, key_env, tmp_path):
    archive = make_archive(archive_dir)
    signing.keygen()
    signing.sign_if_key(archive)
    rewrite_history(archive, 0)
    signing.sig_path(archive).unlink()
    attacker_key, _ = signing.keygen(tmp_path / "attacker" / "k.key")
    signing.sign_head(archive, signing.load_private(attacker_key))
    assert errors(signing.verify(archive)) == {"untrusted-key"}
    # Without any trusted key the forgery is internally consistent: say so, as a warning.
    assert codes(signing.verify(archive, trusted={})) == {"no-trusted-key"}


def test_entries_after_the_last_signature_are_noted_not_errors(archive_dir, key_env):
    archive = make_archive(archive_dir)
    signing.keygen()
    signing.sign_if_key(archive)
    manifest.append(archive.manifest_path, manifest.new_event("validation", "success", "late",
                                                              operator="tester"))
    findings = signing.verify(archive)
    assert [(f.severity, f.code) for f in findings] == [("info", "unsigned-tail")]


@pytest.mark.parametrize("garbage", [b"not json\n", b"[1,2]\n", b'{"seq":"x"}\n',
                                     b'{"seq":1,"hash":1,"signed_at":"","key_id":"",'
                                     b'"public_key":"!!","signature":"!!"}\n', b"\xff\xfe\n"])
def test_garbage_signature_lines_are_errors_not_crashes(archive_dir, key_env, garbage):
    archive = make_archive(archive_dir)
    signing.keygen()
    signing.sign_if_key(archive)
    with open(signing.sig_path(archive), "ab") as f:
        f.write(garbage)
    assert errors(signing.verify(archive)) == {"unparseable-signature"}


def test_torn_signature_line_is_a_warning(archive_dir, key_env):
    archive = make_archive(archive_dir)
    signing.keygen()
    signing.sign_if_key(archive)
    with open(signing.sig_path(archive), "ab") as f:
        f.write(b'{"seq":3,"ha')
    assert [(f.severity, f.code) for f in signing.verify(archive)] == [
        ("warning", "torn-signature-line")]


def test_no_key_means_no_automatic_signature_and_no_crash(archive_dir, key_env):
    archive = make_archive(archive_dir)
    assert signing.sign_if_key(archive) is None
    assert not signing.sig_path(archive).exists()


def test_sign_without_a_key_is_one_clear_line(run, archive_dir, key_env):
    make_archive(archive_dir)
    result = run("sign")
    assert result.exit_code == 2
    assert "no signing key; create one with `archiver keygen`" in result.output


def test_sign_refuses_a_torn_head(archive_dir, key_env):
    archive = make_archive(archive_dir)
    signing.keygen()
    with open(archive.manifest_path, "ab") as f:
        f.write(b'{"seq":4')
    with pytest.raises(Exception, match="torn write"):
        signing.sign_if_key(archive)
    assert not signing.sig_path(archive).exists()


def test_wrong_key_file_is_a_clear_error(run, archive_dir, key_env):
    make_archive(archive_dir)
    key_env.parent.mkdir(parents=True)
    key_env.write_text("not a key")
    result = run("sign")
    assert result.exit_code == 2 and "not an unencrypted PEM private key" in result.output


def test_cli_runs_in_a_fresh_process(archive_dir, key_env):
    """COMMANDS reach the real entry point through cli._register_command_modules."""
    make_archive(archive_dir)
    env = {**os.environ, signing.ENV_KEY: str(key_env)}
    for args in (["keygen"], ["sign", "--archive", str(archive_dir)]):
        done = subprocess.run([sys.executable, "-m", "archiver", *args], env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    assert signing.verify(Archive(archive_dir)) == []
