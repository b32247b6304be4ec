"""The CDXJ index: built by cdxj-indexer, sorted, relative file names, kept whole under a lock."""

from __future__ import annotations

import json
import random
import shutil
import threading
from collections.abc import Iterator

import pytest
from news_site import REDIRECT_PATH, STORY_PATH, NewsServer, capture, serve_news

from archiver.store import cdxj
from archiver.store.archive import Archive
from archiver.store.warc import read_record_at


@pytest.fixture
def news() -> Iterator[NewsServer]:
    yield from serve_news()


@pytest.fixture
def archive(run, news, archive_dir) -> Archive:
    """Three WARCs, one per run: the story; the story again with a redirect chain; a 404."""
    capture(run, news.url(STORY_PATH))
    news.story.paragraphs[0] = "Cập nhật: " + news.story.paragraphs[0]
    capture(run, news.url(STORY_PATH), news.url(REDIRECT_PATH))
    assert run("capture", news.url("/missing")).exit_code == 1  # archived as evidence
    return Archive(archive_dir)


def index_text(archive: Archive) -> str:
    return archive.index_path.read_text(encoding="utf-8")


def test_index_command_indexes_every_replayable_record_sorted(run, news, archive):
    [stats] = run.json_lines("index")
    assert stats == {"index": "index.cdxj", "warcs": 3, "lines": 5}
    lines = index_text(archive).splitlines()
    assert lines == sorted(lines)  # byte order, as pywb's binary search needs
    parsed = [cdxj.CdxjLine.parse(line) for line in lines]
    # responses and revisits only: no warcinfo, request, metadata or conversion records. The
    # story reached again through the 301, unchanged, is a revisit.
    assert sorted((p.url.removeprefix(news.base), p.fields["status"], p.fields["mime"])
                  for p in parsed) == [
        ("/go/mua-ha-noi", "301", "text/plain"), ("/missing", "404", "text/html"),
        ("/news/mua-ha-noi", "200", "text/html"), ("/news/mua-ha-noi", "200", "text/html"),
        ("/news/mua-ha-noi", "200", "warc/revisit")]
    for p in parsed:
        assert p.urlkey.startswith("1,0,0,127:")  # SURT form
        assert len(p.timestamp) == 14
        assert p.filename.startswith("warcs/") and archive.resolve(p.filename).is_file()
        record = read_record_at(archive.resolve(p.filename), int(p.fields["offset"]))
        assert record.rec_type in ("response", "revisit") and record.target_uri == p.url
        assert (record.rec_type == "revisit") == (p.fields["mime"] == "warc/revisit")
        assert p.fields["digest"] == record.headers["WARC-Payload-Digest"]
    text = run("index").output
    assert "5 records from 3 WARC files" in text


def per_warc_lines(archive: Archive) -> list[str]:
    lines = []
    for path in sorted((archive.root / cdxj.INDEXES_DIR).glob("*.cdxj")):
        text = path.read_text(encoding="utf-8").splitlines()
        assert text == sorted(text)  # each file sorted, as pywb's binary search needs
        lines += text
    return sorted(lines)


def test_per_warc_indexes_hold_exactly_the_lines_a_rebuild_makes(archive):
    """Capture wrote each WARC's index at seal, from offsets: no merged rewrite per run."""
    assert len(list((archive.root / cdxj.INDEXES_DIR).glob("*.cdxj"))) == 3
    cdxj.rebuild(archive)
    assert per_warc_lines(archive) == index_text(archive).splitlines()


def test_indexing_a_warc_again_gives_the_same_file(archive):
    rel = cdxj.warc_relpaths(archive)[0]
    path = archive.root / cdxj.index_name(rel)
    before = path.read_bytes()
    path.unlink()
    cdxj.index_warc_file(archive, rel)  # read back from the WARC by cdxj-indexer
    assert path.read_bytes() == before
    cdxj.index_warc_file(archive, rel)
    assert path.read_bytes() == before


def test_concurrent_indexing_loses_no_lines(archive):
    expected = per_warc_lines(archive)
    shutil.rmtree(archive.root / cdxj.INDEXES_DIR)
    errors: list[BaseException] = []

    def add(rel: str) -> None:
        try:
            cdxj.index_warc_file(archive, rel)
        except BaseException as exc:  # surfaced below; a thread cannot fail the test
            errors.append(exc)

    warcs = cdxj.warc_relpaths(archive)
    random.Random(7).shuffle(warcs)
    threads = [threading.Thread(target=add, args=(rel,)) for rel in warcs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert per_warc_lines(archive) == expected


def test_lookup_finds_every_capture_of_a_url(archive, news):
    cdxj.rebuild(archive)
    found = cdxj.lookup(archive, news.url(STORY_PATH))
    assert len(found) == 3
    assert [f.timestamp for f in found] == sorted(f.timestamp for f in found)
    assert cdxj.lookup(archive, news.url("/never")) == []


def test_temporaries_of_interrupted_writes_are_not_indexed(archive):
    leftover = archive.warcs_dir / "2026" / ".tmp-deadbeef-x.warc.gz"
    leftover.parent.mkdir(parents=True, exist_ok=True)
    leftover.write_bytes(b"half a WARC")
    stats = cdxj.rebuild(archive)
    assert stats.warcs == 3
    assert ".tmp-" not in index_text(archive)
    assert not list(archive.root.glob(".tmp-*"))  # the index itself was written atomically


def test_an_unreadable_warc_is_a_finding_and_the_others_are_indexed(run, archive):
    # issue 16 item 5: a damaged file is a finding (file, offset), the rest is indexed, exit 1
    cdxj.rebuild(archive)
    before = index_text(archive)
    bad = archive.warcs_dir / "2026" / "broken.warc.gz"
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage" * 10)
    result = run("index")
    assert result.exit_code == 1
    assert "ERROR: warcs/2026/broken.warc.gz @0: stops parsing" in result.output
    assert index_text(archive) == before  # every readable record still indexed


def test_index_refuses_a_missing_archive(run):
    result = run("index", "--json")
    assert result.exit_code == 2
    assert "no archive here" in result.output


def test_stats_are_json_serialisable():
    assert json.loads(json.dumps(cdxj.IndexStats(1, 2).to_dict())) == {
        "index": "index.cdxj", "warcs": 1, "lines": 2}
