"""Labelled digests (`algorithm:value`): parsing, and comparing in every encoding seen in the wild
(sha1 in base32 is traditional; base16 and base64/base64url occur, e.g. Browsertrix sha256 hex)."""

from __future__ import annotations

import base64

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


def matches(encoded: str, digest: bytes) -> str | None:
    """Name of the encoding under which `encoded` equals `digest`, or None. Encodes the
    computed digest (cheap) rather than trying to decode the declared value every way."""
    if len(encoded) == 2 * len(digest) and encoded.lower() == digest.hex():
        return "base16"
    bare = encoded.rstrip("=")
    if bare.upper() == base64.b32encode(digest).decode().rstrip("="):
        return "base32"
    b64 = base64.b64encode(digest).decode().rstrip("=")
    if bare == b64:
        return "base64"
    if bare == b64.replace("+", "-").replace("/", "_"):
        return "base64url"
    return None


def digest_key(value: str | None) -> tuple[str, bytes] | str | None:
    """A labelled digest as (hashlib name, raw bytes), to compare two spellings of one digest
    (sha1 base32 in one record, base16 in another); the value as given when it cannot be
    decoded; None for no digest."""
    import binascii
    import hashlib

    if not value:
        return None
    parsed = parse_digest(value)
    if isinstance(parsed, str) or parsed[0].startswith("?"):
        return value.strip()
    algo, encoded = parsed
    size = hashlib.new(algo).digest_size
    bare = encoded.rstrip("=")
    decoders = (bytes.fromhex, lambda v: base64.b32decode(v.upper() + "=" * (-len(v) % 8)),
                lambda v: base64.b64decode(v + "=" * (-len(v) % 4)),
                lambda v: base64.urlsafe_b64decode(v + "=" * (-len(v) % 4)))
    for decode in decoders:
        try:
            raw = decode(bare)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == size:
            return algo, raw
    return value.strip()
