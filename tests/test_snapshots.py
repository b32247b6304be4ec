"""Repeated snapshots: one URL captured three times, `show`, `diff`, `ls` over the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from news_site import (
    PARAGRAPHS,
    REDIRECT_PATH,
    STORY_PATH,
    TITLE,
    NewsServer,
    article_files,
    capture,
    serve_news,
    three_snapshots,
)

CHANGED = PARAGRAPHS[1].replace("cuối tuần", "thứ Hai tuần sau")


@pytest.fixture
def news() -> Iterator[NewsServer]:
    yield from serve_news()


@pytest.fixture
def story(run, news) -> str:
    return three_snapshots(run, news)


def test_three_captures_make_three_snapshots_that_never_overwrite(run, news, story,
                                                                  archive_dir):
    files = article_files(archive_dir)
    assert len(files) == 3
    assert len({f.parent for f in files}) == 1  # one article id, three files
    bodies = [json.loads(f.read_bytes())["body"][1] for f in files]
    assert sorted(bodies) == sorted([PARAGRAPHS[1], CHANGED, CHANGED])

    [shown] = run.json_lines("show", story)
    snaps = shown["snapshots"]
    assert [s["number"] for s in snaps] == [1, 2, 3]
    assert [s["captured_at"] for s in snaps] == sorted(s["captured_at"] for s in snaps)
    assert snaps[0]["text_sha256"] != snaps[1]["text_sha256"] == snaps[2]["text_sha256"]
    assert len({s["record_id"] for s in snaps}) == 3
    assert shown["latest"]["body"][1] == CHANGED
    assert shown["latest"]["title"] == TITLE


def test_show_text_lists_snapshots_and_prints_the_latest_article(run, story):
    result = run("show", story)
    assert result.exit_code == 0, result.output
    assert "3 snapshots" in result.output
    assert "#2" in result.output and "text changed" in result.output
    assert "#3" in result.output and "text unchanged" in result.output
    assert TITLE in result.output and CHANGED in result.output
    assert PARAGRAPHS[1] not in result.output  # only the latest article is printed


def test_show_finds_the_article_by_id_and_by_the_url_that_redirected(run, news, story):
    [by_url] = run.json_lines("show", story)
    [by_id] = run.json_lines("show", by_url["id"])
    assert by_id["snapshots"] == by_url["snapshots"]
    capture(run, news.url(REDIRECT_PATH), dedup="off")  # a snapshot of its own, via the 301
    [via_redirect] = run.json_lines("show", news.url(REDIRECT_PATH))
    assert via_redirect["id"] == by_url["id"]
    assert len(via_redirect["snapshots"]) == 4


def test_diff_of_the_latest_two_says_unchanged(run, story):
    [d] = run.json_lines("diff", story)
    assert (d["from"]["number"], d["to"]["number"]) == (2, 3)
    assert d["text_changed"] is False and d["hunks"] == []
    result = run("diff", story)
    assert result.exit_code == 0
    assert "text unchanged" in result.output


def test_diff_shows_exactly_the_changed_paragraph(run, story):
    [d] = run.json_lines("diff", story, "--from", "1", "--to", "2")
    assert d["text_changed"] is True
    assert d["hunks"] == [{"op": "replace", "old_start": 2, "new_start": 2,
                           "removed": [PARAGRAPHS[1]], "added": [CHANGED]}]
    assert "title" not in d
    text = run("diff", story, "--from", "1", "--to", "-1").output
    assert "text changed" in text
    assert f"- {PARAGRAPHS[1]}" in text and f"+ {CHANGED}" in text
    assert PARAGRAPHS[0] not in text  # unchanged paragraphs are not shown


def test_diff_notes_added_paragraphs_and_title_changes(run, news, story):
    news.story.title = TITLE + " (cập nhật)"
    news.story.paragraphs.append("Cập nhật lúc 17 giờ: mưa đã tạnh ở nội thành Hà Nội, "
                                 "trời chuyển nhiều mây.")
    capture(run, story)
    [d] = run.json_lines("diff", story)
    assert d["text_changed"] is True
    assert d["title"] == {"from": TITLE, "to": TITLE + " (cập nhật)"}
    [hunk] = d["hunks"]
    assert hunk["op"] == "insert" and hunk["removed"] == [] and hunk["new_start"] == 4
    assert hunk["added"][0].startswith("Cập nhật lúc 17 giờ")


def test_diff_refuses_bad_selectors_and_single_snapshots(run, news, story):
    assert run("diff", story, "--from", "9").exit_code == 2
    assert run("diff", story, "--from", "2", "--to", "2").exit_code == 2
    assert run("diff", "http://127.0.0.1:1/never-captured").exit_code == 2
    other = NewsServer()  # the same path on another port: another article
    other.start()
    try:
        capture(run, other.url(STORY_PATH))
        result = run("diff", other.url(STORY_PATH))
        assert result.exit_code == 1
        assert "one snapshot" in result.output
    finally:
        other.shutdown()
        other.server_close()


def test_ls_lists_articles_with_snapshot_counts_sorted_by_date(run, news, story):
    other = NewsServer()
    other.story.title = "Tin cũ hơn"
    other.story.published = "2026-11-01T09:00:00+07:00"
    other.start()
    try:
        capture(run, other.url(STORY_PATH))
    finally:
        other.shutdown()
        other.server_close()
    rows = run.json_lines("ls")
    assert [r["title"] for r in rows] == ["Tin cũ hơn", TITLE]  # oldest first
    assert [r["snapshots"] for r in rows] == [1, 3]
    assert rows[1]["byline"] == "Minh Hòa/VOV.VN" and rows[1]["source"] == "VOV.VN"
    assert rows[1]["date"] == "2026-11-20T08:00:00+07:00"
    newest_first = run.json_lines("ls", "--reverse")
    assert [r["id"] for r in newest_first] == [r["id"] for r in reversed(rows)]
    by_count = run.json_lines("ls", "--sort", "snapshots", "--reverse")
    assert by_count[0]["snapshots"] == 3
    text = run("ls").output.splitlines()
    assert len(text) == 2 and "x3" in text[1] and TITLE in text[1]


def test_views_refuse_a_missing_archive(run):
    for args in (("ls",), ("show", "x"), ("diff", "x")):
        result = run(*args)
        assert result.exit_code == 2
        assert "no archive here" in result.output


def _capture_story(run, title: str, published: str) -> None:
    other = NewsServer()
    other.story.title = title
    other.story.published = published
    other.start()
    try:
        capture(run, other.url(STORY_PATH))
    finally:
        other.shutdown()
        other.server_close()


def test_ls_shows_undated_articles_as_dashes_and_nulls_sorted_last(run, news, story):
    # Go's zero time (Hugo and others print it for undated pages) is no date; nor is none.
    _capture_story(run, "Tin không ngày", "0001-01-01T00:00:00Z")
    _capture_story(run, "Tin cũ hơn", "2026-11-01T09:00:00+07:00")
    rows = run.json_lines("ls")
    assert [r["title"] for r in rows] == ["Tin cũ hơn", TITLE, "Tin không ngày"]
    assert rows[-1]["date"] is None and rows[-1]["captured_at"]  # capture time kept apart
    assert [r["title"] for r in run.json_lines("ls", "--reverse")] == \
        [TITLE, "Tin cũ hơn", "Tin không ngày"]  # undated last either way
    text = run("ls").output.splitlines()
    assert text[-1].startswith("- ") and "0001" not in run("ls").output
