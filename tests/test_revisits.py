"""Rolling WARCs and revisit records, read back with warcio and cdxj-indexer (issue 12).

Roll-over at a small --warc-size keeps every capture inside one file; an unchanged page
recaptured is a WARC 1.1 revisit record (identical-payload-digest) pointing at the record
that holds its payload; a 304 answer to the validators of the last capture is a revisit with
the server-not-modified profile."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import last_capture
from http_fixture import VOV_PATH
from warc_helpers import read_warc, warc_files, warcio_check

from archiver.store import manifest

IDENTICAL = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def captures(archive: Path) -> list[dict]:
    return [e for e in manifest.iter_entries(archive / "manifest.jsonl")
            if e["event"] == "capture"]


def test_roll_over_keeps_each_capture_in_one_file_and_ranges_tile_the_files(
        run, server, archive_dir):
    urls = [server.url(f"/page/{i}") for i in range(8)]
    result = run("capture", *urls, "--warc-size", "6K", "--workers", "2", "--commit-every",
                 "3", "-q")
    assert result.exit_code == 0, result.output
    files = warc_files(archive_dir)
    assert len(files) >= 3  # ~3 KB per capture: it rolled over
    assert not list((archive_dir / "warcs").rglob("*.open"))  # all sealed at the end
    for path in files:
        assert warcio_check(path).returncode == 0, warcio_check(path).stdout
        recs = read_warc(path)
        assert recs[0].type == "warcinfo"
        assert recs[0].headers["WARC-Filename"] == path.name
        assert all(r.headers["WARC-Warcinfo-ID"] == recs[0].id for r in recs[1:])
    entries = captures(archive_dir)
    assert sorted(e["source"]["url"] for e in entries) == sorted(urls)
    tiles: dict[str, list[tuple[int, int]]] = {}
    for e in entries:
        [rng] = e["ranges"]
        assert {r["file"] for r in e["records"]} == {rng["file"]}  # never spans two files
        for r in e["records"]:
            assert rng["offset"] <= r["offset"] < rng["offset"] + rng["length"]
        tiles.setdefault(rng["file"], []).append((rng["offset"], rng["length"]))
    for rel, ranges in tiles.items():
        ranges.sort()
        assert ranges[0][0] == 0  # the first capture's range covers the warcinfo record
        assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(ranges))
        assert sum(n for _, n in ranges) == (archive_dir / rel).stat().st_size
    sealed = {f["path"]: e["seq"] for e in manifest.iter_entries(archive_dir / "manifest.jsonl")
              if e["event"] == "message digest calculation" for f in e["files"]}
    assert set(sealed) == set(tiles)
    for e in entries:  # a file is sealed only after every capture in it is committed
        assert e["seq"] < sealed[e["ranges"][0]["file"]]
    assert run("audit").exit_code == 0
    assert run("validate").exit_code == 0


def test_cdxj_written_from_known_offsets_equals_cdxj_indexer(run, server, archive_dir):
    urls = [server.url(VOV_PATH), server.url("/redirect/1"), server.url("/missing")]
    # one worker: which of the two fetches of the page comes second (the revisit) is then
    # fixed; with four, both can look the payload up before either has written it
    assert run("capture", *urls, "-q", "--workers", "1").exit_code == 1  # the 404 fails
    [warc] = warc_files(archive_dir)
    [ours] = (archive_dir / "indexes").glob("*.cdxj")
    theirs = subprocess.run(
        [sys.executable, "-m", "cdxj_indexer.main", "--records", "response,revisit,resource",
         "--dir-root", str(archive_dir), str(warc)],
        capture_output=True, text=True, check=True).stdout
    assert ours.read_text().splitlines() == sorted(theirs.splitlines())
    assert len(theirs.splitlines()) == 5  # 301, 302, 200 (the redirect), 200, 404
    # the page reached twice in the run: the second time a revisit of the first
    assert sum('"mime": "warc/revisit"' in line for line in theirs.splitlines()) == 1


def test_unchanged_recapture_is_a_revisit_pointing_at_the_original(run, server, archive_dir):
    url = server.url(VOV_PATH)
    assert run("capture", url).exit_code == 0
    first = last_capture(archive_dir)
    assert run("capture", url).exit_code == 0
    second = last_capture(archive_dir)
    original = next(r for r in first["records"] if r["type"] == "response")
    [revisit] = [r for r in second["records"] if r["type"] == "revisit"]
    assert second["revisit"]["refers_to"] == original["id"]
    assert second["revisit"]["profile"] == IDENTICAL
    assert second["revisit"]["article"] == first["articles"][0]["path"]  # unchanged since
    assert second["articles"] == []  # not extracted again

    new_warc = archive_dir / second["ranges"][0]["file"]
    assert warcio_check(new_warc).returncode == 0
    rec = next(r for r in read_warc(new_warc) if r.type == "revisit")
    old = next(r for r in read_warc(archive_dir / original["file"]) if r.type == "response")
    assert rec.id == revisit["id"]
    assert rec.headers["WARC-Profile"] == IDENTICAL
    assert rec.headers["WARC-Refers-To"] == old.id
    assert rec.headers["WARC-Refers-To-Target-URI"] == url
    assert rec.headers["WARC-Refers-To-Date"] == old.headers["WARC-Date"]
    assert rec.headers["WARC-Payload-Digest"] == old.headers["WARC-Payload-Digest"]
    assert rec.raw_payload.strip() == b""  # the block is the HTTP headers only: no body
    assert int(rec.headers["Content-Length"]) < 500
    assert new_warc.stat().st_size < (archive_dir / original["file"]).stat().st_size / 2
    assert run("audit").exit_code == 0
    assert run("validate").exit_code == 0

    # --dedup off stores the payload again
    assert run("capture", url, "--dedup", "off").exit_code == 0
    assert [r["type"] for r in last_capture(archive_dir)["records"]].count("response") == 1


def test_a_304_to_the_last_captures_validators_is_a_server_not_modified_revisit(
        run, server, archive_dir):
    url = server.url("/etag")
    assert run("capture", url).exit_code == 0
    first = last_capture(archive_dir)
    assert run("capture", url).exit_code == 0
    assert server.conditional == [None, '"v1"']  # the second request sent If-None-Match
    second = last_capture(archive_dir)
    assert second["source"]["status"] == 304
    original = next(r for r in first["records"] if r["type"] == "response")
    assert second["revisit"]["profile"] == NOT_MODIFIED
    assert second["revisit"]["refers_to"] == original["id"]
    warc = archive_dir / second["ranges"][0]["file"]
    assert warcio_check(warc).returncode == 0
    rec = next(r for r in read_warc(warc) if r.type == "revisit")
    assert rec.headers["WARC-Profile"] == NOT_MODIFIED
    assert rec.headers["WARC-Refers-To"] == original["id"]
    assert run("audit").exit_code == 0


def test_validate_checks_each_revisit_against_the_record_it_refers_to(run, server,
                                                                      archive_dir):
    url = server.url(VOV_PATH)
    assert run("capture", url).exit_code == 0
    assert run("capture", url).exit_code == 0
    [report] = run.json_lines("validate", "--json")
    assert report["errors"] == 0, report
    # Take the original's WARC away: the revisit now refers to nothing validate can read.
    # (validate reads the WARCs, not the catalog: a catalog row deleted changes nothing.)
    original = next(r for r in captures(archive_dir)[0]["records"] if r["type"] == "response")
    with sqlite3.connect(archive_dir / "catalog.sqlite") as db:
        db.execute("DELETE FROM captures WHERE record_id = ?", (original["id"],))
    assert run("validate").exit_code == 0
    (archive_dir / original["file"]).unlink()
    result = run("validate", "--json")
    assert result.exit_code == 1
    codes = {f["code"] for f in json.loads(result.output.splitlines()[-1])["findings"]}
    assert "revisit-target-missing" in codes


def test_deferred_extraction_gives_byte_identical_article_files(run, server, archive_dir,
                                                                tmp_path):
    """--no-extract, then extract --all: the same article files capture would have written
    (capture extracts with derive_article from the same stored record)."""
    from archiver import extract
    from archiver.pipeline.commit import derive_article
    from archiver.store.warc import read_record_at

    urls = [server.url(VOV_PATH), server.url("/article?n=1")]
    assert run("capture", *urls, "--no-extract", "-q").exit_code == 0
    assert not list((archive_dir / "articles").rglob("*.json"))
    assert run("extract", "--all").exit_code == 0
    stored = {p.relative_to(archive_dir).as_posix(): p.read_bytes()
              for p in (archive_dir / "articles").rglob("*.json")}
    assert len(stored) == 2
    for entry in captures(archive_dir):
        response = next(r for r in entry["records"] if r["type"] == "response")
        record = read_record_at(archive_dir / response["file"], response["offset"])
        outcome = derive_article(record, response["file"])
        assert stored[outcome.path] == extract.article_json_bytes(outcome.article)
