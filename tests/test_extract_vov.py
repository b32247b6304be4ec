"""Golden-file tests for the vov.vn profile over the SYNTHETIC fixtures in fixtures/vov/.

Each fixture's full article dict is compared with fixtures/vov/<name>.json; regenerate
those (after checking the diff by eye) with:
    ARCHIVER_UPDATE_GOLDEN=1 pytest tests/test_extract_vov.py
Independently of the golden files, every field is also checked against the page's spec.
"""

from __future__ import annotations

import json
import os

import pytest
from vov_pages import (
    FIXTURES,
    LISTING,
    SPECS,
    PageSpec,
    expected,
    fixture_source,
    render,
    render_listing,
    seed_paragraphs,
)

from archiver.base import schemas
from archiver.extract import NotAnArticle, article_json_bytes, extract, text_sha256

UPDATE = os.environ.get("ARCHIVER_UPDATE_GOLDEN") == "1"


def article_for(spec: PageSpec) -> dict:
    result = extract(fixture_source(spec.name, spec.url))
    assert not isinstance(result, NotAnArticle), result
    return result


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_golden(spec: PageSpec) -> None:
    article = article_for(spec)
    golden = FIXTURES / f"{spec.name}.json"
    if UPDATE:
        golden.write_bytes(article_json_bytes(article))
    assert article == json.loads(golden.read_text(encoding="utf-8"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_field_matches_the_spec(spec: PageSpec) -> None:
    article = article_for(spec)
    for key, want in expected(spec).items():
        outer, _, inner = key.partition(".")
        got = article[outer][inner] if inner else article[outer]
        assert got == want, key


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_fixture_articles_validate_and_are_deterministic(spec: PageSpec) -> None:
    first = article_json_bytes(article_for(spec))
    assert first == article_json_bytes(article_for(spec))
    assert schemas.validate(json.loads(first), "article") == []


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_fixture_files_match_the_generator(spec: PageSpec) -> None:
    assert (FIXTURES / f"{spec.name}.html").read_bytes() == render(spec)


def test_listing_fixture_matches_generator() -> None:
    assert (FIXTURES / "listing.html").read_bytes() == render_listing()


def test_seed_page_gives_the_seed_text_and_its_digest() -> None:
    article = article_for(SPECS[0])
    lines = seed_paragraphs()
    assert article["lead"] == lines[0]
    assert article["body"] == lines[1:-2]
    assert article["id"] == "vov-1064050"
    assert article["text_sha256"] == text_sha256(lines[0], lines[1:-2])
    assert article["byline"] == {"raw": "PV/VOV.VN", "authors": ["PV"], "source": "VOV.VN",
                                 "compiled": False, "note": "PV = phóng viên (staff reporter)"}
    assert article["extraction"]["evidence"]["lead"].startswith("div.article-summary")


def test_related_box_scripts_ads_and_navigation_never_in_text() -> None:
    for spec in SPECS:
        article = article_for(spec)
        text = "\n".join([article["lead"] or "", *article["body"]])
        for junk in ("Tin liên quan", "Quảng cáo", "không phải văn bản", "Trang chủ", "ad",
                     "Đọc nhiều", "Chia sẻ", "SYNTHETIC", "Tóm tắt của tin liên quan"):
            assert junk not in text.split() if junk == "ad" else junk not in text, (spec.name,
                                                                                   junk)


def test_theo_ttxvn_paragraph_is_byline_not_body() -> None:
    spec = next(s for s in SPECS if s.name == "theo-ttxvn")
    article = article_for(spec)
    assert article["byline"]["source"] == "TTXVN"
    assert article["byline"]["authors"] == []
    assert "Theo TTXVN" not in article["body"]
    assert article["extraction"]["evidence"]["byline"] == "last body paragraph (credit line)"


def test_nfd_page_comes_out_nfc_and_says_so() -> None:
    spec = next(s for s in SPECS if s.name == "nfd")
    article = article_for(spec)
    assert article["title"] == spec.title  # spec text is NFC; the page is NFD
    assert "NFC" in article["extraction"]["normalization"]


def test_without_structured_data_every_value_comes_from_the_page() -> None:
    spec = next(s for s in SPECS if s.name == "no-structured")
    evidence = article_for(spec)["extraction"]["evidence"]
    assert evidence["published_at"] == "div.article-date div.col-md-4 (visible date)"
    assert not any("JSON-LD" in how or "meta[" in how for how in evidence.values())


def test_listing_page_is_not_an_article() -> None:
    name, url = LISTING
    result = extract(fixture_source(name, url))
    assert isinstance(result, NotAnArticle)
    assert "no article body" in result.reason


@pytest.mark.parametrize(("content_type", "payload", "status", "reason"), [
    ("text/html", b"<html><body><h1>Not found</h1></body></html>", 404, "HTTP 404"),
    ("image/png", b"\x89PNG\r\n\x1a\n\x00\x00", 200, "content type image/png is not a document"),
    ("text/html", b"   ", 200, "empty payload"),
    ("application/octet-stream", b"\x00\x01\x02garbage\xff" * 100, 200,
     "content type application/octet-stream is not a document"),
])
def test_non_articles(content_type: str, payload: bytes, status: int, reason: str) -> None:
    result = extract(fixture_source("x", SPECS[0].url, content_type, payload, status))
    assert result == NotAnArticle(reason)


@pytest.mark.parametrize("payload", [
    b"\xff\xfe\x00garbage" * 1000,
    b"<div>" * 50_000 + b"<p>deep</p>",
    b"<html><body>" + b"<p>" + b"Vi\xea\xf2t Nam \xe0\xe1" * 500 + b"</p></body></html>",
    bytes(range(256)) * 64,
    b"<html><head><meta charset='no-such-charset'></head><body><div class='text-long'><p>x",
])
def test_bad_input_never_raises(payload: bytes) -> None:
    result = extract(fixture_source("x", SPECS[0].url, "text/html", payload))
    assert isinstance(result, NotAnArticle | dict)
    if isinstance(result, dict):
        assert schemas.validate(result, "article") == []


def test_wrong_http_charset_label_does_not_garble_utf8() -> None:
    spec = SPECS[0]
    article = extract(fixture_source(spec.name, spec.url, "text/html; charset=ISO-8859-1"))
    assert isinstance(article, dict)
    assert article["title"] == spec.title


def test_vov_page_served_from_another_host_keeps_the_vov_profile() -> None:
    spec = SPECS[0]
    local = "http://127.0.0.1:8000/" + spec.url.split("/", 3)[3]
    article = extract(fixture_source(spec.name, local))
    assert isinstance(article, dict)
    assert article["id"] == "vov-1064050" and article["extraction"]["profile"] == "vov"
    assert "canonical URL host is vov.vn" in article["extraction"]["evidence"]["publisher"]


def test_other_sites_use_the_generic_profile() -> None:
    paragraphs = "".join(f"<p>Đoạn văn thứ {i} của bài báo, đủ dài để là nội dung.</p>"
                         for i in range(8))
    page = ('<html lang="en"><head><meta property="og:site_name" content="Example News">'
            '<meta property="article:published_time" content="2024-05-01T08:00:00Z">'
            "<title>T</title></head><body><nav><p>Menu</p></nav><article><h1>Tiêu đề</h1>"
            f"{paragraphs}</article></body></html>").encode()
    url = "https://www.example.com/news/1"
    article = extract(fixture_source("g", url, "text/html", page))
    assert isinstance(article, dict)
    assert article["extraction"]["profile"] == "generic"
    assert article["id"].startswith("example-com-") and len(article["id"]) == 24
    assert article["title"] == "Tiêu đề" and len(article["body"]) == 8
    assert article["publisher"] == {"name": "Example News", "domain": "example.com"}
    assert article["published_at"] == "2024-05-01T08:00:00+00:00"
    assert article["byline"]["raw"] is None and article["section"] is None
    assert schemas.validate(article, "article") == []
