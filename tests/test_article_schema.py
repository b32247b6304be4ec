"""schemas/article.schema.json and archiver.base.schemas: rejects bad documents with clear
pointers, format checks really on, and the compiled fast check agrees with jsonschema."""

from __future__ import annotations

import copy
import json
import random
import time
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from vov_pages import FIXTURES, SPECS, fixture_source

from archiver.base import schemas
from archiver.base.errors import SchemaError
from archiver.extract import extract

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def article() -> dict:
    result = extract(fixture_source(SPECS[0].name, SPECS[0].url))
    assert isinstance(result, dict)
    return result


def test_schema_is_draft_2020_12_with_id_and_version() -> None:
    schema = json.loads((ROOT / "schemas" / "article.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/article/1.0.0") and schema["version"] == "1.0.0"


def test_golden_articles_validate() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        assert schemas.validate(json.loads(path.read_text()), "article") == [], path.name


def mutate(doc: dict, pointer: str, value: object) -> dict:
    doc = copy.deepcopy(doc)
    *parents, last = pointer.strip("/").split("/")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


DELETE = object()


@pytest.mark.parametrize(("pointer", "value", "where", "words"), [
    ("/published_at", "2023-12-07 11:20", "/published_at", "does not match"),
    ("/published_at", "2023-13-07T11:20:00+07:00", "/published_at", "is not a 'date-time'"),
    ("/url", "not a uri", "/url", "is not a 'iri'"),
    ("/images/0/url", "https://a.vn/{x}", "/images/0/url", "is not a 'uri'"),
    ("/canonical_url", "ftp://vov.vn/x", "/canonical_url", "does not match"),
    ("/body", [], "/body", "should be non-empty"),
    ("/body/0", "", "/body/0", "should be non-empty"),
    ("/title", DELETE, "", "'title' is a required property"),
    ("/id", "VOV 1064050", "/id", "does not match"),
    ("/publisher/domain", "-bad-.vn", "/publisher/domain", "is not a 'hostname'"),
    ("/byline/compiled", "yes", "/byline/compiled", "is not of type 'boolean'"),
    ("/capture/record_id", "urn:uuid:1", "/capture/record_id", "does not match"),
    ("/capture/warc_path", "/etc/passwd", "/capture/warc_path", "does not match"),
    ("/text_sha256", "ABC", "/text_sha256", "does not match"),
    ("/extraction/profile", "magic", "/extraction/profile", "is not one of"),
    ("/extraction/evidence/nonsense", "x", "/extraction/evidence", "nonsense"),
    ("/images", [{"url": "https://a.vn/x.jpg"}], "/images/0", "'caption' is a required"),
    ("/extra", 1, "", "Additional properties are not allowed"),
    ("/schema_version", "2.0.0", "/schema_version", "'1.0.0' was expected"),
])
def test_bad_documents_are_rejected_with_a_pointer(article: dict, pointer: str, value: object,
                                                   where: str, words: str) -> None:
    errors = schemas.validate(mutate(article, pointer, value), "article")
    assert any(path == where and words in message for path, message in errors), errors


def test_check_raises_schema_error(article: dict) -> None:
    with pytest.raises(SchemaError) as caught:
        schemas.check(mutate(article, "/url", "no uri"), "article")
    assert caught.value.errors == [("/url", "'no uri' is not a 'iri'")]
    assert "/url" in str(caught.value)
    schemas.check(article, "article")


def test_format_checks_are_really_on() -> None:
    checker = schemas.format_checker()
    assert not checker.conforms("2023-02-30T00:00:00+07:00", "date-time")
    assert not checker.conforms("two words", "uri")
    assert not checker.conforms("https://vov.vn/ảnh.jpg", "uri")  # images are URIs: encoded
    assert checker.conforms("https://vi.wikipedia.org/wiki/Việt_Nam", "iri")


def test_every_shipped_schema_loads() -> None:
    names = schemas.schema_names()
    assert "article" in names
    for name in names:
        schemas.validate({}, name)  # compiles; an empty document is simply invalid


def test_unknown_schema_is_a_clear_error() -> None:
    from archiver.base.errors import UnreadableInputError
    with pytest.raises(UnreadableInputError):
        schemas.validate({}, "no-such-schema")


def _random_mutation(rng: random.Random, doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for _ in range(rng.randint(1, 3)):
        if isinstance(node, dict) and node:
            key = rng.choice(sorted(node))
            if rng.random() < 0.5 or not isinstance(node[key], dict | list) or not node[key]:
                node[key] = rng.choice(VALUES)
                return doc
            node = node[key]
        elif isinstance(node, list) and node:
            index = rng.randrange(len(node))
            if rng.random() < 0.5 or not isinstance(node[index], dict | list):
                node[index] = rng.choice(VALUES)
                return doc
            node = node[index]
    return doc


VALUES = [None, True, False, 0, 1, 1.5, "", "x", "vov-1", "https://vov.vn/a", "VOV.VN",
          "2023-12-07T11:20:00+07:00", "2023-12-07T11:20:00", "a" * 64, [], ["x"], ["x", "x"],
          {}, {"url": "https://a.vn/i.jpg", "caption": None}, "NFC", "vov", "<urn:uuid:1>"]


def test_fast_check_agrees_with_jsonschema(article: dict) -> None:
    validator = schemas._validator("article")
    fast = schemas._fast("article")
    assert fast is not None
    rng = random.Random(3)
    for _ in range(3000):
        doc = _random_mutation(rng, article)
        assert fast(doc) == validator.is_valid(doc), doc


def test_fast_check_agrees_with_jsonschema_on_manifest_entries(server, run) -> None:
    from conftest import last_capture
    from http_fixture import VOV_PATH

    assert run("capture", server.url(VOV_PATH)).exit_code == 0
    entry = last_capture(run.archive)
    validator = schemas._validator("manifest-entry")
    fast = schemas._fast("manifest-entry")
    assert fast is not None and fast(entry)
    rng = random.Random(5)
    for _ in range(2000):
        doc = _random_mutation(rng, entry)
        assert fast(doc) == validator.is_valid(doc), doc


def test_fast_check_reads_patterns_as_ecma_262() -> None:
    """The one deliberate difference from jsonschema (see archiver.base.schemas): U+001C is
    not a space in ECMA-262, so a record id holding one matches `[^<>\\s]`. Elsewhere
    ECMA-262 is the stricter reading (`$` does not match before a final newline)."""
    record_id = {"pattern": "^<[^<>\\s]+:[^<>\\s]+>$"}
    fast = schemas.compile_fast(record_id, schemas.format_checker())
    assert fast is not None
    assert fast("<urn:a\x1cb>") and not fast("<urn:a b>") and not fast("<urn:a\ufeffb>")
    strict = schemas.compile_fast({"pattern": "^[0-9a-f]{2}$"}, schemas.format_checker())
    assert strict is not None and not strict("ab\n") and strict("ab")


def test_validation_speed(article: dict) -> None:
    start = time.perf_counter()
    for _ in range(2000):
        schemas.validate(article, "article")
    per_doc = (time.perf_counter() - start) / 2000
    assert per_doc < 0.0005  # 100,000 articles must fit in 10 s with room to spare
