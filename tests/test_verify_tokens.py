"""`archiver verify` checks the archive's own RFC 3161 tokens inside an exported package with
the checker audit uses (archiver.store.tsp): imprint over the packaged head, recorded nonce,
trust against --trust-roots; one `manifest-timestamp` line per token. Real TSA on loopback."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SEED_DOCUMENT
from tsa_server import LoopbackTSA, tsa_fixture

from archiver.cli.main import cli
from archiver.store import manifest, package_key, signing, timestamps
from archiver.store.archive import Archive

tsa = tsa_fixture()


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def package(tmp_path: Path, tsa: LoopbackTSA, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[Path, list[str]]:
    """A signed (anonymous) WACZ exported from an archive holding two tokens (two runs), and their
    names inside the package."""
    for name in (timestamps.ENV_TSA, timestamps.ENV_ROOTS, signing.ENV_TRUSTED):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(signing.ENV_KEY, str(tmp_path / "keys" / "ed25519.key"))
    monkeypatch.setenv(package_key.ENV_WACZ_KEY, str(tmp_path / "keys" / "wacz-p384.key"))
    assert invoke("keygen").exit_code == 0
    assert invoke("keygen", "--wacz").exit_code == 0
    a = ["--archive", str(tmp_path / "archive")]
    assert invoke("ingest", str(SEED_DOCUMENT), *a).exit_code == 0
    assert invoke("timestamp", "--tsa", tsa.url, *a).exit_code == 0
    archive = Archive(tmp_path / "archive")
    manifest.append(archive.manifest_path, manifest.new_event("validation", "success",
                                                              "more work", operator="tester"))
    assert invoke("timestamp", "--tsa", tsa.url, *a).exit_code == 0
    records = timestamps.all_recorded(archive)
    assert len(records) == 2 and records[0].seq < records[1].seq
    out = tmp_path / "x.wacz"
    assert invoke("export", "wacz", str(out), "--sign", *a).exit_code == 0
    return out, [f"archiver/timestamps_{Path(r.token).name}" for r in records]


def verify(path: Path, *args: str) -> tuple[int, list[dict[str, str]]]:
    result = invoke("verify", str(path), *args, "--json")
    assert "Traceback" not in result.output
    return result.exit_code, [json.loads(line) for line in result.output.splitlines()]


def token_lines(checks: list[dict[str, str]]) -> list[dict[str, str]]:
    return [c for c in checks if c["check"] == "manifest-timestamp"]


def test_each_token_verifies_against_the_tsa_root(package: tuple[Path, list[str]],
                                                  tsa: LoopbackTSA) -> None:
    path, _ = package
    code, checks = verify(path, "--trust-roots", str(tsa.root_pem))
    lines = token_lines(checks)
    assert code == 0, checks
    assert [c["status"] for c in lines] == ["pass", "pass"]
    assert all("existed by" in c["detail"] and "timestamps/" in c["detail"] for c in lines)


def test_without_roots_the_tokens_are_checked_but_not_trusted(
        package: tuple[Path, list[str]]) -> None:
    path, _ = package
    code, checks = verify(path)
    assert code == 0
    assert [c["status"] for c in token_lines(checks)] == ["skip", "skip"]
    text = invoke("verify", str(path), "--strict")
    assert text.exit_code == 1 and "manifest-timestamp" in text.output


def test_another_root_is_untrusted(package: tuple[Path, list[str]], tmp_path: Path) -> None:
    path, _ = package
    other = LoopbackTSA(tmp_path / "other-ca")  # another CA, never started
    code, checks = verify(path, "--trust-roots", str(other.root_pem))
    assert code == 1
    assert [c["status"] for c in token_lines(checks)] == ["fail", "fail"]
    assert all("tsa-untrusted" in c["detail"] for c in token_lines(checks))


def edited(path: Path, dst: Path, member: str, change: bytes) -> Path:
    """The package with one member replaced and datapackage.json re-hashed to match (the
    package signature then fails `digest`; the archive's own proofs name what changed)."""
    with zipfile.ZipFile(path) as zf:
        package = json.loads(zf.read("datapackage.json"))
    for res in package["resources"]:
        if res["path"] == member:
            res["hash"] = "sha256:" + hashlib.sha256(change).hexdigest()
            res["bytes"] = len(change)
    changes = {member: change, "datapackage.json": json.dumps(package).encode()}
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, changes.get(info.filename, zin.read(info.filename)))
    return dst


def test_a_token_edited_inside_the_package_fails_by_name(package: tuple[Path, list[str]],
                                                        tsa: LoopbackTSA,
                                                        tmp_path: Path) -> None:
    path, members = package
    with zipfile.ZipFile(path) as zf:
        token = bytearray(zf.read(members[0]))
    token[-5] ^= 0x40  # inside the TSA's signature value
    bad = edited(path, tmp_path / "bad.wacz", members[0], bytes(token))
    code, checks = verify(bad, "--trust-roots", str(tsa.root_pem))
    assert code == 1
    first, second = token_lines(checks)
    assert first["status"] == "fail" and "tsa-bad-signature" in first["detail"]
    assert Path(members[0]).name.removeprefix("timestamps_") in first["detail"]
    assert second["status"] == "pass"
    failed = {c["check"] for c in checks if c["status"] == "fail"}
    # the manifest names the token's sha256; datapackage.json no longer has the signed digest
    assert failed == {"manifest-timestamp", "manifest-files", "digest"}


def test_a_token_swapped_for_the_other_fails_its_imprint(package: tuple[Path, list[str]],
                                                        tsa: LoopbackTSA,
                                                        tmp_path: Path) -> None:
    path, members = package
    with zipfile.ZipFile(path) as zf:
        other = zf.read(members[1])
    bad = edited(path, tmp_path / "swapped.wacz", members[0], other)
    code, checks = verify(bad, "--trust-roots", str(tsa.root_pem))
    assert code == 1
    first = token_lines(checks)[0]
    assert first["status"] == "fail" and "tsa-imprint-mismatch" in first["detail"]
