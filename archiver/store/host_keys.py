"""Who is at the other end of an sftp:// copy: the server's host key checked against an
OpenSSH known_hosts file before anything is sent or read.

fsspec's SFTPFileSystem accepts any host key by default (paramiko's AutoAddPolicy). For an
evidence archive that is a real hole: a man in the middle would receive the archive, or
serve forged bytes to `repair --from`. So, like OpenSSH's StrictHostKeyChecking=yes, a host
whose key is not in the file is refused, and a key that differs from the recorded one is
refused; `accept_new` is StrictHostKeyChecking=accept-new (a first-seen key is appended to
the file, a changed one is still refused).

The file is read with paramiko's own HostKeys (hashed `|1|` entries and `[host]:port`
names included, ssh(1) "SSH_KNOWN_HOSTS FILE FORMAT"), loaded as *system* keys so paramiko
never rewrites the user's file; a new key is appended as one line, as ssh(1) does.
Fingerprints are printed as `ssh-keygen -lf` does: `SHA256:` + unpadded base64.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.base.errors import UnreadableInputError

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"


class HostKeyError(UnreadableInputError):
    """The server's host key is unknown or changed: nothing was sent, nothing read."""


def known_hosts_path(path: str | None) -> Path:
    return Path(path or DEFAULT_KNOWN_HOSTS).expanduser().absolute()


def describe(key: Any) -> str:
    """`ssh-ed25519 SHA256:…`, the fingerprint as `ssh-keygen -lf` prints it."""
    return f"{key.get_name()} {key.fingerprint}"


def pinned_sftp(host: str, known_hosts: Path, accept_new: bool, **ssh_kwargs: Any) -> Any:
    """fsspec's SFTPFileSystem, connected only if the host key is the one known_hosts names
    (or, with accept_new, a host it does not name yet: the key is then recorded there)."""
    import paramiko
    from fsspec.implementations.sftp import SFTPFileSystem

    known = read_known_hosts(known_hosts)

    class Pin(paramiko.MissingHostKeyPolicy):
        """Called by paramiko only for a host known_hosts does not name at all, or names only
        with a @revoked key (a known host with another key is paramiko's
        BadHostKeyException before any policy)."""

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            if key in known.revoked:
                raise HostKeyError(f"{hostname}: host key {describe(key)} is marked @revoked "
                                   f"in {known_hosts}: not connecting")
            if not accept_new:
                raise HostKeyError(
                    f"{hostname}: host key {describe(key)} is not in {known_hosts}; check "
                    "it with the server's administrator, then add it (ssh-keyscan, or ssh "
                    "once) or pass --accept-new-host-key")
            record(known_hosts, hostname, key)
            logging.getLogger("archiver").warning(
                "%s: host key %s recorded in %s (first use)", hostname, describe(key),
                known_hosts)

    class PinnedSFTP(SFTPFileSystem):  # fsspec subclass: only _connect differs
        def _connect(self) -> None:
            # fsspec's own _connect makes a client that knows no host: this one knows ours.
            self.client = paramiko.SSHClient()
            table = self.client.get_host_keys()  # never saved: we call no save_host_keys
            for entry in known.entries:
                if entry.key in known.revoked:  # left to Pin, which refuses it
                    continue
                for name in entry.hostnames:
                    table.add(name, entry.key.get_name(), entry.key)
            self.client.set_missing_host_key_policy(Pin())
            try:
                self.client.connect(self.host, **self.ssh_kwargs)
            except paramiko.BadHostKeyException as exc:
                self.client.close()
                port = self.ssh_kwargs.get("port", 22)
                name = self.host if port == 22 else f"[{self.host}]:{port}"  # as known_hosts
                raise HostKeyError(
                    f"{name}: HOST KEY CHANGED: the server offers "
                    f"{describe(exc.key)}, {known_hosts} has {describe(exc.expected_key)}; "
                    "someone may be intercepting the connection (or the key was "
                    "replaced): not connecting") from exc
            except Exception:  # ours, a failed login, a refused connection: no socket left
                self.client.close()
                raise
            self.ftp = self.client.open_sftp()

    return PinnedSFTP(host, skip_instance_cache=True, **ssh_kwargs)


@dataclass
class KnownHosts:
    entries: list[Any] = field(default_factory=list)  # paramiko HostKeyEntry
    revoked: list[Any] = field(default_factory=list)  # keys never to be accepted


def read_known_hosts(path: Path) -> KnownHosts:
    """The file's entries, each line parsed by paramiko's HostKeyEntry.from_line, as
    paramiko's HostKeys.load does, with two differences: a line paramiko cannot read is
    skipped (HostKeys.load raises InvalidHostKey on a bad base64 blob, which a `@revoked` or
    `@cert-authority` line always is to it), and `@revoked` keys are kept apart (ssh(1)
    "SSH_KNOWN_HOSTS FILE FORMAT": never to be accepted). Host certificates
    (`@cert-authority`) are not supported: such a line is skipped. No file: no known host."""
    from paramiko.hostkeys import HostKeyEntry

    known = KnownHosts()
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return known
    except OSError as exc:
        raise UnreadableInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        marker, _, rest = line.partition(" ")
        if marker.startswith("@") and marker != "@revoked":
            continue
        try:
            entry = HostKeyEntry.from_line(rest.strip() if marker == "@revoked" else line,
                                           lineno)
        except Exception:  # InvalidHostKey, SSHException, an unreadable key: skipped
            continue
        if entry is None or entry.key is None:
            continue
        if marker == "@revoked":
            known.revoked.append(entry.key)
        else:
            known.entries.append(entry)
    return known


def record(known_hosts: Path, hostname: str, key: Any) -> None:
    """Append `hostname keytype base64` to known_hosts, as ssh(1) does for accept-new."""
    from paramiko.hostkeys import HostKeyEntry

    known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = HostKeyEntry([hostname], key).to_line()
    fd = os.open(known_hosts, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size:  # a file whose last line lacks its newline
            with open(known_hosts, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = "\n" + line
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
