"""Crawler traps: URLs that go on for ever (calendars, session paths, /a/b/a/b/...).

Each test returns a reason for the summary, or None. Limits follow Heritrix's defaults where
it has one (TooManyPathSegmentsDecideRule: 20 segments; PathologicalPathDecideRule: a path
part repeated more than twice in a row); the URL length follows the common 2,048-character
limit of browsers and sitemaps (sitemaps.org: "less than 2,048 characters").
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class TrapLimits:
    max_url_length: int = 2048
    max_path_depth: int = 20
    max_repeats: int = 2  # a run of path segments may appear at most twice in a row


def trap_reason(url: str, limits: TrapLimits) -> str | None:
    if len(url) > limits.max_url_length:
        return "trap: URL too long"
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) > limits.max_path_depth:
        return "trap: path too deep"
    if _repeats(segments) > limits.max_repeats:
        return "trap: repeated path segments"
    return None


def _repeats(segments: list[str]) -> int:
    """The most times any run of segments repeats back to back (/a/b/a/b/a/b -> 3)."""
    best = 1
    n = len(segments)
    for size in range(1, n // 2 + 1):
        for start in range(n - 2 * size + 1):
            run = segments[start:start + size]
            count = 1
            pos = start + size
            while segments[pos:pos + size] == run:
                count += 1
                pos += size
            best = max(best, count)
    return best
