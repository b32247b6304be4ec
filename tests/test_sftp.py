"""A copy over sftp:// to a real OpenSSH sshd the test starts on 127.0.0.1 (throwaway host
key, an authorized key made with ssh-keygen): replicate, audit and repair from it; a wrong
key is one clear line and exit 2; the server's host key is checked against a known_hosts
file (hashed entries too), an unknown or changed one refused, --accept-new-host-key
records a first-seen one."""

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
from typing import Any

import pytest
from conftest import SEED_DOCUMENT, Cli, free_port

from archiver.store import manifest

SSHD = "/usr/sbin/sshd"
USER = getpass.getuser()  # root here (PermitRootLogin yes); whoever runs the tests elsewhere


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)
    return path


class Server:
    def __init__(self, port: int, key: Path, remote: Path, host_pub: Path) -> None:
        self.port, self.key, self.remote, self.host_pub = port, key, remote, host_pub

    def __iter__(self) -> Iterator[Any]:  # port, client key, the folder the server writes in
        return iter((self.port, self.key, self.remote))

    @property
    def name(self) -> str:  # as ssh(1) writes a host on another port than 22
        return f"[127.0.0.1]:{self.port}"

    def known_hosts(self, path: Path, pub: Path | None = None) -> Path:
        """A known_hosts file naming this server with its host key (or with `pub`)."""
        keytype, blob = (pub or self.host_pub).read_text().split()[:2]
        path.write_text(f"{self.name} {keytype} {blob}\n")
        return path

    def fingerprint(self) -> str:
        """`ssh-keygen -lf` of the server's public host key: 'SHA256:…'."""
        out = subprocess.run(["ssh-keygen", "-lf", str(self.host_pub)], check=True,
                             capture_output=True, text=True).stdout
        return out.split()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> Iterator[Server]:
    """The server: its port, client key, the folder it writes into, its host key."""
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
    yield Server(port, client, remote, base / "host_key.pub")
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
    known = sshd.known_hosts(tmp_path / "known_hosts")
    result = run("replicate", url, "--name", "offsite", "--key", str(key),
                 "--known-hosts", str(known))
    assert result.exit_code == 0, result.output
    files = named(archive)
    for rel, digest in files.items():
        assert hashlib.sha256((where / rel).read_bytes()).hexdigest() == digest
    assert Cli(where)("audit").exit_code == 0  # the far copy is a valid archive
    assert not list(where.rglob(".tmp-*"))

    registry = json.loads((archive / "replicas.json").read_text())["replicas"]["offsite"]
    assert registry["known_hosts"] == str(known)
    again = run("replicate", url, "--name", "offsite", "--json")  # key, known_hosts remembered
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
    known = sshd.known_hosts(tmp_path / "known_hosts")
    result = Cli(archive)("replicate", url, "--key", str(wrong), "--known-hosts", str(known))
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


def one_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_hashed_known_hosts_entry_is_accepted(sshd, archive, tmp_path):
    known = sshd.known_hosts(tmp_path / "known_hosts")
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert known.read_text().startswith("|1|")  # no host name left in clear
    # lines paramiko's own HostKeys.load raises on (a marker, a broken key) are skipped
    keytype, blob = keygen(tmp_path / "ca").with_suffix(".pub").read_text().split()[:2]
    known.write_text(f"@cert-authority *.example.org {keytype} {blob}\n"
                     f"example.org {keytype} AAAA-not-base64\n" + known.read_text())
    url = f"sftp://{USER}@127.0.0.1:{sshd.port}{sshd.remote / tmp_path.name}"
    result = Cli(archive)("replicate", url, "--key", str(sshd.key), "--known-hosts",
                          str(known), "--dry-run")
    assert result.exit_code == 0, result.output


def test_an_unknown_host_key_is_refused_then_accept_new_records_it(sshd, archive, tmp_path):
    where = sshd.remote / tmp_path.name
    url = f"sftp://{USER}@127.0.0.1:{sshd.port}{where}"
    known = tmp_path / "ssh" / "known_hosts"  # no file yet: no host is known
    run = Cli(archive)
    line = one_line(run("replicate", url, "--key", str(sshd.key), "--known-hosts", str(known)))
    assert sshd.name in line and sshd.fingerprint() in line and "not in" in line, line
    assert not known.exists() and not where.exists()
    assert not (archive / "replicas.json").exists()
    # audit refuses the same way (the URL taken as is, never registered)
    line = one_line(run("audit", "--replica", url, "--known-hosts", str(known)))
    assert sshd.fingerprint() in line, line

    result = run("replicate", url, "--name", "offsite", "--key", str(sshd.key),
                 "--known-hosts", str(known), "--accept-new-host-key")
    assert result.exit_code == 0, result.output
    found = subprocess.run(["ssh-keygen", "-F", sshd.name, "-f", str(known)],
                           capture_output=True, text=True)
    assert found.returncode == 0 and sshd.host_pub.read_text().split()[1] in found.stdout
    assert run("replicate", url, "--name", "offsite").exit_code == 0  # now known: accepted
    assert run("audit", "--copies").exit_code == 0


def test_a_changed_host_key_is_refused_even_with_accept_new(sshd, archive, tmp_path):
    where = sshd.remote / tmp_path.name
    url = f"sftp://{USER}@127.0.0.1:{sshd.port}{where}"
    impostor = keygen(tmp_path / "impostor")
    known = sshd.known_hosts(tmp_path / "known_hosts", impostor.with_suffix(".pub"))
    before = known.read_bytes()
    run = Cli(archive)
    for extra in ([], ["--accept-new-host-key"]):
        line = one_line(run("replicate", url, "--key", str(sshd.key), "--known-hosts",
                            str(known), *extra))
        assert "CHANGED" in line and sshd.name in line and sshd.fingerprint() in line, line
    assert known.read_bytes() == before and not where.exists()
    # a copy registered under the right key, then the key in known_hosts changes: audit
    # --copies and repair --from refuse too, nothing read from the impostor
    good = sshd.known_hosts(tmp_path / "good_known_hosts")
    assert run("replicate", url, "--name", "offsite", "--key", str(sshd.key),
               "--known-hosts", str(good)).exit_code == 0
    good.write_bytes(before)
    assert "CHANGED" in one_line(run("audit", "--copies"))
    warc = archive / next(p for p in named(archive) if p.startswith("warcs/"))
    data = bytearray(warc.read_bytes())
    data[123] ^= 0x01
    warc.write_bytes(bytes(data))
    assert "CHANGED" in one_line(run("repair", "--from", "offsite", "--yes"))
    assert warc.read_bytes() == bytes(data)  # nothing taken from the impostor


def test_the_default_known_hosts_is_home_ssh_known_hosts(sshd, archive, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    url = f"sftp://{USER}@127.0.0.1:{sshd.port}{sshd.remote / tmp_path.name}"
    run = Cli(archive)
    line = one_line(run("replicate", url, "--key", str(sshd.key), "--dry-run"))
    default = tmp_path / "home" / ".ssh" / "known_hosts"
    assert str(default) in line and sshd.fingerprint() in line, line
    result = run("replicate", url, "--key", str(sshd.key), "--accept-new-host-key")
    assert result.exit_code == 0, result.output
    assert default.stat().st_mode & 0o777 == 0o600
    assert (default.parent.stat().st_mode & 0o777) == 0o700
    assert sshd.name in default.read_text()
    registry = json.loads((archive / "replicas.json").read_text())["replicas"]
    assert "known_hosts" not in next(iter(registry.values()))  # the default: not pinned


def test_a_revoked_host_key_is_never_recorded(sshd, archive, tmp_path):
    known = tmp_path / "known_hosts"
    keytype, blob = sshd.host_pub.read_text().split()[:2]
    known.write_text(f"@revoked * {keytype} {blob}\n")
    url = f"sftp://{USER}@127.0.0.1:{sshd.port}{sshd.remote / tmp_path.name}"
    line = one_line(Cli(archive)("replicate", url, "--key", str(sshd.key), "--known-hosts",
                                 str(known), "--accept-new-host-key"))
    assert "@revoked" in line and sshd.fingerprint() in line, line
    assert known.read_text() == f"@revoked * {keytype} {blob}\n"


def test_a_revoked_key_is_refused_even_where_a_line_names_the_host(sshd, archive, tmp_path):
    """ssh(1): a @revoked key is never accepted, whatever other line names it."""
    known = tmp_path / "known_hosts"
    keytype, blob = sshd.host_pub.read_text().split()[:2]
    known.write_text(f"{sshd.name} {keytype} {blob}\n@revoked * {keytype} {blob}\n")
    url = f"sftp://{USER}@127.0.0.1:{sshd.port}{sshd.remote / tmp_path.name}"
    line = one_line(Cli(archive)("replicate", url, "--key", str(sshd.key), "--known-hosts",
                                 str(known)))
    assert "@revoked" in line and sshd.fingerprint() in line, line
    assert not (sshd.remote / tmp_path.name / "manifest.jsonl").exists()
