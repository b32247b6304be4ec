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
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS article_text(
    docid INTEGER PRIMARY KEY,      -- the FTS rowid
    path TEXT NOT NULL UNIQUE,      -- articles.path
    title TEXT, lead TEXT, body TEXT, byline TEXT   -- as written (snippets come from here)
);
CREATE VIRTUAL TABLE IF NOT EXISTS article_fts USING fts5(
    title, lead, body, byline,
    content='article_text', content_rowid='docid',
    tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE IF NOT EXISTS article_vocab USING fts5vocab(article_fts, 'row');
-- What search filters on, one narrow row per snapshot: a common word matches tens of
-- thousands of snapshots, and each is looked up here (article_text rows hold whole bodies).
CREATE TABLE IF NOT EXISTS search_docs(
    docid INTEGER PRIMARY KEY,      -- article_text.docid
    latest INTEGER NOT NULL,        -- 1 for the latest snapshot of its article
    published TEXT,                 -- published_at as written
    section_key TEXT, source_key TEXT,   -- fold_key() of section and source
    people_key TEXT                 -- fold_key() of the byline and the authors
);
"""
TABLES = ("article_vocab", "article_fts", "search_docs", "article_text")


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


@dataclass(frozen=True)
class Folded:
    """What the index stores of one snapshot, folded: the text columns and the filter keys.
    (Folding is the costly part of indexing; a rebuild on Dask folds on the workers.)"""

    text: tuple[str | None, ...]  # title, lead, body, byline
    section: str | None
    source: str | None
    people: str | None


def folded(article: dict[str, Any], body: str | None) -> Folded:
    values = (article.get("title"), article.get("lead"), body, article.get("byline"))
    people = "\n".join(x for x in (article.get("byline"), article.get("authors")) if x)
    return Folded(tuple(fold(v) if v else v for v in values), fold_key(article.get("section")),
                  fold_key(article.get("source")), fold_key(people) if people else None)


def add(conn: sqlite3.Connection, article: dict[str, Any], body: str | None,
        done: Folded | None = None) -> None:
    """Index one snapshot (an `articles` row's values) and keep `latest` right for its
    article: of its snapshots, the one with the largest (captured_at, seq). `done`: its
    folded form, when already made."""
    keys = done or folded(article, body)
    key = (article.get("captured_at") or "", int(article["seq"]))
    current = conn.execute(
        "SELECT d.docid, a.captured_at, a.seq FROM articles a "
        "JOIN article_text t ON t.path = a.path JOIN search_docs d ON d.docid = t.docid "
        "WHERE a.id = ? AND d.latest = 1", (article["id"],)).fetchone()
    latest = current is None or (current[1] or "", current[2]) <= key
    if latest and current is not None:
        conn.execute("UPDATE search_docs SET latest = 0 WHERE docid = ?", (current[0],))
    values = [article.get("title"), article.get("lead"), body, article.get("byline")]
    docid = conn.execute("INSERT INTO article_text(path, title, lead, body, byline) "
                         "VALUES (?, ?, ?, ?, ?)", (article["path"], *values)).lastrowid
    conn.execute("INSERT INTO article_fts(rowid, title, lead, body, byline) "
                 "VALUES (?, ?, ?, ?, ?)", (docid, *keys.text))
    conn.execute("INSERT INTO search_docs VALUES (?, ?, ?, ?, ?, ?)",
                 (docid, int(latest), article.get("published_at"), keys.section, keys.source,
                  keys.people))


def optimize(conn: sqlite3.Connection) -> None:
    """Merge the index's segments into one (after a bulk load: fewer b-trees per query)."""
    conn.execute("INSERT INTO article_fts(article_fts) VALUES ('optimize')")
