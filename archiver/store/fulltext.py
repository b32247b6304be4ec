"""The catalog's full-text index: SQLite FTS5 over each article snapshot's title, lead, body
and byline, Vietnamese-friendly.

Readers often type Vietnamese without diacritics ("quyen con nguoi" for "quyền con người").
FTS5's unicode61 tokenizer with `remove_diacritics 2` strips combining marks, but not `đ`/`Đ`
(U+0111/U+0110 are letters of their own, with no Unicode decomposition). So text is folded
here, character by character, before it is indexed, and queries are folded the same way:
each character becomes the base letter of its NFD decomposition, and đ→d, Đ→D.

The fold maps one character to exactly one character, so folded and original text tokenize
into the same tokens at the same positions. That is what lets the FTS table index the folded
text while its content table (`article_text`) keeps the original: FTS5's snippet() and
highlight() re-tokenize the original and mark the tokens at the matched positions, so
snippets show the words as written, diacritics included.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from functools import lru_cache
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_text(
    docid INTEGER PRIMARY KEY,      -- the FTS rowid
    path TEXT NOT NULL UNIQUE,      -- articles.path
    latest INTEGER NOT NULL,        -- 1 for the latest snapshot of its article
    title TEXT, lead TEXT, body TEXT, byline TEXT   -- as written (snippets come from here)
);
CREATE VIRTUAL TABLE IF NOT EXISTS article_fts USING fts5(
    title, lead, body, byline,
    content='article_text', content_rowid='docid',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS article_vocab USING fts5vocab(article_fts, 'row');
"""
TABLES = ("article_vocab", "article_fts", "article_text")
COLUMNS = ("title", "lead", "body", "byline")


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch == "đ":
        return "d"
    if ch == "Đ":
        return "D"
    base = unicodedata.normalize("NFD", ch)[0]
    # a base that is a combining mark itself would glue tokens differently: keep the original
    return ch if unicodedata.combining(base) else base


def fold(text: str) -> str:
    """Diacritics off, đ→d, one character for one character (so positions are kept)."""
    if text.isascii():
        return text
    return "".join(_fold_char(ch) for ch in text)


def fold_key(text: Any) -> str | None:
    """Folded and case-folded: how filters compare section, author and source names."""
    return None if text is None else fold(str(text)).casefold()


def register(conn: sqlite3.Connection) -> None:
    """Make fold_key() callable from SQL (filters use it)."""
    conn.create_function("fold_key", 1, fold_key, deterministic=True)


def add(conn: sqlite3.Connection, path: str, article_id: str, newer_key: tuple[str, int],
        texts: dict[str, str | None]) -> None:
    """Index one snapshot and keep `latest` right for its article. `newer_key` (captured_at,
    seq) orders the snapshots of one article; the largest is the latest."""
    latest = _is_latest(conn, article_id, newer_key)
    if latest:
        conn.execute("UPDATE article_text SET latest = 0 WHERE latest = 1 AND path IN "
                     "(SELECT path FROM articles WHERE id = ?)", (article_id,))
    values = [texts.get(c) for c in COLUMNS]
    cur = conn.execute("INSERT INTO article_text(path, latest, title, lead, body, byline) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (path, int(latest), *values))
    conn.execute("INSERT INTO article_fts(rowid, title, lead, body, byline) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (cur.lastrowid, *[fold(v) if v else v for v in values]))


def _is_latest(conn: sqlite3.Connection, article_id: str, key: tuple[str, int]) -> bool:
    row = conn.execute(
        "SELECT a.captured_at, a.seq FROM articles a JOIN article_text t ON t.path = a.path "
        "WHERE a.id = ? AND t.latest = 1", (article_id,)).fetchone()
    return row is None or (row[0] or "", row[1]) <= key


def body_text(article: dict[str, Any]) -> str:
    return "\n".join(str(p) for p in article.get("body") or [])
