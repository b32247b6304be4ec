"""ingest of local documents: resource + metadata records, offline, nothing invented."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import REPO, SEED_DOCUMENT
from warc_helpers import read_warc, warc_files, warcio_check

from archiver.store import manifest
from archiver.store.warc import parse_warc_fields

SEED_URL = ("https://vov.vn/chinh-tri/can-lam-cho-the-gioi-hieu-ro-hon-ve-quyen-con-nguoi"
            "-o-viet-nam-post1064050.vov")


@pytest.fixture
def seeds(tmp_path) -> Path:
    folder = tmp_path / "seeds"
    shutil.copytree(REPO / "seeds", folder)
    return folder


def test_ingest_seed_folder_offline(run, seeds, archive_dir):
    result = run("ingest", str(seeds))
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"ok      {seeds / SEED_DOCUMENT.name} <{SEED_URL}>" in out
    assert f"skip    {seeds / 'vov.txt'}: a seed list (URLs to capture), not a document" in out
    assert f"skip    {seeds / 'README.md'}: not a document type" in out
    assert out.splitlines()[-1] == "1 documents in the archive, 0 failed, 2 skipped"

    path = warc_files(archive_dir)[0]
    assert warcio_check(path).returncode == 0, warcio_check(path).stdout
    recs = read_warc(path)
    assert [r.type for r in recs] == ["warcinfo", "resource", "metadata", "conversion"]
    resource, meta = recs[1], recs[2]
    assert resource.headers["WARC-Target-URI"] == SEED_URL
    assert resource.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert resource.raw_payload == SEED_DOCUMENT.read_bytes()
    assert meta.headers["Content-Type"] == "application/warc-fields"
    facts = dict(parse_warc_fields(meta.raw_payload))
    assert facts["original-name"] == SEED_DOCUMENT.name
    assert facts["size"] == str(SEED_DOCUMENT.stat().st_size)
    assert facts["sha256"] == "eaeb2af36c3f5511d3bc719e2a75a60cccb6fe6f9c6d45296273671a6e0035fe"
    assert facts["note"] == "ingested, not fetched"
    assert facts["target-uri-from"] == "last line of the transcript"
    assert meta.headers["WARC-Refers-To"] == resource.id

    entry = next(manifest.iter_entries(archive_dir / "manifest.jsonl"))
    assert entry["event"] == "ingestion"
    assert entry["source"]["url"] == SEED_URL
    assert entry["source"]["file"]["sha256"] == (
        "eaeb2af36c3f5511d3bc719e2a75a60cccb6fe6f9c6d45296273671a6e0035fe")
    assert entry["articles"][0]["byline"] == {"raw": "PV/VOV.VN", "authors": ["PV"],
                                              "source": "VOV.VN"}


def test_seed_document_round_trips_verbatim(run, archive_dir):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    article_path = next((archive_dir / "articles").rglob("*.json"))
    article = json.loads(article_path.read_text(encoding="utf-8"))
    lines = SEED_DOCUMENT.read_text(encoding="utf-8").splitlines()
    assert article["id"] == "vov-1064050"
    assert article["lead"] == lines[0]
    assert article["body"] == lines[1:-2]
    assert any("Đai diện" in p for p in article["body"])  # the source's typo survives
    assert article["byline"]["raw"] == lines[-2]
    assert article["url"] == lines[-1]


def test_ingesting_the_same_bytes_twice_is_a_no_op(run, archive_dir):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    again = run("ingest", str(SEED_DOCUMENT))
    assert again.exit_code == 0
    assert "same bytes already ingested (manifest seq 0)" in again.output
    assert len(warc_files(archive_dir)) == 1


def test_html_with_url_option(run, archive_dir, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<!doctype html><html><head><title>T</title></head>"
                    "<body><article><h1>Tiêu đề</h1><p>Đoạn văn.</p></article></body></html>",
                    encoding="utf-8")
    result = run("ingest", str(page), "--url", "https://example.org/a")
    assert result.exit_code == 0, result.output
    resource = read_warc(warc_files(archive_dir)[0])[1]
    assert resource.headers["WARC-Target-URI"] == "https://example.org/a"
    assert resource.headers["Content-Type"] == "text/html; charset=utf-8"


def test_html_canonical_link_gives_the_url(run, archive_dir, tmp_path):
    page = tmp_path / "saved.html"
    page.write_text('<html><head><link rel="canonical" href="https://example.org/c"></head>'
                    "<body><p>x</p></body></html>")
    assert run("ingest", str(page)).exit_code == 0
    resource = read_warc(warc_files(archive_dir)[0])[1]
    assert resource.headers["WARC-Target-URI"] == "https://example.org/c"


def test_document_without_a_source_url_is_refused(run, archive_dir, tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text("Một đoạn văn.\nKhông có URL.\n")
    result = run("ingest", str(doc))
    assert result.exit_code == 1
    assert f"FAILED  {doc}: no source URL found in the document; give one with --url" in (
        result.output)
    assert warc_files(archive_dir) == []


def test_symlink_and_missing_file_are_refused(run, tmp_path):
    link = tmp_path / "link.txt"
    os.symlink(SEED_DOCUMENT, link)
    result = run("ingest", str(link))
    assert result.exit_code == 1
    assert "is a symbolic link" in result.output
    missing = run("ingest", str(tmp_path / "nope.txt"))
    assert missing.exit_code == 2
    assert "no such file or folder" in missing.output


def test_url_option_with_a_folder_is_a_usage_error(run, seeds):
    result = run("ingest", str(seeds), "--url", "https://example.org/")
    assert result.exit_code == 2


def test_ingest_json_output(run, seeds):
    lines = run.json_lines("ingest", str(seeds))
    assert sorted(line["status"] for line in lines) == ["ingested", "skipped", "skipped"]
    ingested = next(line for line in lines if line["status"] == "ingested")
    assert ingested["article"]["id"] == "vov-1064050"
    assert ingested["manifest_seq"] == 0
