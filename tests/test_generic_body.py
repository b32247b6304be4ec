"""The generic body path hands trafilatura a copy of the page without what trafilatura
deletes unread (script, style, nav, aside, footer): same text, less work (issue 16 item 8).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from pathlib import Path

import pytest
from lxml import etree

from archiver.extract import NotAnArticle, SourceRecord, dom, extract
from archiver.extract.body import TRAFILATURA_OPTIONS, trafilatura_input

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARCHIVER_SHARED") or REPO.parent / "shared")
PAGES = SHARED / "conformance" / "extraction" / "scrapinghub" / "html"

PARAGRAPH = ("The harbour authority said on Tuesday that the new breakwater would be finished "
             "before the winter storms, two years later than first planned and at twice the cost.")
PAGE = f"""<!doctype html><html lang="en"><head><title>Breakwater late</title>
<style>p {{ color: red }}</style>
<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "Late"}}</script>
</head><body>
<nav><a href="/">Home</a><a href="/ports">Ports</a></nav>
<article><h1>Breakwater late</h1>
<p>{PARAGRAPH}</p><script>var x = 1;</script>tail after script
<p>{PARAGRAPH.replace("harbour", "port")}</p>
<aside><img src="/map.jpg"><p>Related: ferry times</p></aside>
</article>
<footer><p class="byline">By Ann Lee</p></footer>
</body></html>"""


def _source(html: str, url: str = "https://news.example.org/breakwater") -> SourceRecord:
    data = html.encode("utf-8")
    return SourceRecord(url=url, payload=data, content_type="text/html; charset=utf-8",
                        warc_path="t.warc.gz", record_id="<urn:uuid:t>",
                        warc_date="2026-01-01T00:00:00Z",
                        payload_digest="sha256:" + hashlib.sha256(data).hexdigest(),
                        http_status=200)


def test_trafilatura_input_drops_what_trafilatura_deletes_and_keeps_the_rest() -> None:
    root = dom.parse(PAGE)
    assert root is not None
    before = etree.tostring(root)
    copy = trafilatura_input(root)
    assert etree.tostring(root) == before  # the page the other fields read is untouched
    tags = {element.tag for element in copy.iter()}
    assert not tags & {"style", "nav", "aside", "footer"}
    scripts = copy.findall(".//script")
    assert [s.get("type") for s in scripts] == ["application/ld+json"]  # forum detection
    assert "tail after script" in dom.text(copy)  # tails stay, as trafilatura keeps them
    assert "Related: ferry times" not in dom.text(copy)


def test_generic_article_still_reads_fields_from_dropped_elements() -> None:
    article = extract(_source(PAGE))
    assert not isinstance(article, NotAnArticle), article
    assert article["body"] == [PARAGRAPH, "tail after script", PARAGRAPH.replace("harbour", "port")]
    assert article["byline"]["raw"] == "By Ann Lee"  # in the <footer>
    assert [image["url"] for image in article["images"]] == ["https://news.example.org/map.jpg"]
    how = article["extraction"]["evidence"]["body"]
    assert "on the page without script, style, nav, aside and footer" in how


@pytest.mark.skipif(not PAGES.is_dir(), reason=f"scrapinghub pages not at {PAGES}")
def test_trafilatura_text_is_the_same_without_the_dropped_elements() -> None:
    """On real pages (every 6th of the 181, to stay fast), trafilatura finds the same text
    in the copy as in the whole page: the claim the evidence line rests on."""
    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)
    paths = sorted(PAGES.glob("*.html.gz"))[::6]
    assert len(paths) >= 30
    for path in paths:
        root = dom.parse(gzip.decompress(path.read_bytes()).decode("utf-8", "replace"))
        assert root is not None
        whole = trafilatura.extract(root, **TRAFILATURA_OPTIONS)
        assert trafilatura.extract(trafilatura_input(root), **TRAFILATURA_OPTIONS) == whole, path
