"""The parsed page as an lxml tree: parse once, CSS selectors compiled to XPath once.

Why lxml directly (not BeautifulSoup): building a BeautifulSoup tree costs more than the
whole of trafilatura's extraction on a 100 KB news page, and soupsieve matches selectors in
Python over every element. libxml2 builds the tree in C, and compiled XPath runs in C.
Profiles keep writing CSS (it is also the evidence a reader checks against the capture);
cssselect translates each selector once.

libxml2 stops building below 256 levels of nesting (its default, huge_tree off): no news
page nests that deep, and a hostile page of 50,000 nested <div>s stays cheap.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TypeAlias

from cssselect import HTMLTranslator
from lxml import etree
from lxml import html as lxml_html

Element: TypeAlias = lxml_html.HtmlElement

# Comments and processing instructions are never text; dropping them at parse time keeps
# them out of every later text read. The payload is decoded by archiver (text.decode), so
# the parser is told the bytes it gets are UTF-8 and ignores <meta charset>.
_PARSER = lxml_html.HTMLParser(collect_ids=False, default_doctype=False, remove_pis=True,
                               remove_comments=True, encoding="utf-8")


def _c_level_html_lookup() -> etree.ElementNamespaceClassLookup:
    """The classes lxml.html gives each node (HtmlElement; FormElement for <form>, ...),
    chosen in C. lxml.html's own HtmlElementClassLookup picks them in a Python method,
    called for every element object Python touches: ~3,400 calls a page, most of them in
    trafilatura, which works on a copy of this tree and so inherits its lookup."""
    fallback = etree.ElementDefaultClassLookup(
        element=lxml_html.HtmlElement, comment=lxml_html.HtmlComment,
        pi=lxml_html.HtmlProcessingInstruction, entity=lxml_html.HtmlEntity)
    lookup = etree.ElementNamespaceClassLookup(fallback)
    # Tag names from the HTML parser are lower case, as HtmlElementClassLookup's keys are.
    lookup.get_namespace(None).update(lxml_html.HtmlElementClassLookup._default_element_classes)
    return lookup


_PARSER.set_element_class_lookup(_c_level_html_lookup())
_TRANSLATOR = HTMLTranslator()
_STRING = etree.XPath("string()", smart_strings=False)
# XPath from the document root (matches the root too) or below an element (descendants).
_DOCUMENT = "descendant-or-self::"
_BELOW = "descendant::"


def parse(text: str) -> Element | None:
    """The <html> element of a decoded page, or None when there is no markup at all."""
    root = etree.fromstring(text.encode("utf-8"), _PARSER)
    return root if isinstance(root, lxml_html.HtmlElement) else None


@lru_cache(maxsize=512)
def _compiled(css: str, prefix: str) -> etree.XPath:
    return etree.XPath(_TRANSLATOR.css_to_xpath(css, prefix=prefix), smart_strings=False)


def select(node: Element, css: str) -> list[Element]:
    """Elements matching `css`: in the document for the root, else below `node`."""
    prefix = _DOCUMENT if node.getparent() is None else _BELOW
    return _compiled(css, prefix)(node)


def select_one(node: Element, css: str) -> Element | None:
    found = select(node, css)
    return found[0] if found else None


def matches(node: Element, css: str) -> bool:
    root = node.getroottree().getroot()
    return node in select(root, css)


def text(node: Element) -> str:
    """All text below `node` in document order (what BeautifulSoup's get_text() gives)."""
    return _STRING(node)


def attr(node: Element, name: str) -> str | None:
    value = node.get(name)
    return value if isinstance(value, str) else None


def drop(node: Element) -> None:
    """Remove an element and its subtree, keeping the text that follows it."""
    if node.getparent() is not None:
        node.drop_tree()


