"""Labelled digests (`algorithm:value`): parsing, and comparing in every encoding seen in the wild
(sha1 in base32 is traditional; base16 and base64/base64url occur, e.g. Browsertrix sha256 hex)."""

from __future__ import annotations

import base64
import binascii
import contextlib

# Accepted spellings (lower case, dashes removed) -> hashlib name.
ALGORITHMS = {
    "sha1": "sha1", "sha224": "sha224", "sha256": "sha256", "sha384": "sha384",
    "sha512": "sha512", "md5": "md5",
}


def parse_digest(value: str) -> tuple[str, str] | str:
    """(hashlib name or '?<label>' when unknown, encoded value), or an error message."""
    label, sep, encoded = value.partition(":")
    label, encoded = label.strip(), encoded.strip()
    if not sep:
        return f"not 'algorithm:value': {value[:60]!r}"
    if not label:
        return f"no algorithm in {value[:60]!r}"
    if not encoded:
        return f"no digest value in {value[:60]!r}"
    algo = ALGORITHMS.get(label.lower().replace("-", ""))
    return (algo or f"?{label}", encoded)


def _candidates(encoded: str, size: int) -> list[tuple[str, bytes]]:
    """Every plausible decoding of `encoded` to `size` bytes, with the encoding's name."""
    out: list[tuple[str, bytes]] = []
    if len(encoded) == 2 * size:
        with contextlib.suppress(ValueError):
            out.append(("base16", bytes.fromhex(encoded)))
    padded32 = encoded.upper() + "=" * (-len(encoded) % 8)
    with contextlib.suppress(binascii.Error, ValueError):
        out.append(("base32", base64.b32decode(padded32)))
    padded64 = encoded + "=" * (-len(encoded) % 4)
    for name, alt in (("base64", b"+/"), ("base64url", b"-_")):
        with contextlib.suppress(binascii.Error, ValueError):
            out.append((name, base64.b64decode(padded64, altchars=alt, validate=True)))
    return [(n, b) for n, b in out if len(b) == size]


def matches(encoded: str, digest: bytes) -> str | None:
    """Name of the encoding under which `encoded` equals `digest`, or None."""
    for name, raw in _candidates(encoded, len(digest)):
        if raw == digest:
            return name
    return None
