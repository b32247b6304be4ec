"""Issue 24, item 4: the captures table holds the records of ingested foreign WARCs.

A foreign WARC's ingestion entry names only the records articles came from; every response,
revisit and resource record in it is a capture all the same (replay serves them), so each is
a row of `export --what captures`, from the catalog and from the manifest alike, and a
catalog made before this rule is made again."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from conftest import Cli
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.access.rows import CATALOG_CAPTURES, capture_refs
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog

BODY = b"<html><head><title>x</title></head><body><p>a small page</p></body></html>"


def foreign_warc(path: Path) -> dict[str, str]:
    """A response, a revisit of it and a resource record, as another tool writes them."""
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        head = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                           ("Content-Length", str(len(BODY)))],
                                protocol="HTTP/1.1")
        response = writer.create_warc_record("http://example.org/", "response",
                                             payload=io.BytesIO(BODY), http_headers=head)
        writer.write_record(response)
        digest = response.rec_headers.get_header("WARC-Payload-Digest")
        revisit = writer.create_revisit_record("http://example.org/", digest,
                                               "http://example.org/", "2026-12-01T00:00:00Z",
                                               http_headers=head)
        revisit.rec_headers.add_header("WARC-Refers-To",
                                       response.rec_headers.get_header("WARC-Record-ID"))
        writer.write_record(revisit)
        resource = writer.create_warc_record("http://example.org/logo.txt", "resource",
                                             payload=io.BytesIO(b"logo"),
                                             warc_content_type="text/plain")
        writer.write_record(resource)
    return {r.rec_headers.get_header("WARC-Record-ID"): r.rec_type
            for r in (response, revisit, resource)}


def test_every_record_of_an_ingested_warc_is_a_capture_row(tmp_path: Path) -> None:
    archive_dir = tmp_path / "archive"
    run = Cli(archive_dir)
    ids = foreign_warc(tmp_path / "foreign.warc.gz")
    assert run("ingest", str(tmp_path / "foreign.warc.gz")).exit_code == 0
    out = tmp_path / "captures.jsonl"
    result = run("export", "jsonl", str(out), "--what", "captures")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    foreign = {r["record_id"]: r for r in rows if r["warc_file"].endswith("-foreign.warc.gz")}
    assert {k: r["record_type"] for k, r in foreign.items()} == ids
    revisit = next(r for r in foreign.values() if r["record_type"] == "revisit")
    response = next(r for r in foreign.values() if r["record_type"] == "response")
    assert revisit["revisit_of"] == response["record_id"] and response["status"] == 200
    # each row points at its record: read it back at that offset
    warc = archive_dir / response["warc_file"]
    for row in foreign.values():
        with open(warc, "rb") as f:
            f.seek(row["offset"])
            from warcio.archiveiterator import ArchiveIterator
            record = next(iter(ArchiveIterator(f)))
            assert record.rec_headers.get_header("WARC-Record-ID") == row["record_id"]
    # audit's catalog check counts these rows as the ingestion's, not as extra rows
    audit = run("audit", "--json")
    assert audit.exit_code == 0, audit.output
    codes = [f["code"] for f in json.loads(audit.stdout)["findings"]]
    assert not [c for c in codes if c.startswith("catalog")], codes
    # without the catalog (rows from the manifest and the WARCs), the same records
    archive = Archive(archive_dir)
    head = manifest.read_last(archive.manifest_path)["seq"]
    refs = {(r.file, r.offset) for r in capture_refs(archive, head)}
    assert {(r["warc_file"], r["offset"]) for r in rows} == refs


def test_a_catalog_made_before_the_rule_is_made_again(tmp_path: Path) -> None:
    archive_dir = tmp_path / "archive"
    run = Cli(archive_dir)
    ids = foreign_warc(tmp_path / "foreign.warc.gz")
    assert run("ingest", str(tmp_path / "foreign.warc.gz")).exit_code == 0
    with sqlite3.connect(archive_dir / "catalog.sqlite") as db:  # as 0.2 left it
        db.execute("DELETE FROM captures")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with Catalog.open(Archive(archive_dir)) as catalog:
        found = {row[-2] for row in catalog.conn.execute(CATALOG_CAPTURES, (10**9,))}
    assert set(ids) <= found
