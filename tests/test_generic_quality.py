"""Quality gate for pages without a site profile (issue 7, part 2).

With the shared scrapinghub benchmark present (../shared next to the repository, or
$ARCHIVER_SHARED), all 181 pages go through `extract()` and the body is scored with the
benchmark's own metric (benchmarks/extraction_quality.py, whose scorer reproduces the
published trafilatura figure). The gate fails when F1 drops below what was reached, when a
stored paragraph is not the page's own text, or when an article fails the schema. Without
the benchmark those tests skip; the small synthetic cases below always run.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import sys
import unicodedata
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from vov_pages import fixture_source

from archiver.base import schemas
from archiver.extract import NotAnArticle, extract

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARCHIVER_SHARED") or REPO.parent / "shared")
BENCHMARK = SHARED / "conformance" / "extraction" / "scrapinghub"
# Reached: F1 0.965 (P 0.963, R 0.967) with trafilatura 2.3.1. The gate sits a little
# below, so a trafilatura patch release does not fail it by noise, but still above
# trafilatura's own published 0.958 (the target).
MIN_F1 = 0.960
MIN_PRECISION = 0.955
MIN_RECALL = 0.955

needs_benchmark = pytest.mark.skipif(not (BENCHMARK / "ground-truth.json").exists(),
                                     reason=f"scrapinghub benchmark not at {BENCHMARK}")


def _scorer() -> ModuleType:
    path = REPO / "benchmarks" / "extraction_quality.py"
    spec = importlib.util.spec_from_file_location("extraction_quality", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@cache
def _benchmark_run() -> tuple[dict[str, Any], dict[str, Any], dict[str, bytes]]:
    """(truth, archiver articles by key, page bytes by key), computed once per session."""
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text(encoding="utf-8"))
    pages = {key: gzip.decompress((BENCHMARK / "html" / f"{key}.html.gz").read_bytes())
             for key in truth}
    articles = {key: extract(fixture_source(key, truth[key]["url"], payload=pages[key]))
                for key in truth}
    return truth, articles, pages


@needs_benchmark
def test_scorer_reproduces_the_published_trafilatura_figure() -> None:
    q = _scorer()
    truth = q.load_truth(BENCHMARK)
    scores = q.score(truth, q.load_predictions(BENCHMARK / "output" / "trafilatura.json"))
    assert (round(scores.precision, 3), round(scores.recall, 3), round(scores.f1, 3)) == \
        (0.938, 0.978, 0.958)


@needs_benchmark
def test_generic_body_quality_on_scrapinghub() -> None:
    q = _scorer()
    truth, articles, _ = _benchmark_run()
    pred = {key: {"articleBody": "" if isinstance(a, NotAnArticle) else "\n".join(a["body"])}
            for key, a in articles.items()}
    scores = q.score(truth, pred)
    assert scores.f1 >= MIN_F1, scores
    assert scores.precision >= MIN_PRECISION, scores
    assert scores.recall >= MIN_RECALL, scores


_SPACE = re.compile(r"\s+")
_INVISIBLE = re.compile(r"<(script|style|template)\b.*?</\1\s*>", re.DOTALL | re.IGNORECASE)


def _visible_text(page: bytes) -> str:
    """The page's text by an independent route (regex + html.unescape, not lxml)."""
    import html

    text = _INVISIBLE.sub(" ", page.decode("utf-8", "replace"))
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    text = re.sub(r"<[^>]*>", "", text)
    return _SPACE.sub("", unicodedata.normalize("NFC", html.unescape(text)))


@needs_benchmark
def test_generic_bodies_are_verbatim_page_text() -> None:
    _, articles, pages = _benchmark_run()
    for key, article in articles.items():
        assert isinstance(article, dict), (key, article)
        page = _visible_text(pages[key])
        for paragraph in article["body"]:
            assert _SPACE.sub("", paragraph) in page, (key, paragraph[:120])


@needs_benchmark
def test_generic_articles_validate_and_say_where_the_body_came_from() -> None:
    _, articles, _ = _benchmark_run()
    for key, article in articles.items():
        assert isinstance(article, dict), (key, article)
        assert article["extraction"]["profile"] == "generic"
        assert schemas.validate(article, "article") == [], key
        assert article["extraction"]["evidence"]["body"].startswith("trafilatura "), key


def _page(body: str, head: str = "") -> bytes:
    return (f"<!doctype html><html lang='en'><head><title>Site</title>{head}</head>"
            f"<body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav>{body}"
            "<footer><p>© Example News. All rights reserved.</p></footer></body></html>"
            ).encode()


PARAGRAPHS = [
    f"<p>Paragraph {i} of the story tells what the council decided on Tuesday evening, "
    f"and why the vote on the <a href='/budget'>city budget</a> matters to residents.</p>"
    for i in range(8)]
STORY = "".join(PARAGRAPHS)


def test_generic_page_with_structured_data() -> None:
    ld = json.dumps({"@context": "https://schema.org", "@type": "NewsArticle",
                     "headline": "Council passes the budget",
                     "datePublished": "2024-03-05T10:00:00Z",
                     "author": {"@type": "Person", "name": "Jane Roe"}})
    head = (f'<script type="application/ld+json">{ld}</script>'
            '<meta property="og:site_name" content="Example News">')
    page = _page(f"<article><h1>Council passes the budget</h1>{STORY}</article>", head)
    article = extract(fixture_source("g1", "https://news.example.org/a/1", payload=page))
    assert isinstance(article, dict), article
    assert article["title"] == "Council passes the budget"
    assert article["body"][0].startswith("Paragraph 0 of the story")  # title not repeated
    assert len(article["body"]) == 8 and "city budget matters" in article["body"][0]
    assert article["byline"]["authors"] == ["Jane Roe"]
    assert article["published_at"] == "2024-03-05T10:00:00+00:00"
    evidence = article["extraction"]["evidence"]
    assert evidence["title"] == "JSON-LD NewsArticle.headline"
    assert evidence["byline"] == "JSON-LD NewsArticle.author"
    assert not any("Home" in p or "rights reserved" in p for p in article["body"])
    assert schemas.validate(article, "article") == []


def test_generic_page_without_structured_data_has_nulls_not_inventions() -> None:
    page = _page(f"<div class='story'>{STORY}</div>")
    article = extract(fixture_source("g2", "https://news.example.org/a/2", payload=page))
    assert isinstance(article, dict), article
    assert article["published_at"] is None and article["modified_at"] is None
    assert article["byline"]["raw"] is None and article["byline"]["authors"] == []
    assert article["section"] is None and article["tags"] == [] and article["images"] == []
    assert schemas.validate(article, "article") == []


def test_generic_lists_and_tables_keep_the_page_wording() -> None:
    table = ("<table><tr><th>Ward</th><th>Votes</th></tr><tr><td>North</td><td>1204</td></tr>"
             "<tr><td>South</td><td>987</td></tr></table>")
    items = "<ul><li>New bus lanes on Main Street</li><li>Two more libraries</li></ul>"
    story = "".join(PARAGRAPHS[:4]) + items + "".join(PARAGRAPHS[4:])
    page = _page(f"<article>{story}{table}</article>")
    article = extract(fixture_source("g3", "https://news.example.org/a/3", payload=page))
    assert isinstance(article, dict), article
    text = "\n".join(article["body"])
    assert "New bus lanes on Main Street" in text
    assert "- New bus lanes" not in text and "|" not in text  # trafilatura's markup undone


@pytest.mark.parametrize("body", [
    "<p>Page not found.</p>",
    "<ul>" + "".join(f"<li><a href='/a/{i}'>Headline number {i}</a></li>" for i in range(40))
    + "</ul>",
    "",
])
def test_generic_non_articles_are_not_articles(body: str) -> None:
    result = extract(fixture_source("n", "https://news.example.org/list", payload=_page(body)))
    assert isinstance(result, NotAnArticle), result


def test_generic_extraction_is_deterministic() -> None:
    page = _page(f"<article><h1>T</h1>{STORY}</article>")
    first = extract(fixture_source("d", "https://news.example.org/a/4", payload=page))
    assert first == extract(fixture_source("d", "https://news.example.org/a/4", payload=page))


def test_generic_pages_past_the_element_limit_use_the_container_then_json_ld() -> None:
    flood = "<p>word word word word</p>" * 25_000  # past body.MAX_ELEMENTS: no trafilatura
    url = "https://news.example.org/f"
    article = extract(fixture_source("f", url, payload=_page(f"<article>{flood}</article>")))
    assert isinstance(article, dict), article
    assert article["extraction"]["evidence"]["body"] == \
        "article p, h2, h3, h4 (trafilatura found too little text)"
    assert isinstance(extract(fixture_source("f", url, payload=_page(f"<div>{flood}</div>"))),
                      NotAnArticle)
    ld = json.dumps({"@type": "NewsArticle", "headline": "H",
                     "articleBody": "First paragraph of the story.\nSecond one, longer. " * 5})
    head = f'<script type="application/ld+json">{ld}</script>'
    article = extract(fixture_source("f", url, payload=_page(f"<div>{flood}</div>", head)))
    assert isinstance(article, dict), article
    assert article["extraction"]["evidence"]["body"] == "JSON-LD NewsArticle.articleBody"
