"""The article being built: values plus per-field evidence, and small HTML helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from lxml import etree

from archiver.extract import byline as bylines
from archiver.extract import dom
from archiver.extract.dom import Element
from archiver.extract.structured import Structured
from archiver.extract.text import Normalizer

# Never text: code, embeds, forms and navigation chrome.
JUNK_TAGS = ["script", "style", "noscript", "template", "iframe", "svg", "form", "button",
             "select", "nav", "object", "embed", "video", "audio"]
# Class/id tokens of ads, share bars and comment widgets (qc = quảng cáo, advertisement).
_JUNK_TOKEN = re.compile(
    r"^(?:ads?|adv|advert\w*|advertisement|banner\w*|qc|quangcao|social\w*|share\w*|"
    r"sharing|comments?)(?:[-_]\w+)*$", re.IGNORECASE)


# Characters that cannot appear in a URI even percent-encoding aside (JSON blobs in src=).
_NOT_URI = re.compile(r'[\s"<>{}|\\^`\x00-\x1f\x7f]')
_URI_SAFE = ":/?#[]@!$&'()*+,;=%~-._"


@dataclass
class Fields:
    """Values of one article under construction; `put` records evidence with each value."""

    profile: str
    url: str
    id: str | None = None
    canonical_url: str | None = None
    title: str | None = None
    lead: str | None = None
    body: list[str] = field(default_factory=list)
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    language: str | None = None
    published_at: str | None = None
    modified_at: str | None = None
    images: list[dict[str, str | None]] = field(default_factory=list)
    publisher: dict[str, str | None] = field(
        default_factory=lambda: {"name": None, "domain": None})
    byline: bylines.Byline = field(default_factory=bylines.empty)
    evidence: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: Any, how: str) -> bool:
        """Set a field when the value is present; returns whether it was set."""
        if value is None or value == [] or value == "":
            return False
        setattr(self, name, value)
        self.evidence[name] = how
        return True

    def missing(self, name: str) -> bool:
        return name not in self.evidence


@dataclass
class Page:
    """One parsed HTML page: the lxml tree, its structured data, its URL and the normaliser."""

    root: Element
    structured: Structured
    url: str
    norm: Normalizer
    charset: str


def strip_junk(root: Element) -> None:
    """Remove scripts, styles, navigation, ads and share widgets (after JSON-LD is read)."""
    for tag in list(root.iter(*JUNK_TAGS)):
        dom.drop(tag)
    for tag in _WITH_CLASS_OR_ID(root):
        if _is_junk(tag):
            dom.drop(tag)  # inside an already dropped subtree this is harmless


# One C-level pass for the candidates; the token test runs only on elements that have any.
_WITH_CLASS_OR_ID = etree.XPath("//*[@class or @id]")


def _is_junk(tag: Element) -> bool:
    tokens = (tag.get("class") or "").split()
    ident = tag.get("id")
    if ident:
        tokens.append(ident)
    return any(_JUNK_TOKEN.match(token) for token in tokens)


def text_of(tag: Element, norm: Normalizer) -> str:
    """Visible text of an element, NFC and whitespace-folded (<br> adds nothing)."""
    return norm.clean(dom.text(tag))


def resolve(href: str | None, base: str) -> str | None:
    """Absolute http(s) URL for an href/src, None for data:, javascript: or junk."""
    if not href or not href.strip():
        return None
    try:
        url = urljoin(base, href.strip())
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or _NOT_URI.search(url):
        return None
    # IRI -> URI (RFC 3987 3.1): percent-encode non-ASCII, so the schema's `uri` format holds.
    return url if url.isascii() else quote(url, safe=_URI_SAFE)


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def language_tag(value: str | None) -> str | None:
    """Primary language subtag: 'vi-VN' / 'vi_VN' -> 'vi'."""
    if not value:
        return None
    primary = re.split(r"[-_]", value.strip())[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None
