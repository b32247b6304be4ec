"""Text normalisation and byte decoding.

Only two things are ever changed in source text: the Unicode form (NFC, because Vietnamese
pages are also served in NFD) and whitespace (runs of spaces, tabs, newlines, &nbsp; and
other Unicode spaces fold to one space; ends are stripped). Every step that actually changed
something is recorded, so the article can say what was normalised.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from typing import Final

from bs4.dammit import EncodingDetector

NFC: Final = "NFC"  # Final: typed Literal["NFC"], as unicodedata.normalize wants
WHITESPACE = "whitespace"

# Python's \s covers &nbsp; (U+00A0), thin/ideographic spaces and line separators.
_WS_RUN = re.compile(r"\s+")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Labels servers send by default; many such pages are really UTF-8 (see decode()).
_WEAK_LABELS = {"iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii"}


class Normalizer:
    """Applies NFC + whitespace folding and remembers which steps changed any text."""

    def __init__(self) -> None:
        self.applied: set[str] = set()

    def nfc(self, text: str) -> str:
        if unicodedata.is_normalized(NFC, text):
            return text
        self.applied.add(NFC)
        return unicodedata.normalize(NFC, text)

    def clean(self, text: str) -> str:
        """NFC, then fold every whitespace run to one space and strip the ends."""
        text = self.nfc(text)
        folded = _WS_RUN.sub(" ", text).strip()
        if folded != text:
            self.applied.add(WHITESPACE)
        return folded

    def clean_or_none(self, text: str | None) -> str | None:
        """clean(), with None for missing or blank text (never an empty string)."""
        if text is None:
            return None
        return self.clean(text) or None

    def steps(self) -> list[str]:
        return sorted(self.applied)


def charset_from_content_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _CHARSET.search(content_type)
    return match.group(1).strip().lower() if match else None


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _try(payload: bytes, codec: str | None) -> str | None:
    if codec is None:
        return None
    try:
        return payload.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode(payload: bytes, content_type: str | None, *, is_html: bool) -> tuple[str, str]:
    """Decode a payload; returns (text, how the charset was chosen).

    Order, as browsers do: byte-order mark, HTTP charset, <meta> charset (HTML only), then
    UTF-8, then windows-1258 (Vietnamese legacy) with replacement as a last resort. A
    declared charset that cannot decode the bytes is skipped instead of producing garbage.
    A weak default label (ISO-8859-1 / windows-1252 / ASCII) loses to valid non-ASCII UTF-8,
    since such labels are usually a server default, not a statement about the page.
    """
    for bom, codec in _BOMS:
        if payload.startswith(bom):
            text = _try(payload, codec + "-sig" if codec == "utf-8" else codec)
            if text is not None:
                return text.lstrip("\ufeff"), f"byte-order mark ({codec})"
    candidates: list[tuple[str | None, str]] = []
    http = charset_from_content_type(content_type)
    if http:
        candidates.append((http, f"HTTP Content-Type charset={http}"))
    if is_html:
        meta = EncodingDetector.find_declared_encoding(payload[:8192], is_html=True)
        if meta:
            candidates.append((meta.lower(), f"<meta> charset={meta.lower()}"))
    for label, how in candidates:
        if label in _WEAK_LABELS and not payload.isascii():
            utf8 = _try(payload, "utf-8")
            if utf8 is not None:
                return utf8, f"UTF-8 (bytes are valid UTF-8; declared {label} ignored)"
        text = _try(payload, _codec(label))
        if text is not None:
            return text, how
    utf8 = _try(payload, "utf-8")
    if utf8 is not None:
        return utf8, "UTF-8 (no usable declaration)"
    return payload.decode("cp1258", errors="replace"), "windows-1258 fallback (with replacement)"
