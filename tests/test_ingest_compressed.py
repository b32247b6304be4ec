"""ingest of compressed and other-suffix documents (.html.gz, .txt.gz, .htm, .xhtml): stored as
given, extracted from the decoded document, the encoding recorded; bombs stop at the cap."""

from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, SHARED
from news_site import Story
from warc_helpers import read_warc, warc_files, warcio_check

from archiver.ingest.documents import MAX_DECODED_BYTES
from archiver.store import manifest
from archiver.store.warc import parse_warc_fields

STORY_URL = "https://news.example.org/2026/11/20/story.html"
SCRAPINGHUB = SHARED / "conformance" / "extraction" / "scrapinghub"


def story_html() -> bytes:
    page = Story().html()
    return page.replace(b"</head>", f"<link rel='canonical' href='{STORY_URL}'></head>"
                        .encode(), 1)


def test_html_gz_is_stored_as_given_and_extracted_decoded(run, archive_dir, tmp_path):
    doc = tmp_path / "story.html.gz"
    doc.write_bytes(gzip.compress(story_html(), mtime=0))
    result = run("ingest", str(doc))
    assert result.exit_code == 0, result.output
    [path] = warc_files(archive_dir)
    assert warcio_check(path).returncode == 0, warcio_check(path).stdout
    recs = read_warc(path)
    assert [r.type for r in recs] == ["warcinfo", "resource", "metadata", "conversion"]
    resource, meta = recs[1], recs[2]
    assert resource.raw_payload == doc.read_bytes()  # the gzip bytes, verbatim
    assert resource.headers["Content-Type"] == "application/gzip"
    facts = dict(parse_warc_fields(meta.raw_payload))
    assert facts["content-encoding"] == "gzip"
    assert facts["decoded-content-type"] == "text/html; charset=utf-8"
    assert facts["decoded-size"] == str(len(story_html()))
    assert meta.headers["WARC-Refers-To"] == resource.id
    entry = next(manifest.iter_entries(archive_dir / "manifest.jsonl"))
    [article] = entry["articles"]
    stored = json.loads((archive_dir / article["path"]).read_bytes())
    assert stored["title"] == Story().title and stored["url"] == STORY_URL
    assert stored["capture"]["record_id"] == resource.id
    # Offline re-derivation finds the same article in the stored (compressed) record.
    again = run("extract", "--all", "--force")
    assert again.exit_code == 0 and "1 unchanged" in again.output, again.output


@pytest.mark.parametrize(("name", "content_type"), [("story.htm", "text/html"),
                                                     ("story.xhtml", "application/xhtml+xml")])
def test_htm_and_xhtml_are_documents(run, archive_dir, tmp_path, name, content_type):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(story_html())
    result = run("ingest", str(folder))
    assert result.exit_code == 0, result.output
    assert "0 skipped" in result.output and "1 documents" in result.output
    resource = read_warc(warc_files(archive_dir)[0])[1]
    assert resource.headers["Content-Type"] == f"{content_type}; charset=utf-8"


def test_txt_gz_transcript_is_ingested_from_a_folder(run, archive_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "transcript.txt.gz").write_bytes(gzip.compress(SEED_DOCUMENT.read_bytes()))
    result = run("ingest", str(folder))
    assert result.exit_code == 0, result.output
    assert "0 failed, 0 skipped" in result.output
    entry = next(manifest.iter_entries(archive_dir / "manifest.jsonl"))
    assert entry["articles"][0]["byline"]["raw"] == "PV/VOV.VN"
    meta = read_warc(warc_files(archive_dir)[0])[2]
    assert dict(parse_warc_fields(meta.raw_payload))["decoded-content-type"] == \
        "text/plain; charset=utf-8"


def test_a_gzip_bomb_document_is_inflated_only_to_the_cap(run, archive_dir, tmp_path):
    head = story_html()
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    body = packer.compress(head) + packer.compress(b" " * (64 << 20)) + packer.flush()
    assert len(body) < 200_000
    doc = tmp_path / "bomb.html.gz"
    doc.write_bytes(body)
    result = run("ingest", str(doc), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.splitlines()[0])
    assert out["status"] == "ingested" and out["article"]["status"] == "not-article"
    meta = read_warc(warc_files(archive_dir)[0])[2]
    assert dict(parse_warc_fields(meta.raw_payload))["decoded-size"] == \
        f"over {MAX_DECODED_BYTES} (not inflated further)"


def test_a_gz_file_that_is_not_gzip_is_a_clear_failure(run, archive_dir, tmp_path):
    doc = tmp_path / "story.html.gz"
    doc.write_bytes(story_html())
    result = run("ingest", str(doc))
    assert result.exit_code == 1
    assert "not a readable gzip stream" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(not (SCRAPINGHUB / "html").is_dir(), reason="shared corpus absent")
def test_the_181_scrapinghub_pages_are_all_ingested(run, archive_dir, tmp_path):
    pages = sorted((SCRAPINGHUB / "html").glob("*.html.gz"))
    assert len(pages) == 181
    result = run("ingest", str(SCRAPINGHUB / "html"), "--json")
    outcomes = [json.loads(line) for line in result.output.splitlines()]
    by_status: dict[str, list[dict]] = {}
    for o in outcomes:
        by_status.setdefault(o["status"], []).append(o)
    assert "skipped" not in by_status
    # Pages that name no URL of their own (no canonical, no og:url) need one given: the
    # benchmark's ground truth has it.
    truth = json.loads((SCRAPINGHUB / "ground-truth.json").read_bytes())
    for failed in by_status.get("failed", []):
        assert "no source URL" in failed["reason"], failed
        path = Path(failed["path"])
        url = truth[path.name.removesuffix(".html.gz")]["url"]
        assert run("ingest", str(path), "--url", url).exit_code == 0
    entries = list(manifest.iter_entries(archive_dir / "manifest.jsonl"))
    assert {e["source"]["file"]["name"] for e in entries} == {p.name for p in pages}
