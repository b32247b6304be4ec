"""The ECDSA P-384 key that signs WACZ packages anonymously (`archiver keygen --wacz`).

WACZ Signing and Verification 0.1.0's anonymous form is what ArchiveWeb.page writes and
ReplayWeb.page checks: ECDSA on P-384 (WebCrypto, SHA-256), public key as SPKI. The key is
kept like the Ed25519 manifest key: PKCS#8 PEM, mode 0600, outside any archive, its public
half beside it (`.pub`, SPKI PEM) to hand out for `archiver verify --trusted-key`.

Domain-mode keys (`export wacz --sign-key`, the key of a TLS certificate) are the user's own
files, loaded by `load_signing_key`: ECDSA or RSA.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from archiver.base.errors import UnreadableInputError, UsageError
from archiver.store.archive import Archive
from archiver.store.signing import write_key_pair

ENV_WACZ_KEY = "ARCHIVER_WACZ_KEY"
KEY_NAME = "wacz-p384.key"


def default_key_path() -> Path:
    """$ARCHIVER_WACZ_KEY, else beside the Ed25519 key in the per-user config folder."""
    if os.environ.get(ENV_WACZ_KEY):
        return Path(os.environ[ENV_WACZ_KEY]).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "archiver" / KEY_NAME


def fingerprint(public: ec.EllipticCurvePublicKey | rsa.RSAPublicKey) -> str:
    """sha256 of the SPKI DER, first 16 hex: how `archiver verify` names the key."""
    return "sha256:" + hashlib.sha256(spki_der(public)).hexdigest()[:16]


def spki_der(public: Any) -> bytes:
    return bytes(public.public_bytes(serialization.Encoding.DER,
                                     serialization.PublicFormat.SubjectPublicKeyInfo))


def keygen(key_path: Path | None = None, *, force: bool = False,
           archive: Archive | None = None) -> tuple[Path, str]:
    """A new P-384 key pair; (private key path, fingerprint). Never overwrites without
    `force`, never inside the archive."""
    key_path = key_path or default_key_path()
    private = ec.generate_private_key(ec.SECP384R1())
    write_key_pair(key_path, private, archive, force)
    return key_path, fingerprint(private.public_key())


def load_signing_key(key_path: Path) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    """An unencrypted PEM private key, ECDSA or RSA (what WACZ signatures may use)."""
    try:
        data = key_path.read_bytes()
    except FileNotFoundError as exc:
        raise UsageError(f"{key_path}: no such key; create one with "
                         "`archiver keygen --wacz`") from exc
    except OSError as exc:
        raise UnreadableInputError(f"{key_path}: cannot read key: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UnreadableInputError(f"{key_path}: not an unencrypted PEM private key") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise UnreadableInputError(f"{key_path}: a WACZ signature needs an ECDSA or RSA key")
    return key


def load_anonymous_key(key_path: Path | None = None) -> ec.EllipticCurvePrivateKey:
    """The P-384 key for anonymous signatures (ReplayWeb.page imports only P-384)."""
    key_path = key_path or default_key_path()
    key = load_signing_key(key_path)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp384r1":
        raise UnreadableInputError(f"{key_path}: an anonymous WACZ signature needs an ECDSA "
                                   "P-384 key (`archiver keygen --wacz` makes one)")
    return key
