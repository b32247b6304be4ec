"""Field rules of WARC 1.0/1.1 (ISO 28500): presence, repetition, value syntax, per-type needs.

Grading: what breaks reading, identity or fixity is an error (missing/empty/duplicated mandatory
fields, malformed ids, dates and lengths, angle-bracketed URIs, wrong segment numbers); what is
merely unusual but readable is a warning (unknown types, case variants, spaces in URIs).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from archiver.check.warccheck.digests import parse_digest
from archiver.check.warccheck.headers import HeaderBlock

RECORD_TYPES = frozenset(
    {"warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion",
     "continuation"}
)
NEEDS_TARGET = frozenset(
    {"response", "resource", "request", "revisit", "conversion", "continuation"}
)
MANDATORY = ("WARC-Record-ID", "WARC-Type", "WARC-Date", "Content-Length")
STANDARD = frozenset(
    n.lower()
    for n in (
        *MANDATORY, "Content-Type", "WARC-Concurrent-To", "WARC-Block-Digest",
        "WARC-Payload-Digest", "WARC-IP-Address", "WARC-Refers-To", "WARC-Refers-To-Target-URI",
        "WARC-Refers-To-Date", "WARC-Target-URI", "WARC-Truncated", "WARC-Warcinfo-ID",
        "WARC-Filename", "WARC-Profile", "WARC-Identified-Payload-Type", "WARC-Segment-Number",
        "WARC-Segment-Origin-ID", "WARC-Segment-Total-Length",
    )
)
# WARC-Concurrent-To is repeatable by the standard; WARC-Protocol (a WARC 1.1-era extension from
# the IIPC proposals) is defined as repeatable too; other extension fields are not ours to judge.
REPEATABLE = frozenset({"warc-concurrent-to", "warc-protocol"})
TRUNCATED_REASONS = frozenset({"length", "time", "disconnect", "unspecified"})

ID_RE = re.compile(r"^<[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>]+>$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")
DATE_LOOSE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z)?)?)?$", re.I)
SPACE_RE = re.compile(r"\s")
SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
MEDIA_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+\s*(;.*)?$")

Emit = Callable[..., None]  # emit(severity, code, message, field=...)


@dataclass
class RecordInfo:
    """What the record loop needs from the header after the checks."""

    record_id: str | None
    rtype: str | None  # lowercased WARC-Type
    length: int | None
    content_type: str | None
    segment_number: int | None


def check_fields(h: HeaderBlock, emit: Emit) -> RecordInfo:
    _check_repeats_and_empties(h, emit)
    rtype_raw = h.get("WARC-Type") or None
    rtype = rtype_raw.lower() if rtype_raw else None
    for name in MANDATORY:
        if not h.all(name):
            emit("error", "missing-field", f"mandatory field {name} is missing", field=name)
    rid = _check_id(h, "WARC-Record-ID", emit)
    for name in ("WARC-Concurrent-To", "WARC-Refers-To", "WARC-Warcinfo-ID",
                 "WARC-Segment-Origin-ID"):
        _check_id(h, name, emit)
    _check_type(rtype_raw, emit)
    for name in ("WARC-Date", "WARC-Refers-To-Date"):
        _check_date(h, name, emit)
    length = _check_int(h, "Content-Length", emit)
    for name in ("WARC-Target-URI", "WARC-Refers-To-Target-URI"):
        _check_uri(h, name, emit)
    _check_misc(h, emit)
    seg = _check_segments(h, rtype, emit)
    _check_type_needs(h, rtype, emit)
    return RecordInfo(rid, rtype, length, h.get("Content-Type"), seg)


def _check_repeats_and_empties(h: HeaderBlock, emit: Emit) -> None:
    seen: set[str] = set()
    for f in h.fields:
        low = f.name.lower()
        if low not in STANDARD:
            continue
        if not f.value:
            emit("error", "empty-field", f"{f.name} has an empty value", field=f.name)
        if low in seen and low not in REPEATABLE:
            emit("error", "duplicate-field", f"{f.name} appears more than once", field=f.name)
        seen.add(low)


def _check_id(h: HeaderBlock, name: str, emit: Emit) -> str | None:
    first = None
    for f in h.all(name):
        if not f.value:
            continue
        first = first or f.value
        if not ID_RE.match(f.value):
            emit("error", "invalid-field", f"{name} is not a <uri>: {f.value[:80]!r}", field=name)
        elif name == "WARC-Record-ID" and f.value[1:5].lower() != "urn:":
            emit("warning", "record-id-not-urn", f"{name} is not a urn: {f.value[:80]}", field=name)
    return first


def _check_type(raw: str | None, emit: Emit) -> None:
    if not raw:
        return
    if raw.lower() not in RECORD_TYPES:
        emit("warning", "unknown-record-type", f"unknown WARC-Type {raw!r} (ignored by readers)",
             field="WARC-Type")
    elif raw not in RECORD_TYPES:
        emit("warning", "non-canonical-case", f"WARC-Type {raw!r} is not in lower case",
             field="WARC-Type")


def _check_date(h: HeaderBlock, name: str, emit: Emit) -> None:
    value = h.get(name)
    if not value:
        return
    if DATE_RE.match(value):
        return
    if DATE_RE.match(value.upper()):
        emit("warning", "non-canonical-case", f"{name} {value!r} uses lower-case t/z", field=name)
    elif DATE_LOOSE_RE.match(value):
        emit("warning", "date-precision", f"{name} {value!r} is not YYYY-MM-DDThh:mm:ssZ",
             field=name)
    else:
        emit("error", "invalid-field", f"{name} is not a W3C-ISO8601 date: {value[:60]!r}",
             field=name)


def _check_int(h: HeaderBlock, name: str, emit: Emit) -> int | None:
    value = h.get(name)
    if not value:
        return None
    if not value.isascii() or not value.isdigit():
        emit("error", "invalid-field", f"{name} is not a number: {value[:60]!r}", field=name)
        return None
    return int(value)


def _check_uri(h: HeaderBlock, name: str, emit: Emit) -> None:
    value = h.get(name)
    if not value:
        return
    if value.startswith("<") and value.endswith(">"):
        # wget 1.19 wrote these; the grammar (and pywb) does not accept them
        emit("error", "angle-bracketed-uri", f"{name} is wrapped in angle brackets: {value[:80]}",
             field=name)
    elif not SCHEME_RE.match(value):
        emit("error", "invalid-field", f"{name} has no URI scheme: {value[:80]!r}", field=name)
    elif SPACE_RE.search(value):
        emit("warning", "uri-contains-space", f"{name} contains white space: {value[:80]!r}",
             field=name)


def _check_misc(h: HeaderBlock, emit: Emit) -> None:
    ip = h.get("WARC-IP-Address")
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            emit("error", "invalid-field", f"WARC-IP-Address is not an IP: {ip[:60]!r}",
                 field="WARC-IP-Address")
    for name in ("Content-Type", "WARC-Identified-Payload-Type"):
        value = h.get(name)
        if value and not MEDIA_RE.match(value):
            emit("error", "invalid-field", f"{name} is not a media type: {value[:60]!r}",
                 field=name)
    for name in ("WARC-Block-Digest", "WARC-Payload-Digest"):
        value = h.get(name)
        if value:
            parsed = parse_digest(value)
            if isinstance(parsed, str):
                emit("error", "invalid-field", f"{name}: {parsed}", field=name)
    trunc = h.get("WARC-Truncated")
    if trunc and trunc.lower() not in TRUNCATED_REASONS:
        emit("warning", "unknown-value", f"WARC-Truncated reason {trunc!r} is not standard",
             field="WARC-Truncated")
    _check_int(h, "WARC-Segment-Total-Length", emit)


def _check_segments(h: HeaderBlock, rtype: str | None, emit: Emit) -> int | None:
    name = "WARC-Segment-Number"
    raw = h.get(name)
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        emit("error", "invalid-field", f"{name} is not a positive integer: {raw[:40]!r}",
             field=name)
        return None
    n = int(raw)
    if rtype == "continuation" and n < 2:
        emit("error", "segment-number", f"a continuation record must have {name} >= 2, not {n}",
             field=name)
    elif rtype not in (None, "continuation") and n != 1:
        emit("error", "segment-number",
             f"only the first segment ({name} 1) may be a {rtype} record, not {n}", field=name)
    return n


def _check_type_needs(h: HeaderBlock, rtype: str | None, emit: Emit) -> None:
    if rtype in NEEDS_TARGET and not h.all("WARC-Target-URI"):
        emit("error", "missing-field", f"a {rtype} record needs WARC-Target-URI",
             field="WARC-Target-URI")
    if rtype == "revisit":
        if not h.all("WARC-Profile"):
            emit("error", "missing-field", "a revisit record needs WARC-Profile",
                 field="WARC-Profile")
        if not h.all("WARC-Refers-To") and not h.all("WARC-Refers-To-Target-URI"):
            emit("warning", "missing-field", "a revisit record should name what it refers to "
                 "(WARC-Refers-To or WARC-Refers-To-Target-URI)", field="WARC-Refers-To")
    if rtype == "continuation":
        for name in ("WARC-Segment-Origin-ID", "WARC-Segment-Number"):
            if not h.all(name):
                emit("error", "missing-field", f"a continuation record needs {name}", field=name)
    ctype = h.get("Content-Type")
    if rtype == "warcinfo" and ctype and ctype.split(";")[0].strip().lower() != (
        "application/warc-fields"
    ):
        # The warcinfo block *is* warc-fields; another label makes it unreadable as such
        # (jwat flags it; our conformance verdicts grade it invalid).
        emit("error", "warcinfo-content-type",
             f"a warcinfo record's Content-Type must be application/warc-fields, not {ctype!r}",
             field="Content-Type")
    length = h.get("Content-Length")
    if not ctype and rtype not in (None, "continuation") and length not in (None, "", "0"):
        emit("warning", "missing-content-type", f"a {rtype} record with a block should have "
             "Content-Type", field="Content-Type")


