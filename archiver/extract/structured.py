"""Structured data a page states about itself: JSON-LD, OpenGraph / article:* and <meta>.

Values come back raw (not normalised); callers normalise and record evidence. Malformed
JSON-LD is skipped, never fatal: pages ship broken blocks more often than one would think.

JSON-LD strings are HTML-entity-decoded once when read: the text of a <script> is not
decoded by the HTML parser, and CMSs (WordPress above all) write `&#8211;` or `&amp;` into
their JSON. Only complete references (ending in `;`) are decoded, each once, so a literal
`&amp;amp;` becomes `&amp;` and a bare `&` (`R&D`, `?a=1&not=2`) stays as written. <meta>
content needs nothing: the HTML parser has decoded attribute values once already.

Names of people and publishers are often `{"@id": ...}` references to another node of the
page's JSON-LD (Yoast's `@graph`); `ld_names` resolves them to that node's `name` and never
returns a URL as a name.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from html.entities import html5
from typing import Any

from archiver.extract.dom import Element

ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle",
                 "BlogPosting", "OpinionNewsArticle", "LiveBlogPosting", "TechArticle",
                 "ScholarlyArticle", "Report", "BackgroundNewsArticle"}


# A complete character reference: &#8211; &#x2013; &amp; (a name then `;`).
_CHAR_REF = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
# A name is never a URL: scheme://..., //host/..., www.host... (no spaces in any of them).
_URL_LIKE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://|//|www\.)\S*$")


@dataclass
class Structured:
    jsonld: dict[str, Any] | None = None          # the first article-typed JSON-LD object
    jsonld_type: str | None = None
    meta: dict[str, list[str]] = field(default_factory=dict)  # property/name -> contents
    # JSON-LD nodes of the whole page by their @id, for resolving {"@id": ...} references
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def first(self, key: str) -> str | None:
        values = self.meta.get(key)
        return values[0] if values else None

    def ld(self, key: str) -> Any:
        return self.jsonld.get(key) if self.jsonld else None

    def ld_names(self, key: str) -> tuple[list[str], bool]:
        """Names under `key` of the article object (author, publisher): plain strings and
        `name`s, `{"@id": ...}` references resolved through `nodes`; URLs are dropped.
        Returns (names, whether any came through a reference)."""
        value = self.ld(key)
        names: list[str] = []
        resolved = False
        for item in value if isinstance(value, list) else [value]:
            name = _name(item)
            if name is None and isinstance(item, dict) and isinstance(item.get("@id"), str):
                name = _name(self.nodes.get(item["@id"]))
                resolved = resolved or name is not None
            if name is not None:
                names.append(name)
        return names, resolved


def read(root: Element) -> Structured:
    """Collect JSON-LD and <meta> from one parsed page (call before junk is removed)."""
    found = Structured(meta=_meta(root))
    for script in root.iter("script"):
        if not _is_jsonld(script.get("type")):
            continue
        data = _decoded(_load(script.text or ""))
        _index_nodes(data, found.nodes)  # every block: a reference may point into another
        obj = _article_object(data) if found.jsonld is None else None
        if obj is not None:
            found.jsonld = obj
            found.jsonld_type = _types(obj)[0]
    return found


def is_url_like(text: str) -> bool:
    return _URL_LIKE.match(text.strip()) is not None


def _name(value: Any) -> str | None:
    """A person's or organisation's name: a string or a node's `name`, never a URL."""
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, str) and value.strip() and not is_url_like(value):
        return value
    return None


# Deeper than this, JSON-LD strings are left as they are: nothing read from a page sits
# that deep, and a hostile block nested ~900 levels (json.loads accepts it) must not
# exhaust the stack here and fail the whole article.
_MAX_DECODE_DEPTH = 32


def _decoded(value: Any, depth: int = 0) -> Any:
    """JSON-LD data with every string (values, not keys) entity-decoded once."""
    if isinstance(value, str):
        return _CHAR_REF.sub(_char, value) if "&" in value else value
    if depth >= _MAX_DECODE_DEPTH:
        return value
    if isinstance(value, list):
        return [_decoded(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {key: _decoded(item, depth + 1) for key, item in value.items()}
    return value


def _char(match: re.Match[str]) -> str:
    # One reference at a time: `&amp;` gives `&`, and the `amp;` that followed in
    # `&amp;amp;` is not part of the match, so it is not decoded a second time. A name must
    # be a whole HTML5 entity name: html.unescape alone would turn `&notit;` into `¬it;`.
    ref = match.group(0)
    if ref[1] == "#":
        return html.unescape(ref)  # numeric: HTML5's rules for invalid code points
    return html5.get(ref[1:], ref)


def _index_nodes(data: Any, nodes: dict[str, dict[str, Any]], depth: int = 0) -> None:
    """Nodes with an @id and more than the @id (a bare {"@id"} is a reference, not a node),
    through lists and @graph; the first node of an @id wins."""
    if depth > 5:
        return
    if isinstance(data, list):
        for item in data:
            _index_nodes(item, nodes, depth + 1)
    elif isinstance(data, dict):
        ident = data.get("@id")
        if isinstance(ident, str) and len(data) > 1:
            nodes.setdefault(ident, data)
        _index_nodes(data.get("@graph"), nodes, depth + 1)


def _is_jsonld(value: str | None) -> bool:
    return bool(value and value.strip().lower() == "application/ld+json")


def _meta(root: Element) -> dict[str, list[str]]:
    meta: dict[str, list[str]] = {}
    for tag in root.iter("meta"):
        key = tag.get("property") or tag.get("name") or tag.get("itemprop")
        content = tag.get("content")
        if isinstance(key, str) and isinstance(content, str) and content.strip():
            meta.setdefault(key.strip().lower(), []).append(content)
    return meta


def _load(text: str) -> Any:
    try:
        return json.loads(text, strict=False)  # strict=False: raw newlines inside strings
    except (ValueError, RecursionError):
        return None


def _types(obj: dict[str, Any]) -> list[str]:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return [k for k in kinds if isinstance(k, str)]


def _article_object(data: Any, depth: int = 0) -> dict[str, Any] | None:
    """Depth-first search through lists and @graph for an article-typed object."""
    if depth > 5:
        return None
    if isinstance(data, list):
        for item in data:
            found = _article_object(item, depth + 1)
            if found is not None:
                return found
        return None
    if not isinstance(data, dict):
        return None
    if any(kind in ARTICLE_TYPES for kind in _types(data)):
        return data
    return _article_object(data.get("@graph"), depth + 1)


def ld_text(value: Any) -> str | None:
    """A JSON-LD value as one string: plain, {"name": ...}, {"@id": ...} or first of a list."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("name", "@id", "url", "@value"):
            if isinstance(value.get(key), str):
                return value[key]
    if isinstance(value, list) and value:
        return ld_text(value[0])
    return None


def ld_list(value: Any) -> list[str]:
    """A JSON-LD value as a list of strings (names of authors, keywords, image URLs)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = ld_text(item)
        if text:
            out.append(text)
    return out


def link_href(root: Element, rel: str) -> str | None:
    """href of the first <link> whose rel (a space-separated list) includes `rel`."""
    for tag in root.iter("link"):
        href = tag.get("href")
        if href is not None and rel in (tag.get("rel") or "").lower().split():
            return href if href.strip() else None
    return None
