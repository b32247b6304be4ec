"""A copy over sftp:// to a real OpenSSH sshd the test starts on 127.0.0.1 (throwaway host
key, an authorized key made with ssh-keygen): replicate, audit and repair from it; a wrong
key is one clear line and exit 2."""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, Cli, free_port

from archiver.store import manifest

SSHD = "/usr/sbin/sshd"
USER = getpass.getuser()  # root here (PermitRootLogin yes); whoever runs the tests elsewhere


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> Iterator[tuple[int, Path, Path]]:
    """(port, client key, the folder the server writes into)."""
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("OpenSSH server not installed")
    base = tmp_path_factory.mktemp("sshd")
    host_key = keygen(base / "host_key")
    client = keygen(base / "client_key")
    authorized = base / "authorized_keys"
    shutil.copy(base / "client_key.pub", authorized)
    port = free_port()
    sftp_server = next((p for p in ("/usr/lib/openssh/sftp-server",
                                    "/usr/libexec/openssh/sftp-server") if Path(p).exists()),
                       "internal-sftp")
    config = base / "sshd_config"
    config.write_text(f"""ListenAddress 127.0.0.1
Port {port}
HostKey {host_key}
PidFile {base / "sshd.pid"}
AuthorizedKeysFile {authorized}
PermitRootLogin yes
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
Subsystem sftp {sftp_server}
""")
    with contextlib.suppress(OSError):  # the privilege separation folder Debian's sshd wants
        Path("/run/sshd").mkdir(exist_ok=True)
    log = open(base / "sshd.log", "wb")  # a file, not a pipe nobody drains
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = (base / "sshd.log").read_text(errors="replace")
                proc.kill()
                pytest.fail(f"sshd did not start: {err[:500]}")
            time.sleep(0.05)
    remote = base / "remote"
    remote.mkdir()
    yield port, client, remote
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def archive(tmp_path) -> Path:
    root = tmp_path / "archive"
    assert Cli(root)("ingest", str(SEED_DOCUMENT)).exit_code == 0
    return root


def named(root: Path) -> dict[str, str]:
    return {f["path"]: f["sha256"] for e in manifest.iter_entries(root / "manifest.jsonl")
            for f in e.get("files") or []}


def test_replicate_audit_and_repair_over_sftp(sshd, archive, tmp_path):
    port, key, remote = sshd
    where = remote / tmp_path.name
    url = f"sftp://{USER}@127.0.0.1:{port}{where}"
    run = Cli(archive)
    result = run("replicate", url, "--name", "offsite", "--key", str(key))
    assert result.exit_code == 0, result.output
    files = named(archive)
    for rel, digest in files.items():
        assert hashlib.sha256((where / rel).read_bytes()).hexdigest() == digest
    assert Cli(where)("audit").exit_code == 0  # the far copy is a valid archive
    assert not list(where.rglob(".tmp-*"))

    again = run("replicate", url, "--name", "offsite", "--json")  # key remembered
    assert again.exit_code == 0 and json.loads(again.output.splitlines()[-1])["files"] == 0

    report = run("audit", "--copies", "--json")
    assert report.exit_code == 0, report.output
    assert json.loads(report.output)["copies"][0]["state"] == "prefix"

    warc = next(p for p in files if p.startswith("warcs/"))
    data = bytearray((archive / warc).read_bytes())
    data[123] ^= 0x01
    (archive / warc).write_bytes(bytes(data))
    (where / next(p for p in files if p.startswith("articles/"))).unlink()
    named_bad = run("audit", "--copies", "--json")
    codes = {(f["code"], f["where"]) for f in json.loads(named_bad.output)["findings"]}
    assert ("checksum-mismatch", warc) in codes
    assert any(c == "copy-missing-file" for c, _ in codes)

    assert run("repair", "--from", "offsite", "--yes").exit_code == 0
    assert hashlib.sha256((archive / warc).read_bytes()).hexdigest() == files[warc]
    assert run("replicate", url, "--name", "offsite").exit_code == 0  # heals the far copy
    assert run("audit", "--copies").exit_code == 0
    assert run("audit").exit_code == 0


def test_a_wrong_key_is_one_line_and_exit_2(sshd, archive, tmp_path):
    port, _, remote = sshd
    wrong = keygen(tmp_path / "wrong_key")
    url = f"sftp://{USER}@127.0.0.1:{port}{remote / 'never'}"
    result = Cli(archive)("replicate", url, "--key", str(wrong))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "authentication failed" in lines[0], result.output
    assert "Traceback" not in result.output
    assert not (remote / "never").exists()
    assert not os.path.exists(archive / "replicas.json")


def test_nobody_listening_is_one_line_and_exit_2(archive, tmp_path):
    key = keygen(tmp_path / "key")
    url = f"sftp://{USER}@127.0.0.1:{free_port()}/srv/copy"
    result = Cli(archive)("replicate", url, "--key", str(key))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cannot connect" in lines[0], result.output
