"""The extraction engine, and the generic profile for sites without one of their own.

A profile is a table of candidate sources per field, tried in order; the first that gives
a value wins and is named in the evidence. A source is a CSS selector, `meta:<key>` (a
<meta> property/name) or `ld:<key>` (a key of the page's article-typed JSON-LD object).

Stages, in order: structured data and breadcrumbs are read first (they live in <script>
and <nav>, which are then removed as junk); related boxes are cut out of the content; body,
images, byline, title, lead, dates, section, tags, canonical URL and language follow.
Profiles read the body from their selectors; the generic profile (no site profile) takes
it from trafilatura (body.py: boilerplate removal is not hand-rolled here) and uses the
selectors only to scope images.

Speed: the page is one lxml tree; each CSS selector is compiled to XPath once (dom.py), so
a ~100 KB vov.vn page takes a few milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from archiver.extract import byline as bylines
from archiver.extract import dates, dom
from archiver.extract.body import extract_body
from archiver.extract.dom import Element
from archiver.extract.fields import Fields, Page, host_of, language_tag, resolve, strip_junk
from archiver.extract.fields import text_of as _text
from archiver.extract.structured import is_url_like, ld_list, ld_text, link_href

# A generic page needs this much body text to count as an article: teasers on listing
# pages and cookie notices are shorter; real news items are far longer.
MIN_GENERIC_BODY_CHARS = 200
# A trailing credit line ("Theo TTXVN", "Minh Hòa/VOV.VN") is short; longer lines are text.
MAX_CREDIT_CHARS = 80
# Home links in breadcrumbs are not a section.
_HOME = {"trang chủ", "home", "trang chu", "homepage"}
_BLOCKS = ["p", "div", "section", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote",
           "table", "tr", "ul", "ol"]
# Evidence suffix when a JSON-LD name came from the node an {"@id": ...} points at.
_RESOLVED = " (@id resolved to the node's name)"
_PARA_BREAK = "\u2029"  # marks <br> and block ends in the no-<p> fallback; \s folds it away


@dataclass(frozen=True)
class Selectors:
    """Where each field is looked for, in order of preference."""

    name: str
    title: tuple[str, ...]
    lead: tuple[str, ...]
    body: tuple[str, ...]
    paragraphs: tuple[str, ...]
    not_body: tuple[str, ...]
    boxes: tuple[str, ...]
    images: tuple[str, ...]
    captions: tuple[str, ...]
    byline: tuple[str, ...]
    published: tuple[str, ...]
    modified: tuple[str, ...]
    section: tuple[str, ...]
    tags: tuple[str, ...]
    canonical: tuple[str, ...] = ("link:canonical", "meta:og:url", "ld:url", "ld:mainEntityOfPage")
    language: tuple[str, ...] = ("html:lang", "meta:og:locale", "ld:inLanguage")
    lead_prefix: re.Pattern[str] | None = None
    min_body_chars: int = MIN_GENERIC_BODY_CHARS
    # Body by trafilatura (sites without a profile) instead of the `body` selectors, which
    # then only scope images.
    trafilatura_body: bool = False


GENERIC = Selectors(
    name="generic",
    title=("ld:headline", "meta:og:title", "h1[itemprop=headline]", "article h1", "h1",
           "title"),
    lead=("article .sapo", "article .lead", "article .summary", "[itemprop=description]",
          ".sapo", "ld:description", "meta:og:description", "meta:description"),
    body=("[itemprop=articleBody]", "article .article-body", "article .entry-content",
          "article", "main", "[role=main]", "#content"),
    paragraphs=("p", "h2", "h3", "h4"),
    not_body=("figure", "figcaption", "aside", "header", "footer", ".caption", ".byline",
              ".author", ".sapo", ".lead"),
    boxes=(".related", ".related-posts", ".related-articles", ".field-related-article",
           ".newsletter", ".tags", ".tag-list"),
    images=("figure img", "img"),
    captions=("figcaption", ".caption", ".image-caption"),
    byline=("ld:author", "meta:author", "[rel=author]", ".byline", "[itemprop=author]",
            ".author"),
    published=("ld:datePublished", "meta:article:published_time", "meta:pubdate",
               "time[datetime]", "[itemprop=datePublished]"),
    modified=("ld:dateModified", "meta:article:modified_time", "meta:og:updated_time",
              "[itemprop=dateModified]"),
    section=("meta:article:section", "ld:articleSection", ".breadcrumb a",
             "[itemtype*=BreadcrumbList] a"),
    tags=("meta:article:tag", "ld:keywords", "a[rel=tag]", ".tags a"),
    trafilatura_body=True,
)


def run(sel: Selectors, page: Page, fields: Fields) -> str | None:
    """Fill `fields` from the page; returns a reason when the page is not an article."""
    _section(sel, page, fields)  # breadcrumbs often sit in <nav>, which strip_junk removes
    found = None
    if sel.trafilatura_body:  # on the whole page: trafilatura does its own cleaning
        titles = [value for value, _ in _candidates(page, sel.title)]
        found = extract_body(page.root, titles, page.norm)
    strip_junk(page.root)
    containers = _containers(sel, page)
    _remove_boxes(sel, containers)
    _images(sel, page, fields, containers)
    _byline(sel, page, fields)
    if found is not None and sum(map(len, found.paragraphs)) >= sel.min_body_chars:
        _put_body(page, fields, found.paragraphs, found.how)
    else:  # a profile's selectors; for generic pages, the page's own article container
        _body(sel, page, fields, containers)  # (trafilatura drops repeated paragraphs)
    if not fields.body or sum(len(p) for p in fields.body) < sel.min_body_chars:
        return "no article body found"
    _title(sel, page, fields)
    _lead(sel, page, fields)
    _dates(sel, page, fields)
    _tags(sel, page, fields)
    _canonical(sel, page, fields)
    _language(sel, page, fields)
    return None


def generic_publisher(page: Page, fields: Fields) -> None:
    """Publisher from JSON-LD / og:site_name, domain from the URL host (www. dropped)."""
    domain = host_of(fields.url).removeprefix("www.") or None
    name, how = None, None
    names, resolved = page.structured.ld_names("publisher")
    candidates = [(value, describe("ld:publisher", page) + (_RESOLVED if resolved else ""))
                  for value in names[:1]]
    candidates += [(value, describe("meta:og:site_name", page))
                   for value in page.structured.meta.get("og:site_name", [])
                   if not is_url_like(value)]  # some sites put their home URL there
    for value, source in candidates:
        name, how = page.norm.clean(value) or None, source
        if name:
            break
    fields.publisher = {"name": name, "domain": domain}
    parts = [f"name: {how}"] if name else []
    if domain:
        parts.append("domain: URL host")
    if parts:
        fields.evidence["publisher"] = "; ".join(parts)


# --- candidate sources -------------------------------------------------------------------

def describe(source: str, page: Page) -> str:
    """Evidence text for a source spec."""
    if source.startswith("ld:"):
        return f"JSON-LD {page.structured.jsonld_type}.{source[3:]}"
    if source.startswith("meta:"):
        key = source[5:]
        attr = "property" if key.startswith(("og:", "article:")) else "name"
        return f"meta[{attr}={key}]"
    if source.startswith("link:"):
        return f"link[rel={source[5:]}]"
    if source.startswith("html:"):
        return f"html[{source[5:]}]"
    return source


def _candidates(page: Page, sources: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(raw text, evidence) for each source that has a value, in order."""
    for source in sources:
        for value in _values(page, source):
            if value and value.strip():
                yield value, describe(source, page)


def _values(page: Page, source: str) -> list[str]:
    if source.startswith("ld:"):
        value = page.structured.ld(source[3:])
        text = ld_text(value)
        return [text] if text else []
    if source.startswith("meta:"):
        return page.structured.meta.get(source[5:], [])
    if source.startswith("link:"):
        href = link_href(page.root, source[5:])
        return [href] if href else []
    if source.startswith("html:"):
        value = page.root.get(source[5:]) if page.root.tag == "html" else None
        return [value] if value is not None else []
    tag = dom.select_one(page.root, source)
    if tag is None:
        return []
    if source.startswith("time") and tag.get("datetime") is not None:
        return [tag.get("datetime")]
    return [dom.text(tag)]


def _first(page: Page, sources: tuple[str, ...]) -> tuple[str, str] | None:
    """First candidate as (normalised text, evidence)."""
    for value, how in _candidates(page, sources):
        text = page.norm.clean(value)
        if text:
            return text, how
    return None


# --- fields ------------------------------------------------------------------------------

def _title(sel: Selectors, page: Page, fields: Fields) -> None:
    found = _first(page, sel.title)
    if found:
        fields.put("title", found[0], found[1])


def _lead(sel: Selectors, page: Page, fields: Fields) -> None:
    found = _first(page, sel.lead)
    if not found:
        return
    text, how = found
    if sel.lead_prefix is not None:
        match = sel.lead_prefix.match(text)
        if match:
            text = text[match.end():]
            how += f" (dateline prefix {match.group(0).strip()!r} removed)"
    if fields.put("lead", text or None, how) and fields.body[:1] == [text] \
            and len(fields.body) > 1:
        fields.body.pop(0)  # pages that repeat the sapo as the first paragraph


def _containers(sel: Selectors, page: Page) -> list[Element]:
    """Every element matched by the first body selector that matches anything."""
    for css in sel.body:
        found = dom.select(page.root, css)
        if found:
            chosen = set(found)
            return [tag for tag in found
                    if not any(parent in chosen for parent in tag.iterancestors())]
    return []


def _remove_boxes(sel: Selectors, containers: list[Element]) -> None:
    """Cut related-news boxes ('Tin liên quan') out of the content before reading it."""
    for container in containers:
        for css in sel.boxes:
            for box in dom.select(container, css):
                dom.drop(box)
        for holder in _related_labels(container):
            _remove_labelled_box(holder, container)


# Elements whose own text (not a descendant's) is exactly a 'Tin liên quan' label; the
# contains() prefilter runs in C, the exact test in Python on the few hits.
_RELATED_TEXT = re.compile(r"^\s*Tin liên quan\s*:?\s*$")
_RELATED_CANDIDATES = etree.XPath(".//text()[contains(., 'Tin liên quan')]")


def _related_labels(container: Element) -> list[Element]:
    holders = []
    for string in _RELATED_CANDIDATES(container):
        if _RELATED_TEXT.match(string):
            owner = string.getparent()
            holders.append(owner if string.is_text else owner.getparent())
    return [h for h in holders if h is not None]


def _remove_labelled_box(node: Element | None, container: Element) -> None:
    """A 'Tin liên quan' heading: remove its box, or the heading and the list after it."""
    while node is not None and node.getparent() is not container and node is not container:
        node = node.getparent()
    if node is None or node is container:
        return
    if node.tag in ("p", "h2", "h3", "h4", "strong", "b"):
        following = node.getnext()
        if following is not None and following.tag in ("ul", "ol"):
            dom.drop(following)
    dom.drop(node)


def _body(sel: Selectors, page: Page, fields: Fields, containers: list[Element]) -> None:
    paragraphs: list[str] = []
    how = ""
    for container in containers:
        paragraphs.extend(_paragraphs(sel, page, container))
    if paragraphs:
        how = f"{_matched_body(sel, containers)} {', '.join(sel.paragraphs)}"
        if sel.trafilatura_body:
            how += " (trafilatura found too little text)"
    else:
        for container in containers:
            paragraphs.extend(_lines(page, container))
        how = f"{_matched_body(sel, containers)} text split at <br> and blocks"
    _put_body(page, fields, paragraphs, how)


def _put_body(page: Page, fields: Fields, paragraphs: list[str], how: str) -> None:
    """The body minus a trailing credit line; else the JSON-LD articleBody, if any."""
    paragraphs = _strip_credit(page, fields, paragraphs)
    if paragraphs:
        fields.put("body", paragraphs, how)
    elif page.structured.ld("articleBody"):
        body = [page.norm.clean(p) for p in str(page.structured.ld("articleBody")).split("\n")]
        fields.put("body", [p for p in body if p], describe("ld:articleBody", page))


def _matched_body(sel: Selectors, containers: list[Element]) -> str:
    for css in sel.body:
        if containers and dom.matches(containers[0], css):
            return css
    return sel.body[0]


def _paragraphs(sel: Selectors, page: Page, container: Element) -> list[str]:
    excluded = {tag for css in sel.not_body for tag in dom.select(container, css)}
    out = []
    for tag in container.iterdescendants(*sel.paragraphs):
        if _has_descendant(tag, sel.paragraphs) or _inside(tag, excluded, container):
            continue
        text = _text(tag, page.norm)
        if text:
            out.append(text)
    return out


def _has_descendant(tag: Element, names: tuple[str, ...]) -> bool:
    return next(tag.iterdescendants(*names), None) is not None


def _inside(tag: Element, excluded: set[Element], container: Element) -> bool:
    node: Element | None = tag
    while node is not None and node is not container:
        if node in excluded:
            return True
        node = node.getparent()
    return False


def _lines(page: Page, container: Element) -> list[str]:
    """Body text without <p>: split at <br> and block boundaries."""
    for br in list(container.iterdescendants("br")):
        br.tail = _PARA_BREAK + (br.tail or "")
    for block in list(container.iterdescendants(*_BLOCKS)):
        _append_text(block, _PARA_BREAK)
    pieces = dom.text(container).split(_PARA_BREAK)
    return [text for text in (page.norm.clean(piece) for piece in pieces) if text]


def _append_text(node: Element, text: str) -> None:
    """Text at the end of an element's content (after its last child)."""
    if len(node):
        last = node[-1]
        last.tail = (last.tail or "") + text
    else:
        node.text = (node.text or "") + text


def _strip_credit(page: Page, fields: Fields, paragraphs: list[str]) -> list[str]:
    """A short last paragraph that is a credit ('Theo TTXVN') is byline, not body."""
    if len(paragraphs) < 2 or len(paragraphs[-1]) > MAX_CREDIT_CHARS:
        return paragraphs
    credit = bylines.parse(paragraphs[-1])
    if not bylines.is_recognised(credit):
        return paragraphs
    if fields.byline["raw"] is None:
        fields.put("byline", credit, "last body paragraph (credit line)")
    elif credit["source"] and not credit["authors"]:
        merged = fields.byline.copy()  # a Byline, not dict[str, object] as dict() would give
        merged["source"] = credit["source"]
        merged["note"] = "; ".join(filter(None, [merged["note"], credit["note"]]))
        fields.byline = merged
        fields.evidence["byline"] += "; source: last body paragraph (credit line)"
    return paragraphs[:-1]


def _images(sel: Selectors, page: Page, fields: Fields, containers: list[Element]) -> None:
    images: list[dict[str, str | None]] = []
    seen: set[str] = set()
    used = ""
    for container in containers:
        for css in sel.images:
            for img in dom.select(container, css):
                url = _img_src(img, page.url)
                if url and url not in seen:
                    seen.add(url)
                    images.append({"url": url, "caption": _caption(sel, page, img)})
                    used = used or css
            if images:
                break
    if images:
        fields.put("images", images, f"{used}[data-src|src] + {', '.join(sel.captions)}")
        return
    for value, how in _candidates(page, ("meta:og:image", "ld:image")):
        url = resolve(value, page.url)
        if url:
            fields.put("images", [{"url": url, "caption": None}], how)
            return


def _img_src(img: Element, base: str) -> str | None:
    for attr in ("data-src", "data-original", "src"):
        value = img.get(attr)
        if value is not None:
            url = resolve(value, base)
            if url:
                return url
    return None


def _caption(sel: Selectors, page: Page, img: Element) -> str | None:
    holder = next(img.iterancestors("figure", "table"), None)
    if holder is None:
        return None
    for css in sel.captions:
        tag = dom.select_one(holder, css)
        if tag is not None:
            return page.norm.clean_or_none(dom.text(tag))
    return None


def _byline(sel: Selectors, page: Page, fields: Fields) -> None:
    for source in sel.byline:
        if source == "ld:author" or source == "meta:author":
            names, how = _author_names(page, source)
            if names:
                _put_names(page, fields, names, how)
                return
            continue
        tags = dom.select(page.root, source)
        if len(tags) != 1:  # several links: the enclosing element holds the whole line
            continue
        raw = page.norm.clean(dom.text(tags[0]))
        if raw and not is_url_like(raw):
            fields.put("byline", bylines.parse(raw), source)
            return


def _author_names(page: Page, source: str) -> tuple[list[str], str]:
    """Author names from JSON-LD (@id references resolved) or <meta name=author>, no URLs."""
    how = describe(source, page)
    if source == "ld:author":
        values, resolved = page.structured.ld_names("author")
        how += _RESOLVED if resolved else ""
    else:
        values = [v for v in page.structured.meta.get("author", [])[:1] if not is_url_like(v)]
    return [name for name in (page.norm.clean(v) for v in values) if name], how


def _put_names(page: Page, fields: Fields, names: list[str], how: str) -> None:
    """Structured author names: parse as a credit line; if it is not one, they are names."""
    raw = ", ".join(names)
    parsed = bylines.parse(raw)
    if not bylines.is_recognised(parsed):
        parsed = bylines.Byline(raw=raw, authors=names, source=None, compiled=False, note=None)
    fields.put("byline", parsed, how)


def _dates(sel: Selectors, page: Page, fields: Fields) -> None:
    for name, sources in (("published_at", sel.published), ("modified_at", sel.modified)):
        for value, how in _candidates(page, sources):
            parsed = dates.parse_vietnamese(page.norm.clean(value))
            if parsed:
                note = "" if how.startswith(("JSON-LD", "meta[")) else " (visible date)"
                fields.put(name, parsed, how + note)
                break


def _section(sel: Selectors, page: Page, fields: Fields) -> None:
    for value, how in _candidates(page, sel.section):
        text = page.norm.clean(value)
        if text and text.lower() not in _HOME:
            fields.put("section", text, how)
            return


def _tags(sel: Selectors, page: Page, fields: Fields) -> None:
    for source in sel.tags:
        values = _tag_values(page, source)
        tags = sorted({t for t in (page.norm.clean(v) for v in values) if t})
        if fields.put("tags", tags, describe(source, page) + " (sorted)"):
            return


def _tag_values(page: Page, source: str) -> list[str]:
    if source.startswith("ld:"):
        value = page.structured.ld(source[3:])
        if isinstance(value, str):
            return value.split(",")
        return ld_list(value)
    if source.startswith("meta:"):
        return page.structured.meta.get(source[5:], [])
    return [dom.text(tag) for tag in dom.select(page.root, source)]


def _canonical(sel: Selectors, page: Page, fields: Fields) -> None:
    for value, how in _candidates(page, sel.canonical):
        url = resolve(value, page.url)
        if url:
            fields.put("canonical_url", url, how)
            return


def _language(sel: Selectors, page: Page, fields: Fields) -> None:
    for value, how in _candidates(page, sel.language):
        tag = language_tag(value)
        if tag:
            fields.put("language", tag, how)
            return
