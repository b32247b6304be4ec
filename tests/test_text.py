"""Normalisation (NFC, whitespace only) and charset detection (archiver.extract.text)."""

from __future__ import annotations

import codecs
import unicodedata

import pytest

from archiver.extract.text import Normalizer, charset_from_content_type, decode


def test_nfc_and_whitespace_are_the_only_changes() -> None:
    norm = Normalizer()
    raw = unicodedata.normalize("NFD", "  Đai diện\u00a0các  sở,\tngành\n ")
    assert norm.clean(raw) == "Đai diện các sở, ngành"
    assert norm.steps() == ["NFC", "whitespace"]


def test_untouched_text_records_nothing() -> None:
    norm = Normalizer()
    assert norm.clean("PV/VOV.VN") == "PV/VOV.VN"
    assert norm.steps() == []


def test_punctuation_case_and_typos_are_kept() -> None:
    norm = Normalizer()
    text = '"Thông tin tốt cũng nhiều", PGS- TS Lê Hải Bình nói... Đai diện'
    assert norm.clean(text) == text


def test_blank_is_none() -> None:
    assert Normalizer().clean_or_none(" \u00a0\n") is None


@pytest.mark.parametrize(("content_type", "want"), [
    ("text/html; charset=UTF-8", "utf-8"), ('text/html; charset="windows-1258"', "windows-1258"),
    ("text/html", None), (None, None)])
def test_charset_from_content_type(content_type: str | None, want: str | None) -> None:
    assert charset_from_content_type(content_type) == want


VI = "Việt Nam"
CP1258_VI = b"Vi\xea\xf2t Nam"  # windows-1258: precomposed ê + combining dot below


def test_bom_wins() -> None:
    text, how = decode(codecs.BOM_UTF8 + VI.encode(), "text/html; charset=iso-8859-1",
                       is_html=True)
    assert text == VI and how.startswith("byte-order mark")


def test_utf16_bom() -> None:
    text, _ = decode(VI.encode("utf-16"), None, is_html=False)
    assert text == VI


def test_http_charset() -> None:
    payload = CP1258_VI
    text, how = decode(payload, "text/html; charset=windows-1258", is_html=True)
    assert unicodedata.normalize("NFC", text) == VI and "HTTP" in how


def test_meta_charset() -> None:
    payload = b'<html><head><meta charset="windows-1258"></head>' + CP1258_VI
    text, how = decode(payload, "text/html", is_html=True)
    assert VI in unicodedata.normalize("NFC", text) and "<meta>" in how


def test_weak_latin1_label_loses_to_valid_utf8() -> None:
    text, how = decode(VI.encode(), "text/html; charset=ISO-8859-1", is_html=True)
    assert text == VI and "valid UTF-8" in how


def test_wrong_declaration_is_skipped() -> None:
    text, _ = decode(VI.encode(), "text/html; charset=ascii-nonsense-label", is_html=True)
    assert text == VI


def test_undecodable_bytes_never_raise() -> None:
    text, how = decode(b"\x81\x8d\x8f\x90\x9d\xff", None, is_html=False)
    assert isinstance(text, str) and "fallback" in how
