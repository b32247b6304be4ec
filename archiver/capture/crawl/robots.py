"""robots.txt rules for one host, parsed by protego (Google's and RFC 9309's conventions:
longest match wins, Allow beats Disallow on a tie, wildcards and `$`).

A missing robots.txt (4xx) allows everything; a server error (5xx) or no answer disallows
everything for this crawl, as RFC 9309 section 2.3.1.4 asks ("unreachable": assume complete
disallow). The rules are kept as text in the crawl state, so a resumed crawl does not fetch
robots.txt again.
"""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

# A product token for matching `User-agent:` lines: the first word of our User-Agent.
AGENT_TOKEN = "archiver"
MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 section 2.5: parse at least 500 KiB


@dataclass
class Robots:
    """What one host's robots.txt says (or the rule that stands in for it)."""

    text: str  # the robots.txt as decoded, "" when there is none
    disallow_all: bool = False  # 5xx or unreachable

    def __post_init__(self) -> None:
        self._parsed = Protego.parse(self.text) if self.text else None

    @classmethod
    def from_answer(cls, status: int | None, body: bytes) -> Robots:
        if status is None or status >= 500:
            return cls("", disallow_all=True)
        if not 200 <= status < 300:
            return cls("")  # 4xx (and anything odd): no rules
        return cls(body[:MAX_ROBOTS_BYTES].decode("utf-8", "replace"))

    def allows(self, url: str) -> bool:
        if self.disallow_all:
            return False
        return self._parsed is None or bool(self._parsed.can_fetch(url, AGENT_TOKEN))

    def crawl_delay(self) -> float | None:
        if self._parsed is None:
            return None
        delay = self._parsed.crawl_delay(AGENT_TOKEN)
        return float(delay) if delay is not None else None

    def sitemaps(self) -> list[str]:
        return list(self._parsed.sitemaps) if self._parsed is not None else []
