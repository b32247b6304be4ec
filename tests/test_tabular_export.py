"""`archiver export parquet|csv|jsonl`: read back by pyarrow and the csv and json modules,
every row compared with the article file (or WARC record) it claims to come from, and the
sidecar checked against the manifest head and the file's own sha256."""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import SEED_DOCUMENT, Cli
from news_site import REDIRECT_PATH, NewsServer, capture, serve_news, three_snapshots

from archiver import __version__
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.warc import WarcFileWriter

REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
DISCOVERY = {"kind": "link", "seed": "http://example.test/", "via": "http://example.test/a",
             "hops": 1}

DECLARED = {
    "id": pa.string(), "url": pa.string(), "title": pa.string(), "lead": pa.string(),
    "body": pa.string(), "published_at": pa.timestamp("us", tz="UTC"),
    "published_at_offset": pa.int16(), "section": pa.string(), "byline": pa.string(),
    "authors": pa.list_(pa.string()), "source": pa.string(), "publisher": pa.string(),
    "language": pa.string(), "text_sha256": pa.string(),
    "captured_at": pa.timestamp("us", tz="UTC"), "warc_file": pa.string(),
    "record_id": pa.string(), "article_file": pa.string(), "article_sha256": pa.string(),
    "manifest_seq": pa.int64(),
}


@pytest.fixture(scope="module")
def news() -> Iterator[NewsServer]:
    yield from serve_news()


@pytest.fixture(scope="module")
def filled(news: NewsServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """Three snapshots of a story (text changed once), a capture through a 301, the seed
    document ingested, and a revisit record committed as the storage engine will."""
    root = tmp_path_factory.mktemp("tables") / "archive"
    run = Cli(root)
    url = three_snapshots(run, news)
    capture(run, news.url(REDIRECT_PATH))
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    commit_revisit(Archive(root), url)
    return run


def commit_revisit(archive: Archive, url: str) -> None:
    """A WARC 1.1 revisit of the story's first capture, with a schema 1.1.0 entry (records[]
    with length, discovery; CONTRACTS.md)."""
    first = min(archive.articles_dir.rglob("*.json"))
    original = json.loads(first.read_bytes())["capture"]
    when = datetime.now(UTC) + timedelta(days=1)
    rel = "warcs/2026/12/revisit-export.warc.gz"
    with archive.atomic_file(rel) as f:
        w = WarcFileWriter(f, Path(rel).name)
        w.write_warcinfo({"software": "archiver tests"}, when)
        ref = w.write_record(
            "revisit", url, b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
            when, content_type="application/http; msgtype=response",
            payload_digest=original["payload_digest"],
            extra={"WARC-Profile": REVISIT_PROFILE, "WARC-Refers-To": original["record_id"],
                   "WARC-Refers-To-Target-URI": url,
                   "WARC-Refers-To-Date": original["warc_date"]})
    info = archive.file_info(rel)
    entry = manifest.new_event(
        "capture", "success", "HTTP 200 (revisit)", files=[info.to_dict()],
        records=[{"id": ref.record_id, "type": "revisit", "file": rel, "uri": url,
                  "offset": ref.offset, "length": ref.length}],
        discovery=DISCOVERY, source={"url": url, "final_url": url, "status": 200})
    # Chained by hand: main's manifest schema (1.0) does not know `discovery` and `length`
    # yet; the storage engine's 1.1.0 will. The chain itself is what manifest.append makes.
    last = manifest.read_last(archive.manifest_path)
    assert last is not None
    entry["seq"], entry["prev"] = last["seq"] + 1, last["hash"]
    entry["hash"] = manifest.entry_hash(entry)
    with open(archive.manifest_path, "ab") as f:
        f.write(manifest.canonical(entry) + b"\n")


def export(run: Cli, fmt: str, out: Path, *args: str) -> dict[str, Any]:
    result = run("export", fmt, str(out), *args, "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def article_files(run: Cli) -> dict[str, dict[str, Any]]:
    root = run.archive
    return {p.relative_to(root).as_posix(): json.loads(p.read_bytes())
            for p in (root / "articles").rglob("*.json")}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def assert_row_is_its_article(row: dict[str, Any], doc: dict[str, Any], raw: bytes,
                              text_times: bool) -> None:
    """`text_times`: CSV/JSONL carry RFC 3339 text, Parquet UTC datetimes."""
    byline = doc["byline"]
    expected = {
        "id": doc["id"], "url": doc["url"], "title": doc["title"], "lead": doc["lead"],
        "body": "\n\n".join(doc["body"]), "section": doc["section"],
        "byline": byline["raw"], "authors": byline["authors"], "source": byline["source"],
        "publisher": doc["publisher"]["name"], "language": doc["language"],
        "text_sha256": doc["text_sha256"], "warc_file": doc["capture"]["warc_path"],
        "record_id": doc["capture"]["record_id"],
        "article_sha256": hashlib.sha256(raw).hexdigest(),
    }
    for name, value in expected.items():
        assert row[name] == value, name
    published, captured = row["published_at"], row["captured_at"]
    if text_times:
        published = when(published) if published else None
        captured = when(captured)
    if doc["published_at"]:
        original = when(doc["published_at"])
        assert published == original  # the same instant...
        assert row["published_at_offset"] * 60 == original.utcoffset().total_seconds()
        if text_times:  # ...and, as text, the same offset as published
            assert published.utcoffset() == original.utcoffset()
    else:
        assert published is None and row["published_at_offset"] is None
    assert captured == when(doc["capture"]["warc_date"])


def test_parquet_has_the_declared_types_and_every_row_equals_its_article(filled, tmp_path):
    out = tmp_path / "articles.parquet"
    summary = export(filled, "parquet", out)
    table = pq.read_table(out)
    assert {f.name: f.type for f in table.schema} == DECLARED
    assert [f.name for f in table.schema] == list(DECLARED)  # the declared order
    files = article_files(filled)
    rows = table.to_pylist()
    # every article file is one snapshot (an unchanged recapture is a revisit, no new file)
    assert summary["rows"] == len(rows) == len(files) >= 3
    assert any(r["published_at_offset"] == 420 for r in rows)  # +07:00 kept beside UTC
    for row in rows:
        path = filled.archive / row["article_file"]
        assert_row_is_its_article(row, files[row["article_file"]], path.read_bytes(),
                                  text_times=False)
        assert row["published_at"] is None or row["published_at"].tzinfo is not None
    seqs = [r["manifest_seq"] for r in rows]
    assert seqs == sorted(seqs)  # manifest order


def test_latest_gives_one_row_per_article_the_newest_snapshot(filled, tmp_path):
    out = tmp_path / "latest.parquet"
    export(filled, "parquet", out, "--latest")
    rows = pq.read_table(out).to_pylist()
    files = article_files(filled)
    newest: dict[str, str] = {}
    for doc in files.values():
        if doc["id"] not in newest or doc["capture"]["warc_date"] > newest[doc["id"]]:
            newest[doc["id"]] = doc["capture"]["warc_date"]
    assert sorted(r["id"] for r in rows) == sorted(newest)
    for row in rows:
        assert row["captured_at"] == when(newest[row["id"]])


def test_csv_and_jsonl_parse_back_to_the_same_values(filled, tmp_path):
    export(filled, "csv", tmp_path / "a.csv")
    export(filled, "jsonl", tmp_path / "a.jsonl")
    data = (tmp_path / "a.csv").read_bytes()
    assert data.count(b"\r\n") >= 5 and not data.startswith(b"\xef\xbb\xbf")  # RFC 4180
    with open(tmp_path / "a.csv", encoding="utf-8", newline="") as f:
        reader = csv.reader(f, strict=True)
        header = next(reader)
        csv_rows = [dict(zip(header, values, strict=True)) for values in reader]
    assert header == list(DECLARED)
    jsonl_rows = [json.loads(line) for line in
                  (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    files = article_files(filled)
    assert len(csv_rows) == len(jsonl_rows) == len(files)
    for text_row, json_row in zip(csv_rows, jsonl_rows, strict=True):
        assert "\n\n" in text_row["body"]  # a quoted field with line breaks survived
        typed = {k: (None if v == "" else v) for k, v in text_row.items()}
        typed["authors"] = json.loads(text_row["authors"])
        typed["manifest_seq"] = int(text_row["manifest_seq"])
        offset = text_row["published_at_offset"]
        typed["published_at_offset"] = int(offset) if offset else None
        for row in (typed, json_row):
            doc = files[row["article_file"]]
            raw = (filled.archive / row["article_file"]).read_bytes()
            assert_row_is_its_article(row, doc, raw, text_times=True)
        assert typed == json_row


def test_the_sidecar_cites_the_manifest_head_and_the_file(filled, tmp_path):
    out = tmp_path / "a.jsonl"
    summary = export(filled, "jsonl", out)
    sidecar = json.loads((tmp_path / "a.jsonl.meta.json").read_text(encoding="utf-8"))
    head = manifest.read_last(filled.archive / "manifest.jsonl")
    assert head is not None
    assert sidecar["manifest"] == {"path": "manifest.jsonl", "seq": head["seq"],
                                   "hash": head["hash"]}
    assert summary["manifest"] == {"seq": head["seq"], "hash": head["hash"]}
    assert sidecar["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert sidecar["size"] == out.stat().st_size
    assert sidecar["rows"] == len(out.read_text(encoding="utf-8").splitlines())
    assert sidecar["software"]["version"] == __version__
    assert sidecar["command"].startswith("archiver export jsonl ")
    assert [c["name"] for c in sidecar["columns"]] == list(DECLARED)
    assert sidecar["what"] == "articles" and sidecar["format"] == "jsonl"


def test_captures_come_from_the_records_with_status_revisit_and_discovery(filled, tmp_path):
    out = tmp_path / "captures.parquet"
    export(filled, "parquet", out, "--what", "captures")
    rows = pq.read_table(out).to_pylist()
    types = {f.name: f.type for f in pq.read_schema(out)}
    assert types["timestamp"] == pa.timestamp("us", tz="UTC")
    assert types["status"] == pa.int16() and types["offset"] == pa.int64()
    named = [rec for entry in manifest.iter_entries(filled.archive / "manifest.jsonl")
             for rec in entry.get("records") or []
             if rec["type"] in ("response", "revisit", "resource")]
    assert sorted(r["record_id"] for r in rows) == sorted(rec["id"] for rec in named)
    assert [r["manifest_seq"] for r in rows] == sorted(r["manifest_seq"] for r in rows)
    by_id = {rec["id"]: rec for rec in named}
    for row in rows:
        assert (row["warc_file"], row["offset"]) == (by_id[row["record_id"]]["file"],
                                                     by_id[row["record_id"]]["offset"])
    statuses = [r["status"] for r in rows if r["record_type"] == "response"]
    assert 301 in statuses and statuses.count(200) >= 2  # the redirect hop, the story
    [resource] = [r for r in rows if r["record_type"] == "resource"]
    assert resource["status"] is None and resource["mime"] == "text/plain"
    [revisit] = [r for r in rows if r["record_type"] == "revisit" and r["discovered_via"]]
    first = min(filled.archive.joinpath("articles").rglob("*.json"))
    assert revisit["revisit_of"] == json.loads(first.read_bytes())["capture"]["record_id"]
    assert json.loads(revisit["discovered_via"]) == DISCOVERY
    for row in rows:
        # offset and length frame exactly one gzip member holding this record
        with open(filled.archive / row["warc_file"], "rb") as f:
            f.seek(row["offset"])
            member = f.read(row["length"])
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = d.decompress(member)
        assert d.eof and not d.unused_data
        assert f"WARC-Record-ID: {row['record_id']}".encode() in text
        if row["status"] == 200:  # response and revisit: the HTTP Content-Type, bare
            assert row["mime"] == "text/html"


def test_an_existing_out_is_refused_and_parquet_without_pyarrow_names_the_extra(
        filled, tmp_path, monkeypatch):
    out = tmp_path / "x.csv"
    out.write_text("keep me")
    result = filled("export", "csv", str(out))
    assert result.exit_code == 2 and "already exists" in result.output
    assert out.read_text() == "keep me"
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = filled("export", "parquet", str(tmp_path / "y.parquet"))
    assert result.exit_code == 2
    assert "pip install 'archiver[parquet]'" in result.output
    assert not (tmp_path / "y.parquet").exists()


def test_without_a_catalog_the_manifest_and_warcs_give_the_same_rows(filled, tmp_path):
    """A read-only copy may have no usable catalog.sqlite: the manifest (and, for captures,
    the WARC headers) give the same tables."""
    for what in ("captures", "articles"):
        export(filled, "jsonl", tmp_path / f"{what}-catalog.jsonl", "--what", what)
    root = filled.archive
    aside = tmp_path / "aside"
    aside.mkdir()
    moved = [p for p in root.glob("catalog.sqlite*")]
    for p in moved:
        p.rename(aside / p.name)
    (root / "catalog.sqlite").mkdir()  # cannot be opened as a database
    try:
        for what in ("captures", "articles"):
            export(filled, "jsonl", tmp_path / f"{what}-manifest.jsonl", "--what", what)
    finally:
        (root / "catalog.sqlite").rmdir()
        for p in moved:
            (aside / p.name).rename(p)
    for what in ("captures", "articles"):
        via_catalog = (tmp_path / f"{what}-catalog.jsonl").read_text(encoding="utf-8")
        via_manifest = (tmp_path / f"{what}-manifest.jsonl").read_text(encoding="utf-8")
        key = "record_id" if what == "captures" else "article_file"
        assert sorted(via_catalog.splitlines(), key=lambda x: json.loads(x)[key]) == \
            sorted(via_manifest.splitlines(), key=lambda x: json.loads(x)[key])
        assert via_catalog.count("\n") >= 3
