"""`archiver search`: full text in the catalog, Vietnamese without diacritics, filters,
phrases, snippets, and one-line errors for malformed queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from catalog_helpers import Chain, add_article

from archiver.access.search import Filters, fts_query, search
from archiver.base.errors import UsageError
from archiver.store.archive import Archive

REPO = Path(__file__).resolve().parents[1]
SEED_DOCUMENT = REPO / "seeds" / "000_0fe3eec24f29bb98.txt"


@pytest.fixture
def archive(run, archive_dir) -> Archive:
    """The seed document (ingested for real) and three articles written by hand, one of
    them in two snapshots."""
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    archive = Archive(archive_dir)
    chain = Chain(archive)
    add_article(archive, chain, "vov-1", "20261120T010000Z-a1",
                title="Đường sắt tốc độ cao Bắc - Nam", lead="Dự án trình Quốc hội.",
                body=["Tuyến đường sắt dài 1.541 km.", "Vốn đầu tư lớn."],
                published_at="2026-11-20T08:00:00+07:00", section="Kinh tế",
                byline="Hà Anh - Minh Thu/VOV.VN", authors=["Hà Anh", "Minh Thu"],
                source="VOV.VN", captured_at="2026-11-20T01:00:00Z")
    add_article(archive, chain, "vov-2", "20261005T010000Z-b1",
                title="Đại hội Đảng bộ tỉnh Hà Giang", body=["Đại biểu bàn về kinh tế biển."],
                published_at="2026-10-05T09:30:00+07:00", section="Chính trị",
                byline="Theo TTXVN", source="TTXVN", captured_at="2026-10-05T03:00:00Z")
    add_article(archive, chain, "vov-3", "20261121T010000Z-c1",
                title="Mưa lớn ở miền Trung", body=["Nước sông dâng cao, tàu hỏa dừng chạy."],
                published_at="2026-11-21T06:00:00+07:00", section="Xã hội",
                byline="PV/VOV.VN", authors=["PV"], source="VOV.VN",
                captured_at="2026-11-21T01:00:00Z")
    add_article(archive, chain, "vov-3", "20261122T010000Z-c2",
                title="Mưa lớn ở miền Trung đã ngớt", body=["Tàu hỏa chạy lại."],
                published_at="2026-11-21T06:00:00+07:00", section="Xã hội",
                byline="PV/VOV.VN", authors=["PV"], source="VOV.VN",
                captured_at="2026-11-22T01:00:00Z")
    return archive


def ids(archive: Archive, query: str, **kwargs) -> list[str]:
    all_snapshots = kwargs.pop("all_snapshots", False)
    return [h.article_id for h in search(archive, query, Filters(**kwargs),
                                         all_snapshots=all_snapshots)]


def test_an_exact_word_finds_its_article(archive):
    assert ids(archive, "Giang") == ["vov-2"]
    assert ids(archive, "sắt") == ["vov-1"]
    # "tộc" (in the seed document) folds to "toc" as "tốc" does: diacritics never split hits
    assert sorted(ids(archive, "tốc")) == ["vov-1", "vov-1064050"]


def test_a_quoted_phrase_must_match_in_order(archive):
    assert ids(archive, '"tốc độ cao"') == ["vov-1"]
    assert ids(archive, '"cao tốc độ"') == []
    assert ids(archive, '"toc do cao"') == ["vov-1"]  # and without diacritics


def test_the_seed_document_is_found_without_diacritics(archive):
    [hit] = search(archive, "quyen con nguoi")
    assert hit.article_id == "vov-1064050"
    assert "[quyền]" in hit.snippet and "[người]" in hit.snippet  # the words as written
    [phrase] = search(archive, '"quyen con nguoi"')
    assert phrase.article_id == "vov-1064050"


def test_d_matches_đ_in_both_cases_and_accents_fold_both_ways(archive):
    assert ids(archive, '"dang bo tinh"') == ["vov-2"]
    assert ids(archive, "DUONG sat") == ["vov-1"]
    assert ids(archive, "Đảng Giang") == ["vov-2"]
    assert ids(archive, "đuong sat") == ["vov-1"]
    assert ids(archive, '"duong sat dai"') == ["vov-1"]  # lower-case đ, in the body only
    [hit] = search(archive, "dai hoi Giang")
    assert "[Đại] [hội]" in hit.snippet


def test_title_matches_rank_above_body_matches(archive):
    # "Giang" is in vov-2's title, "km" in vov-1's body
    assert ids(archive, "Giang OR km") == ["vov-2", "vov-1"]


def test_latest_snapshot_by_default_every_snapshot_on_request(archive):
    assert [h.path.rsplit("/", 1)[1] for h in search(archive, "mua lon")] == [
        "20261122T010000Z-c2.json"]
    assert ids(archive, "dung chay") == []  # only the first snapshot says it
    assert ids(archive, "dung chay", all_snapshots=True) == ["vov-3"]
    assert len(search(archive, "mua", all_snapshots=True)) == 2


def test_each_filter_narrows_the_hits(archive):
    everything = "tau OR duong OR dai OR quyen"
    assert sorted(ids(archive, everything)) == ["vov-1", "vov-1064050", "vov-2", "vov-3"]
    assert sorted(ids(archive, everything, since="2026-11-01")) == ["vov-1", "vov-3"]
    assert sorted(ids(archive, everything, since="2026-11-21")) == ["vov-3"]
    assert ids(archive, everything, until="2026-10") == ["vov-2"]
    assert sorted(ids(archive, everything, until="2026-11-20")) == ["vov-1", "vov-2"]
    assert ids(archive, everything, section="kinh te") == ["vov-1"]
    assert ids(archive, everything, section="Chính trị") == ["vov-2"]
    assert ids(archive, everything, author="minh thu") == ["vov-1"]
    assert sorted(ids(archive, everything, source="vov.vn")) == ["vov-1", "vov-1064050",
                                                                  "vov-3"]
    assert ids(archive, everything, source="TTXVN") == ["vov-2"]


def test_malformed_queries_and_dates_are_usage_errors(archive):
    for bad in ('"con nguoi', "con OR", "( con", "", "   ", "AND"):
        with pytest.raises(UsageError, match="malformed query"):
            search(archive, bad)
    with pytest.raises(UsageError, match="--since"):
        search(archive, "con", Filters(since="yesterday"))


def test_punctuation_in_words_is_text_not_syntax():
    assert fts_query("covid-19 vov.vn title:x") == '"covid-19" "vov.vn" "title:x"'
    assert fts_query('Đảng "con người" OR (a NOT b) pre*') == \
        '"Dang" "con nguoi" OR ( "a" NOT "b" ) "pre"*'


def test_cli_search_text_json_no_hit_and_malformed(run, archive):
    result = run("search", "quyen con nguoi")
    assert result.exit_code == 0
    first, snippet = result.output.splitlines()[:2]
    # the seed has no publication date: `-`, as `ls` shows it, never its capture time
    assert first.startswith("- ") and "vov-1064050" in first and "(PV/VOV.VN)" in first
    assert "[quyền]" in snippet
    hits = run.json_lines("search", "tau OR duong", "--limit", "1")
    assert len(hits) == 1 and set(hits[0]) >= {"id", "date", "title", "byline", "snippet"}
    hits = run.json_lines("search", "duong", "--section", "kinh te", "--author", "Hà Anh",
                          "--source", "VOV.VN", "--since", "2026-11", "--until", "2026")
    assert [h["id"] for h in hits] == ["vov-1"]
    none = run("search", "khongcotu")
    assert none.exit_code == 1 and "no article matches" in none.output
    bad = run("search", '"con nguoi')
    assert bad.exit_code == 2
    assert bad.output.strip().count("\n") == 0 and "Traceback" not in bad.output
    assert json.loads(run("index", "--rebuild", "--json").output)["catalog"]["articles"] == 5
    assert [h["id"] for h in run.json_lines("search", "quyen con nguoi")] == ["vov-1064050"]


def test_ranking_without_filters_keeps_the_best_latest_snapshots(archive):
    """Unfiltered queries rank matches without joining the filter table, then keep the
    latest snapshots: the same hits, in the same order, as every snapshot's ranking with
    the older snapshots struck out."""
    for query in ("tau OR duong OR dai OR quyen", "mua", "tau", "kinh te", "mua OR giang"):
        every = search(archive, query, all_snapshots=True, limit=100)
        newest = {}
        for h in every:
            newest[h.article_id] = max(newest.get(h.article_id, ""), h.path)
        expected = [(h.path, h.score) for h in every if newest[h.article_id] == h.path]
        for limit in (1, 2, 20):
            got = [(h.path, h.score) for h in search(archive, query, limit=limit)]
            assert got == expected[:limit], (query, limit)


def test_latest_snapshot_found_below_many_better_ranked_old_snapshots(archive):
    # six earlier snapshots say "bão" often, the latest says it once: the best
    # 4 x limit matches are all old, so the joined query must find the latest one
    chain = Chain(archive)
    for n in range(6):
        add_article(archive, chain, "vov-9", f"2026110{n + 1}T010000Z-d{n}",
                    title="Bão số 9 bão bão", body=["Bão bão bão vào bờ."],
                    captured_at=f"2026-11-0{n + 1}T01:00:00Z")
    add_article(archive, chain, "vov-9", "20261110T010000Z-d9", title="Tin thời tiết",
                body=["Cơn bão đã tan, trời nắng trở lại, nhiệt độ tăng dần."],
                captured_at="2026-11-10T01:00:00Z")
    hits = search(archive, "bao", limit=1)
    assert [h.path.rsplit("/", 1)[1] for h in hits] == ["20261110T010000Z-d9.json"]
    assert len(search(archive, "bao", limit=1, all_snapshots=True)) == 1
    assert [h.article_id for h in search(archive, "bao", all_snapshots=True)].count(
        "vov-9") == 7
