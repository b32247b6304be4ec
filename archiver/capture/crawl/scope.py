"""Which discovered URLs are crawled as pages, and which hosts may serve requisites.

Modes (all relative to the seeds): `page` the seeds only; `prefix` URLs under a seed's folder
(wget's --no-parent); `host` a seed's host (default); `domain` a seed's host and its
subdomains. As in Browsertrix, `--include` regexes add URLs to the scope and `--exclude`
regexes take them out (exclude wins); both match the canonical URL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MODES = ("page", "prefix", "host", "domain")


def _bare_host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def _prefix(url: str) -> str:
    parts = urlsplit(url)
    folder = parts.path.rsplit("/", 1)[0] + "/"
    return f"{parts.scheme}://{parts.netloc}{folder}"


@dataclass
class Scope:
    mode: str
    seeds: list[str]  # canonical
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    requisites: str = "any"  # any | domain

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown scope {self.mode!r} (one of {', '.join(MODES)})")
        self._include = [re.compile(p) for p in self.include]
        self._exclude = [re.compile(p) for p in self.exclude]
        self._seeds = set(self.seeds)
        self._hosts = {_bare_host(s) for s in self.seeds}
        self._prefixes = tuple(_prefix(s) for s in self.seeds)

    def add_seeds(self, urls: Iterable[str]) -> None:
        for url in urls:
            self.seeds.append(url)
        self.__post_init__()

    def page_reason(self, url: str) -> str | None:
        """None when `url` (canonical) may be crawled as a page, else why not."""
        if any(p.search(url) for p in self._exclude):
            return "excluded"
        if self._in_mode(url) or any(p.search(url) for p in self._include):
            return None
        return "out of scope"

    def requisite_reason(self, url: str) -> str | None:
        if any(p.search(url) for p in self._exclude):
            return "excluded"
        if self.requisites == "any" or self._in_domain(url):
            return None
        return "out of scope"

    def is_site_host(self, url: str) -> bool:
        """A host the crawl is about (its sitemaps are read)."""
        return _bare_host(url) in self._hosts

    def _in_mode(self, url: str) -> bool:
        if self.mode == "page":
            return url in self._seeds
        if self.mode == "prefix":
            return url.startswith(self._prefixes)
        if self.mode == "host":
            return _bare_host(url) in self._hosts
        return self._in_domain(url)

    def _in_domain(self, url: str) -> bool:
        host = _bare_host(url)
        return any(host == h or host.endswith("." + h) for h in self._hosts)

    def describe(self) -> dict[str, object]:
        return {"mode": self.mode, "include": self.include, "exclude": self.exclude,
                "requisites": self.requisites}
