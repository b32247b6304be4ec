"""JSON-LD metadata on generic pages (issue 16, items 2 and 3).

Item 2: `@id` references inside a JSON-LD `@graph` (Yoast and most WordPress sites write
`"author": {"@id": "https://site/#/schema/person/..."}` and describe the person in another
node) resolve to that node's `name`; a URL is never stored as a person's or publisher's name.
Item 3: JSON-LD strings are HTML-entity-decoded exactly once (`&#8211;` becomes an en dash,
a literal `&amp;amp;` in the source becomes `&amp;`, not `&`).

Small hand-written pages always run; the scrapinghub corpus (181 real pages, where the
defects were found) runs when the shared benchmark is present ($ARCHIVER_SHARED or ../shared).
"""

from __future__ import annotations

import gzip
import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from vov_pages import fixture_source

from archiver.base import schemas
from archiver.extract import NotAnArticle, extract

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARCHIVER_SHARED") or REPO.parent / "shared")
CORPUS = SHARED / "conformance" / "extraction" / "scrapinghub"

STORY = "".join(
    f"<p>Paragraph {i} of the story tells what the council decided on Tuesday evening, "
    "and why the vote on the city budget matters to residents.</p>" for i in range(6))


def _article(ld: list[Any] | dict[str, Any] | None, head: str = "",
             url: str = "https://news.example.org/a/1") -> dict[str, Any]:
    """The article extracted from a generic page carrying these JSON-LD blocks."""
    blocks = ld if isinstance(ld, list) else [ld] if ld is not None else []
    scripts = "".join(f'<script type="application/ld+json">{json.dumps(block)}</script>'
                      for block in blocks)
    page = (f"<!doctype html><html lang='en'><head><title>Site</title>{scripts}{head}</head>"
            f"<body><article><h1>Council passes the budget</h1>{STORY}</article>"
            "</body></html>").encode()
    article = extract(fixture_source("sd", url, payload=page))
    assert isinstance(article, dict), article
    assert schemas.validate(article, "article") == []
    return article


# A Yoast-style graph: the article points at its author and publisher by @id only.
ORG = {"@type": "Organization", "@id": "https://news.example.org/#organization",
       "name": "Example News", "url": "https://news.example.org/"}
PERSON = {"@type": "Person", "@id": "https://news.example.org/#/schema/person/4749d9b7",
          "name": "Jane Roe", "url": "https://news.example.org/author/jane/"}
ARTICLE = {"@type": "Article", "@id": "https://news.example.org/a/1#article",
           "headline": "Council passes the budget",
           "author": {"@id": PERSON["@id"]}, "publisher": {"@id": ORG["@id"]},
           "mainEntityOfPage": {"@id": "https://news.example.org/a/1#webpage"}}
WEBPAGE = {"@type": "WebPage", "@id": "https://news.example.org/a/1#webpage",
           "url": "https://news.example.org/a/1", "name": "Council passes the budget"}


def test_graph_id_references_resolve_to_the_node_names() -> None:
    article = _article({"@context": "https://schema.org",
                        "@graph": [ORG, WEBPAGE, ARTICLE, PERSON]})
    assert article["byline"]["authors"] == ["Jane Roe"]
    assert article["byline"]["raw"] == "Jane Roe"
    assert article["publisher"] == {"name": "Example News", "domain": "news.example.org"}
    evidence = article["extraction"]["evidence"]
    assert evidence["byline"] == "JSON-LD Article.author (@id resolved to the node's name)"
    assert evidence["publisher"].startswith(
        "name: JSON-LD Article.publisher (@id resolved to the node's name)")
    # Only names are resolved: the page's own URL still comes from the @id reference.
    assert article["canonical_url"] == "https://news.example.org/a/1#webpage"


def test_id_reference_to_a_node_in_another_script_block_resolves() -> None:
    article = _article([{"@type": "NewsArticle", "headline": "Council passes the budget",
                         "author": {"@type": "Organization", "name": "City Desk"},
                         "publisher": {"@id": "https://news.example.org/"}},
                        {"@type": "Organization", "@id": "https://news.example.org/",
                         "name": "Example News"}])
    assert article["publisher"]["name"] == "Example News"
    assert article["byline"]["authors"] == ["City Desk"]


def test_unresolvable_id_is_never_a_name_and_the_next_source_is_used() -> None:
    dangling = {**ARTICLE, "author": {"@id": "http://news.example.org/author/admin/#author"}}
    article = _article({"@graph": [dangling, ORG]},
                       head='<meta name="author" content="John Doe">')
    assert article["byline"]["authors"] == ["John Doe"]
    assert article["extraction"]["evidence"]["byline"] == "meta[name=author]"
    article = _article({"@graph": [dangling]})
    assert article["byline"]["raw"] is None and article["byline"]["authors"] == []
    assert article["publisher"]["name"] is None  # its @id points at no node either


def test_url_strings_are_not_names() -> None:
    article = _article({**ARTICLE, "author": "https://news.example.org/author/jane/",
                        "publisher": {"name": "https://news.example.org/"}},
                       head='<meta property="og:site_name" content="https://news.example.org">')
    assert article["byline"]["raw"] is None and article["byline"]["authors"] == []
    assert article["publisher"]["name"] is None
    article = _article(None, head='<meta property="og:site_name" content="www.example.org">'
                                  '<meta name="author" content="//example.org/jane">')
    assert article["publisher"]["name"] is None and article["byline"]["raw"] is None


def test_json_ld_strings_are_entity_decoded_once() -> None:
    ld = {**ARTICLE, "headline": "Review &#8211; &#8216;The Medium&#8217; &amp; more",
          "description": "Tom &amp;amp; Jerry &#38;amp; friends: a literal entity&nbsp;kept "
                         "once, R&D and AT&T untouched, &notanentity; too",
          "author": {"@type": "Person", "name": "Zoë &#8211; O&#039;Neil"}}
    article = _article({"@graph": [ld, ORG]})
    assert article["title"] == "Review – ‘The Medium’ & more"
    assert article["lead"] == ("Tom &amp; Jerry &amp; friends: a literal entity kept once, "
                               "R&D and AT&T untouched, &notanentity; too")
    assert article["byline"]["authors"] == ["Zoë – O'Neil"]


def test_meta_strings_are_decoded_once_by_the_html_parser_only() -> None:
    head = ('<meta property="og:title" content="Tom &amp;amp; Jerry &#8211; the review">'
            '<meta property="og:site_name" content="Cats &amp; Dogs">')
    article = _article(None, head=head)
    assert article["title"] == "Tom &amp; Jerry – the review"
    assert article["publisher"]["name"] == "Cats & Dogs"


# --- the scrapinghub corpus ----------------------------------------------------------------

needs_corpus = pytest.mark.skipif(not (CORPUS / "ground-truth.json").exists(),
                                  reason=f"scrapinghub benchmark not at {CORPUS}")
_URLISH = re.compile(r"https?://|^//|^www\.|#/schema/|#(?:author|organization)\b")
_CHAR_REF = re.compile(r"&#\d+;|&#x[0-9a-f]+;|&(?:quot|rsquo|lsquo|ldquo|rdquo|ndash|mdash|"
                       r"nbsp|hellip|pound);", re.IGNORECASE)


@cache
def _corpus() -> dict[str, dict[str, Any] | NotAnArticle]:
    truth = json.loads((CORPUS / "ground-truth.json").read_text(encoding="utf-8"))
    return {key: extract(fixture_source(key, truth[key]["url"], payload=gzip.decompress(
        (CORPUS / "html" / f"{key}.html.gz").read_bytes()))) for key in sorted(truth)}


def _names(article: dict[str, Any]) -> list[str]:
    byline = article["byline"]
    return [name for name in [byline["raw"], byline["source"], article["publisher"]["name"],
                              *byline["authors"]] if name]


@needs_corpus
def test_no_corpus_byline_or_publisher_is_a_url() -> None:
    articles = _corpus()
    assert len(articles) == 181
    urls = [(key[:8], name) for key, article in articles.items()
            if isinstance(article, dict) for name in _names(article) if _URLISH.search(name)]
    assert urls == []


@needs_corpus
def test_corpus_graph_references_give_the_people_and_publishers() -> None:
    articles = _corpus()
    by_prefix = {key[:8]: article for key, article in articles.items()}
    my6sense = by_prefix["57e2e988"]
    assert isinstance(my6sense, dict)
    assert my6sense["publisher"]["name"] == "my6sense"
    cbs = by_prefix["2c46804d"]  # publisher node in a second script block
    assert isinstance(cbs, dict)
    assert cbs["publisher"]["name"] == "CBS News"


@needs_corpus
def test_no_corpus_title_or_lead_keeps_an_html_entity() -> None:
    articles = {key[:8]: article for key, article in _corpus().items()
                if isinstance(article, dict)}
    left = [(key, field) for key, article in articles.items() for field in ("title", "lead")
            if article[field] and _CHAR_REF.search(article[field])]
    # The one left is the source's own: its JSON says `[&amp;hellip;]`, which decodes once
    # to `[&hellip;]` (decoding twice would print `[…]`, which the page's JSON did not say).
    assert left == [("e100c961", "lead")]
    assert articles["e100c961"]["lead"].endswith("the streaming platform [&hellip;]")
    assert articles["dfd43bc0"]["title"].startswith(
        "Our BI Research Shows – A Mix of Native Ad Units")
    assert articles["33fe2471"]["title"].startswith(
        "‘The Medium is the Message’: the 7th Amsterdam")


def test_deeply_nested_json_ld_does_not_fail_the_article() -> None:
    nested: Any = "&amp;"
    for _ in range(800):  # json.loads accepts this; a recursive walk without a bound fails
        nested = [nested]
    article = _article({**ARTICLE, "headline": "Budget &#8211; passed", "extra": nested})
    assert article["title"] == "Budget – passed"
