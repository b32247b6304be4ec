"""catalog.sqlite: derived from the manifest, caught up on open, rebuilt equal to the one kept
incrementally, for 0.1.0 archives (one WARC per capture) and for rolling WARCs (ranges, the
sealing event, revisit records, discovery)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from news_site import NewsServer, serve_news, three_snapshots
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archiver.check.audit import audit
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.catalog import CATALOG_NAME, Catalog
from archiver.store.catalog_check import CatalogVerifier

REPO = Path(__file__).resolve().parents[1]
SEED_DOCUMENT = REPO / "seeds" / "000_0fe3eec24f29bb98.txt"
ROLLING = "warcs/2026/11/archiver-20261130000000000-00000-host.warc.gz"
PAGE = b"<html><head><title>T</title></head><body><p>Xin ch\xc3\xa0o</p></body></html>"


def fresh_dump(archive: Archive, tmp_path: Path) -> str:
    """The dump of a catalog rebuilt from nothing, in a copy of the archive."""
    copy = tmp_path / "rebuilt"
    shutil.copytree(archive.root, copy, ignore=shutil.ignore_patterns("catalog.sqlite*"))
    with Catalog.open(Archive(copy)) as catalog:
        return catalog.dump()


# ---------------------------------------------------------------- 0.1.0 layout


def test_ingest_keeps_the_catalog_and_a_rebuild_gives_the_same_rows(run, archive_dir,
                                                                     tmp_path):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    assert (archive_dir / CATALOG_NAME).is_file()  # kept by the ingest itself
    archive = Archive(archive_dir)
    with Catalog.open(archive, catch_up=False) as catalog:
        incremental = catalog.dump()
        [capture] = catalog.captures_for(
            "http://WWW.vov.vn/chinh-tri/can-lam-cho-the-gioi-hieu-ro-hon-ve-quyen-con-nguoi"
            "-o-viet-nam-post1064050.vov")  # scheme, www. and case do not matter (SURT)
        files = catalog._rows("SELECT * FROM files ORDER BY path", ())
        [article] = list(catalog.articles())
    assert incremental == fresh_dump(archive, tmp_path)
    assert capture["record_type"] == "resource" and capture["mime"] == "text/plain"
    assert capture["status"] is None and capture["seq"] == 0
    entry = next(manifest.iter_entries(archive.manifest_path))
    warc = next(f for f in entry["files"] if f["path"].endswith(".warc.gz"))
    assert {f["path"]: (f["state"], f["sha256"]) for f in files} == {
        f["path"]: ("sealed", f["sha256"]) for f in entry["files"]}
    # 0.1.0 entries carry no length: it is measured, up to the next record's member
    offsets = sorted(r["offset"] for r in entry["records"] if r["file"] == warc["path"])
    following = [o for o in offsets if o > capture["offset"]] + [warc["size"]]
    assert capture["length"] == following[0] - capture["offset"]
    assert article["id"] == "vov-1064050" and article["byline"] == "PV/VOV.VN"
    assert json.loads(article["authors"]) == ["PV"] and article["source"] == "VOV.VN"


@pytest.fixture
def news() -> Any:
    yield from serve_news()


def test_three_snapshots_one_latest_and_rebuild_equal(run, news: NewsServer, archive_dir,
                                                      tmp_path):
    three_snapshots(run, news)
    archive = Archive(archive_dir)
    with Catalog.open(archive) as catalog:
        assert len(list(catalog.articles(latest=False))) == 3
        [latest] = list(catalog.articles(latest=True))
        rows = list(catalog.snapshots_of(latest["id"]))
        assert latest["path"] == rows[-1]["path"]
        assert len(catalog.captures_for(news.url("/"))) == 0
        assert catalog.article_ids_matching(latest["url"]) == [latest["id"]]
        assert catalog.dump() == fresh_dump(archive, tmp_path)


def test_a_catalog_behind_the_manifest_catches_up_on_open(run, archive_dir, tmp_path):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    archive = Archive(archive_dir)
    (archive_dir / CATALOG_NAME).unlink()
    with Catalog.open(archive) as catalog:
        assert catalog.position().seq == 0
        assert len(list(catalog.articles())) == 1


def test_a_catalog_of_another_manifest_is_rebuilt(run, archive_dir, tmp_path):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    archive = Archive(archive_dir)
    with Catalog.open(archive) as catalog:
        first = catalog.dump()
    # the manifest is replaced by one of the same length whose entry differs (a fork)
    other = tmp_path / "other"
    shutil.copytree(archive_dir, other)
    lines = (other / "manifest.jsonl").read_bytes()
    entry = json.loads(lines)
    at = entry["at"]
    entry["at"] = at[:-2] + ("1" if at[-2] != "1" else "2") + "Z"  # same length, new time
    entry["hash"] = manifest.entry_hash(entry)
    (other / "manifest.jsonl").write_bytes(manifest.canonical(entry) + b"\n")
    with Catalog.open(Archive(other)) as catalog:
        assert catalog.position().hash == entry["hash"]
        assert catalog.dump() != first
        assert catalog.dump() == fresh_dump(Archive(other), tmp_path / "x")


def test_an_emptied_manifest_empties_the_catalog(run, archive_dir):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    (archive_dir / "manifest.jsonl").write_bytes(b"")
    with Catalog.open(Archive(archive_dir)) as catalog:
        assert list(catalog.articles(latest=False)) == []
        assert catalog.position().seq is None


# ---------------------------------------------------------------- rolling WARCs (synthetic)


def _response(writer: WARCWriter, url: str, body: bytes, date: str) -> Any:
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                               protocol="HTTP/1.1")
    return writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                     http_headers=headers,
                                     warc_headers_dict={"WARC-Date": date})


def _write(out: Any, writer: WARCWriter, record: Any) -> dict[str, Any]:
    start = out.tell()
    writer.write_record(record)
    return {"id": record.rec_headers.get_header("WARC-Record-ID"), "type": record.rec_type,
            "file": ROLLING, "uri": record.rec_headers.get_header("WARC-Target-URI"),
            "offset": start, "length": out.tell() - start}


class Chain:
    """Writes manifest lines the way the storage engine will (schema 1.1.0 fields)."""

    def __init__(self, archive: Archive) -> None:
        self.archive, self.entries = archive, []  # type: ignore[var-annotated]

    def add(self, **fields: Any) -> dict[str, Any]:
        last = self.entries[-1] if self.entries else None
        entry = {"event": "capture", "at": f"2026-11-30T00:00:0{len(self.entries)}Z",
                 "agent": {}, "outcome": {"status": "success", "detail": ""}, **fields,
                 "seq": len(self.entries), "prev": last["hash"] if last else manifest.GENESIS}
        entry["hash"] = manifest.entry_hash(entry)
        with open(self.archive.manifest_path, "ab") as f:
            f.write(manifest.canonical(entry) + b"\n")
        self.entries.append(entry)
        return entry


def _range(path: Path, rel: str, start: int, end: int) -> dict[str, Any]:
    data = path.read_bytes()[start:end]
    return {"file": rel, "offset": start, "length": end - start,
            "sha256": hashlib.sha256(data).hexdigest()}


def test_rolling_warc_ranges_revisits_sealing_incremental_equals_rebuilt(tmp_path):
    archive = Archive(tmp_path / "archive").ensure()
    chain = Chain(archive)
    open_path = archive.root / (ROLLING + ".open")
    open_path.parent.mkdir(parents=True)
    url = "https://vov.vn/a-post1.vov"
    article = {"id": "vov-1", "url": url, "title": "Đường sắt", "lead": "Lead", "body": ["B"],
               "byline": {"raw": "PV/VOV.VN", "authors": ["PV"], "source": "VOV.VN"},
               "capture": {"warc_date": "2026-11-30T00:00:00Z"}, "schema_version": "1.0.0",
               "published_at": "2026-11-29T08:00:00+07:00", "section": "Xã hội"}
    article_rel = "articles/vov-1/20261130T000000Z-aaaa.json"
    archive.write_bytes(article_rel, json.dumps(article).encode())
    art_sha = hashlib.sha256(archive.resolve(article_rel).read_bytes()).hexdigest()
    incremental = Catalog.open(archive)
    with open(open_path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        rec1 = _write(out, writer, _response(writer, url, PAGE, "2026-11-30T00:00:00Z"))
        out.flush()
        e1 = chain.add(records=[rec1], ranges=[_range(open_path, ROLLING, 0, out.tell())],
                       files=[{"path": article_rel, "sha256": art_sha, "size": 10}],
                       articles=[{"id": "vov-1", "path": article_rel, "sha256": art_sha,
                                  "url": url, "record_id": rec1["id"]}],
                       discovery={"kind": "seed", "seed": url, "via": None, "hops": 0})
        assert incremental.apply([e1]) == 1
        state = incremental._rows("SELECT state, sha256, size FROM files WHERE path=?",
                                  (ROLLING,))
        assert state == [{"state": "open", "sha256": None, "size": out.tell()}]
        start = out.tell()
        revisit = writer.create_revisit_record(
            url, digest=incremental.latest_capture(url)["payload_digest"],
            refers_to_uri=url, refers_to_date="2026-11-30T00:00:00Z",
            http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html")],
                                          protocol="HTTP/1.1"))
        revisit.rec_headers.add_header("WARC-Refers-To", rec1["id"])
        rec2 = _write(out, writer, revisit)
    e2 = chain.add(records=[rec2], ranges=[_range(open_path, ROLLING, start, rec2["offset"]
                                                  + rec2["length"])],
                   revisit={"refers_to": rec1["id"], "refers_to_uri": url,
                            "refers_to_date": "2026-11-30T00:00:00Z",
                            "profile": "http://netpreserve.org/warc/1.1/revisit/"
                                       "identical-payload-digest", "article": article_rel})
    final = archive.root / ROLLING
    open_path.rename(final)  # sealed: renamed, then the event with its whole-file digest
    sha = hashlib.sha256(final.read_bytes()).hexdigest()
    e3 = chain.add(event="message digest calculation", details={"sealed": ROLLING},
                   files=[{"path": ROLLING, "sha256": sha, "size": final.stat().st_size}])
    assert incremental.apply([e1, e2, e3]) == 2  # e1 again is skipped
    dump = incremental.dump()
    captures = incremental.captures_for("http://vov.vn/a-post1.vov")
    files = incremental._rows("SELECT * FROM files WHERE path=?", (ROLLING,))
    digest = captures[0]["payload_digest"]
    assert incremental.find_digest(url, digest)["record_id"] == rec1["id"]
    incremental.close()
    assert dump == fresh_dump(archive, tmp_path)
    verifier = CatalogVerifier.open(archive)
    for entry in chain.entries:
        verifier.check(entry)
    assert verifier.finish() == []  # open, then sealed by a later entry: no disagreement
    first, second = captures
    assert (first["record_type"], first["status"], first["mime"]) == ("response", 200,
                                                                        "text/html")
    assert json.loads(first["discovered_via"])["kind"] == "seed"
    assert (second["record_type"], second["revisit_of"]) == ("revisit", rec1["id"])
    assert second["length"] == rec2["length"] and second["seq"] == 1
    assert files == [{"path": ROLLING, "state": "sealed", "sha256": sha,
                      "size": final.stat().st_size, "seq": 2}]


def test_apply_out_of_order_goes_to_the_manifest(run, archive_dir):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    (archive_dir / CATALOG_NAME).unlink()
    archive = Archive(archive_dir)
    entries = list(manifest.iter_entries(archive.manifest_path))
    with Catalog.open(archive, catch_up=False) as catalog:
        assert catalog.position().seq is None
        catalog.apply(entries[-1:])  # the first entry was never applied: catch up instead
        assert catalog.position().seq == entries[-1]["seq"]
        rows = catalog.conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert rows == 1


def test_catalog_is_sqlite_in_wal_mode(run, archive_dir):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    conn = sqlite3.connect(archive_dir / CATALOG_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# ---------------------------------------------------------------- audit


def catalog_findings(archive_dir: Path) -> set[str]:
    report = audit(Archive(archive_dir), jobs=1)
    return {f.code for f in report.findings if f.where == CATALOG_NAME}


@pytest.mark.parametrize("tamper, code", [
    ("UPDATE captures SET offset = offset + 1", "catalog-row-mismatch"),
    ("UPDATE articles SET sha256 = 'x'", "catalog-row-mismatch"),
    ("DELETE FROM articles", "catalog-missing-row"),
    ("UPDATE files SET size = 1 WHERE path LIKE 'warcs/%'", "catalog-row-mismatch"),
    ("INSERT INTO files VALUES ('warcs/x.warc.gz', 'sealed', 'y', 1, 0)",
     "catalog-extra-rows"),
    ("UPDATE meta SET value = 'sha256:0' WHERE key = 'manifest_hash'", "catalog-stale"),
])
def test_audit_reports_a_catalog_that_disagrees_with_the_manifest(run, archive_dir, tamper,
                                                                   code):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    assert catalog_findings(archive_dir) == set()
    conn = sqlite3.connect(archive_dir / CATALOG_NAME)
    with conn:
        conn.execute(tamper)
    conn.close()
    before = (archive_dir / CATALOG_NAME).read_bytes()
    report = audit(Archive(archive_dir), jobs=1)
    found = [f for f in report.findings if f.where == CATALOG_NAME]
    assert {f.code for f in found} == {code}
    assert all(f.severity == "warning" for f in found) and report.ok  # the manifest wins
    assert (archive_dir / CATALOG_NAME).read_bytes() == before  # audit changes nothing
    assert run("index", "--rebuild", "--quiet").exit_code == 0
    assert catalog_findings(archive_dir) == set()


def test_views_fall_back_to_the_manifest_without_a_catalog(run, archive_dir):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    listed = run("ls", "--json").output
    shown = run("show", "vov-1064050", "--json").output
    (archive_dir / CATALOG_NAME).unlink()
    (archive_dir / CATALOG_NAME).mkdir()  # cannot be opened as a database
    assert run("ls", "--json").output == listed
    assert run("show", "vov-1064050", "--json").output == shown


def test_a_damaged_catalog_is_reported_survived_and_rebuilt(run, archive_dir):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    listed = run("ls", "--json").output
    (archive_dir / CATALOG_NAME).write_bytes(b"not a database" * 100)
    assert run("ls", "--json").output == listed  # the manifest serves meanwhile
    assert catalog_findings(archive_dir) == {"catalog-unreadable"}
    assert run("search", "quyen").exit_code == 2  # search needs it: a one-line error
    assert run("index", "--rebuild", "--quiet").exit_code == 0
    assert catalog_findings(archive_dir) == set()
    assert run("search", "quyen").exit_code == 0


def test_a_catalog_killed_before_its_schema_is_made_on_next_use(run, archive_dir):
    """A process killed between creating catalog.sqlite and making its schema leaves a
    database without tables: no disagreement for audit, and the next use makes it."""
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    path = archive_dir / CATALOG_NAME
    for suffix in ("", "-wal", "-shm"):
        (archive_dir / (CATALOG_NAME + suffix)).unlink(missing_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")  # what Catalog.open does first
    assert path.stat().st_size > 0
    assert catalog_findings(archive_dir) == set()
    with Catalog.open(Archive(archive_dir)) as catalog:
        assert catalog.counts()["articles"] == 1


def test_the_schema_is_made_in_one_transaction(tmp_path, monkeypatch):
    """All of it or none: a failure late in the schema script leaves no table behind."""
    from archiver.base.errors import StoreError
    from archiver.store import fulltext

    archive = Archive(tmp_path / "archive").ensure()
    monkeypatch.setattr(fulltext, "SCHEMA", fulltext.SCHEMA + "CREATE TABLE broken(;\n")
    with pytest.raises(StoreError):
        Catalog.open(archive)
    with sqlite3.connect(tmp_path / "archive" / CATALOG_NAME) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    monkeypatch.undo()
    with Catalog.open(archive) as catalog:  # and the next open makes it whole
        assert catalog.counts()["captures"] == 0
