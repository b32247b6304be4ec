"""Signed manifest heads: Ed25519 signatures over the chain head, kept beside the manifest.

The hash chain catches an edited entry only if nobody recomputes every hash after it. A
signature over the head (seq + hash) made with a key kept *outside* the archive closes that
gap: an attacker who rewrites the chain cannot re-sign it without the private key.

Files:
  <archive>/manifest.sig.jsonl   one JSON object per signed head, appended (never rewritten):
                                 {"v", "seq", "hash", "signed_at", "key_id", "public_key",
                                  "signature"}; public_key and signature are base64.
  private key                    PKCS#8 PEM, mode 0600, at $ARCHIVER_KEY, else
                                 $XDG_CONFIG_HOME/archiver/ed25519.key, else
                                 ~/.config/archiver/ed25519.key. Never inside an archive.
  public key                     the same path with .pub: SubjectPublicKeyInfo PEM. Keep a copy
                                 somewhere the archive's host cannot write; `verify` trusts it
                                 (and $ARCHIVER_TRUSTED_KEYS) to catch an archive re-signed
                                 with a different key.

What is signed is the canonical JSON of {"v", "type", "seq", "hash", "signed_at", "key_id"},
so a signature cannot be replayed for another head or read as anything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from archiver.base.errors import StoreError, UnreadableInputError, UsageError
from archiver.base.findings import Finding
from archiver.store import manifest
from archiver.store.archive import Archive, append_durably

ENV_KEY = "ARCHIVER_KEY"
ENV_TRUSTED = "ARCHIVER_TRUSTED_KEYS"  # os.pathsep-separated public key files
SIG_NAME = "manifest.sig.jsonl"
FORMAT_VERSION = 1
SIGNED_TYPE = "archiver-manifest-head"
WHERE = SIG_NAME


def default_key_path() -> Path:
    """$ARCHIVER_KEY, else the XDG config folder: a per-user place, not the archive."""
    if os.environ.get(ENV_KEY):
        return Path(os.environ[ENV_KEY]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "archiver" / "ed25519.key"


def public_path(key_path: Path) -> Path:
    return key_path.with_name(key_path.name.removesuffix(".key") + ".pub")


def sig_path(archive: Archive) -> Path:
    return archive.root / SIG_NAME


def key_id(public: Ed25519PublicKey) -> str:
    """A short stable name for a key: sha256 of its raw 32 bytes, first 16 hex."""
    return "ed25519:" + hashlib.sha256(_raw(public)).hexdigest()[:16]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ---------------------------------------------------------------- keys

def _refuse_inside_archive(key_path: Path, archive: Archive | None) -> None:
    # A key stored in the archive travels with it: whoever can rewrite the chain can re-sign.
    if archive is None:
        return
    key = key_path.expanduser().absolute().resolve()
    if key.is_relative_to(archive.root.resolve()):
        raise UsageError(f"{key_path}: the signing key must not live inside the archive "
                         f"({archive.root})")


def keygen(key_path: Path | None = None, *, force: bool = False,
           archive: Archive | None = None) -> tuple[Path, str]:
    """Create a new Ed25519 key pair; returns (private key path, key id). Never overwrites an
    existing key unless `force` (a lost key cannot sign again; old signatures still verify)."""
    key_path = key_path or default_key_path()
    private = Ed25519PrivateKey.generate()
    write_key_pair(key_path, private, archive, force)
    return key_path, key_id(private.public_key())


def write_key_pair(key_path: Path, private: Any, archive: Archive | None,
                   force: bool) -> None:
    """A new private key (PKCS#8 PEM, 0600) at `key_path` and its public key (SPKI PEM)
    beside it, for every key archiver makes. Never inside the archive, never over an existing
    key unless `force`."""
    _refuse_inside_archive(key_path, archive)
    if key_path.exists() and not force:
        raise UsageError(f"{key_path}: a key already exists (use --force to replace it)")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    pub = private.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(key_path, pem)
        public_path(key_path).write_bytes(pub)
    except OSError as exc:
        raise StoreError(f"{key_path}: cannot write key: {exc.strerror or exc}") from exc


def _write_private(path: Path, pem: bytes) -> None:
    """Mode 0600 from the first byte on (never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_private(key_path: Path | None = None) -> Ed25519PrivateKey:
    key_path = key_path or default_key_path()
    try:
        data = key_path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{key_path}: no signing key; create one with `archiver keygen`") from exc
    except OSError as exc:
        raise UnreadableInputError(f"{key_path}: cannot read key: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise UnreadableInputError(f"{key_path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise UnreadableInputError(f"{key_path}: not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey | None:
    """A public key from PEM, or None when the file is missing or not an Ed25519 key."""
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PublicKey) else None


def trusted_keys(key_path: Path | None = None) -> dict[str, Ed25519PublicKey]:
    """Public keys known from outside the archive: the local key pair and $ARCHIVER_TRUSTED_KEYS."""
    key_path = key_path or default_key_path()
    paths = [public_path(key_path)]
    paths += [Path(p) for p in os.environ.get(ENV_TRUSTED, "").split(os.pathsep) if p]
    found: dict[str, Ed25519PublicKey] = {}
    for p in paths:
        pub = load_public(p)
        if pub is not None:
            found[key_id(pub)] = pub
    if not found and key_path.is_file():
        try:  # no .pub beside it: derive from the private key
            pub = load_private(key_path).public_key()
            found[key_id(pub)] = pub
        except (UsageError, UnreadableInputError):
            pass
    return found


# ---------------------------------------------------------------- signing

@dataclass(frozen=True)
class Signature:
    """One line of manifest.sig.jsonl."""

    seq: int
    hash: str
    signed_at: str
    key_id: str
    public_key: str  # base64 of the raw 32 bytes
    signature: str  # base64 of the 64-byte Ed25519 signature

    def message(self) -> bytes:
        return signed_message(self.seq, self.hash, self.signed_at, self.key_id)

    def to_dict(self) -> dict[str, Any]:
        return {"v": FORMAT_VERSION, "seq": self.seq, "hash": self.hash,
                "signed_at": self.signed_at, "key_id": self.key_id,
                "public_key": self.public_key, "signature": self.signature}


def signed_message(seq: int, head_hash: str, signed_at: str, kid: str) -> bytes:
    body = {"v": FORMAT_VERSION, "type": SIGNED_TYPE, "seq": seq, "hash": head_hash,
            "signed_at": signed_at, "key_id": kid}
    return manifest.canonical(body)


def sign_head(archive: Archive, key: Ed25519PrivateKey) -> Signature:
    """Sign the current chain head and append the signature. Holds the manifest lock so the
    head cannot move while it is read and the signature written."""
    path = archive.manifest_path
    if not path.is_file():
        raise UsageError(f"{path}: no manifest to sign")
    with manifest.lock_for(path):
        last = manifest.read_last(path)  # refuses a torn tail: never sign a broken head
        if last is None:
            raise UsageError(f"{path}: the manifest is empty; nothing to sign")
        sig = _make(key, int(last["seq"]), str(last["hash"]))
        append_durably(sig_path(archive), manifest.canonical(sig.to_dict()) + b"\n")
    return sig


def sign_if_key(archive: Archive, key_path: Path | None = None) -> Signature | None:
    """Automatic signing after a capture or ingest: signs when a key exists, else does nothing
    (an unsigned archive is a warning in audit, never a failure of the capture)."""
    key_path = key_path or default_key_path()
    if not key_path.is_file() or not archive.manifest_path.is_file():
        return None
    return sign_head(archive, load_private(key_path))


def _make(key: Ed25519PrivateKey, seq: int, head_hash: str) -> Signature:
    public = key.public_key()
    kid = key_id(public)
    at = manifest.now_rfc3339()
    sig = key.sign(signed_message(seq, head_hash, at, kid))
    return Signature(seq, head_hash, at, kid, _b64(_raw(public)), _b64(sig))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------- verifying

def signed_seqs(archive: Archive) -> set[int]:
    """The seqs that signatures name (so a streaming audit keeps only those hashes)."""
    path = sig_path(archive)
    if not path.is_file():
        return set()
    return {sig.seq for _, sig, _ in read_signatures(path) if sig is not None}


def read_signatures(path: Path) -> Iterator[tuple[int, Signature | None, str]]:
    """(line number, signature or None, problem) for each line of the signatures file."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                yield number, None, "torn"
                continue
            yield number, *_parse(raw)


def _parse(raw: bytes) -> tuple[Signature | None, str]:
    try:
        d = json.loads(raw)
        sig = Signature(d["seq"], d["hash"], d["signed_at"], d["key_id"], d["public_key"],
                        d["signature"])
    except (ValueError, KeyError, TypeError):
        return None, "not a signature object"
    if not isinstance(sig.seq, int) or not all(
            isinstance(v, str) for v in (sig.hash, sig.signed_at, sig.key_id, sig.public_key,
                                         sig.signature)):
        return None, "fields of the wrong type"
    return sig, ""


def verify(archive: Archive, trusted: dict[str, Ed25519PublicKey] | None = None,
           chain: dict[int, str] | None = None) -> list[Finding]:
    """Check every signature: well-formed, cryptographically valid, made by a trusted key when
    any is known, and over a head that is still in the chain (`chain`: seq -> hash, read from
    the manifest when not given). Never raises for bad content."""
    path = sig_path(archive)
    if not path.is_file() or path.stat().st_size == 0:
        return [Finding("warning", "unsigned", WHERE,
                        "the manifest is not signed; create a key with `archiver keygen` and "
                        "run `archiver sign`")]
    trusted = trusted_keys() if trusted is None else trusted
    chain = _chain_hashes(archive.manifest_path) if chain is None else chain
    findings: list[Finding] = []
    good: list[Signature] = []
    for number, sig, problem in read_signatures(path):
        loc = f"{WHERE}:{number}"
        if sig is None:
            findings.append(_bad_line(loc, problem))
            continue
        line_findings = _check_signature(sig, loc, trusted, chain)
        findings += line_findings
        if not line_findings:
            good.append(sig)
    findings += _summary(good, chain, trusted)
    return findings


def _bad_line(loc: str, problem: str) -> Finding:
    if problem == "torn":  # power lost mid-append: a signature missing, nothing forged
        return Finding("warning", "torn-signature-line", loc,
                       "last signature line is incomplete (torn write); sign again")
    return Finding("error", "unparseable-signature", loc, f"signature line: {problem}")


def _check_signature(sig: Signature, loc: str, trusted: dict[str, Ed25519PublicKey],
                     chain: dict[int, str]) -> list[Finding]:
    public = _public_from(sig)
    if public is None or key_id(public) != sig.key_id:
        return [Finding("error", "bad-signature", loc,
                        f"seq {sig.seq}: the public key is malformed or does not match "
                        f"key id {sig.key_id}")]
    try:
        public.verify(base64.b64decode(sig.signature, validate=True), sig.message())
    except (InvalidSignature, binascii.Error, ValueError):
        return [Finding("error", "bad-signature", loc,
                        f"seq {sig.seq}: signature does not verify (the signature line was "
                        "edited or forged)")]
    if trusted and sig.key_id not in trusted:
        return [Finding("error", "untrusted-key", loc,
                        f"seq {sig.seq}: signed by {sig.key_id}, which is not a trusted key "
                        f"(trusted: {', '.join(sorted(trusted))})")]
    return _check_head(sig, loc, chain)


def _check_head(sig: Signature, loc: str, chain: dict[int, str]) -> list[Finding]:
    actual = chain.get(sig.seq)
    if actual is None:
        return [Finding("error", "signed-entry-missing", loc,
                        f"seq {sig.seq} was signed but is no longer in the manifest "
                        "(entries were removed)")]
    if actual != sig.hash:
        return [Finding("error", "signed-head-mismatch", loc,
                        f"seq {sig.seq} was signed with hash {sig.hash} but the manifest now "
                        f"has {actual}: history was rewritten",
                        details={"expected": sig.hash, "actual": actual})]
    return []


def _public_from(sig: Signature) -> Ed25519PublicKey | None:
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(sig.public_key, validate=True))
    except (ValueError, binascii.Error):
        return None


def _summary(good: list[Signature], chain: dict[int, str],
             trusted: dict[str, Ed25519PublicKey]) -> list[Finding]:
    out: list[Finding] = []
    if not good:
        return out
    newest = max(s.seq for s in good)
    head = max(chain) if chain else -1
    if head > newest:
        out.append(Finding("info", "unsigned-tail", WHERE,
                           f"entries {newest + 1}..{head} were appended after the last "
                           f"signature (seq {newest}); run `archiver sign`"))
    if not trusted:
        out.append(Finding("warning", "no-trusted-key", WHERE,
                           "signatures verified only against keys stored in the archive; "
                           f"set ${ENV_TRUSTED} (or keep the signing key at "
                           f"{default_key_path()}) to catch an archive re-signed with "
                           "another key"))
    return out


def _chain_hashes(path: Path) -> dict[int, str]:
    """seq -> hash of every parseable entry (the chain itself is checked by verify_chain)."""
    out: dict[int, str] = {}
    if not path.is_file():
        return out
    for entry in manifest.iter_entries(path):
        seq, h = entry.get("seq"), entry.get("hash")
        if isinstance(seq, int) and isinstance(h, str):
            out.setdefault(seq, h)
    return out

