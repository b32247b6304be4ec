"""Canonical URLs and the seen key.

Canonical form (before the seen-check): url-normalize does scheme and host case, the default
port, percent-encoding case and unreserved characters, dot segments and the empty path;
then the fragment is dropped, tracking parameters are removed (courlan's list of tracker
names: utm_*, fbclid, gclid, ...) and the query parameters are sorted. The seen key is the
SURT of the canonical URL (package `surt`), as the catalog and pywb key captures, so
http/https and www. variants of one page are one key.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit, urlunsplit

import surt
from courlan.clean import TRACKERS_RE
from url_normalize import url_normalize


class BadUrl(ValueError):
    """A URL we will not crawl (not http(s), no host, unparseable)."""


def canonical(url: str) -> str:
    """The canonical form of an absolute http(s) URL; raises BadUrl otherwise."""
    url = url.strip()
    try:
        raw = urlsplit(url)
        if raw.scheme.lower() not in ("http", "https"):
            raise BadUrl(f"not an http(s) URL: {url[:200]}")
        if not raw.hostname:  # checked before url-normalize, which "repairs" http:///x
            raise BadUrl(f"no host: {url[:200]}")
        normal = url_normalize(url)
        if not normal:
            raise BadUrl(f"cannot normalise: {url[:200]}")
        parts = urlsplit(normal)
        if not parts.hostname:
            raise BadUrl(f"no host: {url[:200]}")
    except ValueError as exc:  # urlsplit/IDNA refuse some hosts and ports
        raise BadUrl(f"invalid URL {url[:200]}: {exc}") from exc
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/",
                       _clean_query(parts.query), ""))


def _clean_query(query: str) -> str:
    """Drop tracking parameters, sort the rest (stable on equal names). Pieces are kept as
    url-normalize encoded them, so no value is re-encoded differently."""
    kept = []
    for piece in query.split("&"):
        if not piece:
            continue
        name = unquote(piece.partition("=")[0]).lower()
        if TRACKERS_RE.search(name):
            continue
        kept.append(piece)
    return "&".join(sorted(kept))


def seen_key(canonical_url: str) -> str:
    """The SURT of a canonical URL: the frontier's primary key."""
    return str(surt.surt(canonical_url))


def host_of(url: str) -> str:
    """host[:port] lower-cased: the unit of politeness and of robots.txt."""
    return urlsplit(url).netloc.lower()


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", ""))
