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


class _FoldTable(dict[int, str]):
    """str.translate table filled on first sight of each character (translate runs in C;
    the fold itself is computed once per distinct character)."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch == "đ":
            folded = "d"
        elif ch == "Đ":
            folded = "D"
        else:
            base = unicodedata.normalize("NFD", ch)[0]
            # a base that is itself a combining mark would tokenize differently: keep it
            folded = ch if unicodedata.combining(base) else base
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Diacritics off, đ→d, one character for one character (so positions are kept)."""
    if text.isascii():
        return text
    return text.translate(_FOLD)


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
    current = conn.execute(
        "SELECT t.docid, a.captured_at, a.seq FROM articles a "
        "JOIN article_text t ON t.path = a.path WHERE a.id = ? AND t.latest = 1",
        (article_id,)).fetchone()
    latest = current is None or (current[1] or "", current[2]) <= newer_key
    if latest and current is not None:
        conn.execute("UPDATE article_text SET latest = 0 WHERE docid = ?", (current[0],))
    values = [texts.get(c) for c in COLUMNS]
    cur = conn.execute("INSERT INTO article_text(path, latest, title, lead, body, byline) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (path, int(latest), *values))
    conn.execute("INSERT INTO article_fts(rowid, title, lead, body, byline) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (cur.lastrowid, *[fold(v) if v else v for v in values]))
