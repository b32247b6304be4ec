"""Byline grammar for Vietnamese news credits (vov.vn style), table-tested.

    byline    := republished | credit
    republished := ["("] ("Theo" | "Nguồn:") OUTLET [")"]          -> source, no authors
    credit    := [names "/"] OUTLET [" (t/h)"] [" (Theo " OUTLET ")"]
    names     := name (("-" | "," | "và" | "&") name)*
    name      := [ROLE " "] Capitalised Words | ROLE          ROLE := PV | Nhóm PV | BTV | CTV

`PV/VOV.VN` -> authors ["PV"] (PV = phóng viên, a staff reporter), source "VOV.VN";
`(t/h)` (tổng hợp) -> compiled; `PV/VOV-Tây Bắc` names a regional bureau as the source.
A line that does not fit keeps `raw` and leaves everything else empty: no guessing.
"""

from __future__ import annotations

import re
from typing import TypedDict


class Byline(TypedDict):
    raw: str | None
    authors: list[str]
    source: str | None
    compiled: bool
    note: str | None


ROLES = {
    "PV": "PV = phóng viên (staff reporter)",
    "Nhóm PV": "Nhóm PV = nhóm phóng viên (team of reporters)",
    "BTV": "BTV = biên tập viên (editor)",
    "CTV": "CTV = cộng tác viên (contributor)",
}
_REPUBLISHED = re.compile(r"^\(?\s*(?:theo|nguồn\s*:)\s+(?P<src>[^()/]+?)\s*\)?\s*\.?$",
                          re.IGNORECASE)
_COMPILED = re.compile(r"\s*\(\s*(?:t/h|th|tổng hợp)\s*\)\s*$", re.IGNORECASE)
_THEO_TAIL = re.compile(r"\s*\(\s*theo\s+(?P<src>[^()]+?)\s*\)\s*$", re.IGNORECASE)
_NAME_SPLIT = re.compile(r"\s*(?:,|;|&|\s-\s|–|—|\bvà\b)\s*")
_ROLE_PREFIX = re.compile(r"^(Nhóm PV|PV|BTV|CTV)\b\s*(.*)$")
# An outlet: 1-6 words starting with a capital (VOV.VN, VOV-Tây Bắc, VOV Miền Trung, TTXVN).
_OUTLET = re.compile(r"^[^\W\d_][\w.&'’]*(?:(?:\s+|\s*-\s*)[\w.&'’]+){0,5}$")
_BARE_OUTLET = re.compile(r"^(?:VOV|[A-ZĐ]{2,}\b)")  # VOV.VN, VOV-ĐBSCL, TTXVN
_BUREAU = re.compile(r"^VOV(?:\s+|\s*-\s*)(?!VN$)\S.*$")
_NOT_NAMES = {"theo", "nguồn", "ảnh", "video", "bài"}  # credit words, not people
_WORD = re.compile(r"^[^\W\d_][^\W\d_.']*\.?$")


def empty(raw: str | None = None) -> Byline:
    return Byline(raw=raw, authors=[], source=None, compiled=False, note=None)


def parse(raw: str | None) -> Byline:
    """Parse one byline line (already NFC- and whitespace-normalised)."""
    if raw is None or not raw.strip():
        return empty()
    text = raw.strip()
    republished = _REPUBLISHED.match(text)
    if republished and _is_outlet(republished.group("src")):
        src = republished.group("src")
        return Byline(raw=text, authors=[], source=src, compiled=False,
                      note=f"republished: {text.strip('()')}")
    return _credit(text) or empty(text)


def is_recognised(byline: Byline) -> bool:
    return bool(byline["authors"] or byline["source"])


def _credit(text: str) -> Byline | None:
    notes: list[str] = []
    rest, compiled = _strip(_COMPILED, text)
    theo = _THEO_TAIL.search(rest)
    if theo:
        rest = rest[: theo.start()]
    names_part, slash, outlet = rest.rpartition("/")
    outlet = outlet.strip()
    if not _is_outlet(outlet):
        return None
    authors: list[str] = []
    if not slash and (not _BARE_OUTLET.match(outlet) or outlet in ROLES):
        return None  # a lone word may be a person or anything: only known outlet forms pass
    if slash:
        parsed = _names(names_part, notes)
        if parsed is None:
            return None
        authors = parsed
    if compiled:
        notes.append("t/h = tổng hợp (compiled from several sources)")
    if _BUREAU.match(outlet):
        notes.append(f"{outlet} = VOV regional bureau or channel")
    if theo:
        notes.append(f"based on: {theo.group('src')}")
    return Byline(raw=text, authors=authors, source=outlet, compiled=compiled,
                  note="; ".join(notes) or None)


def _strip(pattern: re.Pattern[str], text: str) -> tuple[str, bool]:
    match = pattern.search(text)
    return (text[: match.start()], True) if match else (text, False)


def _is_outlet(text: str) -> bool:
    return bool(text) and len(text) <= 60 and _OUTLET.match(text) is not None \
        and text[0].isupper()


def _names(text: str, notes: list[str]) -> list[str] | None:
    """Split the names part; None when any piece is not a name (unknown shape)."""
    authors: list[str] = []
    for piece in _pieces(text):
        role_match = _ROLE_PREFIX.match(piece)
        name = piece
        if role_match:
            role, name = role_match.group(1), role_match.group(2) or role_match.group(1)
            if ROLES[role] not in notes:
                notes.append(ROLES[role])
        if name not in ROLES and not _is_name(name):
            return None
        authors.append(name)
    return authors or None


def _pieces(text: str) -> list[str]:
    """Split on separators; 'Hà Anh-Minh Thu' splits too, but only when every side is a
    full (two-word) name, so a hyphenated title like 'PGS-TS' is never cut apart."""
    pieces: list[str] = []
    for piece in _NAME_SPLIT.split(text.strip()):
        parts = piece.split("-")
        if len(parts) > 1 and all(len(part.split()) >= 2 for part in parts):
            pieces.extend(part.strip() for part in parts)
        else:
            pieces.append(piece)
    return pieces


def _is_name(text: str) -> bool:
    """1-6 capitalised words of letters: 'Minh Hòa', 'Nguyễn Văn A', 'Th. Hằng'."""
    words = text.split()
    if words and words[0].lower() in _NOT_NAMES:
        return False
    return 0 < len(words) <= 6 and all(
        _WORD.match(word) and word[0].isupper() for word in words)
