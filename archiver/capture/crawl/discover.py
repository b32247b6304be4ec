"""What a stored payload points to: links, page requisites, feeds and sitemap entries.

Everything here is a pure function of (URL, content type, payload bytes): the crawler reads
the payload back from the WARC record it just stored, so discovery works from the evidence,
and a resumed crawl can re-derive it without fetching again. URLs come back absolute, not yet
canonical.
"""

from __future__ import annotations

import gzip
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.etree
import tinycss2

MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # sitemaps.org: 50 MB uncompressed at most
HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")
# <link rel=...> values whose target a replay needs (HTML "preload" included: fonts, CSS)
REQUISITE_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload",
                  "modulepreload", "mask-icon"}
PAGE_RELS = {"next", "prev", "previous", "canonical"}
# lazy-loading attributes used by news sites (lazysizes, lozad, WordPress, VOV's theme)
LAZY_SRC = ("data-src", "data-original", "data-lazy-src")
LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")


@dataclass
class Found:
    pages: list[str] = field(default_factory=list)  # links to follow (depth counts)
    requisites: list[str] = field(default_factory=list)  # images, CSS, scripts, ...
    feeds: list[str] = field(default_factory=list)  # RSS/Atom advertised by the page
    sitemaps: list[str] = field(default_factory=list)  # children of a sitemap index
    published: dict[str, str] = field(default_factory=dict)  # news sitemap dates by URL
    source: str = ""  # html | css | sitemap | feed: what the payload turned out to be


def payload_kind(content_type: str | None, payload: bytes) -> str | None:
    """html | css | xml (a feed or a sitemap: the root element decides) | None."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in HTML_TYPES:
        return "html"
    if ctype == "text/css":
        return "css"
    head = payload[:512].lstrip().lower()
    if ctype.endswith("xml") or ctype in FEED_TYPES or head.startswith(b"<?xml") \
            or payload[:2] == b"\x1f\x8b":
        return "xml"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    return None


def parse(url: str, content_type: str | None, payload: bytes, want_css: bool = True) -> Found:
    kind = payload_kind(content_type, payload)
    if kind == "html":
        return html_links(url, payload)
    if kind == "css":
        return Found(requisites=css_urls(url, payload) if want_css else [], source="css")
    if kind == "xml":
        return xml_links(url, payload)
    return Found()


def html_links(url: str, payload: bytes) -> Found:
    found = Found(source="html")
    # lxml.etree's own HTML parser (the same libxml2 parse as lxml.html), not lxml.html's:
    # its element classes make every element visited in Python ~5x dearer, and a crawl
    # walks every element of every page (issue 24 item 7).
    try:
        doc = lxml.etree.HTML(payload)
    except (lxml.etree.ParserError, lxml.etree.XMLSyntaxError, ValueError):
        return found
    if doc is None:
        return found
    base = url
    for el in doc.iter("base"):
        if el.get("href"):
            base = _join(url, el.get("href")) or url
        break
    add_page = lambda v: _add(found.pages, base, v)  # noqa: E731
    add_req = lambda v: _add(found.requisites, base, v)  # noqa: E731
    for el in doc.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("a", "area"):
            add_page(el.get("href"))
        elif tag == "link":
            rels = set((el.get("rel") or "").lower().split())
            if rels & PAGE_RELS:
                add_page(el.get("href"))
            if rels & REQUISITE_RELS:
                add_req(el.get("href"))
            if "alternate" in rels and (el.get("type") or "").lower() in FEED_TYPES:
                _add(found.feeds, base, el.get("href"))
        elif tag in ("img", "source", "input", "embed", "track", "audio", "video", "script",
                     "iframe"):
            if tag == "iframe":
                add_page(el.get("src"))
                continue
            add_req(el.get("src"))
            for attr in LAZY_SRC:
                add_req(el.get(attr))
            for attr in ("srcset", *LAZY_SRCSET):
                for candidate in srcset_urls(el.get(attr) or ""):
                    add_req(candidate)
            if tag == "video":
                add_req(el.get("poster"))
        elif tag == "style" and el.text:
            found.requisites += css_urls(base, el.text.encode())
        style = el.get("style") if tag else None
        if style and "url(" in style:
            found.requisites += css_urls(base, style.encode(), declarations=True)
    return found


def srcset_urls(value: str) -> list[str]:
    """Every candidate URL of a srcset attribute (WHATWG HTML, "parse a srcset attribute":
    a URL runs to whitespace; trailing commas end it; descriptors run to the next comma)."""
    urls, pos, n = [], 0, len(value)
    while pos < n:
        while pos < n and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < n and not value[pos].isspace():
            pos += 1
        candidate = value[start:pos]
        if candidate.endswith(","):
            candidate = candidate.rstrip(",")
        else:
            depth = 0  # skip descriptors up to the comma that ends them (not inside parens)
            while pos < n and not (value[pos] == "," and depth == 0):
                depth += {"(": 1, ")": -1}.get(value[pos], 0)
                pos += 1
        if candidate:
            urls.append(candidate)
    return urls


def css_urls(url: str, payload: bytes, declarations: bool = False) -> list[str]:
    """url(...) values and @import targets of a stylesheet, resolved against its URL."""
    if declarations:
        nodes = tinycss2.parse_declaration_list(payload.decode("utf-8", "replace"))
    else:
        nodes, _encoding = tinycss2.parse_stylesheet_bytes(payload)
    out: list[str] = []
    for value in _css_url_values(nodes):
        _add(out, url, value)
    return out


def _css_url_values(nodes: list[Any]) -> Iterator[str]:
    for node in nodes:
        kind = getattr(node, "type", "")
        if kind == "url":
            yield node.value
        elif kind == "function" and node.lower_name == "url":
            for arg in node.arguments:
                if arg.type == "string":
                    yield arg.value
        elif kind == "at-rule" and node.lower_at_keyword == "import":
            for tok in node.prelude:  # @import "x.css" | url(x.css) | url("x.css")
                if tok.type in ("string", "url"):
                    yield tok.value
                    break
                if tok.type == "function" and tok.lower_name == "url":
                    yield from (a.value for a in tok.arguments if a.type == "string")
                    break
            continue
        for child_attr in ("prelude", "content", "value", "arguments"):
            children = getattr(node, child_attr, None)
            if isinstance(children, list):
                yield from _css_url_values(children)


def xml_links(url: str, payload: bytes) -> Found:
    """A sitemap (index, urlset, news) or a feed (RSS/Atom, via feedparser)."""
    if payload[:2] == b"\x1f\x8b":  # sitemap.xml.gz served as a gzip file
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(payload)) as gz:
                payload = gz.read(MAX_SITEMAP_BYTES)
        except (OSError, EOFError):
            return Found()
    root = _xml_root(payload)
    if root is None:
        return Found()
    name = lxml.etree.QName(root).localname
    if name in ("urlset", "sitemapindex"):
        return _sitemap(url, root, name)
    return _feed(url, payload)


def _xml_root(payload: bytes) -> lxml.etree._Element | None:
    # No entities, no network, no huge trees: sitemaps come from strangers (XXE, billion laughs)
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, recover=True,
                                  huge_tree=False)
    try:
        return lxml.etree.fromstring(payload, parser)
    except lxml.etree.XMLSyntaxError:
        return None


def _sitemap(url: str, root: lxml.etree._Element, name: str) -> Found:
    found = Found(source="sitemap")
    target = found.sitemaps if name == "sitemapindex" else found.pages
    for entry in root:
        if not isinstance(entry.tag, str):
            continue
        loc, published = None, None
        for child in entry.iter():
            if not isinstance(child.tag, str):
                continue
            local = lxml.etree.QName(child).localname
            if local == "loc" and loc is None:
                loc = (child.text or "").strip()
            elif local == "publication_date":  # news sitemap (Google News schema 0.9)
                published = (child.text or "").strip()
        absolute = _join(url, loc)
        if absolute:
            target.append(absolute)
            if published:
                found.published[absolute] = published
    return found


def _feed(url: str, payload: bytes) -> Found:
    parsed = feedparser.parse(payload, response_headers={"content-location": url})
    found = Found(source="feed")
    for entry in parsed.entries:
        for link in entry.get("links", []) or [{"href": entry.get("link")}]:
            if link.get("rel", "alternate") == "alternate":
                _add(found.pages, url, link.get("href"))
                published = entry.get("published")
                if published and found.pages:
                    found.published[found.pages[-1]] = published
    return found


_SKIP = re.compile(r"^\s*(?:javascript|mailto|tel|data|about|blob|sms|ftp):", re.I)


def _join(base: str, value: str | None) -> str | None:
    if not value or _SKIP.match(value):
        return None
    try:
        absolute = urljoin(base, value.strip())
    except ValueError:
        return None
    return absolute if absolute.startswith(("http://", "https://")) else None


def _add(out: list[str], base: str, value: str | None) -> None:
    absolute = _join(base, value)
    if absolute:
        out.append(absolute)
