"""Dates as news pages print them, turned into RFC 3339 strings with an offset.

Times without an offset are Vietnam time (+07:00): vov.vn and other Vietnamese outlets
print local time and never the zone, and the machine dates they do give carry +07:00.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7))

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}:?\d{2})?$"
)
# 07/12/2023, 7/12/2023, 07-12-2023, 07.12.2023 (day first, as Vietnamese pages write it)
_DMY = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)")
# "ngày 7 tháng 12 năm 2023"
_WORDS = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s+năm\s+(\d{4})", re.IGNORECASE)
_HM = re.compile(r"(?<![\d/.-])(\d{1,2})(?::|h)(\d{2})(?::(\d{2}))?(?![\d/])")
_GMT = re.compile(r"(?:GMT|UTC)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)


def rfc3339(moment: datetime) -> str:
    """2023-12-07T11:20:00+07:00; sub-seconds only when present; naive means Vietnam time."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment.isoformat()


def _offset(text: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def parse_iso(text: str | None) -> str | None:
    """ISO 8601 / RFC 3339 machine dates (meta tags, JSON-LD) -> RFC 3339, or None."""
    if not text:
        return None
    match = _ISO.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                          int(second or 0), micro)
        if zone:
            moment = moment.replace(tzinfo=_offset(zone))
    except ValueError:
        return None
    return rfc3339(moment)


def parse_vietnamese(text: str | None) -> str | None:
    """A visible Vietnamese date line -> RFC 3339, or None.

    Handles 'Thứ Năm, 11:20, 07/12/2023 |', '07/12/2023 11:20 GMT+7', 'Cập nhật: 11h20
    ngày 7 tháng 12 năm 2023' and ISO strings. The weekday is ignored (the numbers are the
    date); a date without a time is midnight; without GMT/UTC the zone is +07:00.
    """
    if not text:
        return None
    iso = parse_iso(text)
    if iso:
        return iso
    date = _DMY.search(text) or _WORDS.search(text)
    if not date:
        return None
    rest = text[: date.start()] + " " + text[date.end():]
    clock = _HM.search(rest)
    hour, minute, second = (int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)) \
        if clock else (0, 0, 0)
    day, month, year = (int(part) for part in date.groups())
    try:
        zone = _gmt_zone(rest)
        return rfc3339(datetime(year, month, day, hour, minute, second, tzinfo=zone))
    except ValueError:  # 31/02, 25:61, GMT+30: not a date, rather than a guess
        return None


def _gmt_zone(text: str) -> timezone:
    gmt = _GMT.search(text)
    if not gmt:
        return VIETNAM
    sign = -1 if gmt.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(gmt.group(2)), minutes=int(gmt.group(3) or 0)))
