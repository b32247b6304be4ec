"""Structured data a page states about itself: JSON-LD, OpenGraph / article:* and <meta>.

Values come back raw (not normalised); callers normalise and record evidence. Malformed
JSON-LD is skipped, never fatal: pages ship broken blocks more often than one would think.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from archiver.extract.dom import Element

ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle",
                 "BlogPosting", "OpinionNewsArticle", "LiveBlogPosting", "TechArticle",
                 "ScholarlyArticle", "Report", "BackgroundNewsArticle"}


@dataclass
class Structured:
    jsonld: dict[str, Any] | None = None          # the first article-typed JSON-LD object
    jsonld_type: str | None = None
    meta: dict[str, list[str]] = field(default_factory=dict)  # property/name -> contents

    def first(self, key: str) -> str | None:
        values = self.meta.get(key)
        return values[0] if values else None

    def ld(self, key: str) -> Any:
        return self.jsonld.get(key) if self.jsonld else None


def read(root: Element) -> Structured:
    """Collect JSON-LD and <meta> from one parsed page (call before junk is removed)."""
    found = Structured(meta=_meta(root))
    for script in root.iter("script"):
        if not _is_jsonld(script.get("type")):
            continue
        obj = _article_object(_load(script.text or ""))
        if obj is not None:
            found.jsonld = obj
            found.jsonld_type = _types(obj)[0]
            break
    return found


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
