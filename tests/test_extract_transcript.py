"""Transcript profile: plain-text documents like the seed document."""

from __future__ import annotations

from pathlib import Path

from vov_pages import SPECS, fixture_source

from archiver.base import schemas
from archiver.extract import NotAnArticle, article_json_bytes, extract, text_sha256

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_0fe3eec24f29bb98.txt"
SEED_URL = SPECS[0].url


def transcript(payload: bytes, url: str = "file:///seeds/000_0fe3eec24f29bb98.txt",
               content_type: str = "text/plain; charset=utf-8") -> dict:
    result = extract(fixture_source("seed", url, content_type, payload, None))
    assert isinstance(result, dict), result
    return result


def test_seed_document_round_trips_verbatim() -> None:
    data = SEED.read_bytes()
    article = transcript(data)
    lines = [article["lead"], *article["body"], article["byline"]["raw"], article["url"]]
    assert "\n".join(lines) == data.decode("utf-8")
    assert any(p.startswith("Đai diện") for p in article["body"])  # the typo stays
    assert article["extraction"]["normalization"] == []


def test_seed_document_fields() -> None:
    article = transcript(SEED.read_bytes())
    assert article["id"] == "vov-1064050"
    assert article["url"] == SEED_URL
    assert article["title"] is None
    assert article["publisher"] == {"name": "VOV", "domain": "vov.vn"}
    assert article["byline"]["authors"] == ["PV"] and article["byline"]["source"] == "VOV.VN"
    assert article["extraction"]["profile"] == "transcript"
    assert article["extraction"]["evidence"]["url"] == "transcript: last line"
    assert article["capture"]["url"].startswith("file:///")
    assert schemas.validate(article, "article") == []


def test_seed_document_and_seed_page_have_the_same_text_digest() -> None:
    page = extract(fixture_source(SPECS[0].name, SEED_URL))
    assert isinstance(page, dict)
    assert transcript(SEED.read_bytes())["text_sha256"] == page["text_sha256"]


def test_deterministic_bytes() -> None:
    data = SEED.read_bytes()
    assert article_json_bytes(transcript(data)) == article_json_bytes(transcript(data))


def test_crlf_blank_lines_and_bom() -> None:
    text = "\ufeffDòng đầu.\r\n\r\nĐoạn hai.\r\nĐoạn ba.\r\nTheo TTXVN\r\nhttps://example.vn/a\r\n"
    article = transcript(text.encode("utf-8"), url="file:///x.txt")
    assert article["lead"] == "Dòng đầu." and article["body"] == ["Đoạn hai.", "Đoạn ba."]
    assert article["byline"]["source"] == "TTXVN" and article["byline"]["authors"] == []
    assert article["url"] == "https://example.vn/a"
    assert article["id"].startswith("example-vn-")
    assert article["publisher"] == {"name": None, "domain": "example.vn"}
    assert article["language"] is None
    assert article["text_sha256"] == text_sha256("Dòng đầu.", ["Đoạn hai.", "Đoạn ba."])


def test_without_url_line_the_record_url_is_used() -> None:
    article = transcript("Một đoạn.\nHai đoạn.".encode(), url="https://example.vn/b")
    assert article["url"] == "https://example.vn/b"
    assert article["extraction"]["evidence"]["url"] == "WARC-Target-URI"
    assert article["byline"]["raw"] is None


def test_untyped_text_is_sniffed_as_transcript() -> None:
    article = transcript(SEED.read_bytes(), content_type="application/octet-stream")
    assert article["extraction"]["profile"] == "transcript"


def test_empty_text_is_not_an_article() -> None:
    result = extract(fixture_source("e", "file:///e.txt", "text/plain", b"\n \n", None))
    assert isinstance(result, NotAnArticle)
