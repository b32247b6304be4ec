"""The article body of a page no site profile knows: trafilatura finds it, we keep it verbatim.

Boilerplate removal is trafilatura's (well kept, measured: F1 0.958 published on the
scrapinghub benchmark); archiver does not hand-roll its own. Its text output is not quite the
page's text, though: it writes list items as `- item`, table rows as `| a | b |`, and in
precision mode it can cut a link out of the middle of a sentence. An archive must only
store words the page printed, so every output line is checked against the page's own text
(NFC, whitespace aside) and, when it does not occur there,

1. trafilatura's markup is undone (list marker dropped, table cells joined by a space);
2. otherwise the line is cut into the longest runs of words that do occur on the page
   (a sentence with a link cut out becomes its two verbatim halves).

Lines before the first real paragraph that repeat the title are dropped: the title is its
own field. Only NFC and whitespace normalisation apply to what is kept.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from copy import deepcopy
from dataclasses import dataclass
from functools import cache
from typing import TypedDict

from lxml import etree

from archiver.extract import dom
from archiver.extract.dom import Element
from archiver.extract.text import Normalizer


class _TrafilaturaOptions(TypedDict):
    """The keyword arguments passed to trafilatura.extract (typed, so mypy checks each one)."""

    favor_precision: bool
    include_comments: bool
    include_tables: bool
    deduplicate: bool
    with_metadata: bool


# favor_precision: on the scrapinghub benchmark it scores F1 0.964 against 0.960 for the
# default (trafilatura 2.3), and an archive would rather miss a teaser than store one.
# Comments are reader content, not the article.
TRAFILATURA_OPTIONS: _TrafilaturaOptions = {
    "favor_precision": True, "include_comments": False, "include_tables": True,
    "deduplicate": False, "with_metadata": False}
# trafilatura costs ~0.1 ms per element; a hostile page of 50,000 paragraphs took 7 s.
# The 181 scrapinghub news pages have at most ~1,600 elements, so 20,000 leaves a wide
# margin for real pages while bounding the worst case near 2 s. Larger pages fall back to
# the page's own article container, then the JSON-LD articleBody (generic.run).
MAX_ELEMENTS = 20_000
_COUNT_ELEMENTS = etree.XPath("count(//*)")
_LIST_MARKER = re.compile(r"^(?:[-*•]|\d+\.)\s+")
_TABLE_RULE = re.compile(r"^\|?(?:\s*:?-+:?\s*\|)+\s*$")
_WORD = re.compile(r"\w")
# Text inside these never shows on the page, so it cannot vouch for a line.
INVISIBLE_TAGS = ("script", "style", "template")
# Elements trafilatura's own tree_cleaning deletes with their subtree (its MANUALLY_CLEANED
# list), removed from the copy it is given: its main extractor and justext never see them,
# but they cost it per element in its raw-tree passes (favor_precision runs its whole
# OVERALL_DISCARD_XPATH, regex tests in Python, over the raw page for readability), which
# on a chrome-heavy page of menus, rails and footers is most of its time. JSON-LD scripts
# stay: trafilatura reads them to tell forum threads. Only readability's comparison input
# differs; trafilatura's text was identical on the 181 scrapinghub pages and 300 synthetic
# pages with this list (noscript, iframe, svg and menu changed one scrapinghub page, so
# they stay in).
_UNSEEN_BY_TRAFILATURA = etree.XPath(
    "//script[not(@type='application/ld+json')] | //style | //nav | //aside | //footer")
TRAFILATURA_INPUT = "the page without script, style, nav, aside and footer"


@dataclass(frozen=True)
class Body:
    paragraphs: list[str]
    how: str


@cache  # reading the installed package's metadata costs ~1 ms: once per process, not per page
def trafilatura_version() -> str:
    from importlib.metadata import version

    return version("trafilatura")


def extract_body(root: Element, titles: Iterable[str], norm: Normalizer) -> Body | None:
    """Body paragraphs (verbatim) found by trafilatura, or None when it finds none (or the
    page is too large to hand to it).

    Once trafilatura has run, <script>, <style> and <template> are removed from `root`, so
    the page's visible text is one C-level string() read (a text() filter on ancestors cost
    ~0.7 ms a page); the caller strips them with the rest of the junk next anyway."""
    if _COUNT_ELEMENTS(root) > MAX_ELEMENTS:
        return None
    text = _run_trafilatura(root)
    if not text:
        return None
    for tag in list(root.iter(*INVISIBLE_TAGS)):
        dom.drop(tag)
    page = _compact(_nfc(dom.text(root)))
    paragraphs: list[str] = []
    repaired = 0
    for line in text.split("\n"):
        kept, changed = _verbatim(line, page, norm)
        paragraphs.extend(kept)
        repaired += changed
    paragraphs = _drop_leading_titles(paragraphs, {norm.clean(t) for t in titles})
    if not paragraphs:
        return None
    how = (f"trafilatura {trafilatura_version()} extract(favor_precision) (body) on "
           f"{TRAFILATURA_INPUT}, each paragraph checked verbatim against the page text")
    if repaired:
        how += f"; {repaired} line(s) restored to the page's wording"
    return Body(paragraphs, how)


def _run_trafilatura(root: Element) -> str | None:
    import trafilatura  # imported on first use: ~0.3 s, and vov pages never need it

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # "discarding data" noise
    return trafilatura.extract(trafilatura_input(root), **TRAFILATURA_OPTIONS)


def trafilatura_input(root: Element) -> Element:
    """A copy of the page without what trafilatura would delete unread (the later fields,
    images and byline among them, still read `root` as parsed)."""
    tree = deepcopy(root)
    for element in _UNSEEN_BY_TRAFILATURA(tree):
        dom.drop(element)  # keeps the tail text, as trafilatura's delete_element does
    return tree


def _compact(text: str) -> str:
    """The text without any whitespace (str.split() splits at exactly what regex \\s matches,
    and is ~3x faster than re.sub on a whole page)."""
    return "".join(text.split())


def _verbatim(line: str, page: str, norm: Normalizer) -> tuple[list[str], bool]:
    """(paragraphs that occur on the page, whether the line needed repair)."""
    line = line.strip()
    if not line or _TABLE_RULE.match(line):
        return [], False
    for candidate in _undo_markup(line):
        if _compact(_nfc(candidate)) in page:
            return [norm.clean(candidate)], candidate != line
    return [norm.clean(piece) for piece in _pieces(line, page)], True


def _undo_markup(line: str) -> list[str]:
    """The line as trafilatura wrote it, then without its list marker / table pipes."""
    candidates = [line]
    marker = _LIST_MARKER.match(line)
    if marker:
        candidates.append(line[marker.end():])
    if line.startswith("|") and line.endswith("|"):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        candidates.append(" ".join(cell for cell in cells if cell))
    return candidates


def _pieces(line: str, page: str) -> list[str]:
    """The longest runs of the line's words that occur on the page, left to right."""
    words = line.split()
    out: list[str] = []
    start = 0
    while start < len(words):
        end = _longest_run(words, start, page)
        if end == start:  # not even this word is on the page (trafilatura changed it)
            start += 1
            continue
        piece = " ".join(words[start:end])
        if _WORD.search(piece):
            out.append(piece)
        start = end
    return out


def _longest_run(words: list[str], start: int, page: str) -> int:
    """Largest end such that words[start:end] occurs on the page (binary search: any
    shorter prefix of an occurring run occurs too)."""
    low, high = start, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if _compact(_nfc("".join(words[start:middle]))) in page:
            low = middle
        else:
            high = middle - 1
    return low


def _drop_leading_titles(paragraphs: list[str], titles: set[str]) -> list[str]:
    start = 0
    while start < len(paragraphs) - 1 and paragraphs[start] in titles:
        start += 1
    return paragraphs[start:]


def _nfc(text: str) -> str:
    """NFC for comparing only: the page text is never stored, so not recorded as a step."""
    return unicodedata.normalize("NFC", text)
