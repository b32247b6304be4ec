"""Full-text search over the archive's articles (the query side; the index lives in the
catalog, see archiver/store/fulltext.py).

A query is words and "quoted phrases", all required; `OR`, `NOT`, parentheses and a trailing
`*` (prefix) work as in SQLite FTS5. Every word is folded like the indexed text (diacritics
off, đ→d), so "quyen con nguoi" finds "quyền con người" and "dang" finds "Đảng". Hits are
ranked by bm25, a title match weighing most, and carry a snippet of the original text with
the matched words marked.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from archiver.base.errors import UsageError
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog
from archiver.store.fulltext import fold, fold_key

DEFAULT_LIMIT = 20
# bm25 weights of title, lead, body, byline: a word in the title says more than one in
# the body; a byline match (searching a reporter's name) counts like a lead match.
WEIGHTS = (10.0, 4.0, 1.0, 4.0)
SNIPPET_TOKENS = 16
OPERATORS = {"AND", "OR", "NOT"}
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_TOKEN = re.compile(r'\s*(?:(")|(\()|(\))|([^\s"()]+))')


@dataclass(frozen=True)
class Filters:
    """Narrowing beyond the words: publication date range, section, author, source."""

    since: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD, inclusive
    until: str | None = None
    section: str | None = None
    author: str | None = None
    source: str | None = None

    def check(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not DATE.match(value):
                raise UsageError(f"--{name} {value!r}: give a date as YYYY-MM-DD "
                                 "(or YYYY-MM, YYYY)")


@dataclass(frozen=True)
class Hit:
    """One matching article snapshot."""

    article_id: str
    path: str
    url: str | None
    title: str | None
    published_at: str | None
    captured_at: str | None
    section: str | None
    byline: str | None
    source: str | None
    snippet: str
    score: float

    @property
    def date(self) -> str | None:
        return self.published_at or self.captured_at

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.article_id, "date": self.date, "published_at": self.published_at,
                "captured_at": self.captured_at, "title": self.title, "byline": self.byline,
                "source": self.source, "section": self.section, "url": self.url,
                "path": self.path, "snippet": self.snippet, "score": round(self.score, 4)}


def fts_query(query: str) -> str:
    """The user's query as an FTS5 expression over folded text: each word and phrase
    quoted (so hyphens, dots and colons are plain text, not FTS5 syntax), operators and
    parentheses kept. An unclosed quote or an empty query is a UsageError."""
    parts: list[str] = []
    pos = 0
    text = query.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing blanks are left
            break
        pos = m.end()
        if m.group(1):
            end = text.find('"', pos)
            if end < 0:
                raise UsageError(f"malformed query {query!r}: a quote is not closed")
            phrase = text[pos:end].strip()
            pos = end + 1
            if phrase:
                parts.append(_quoted(phrase))
        elif m.group(2) or m.group(3):
            parts.append(m.group(2) or m.group(3))
        else:
            word = m.group(4)
            if word in OPERATORS:
                parts.append(word)
            elif word.endswith("*") and len(word) > 1:
                parts.append(_quoted(word.rstrip("*")) + "*")
            else:
                parts.append(_quoted(word))
    if not any(p not in OPERATORS and p not in "()" for p in parts):
        raise UsageError(f"malformed query {query!r}: no words to search for")
    return " ".join(parts)


def _quoted(text: str) -> str:
    return '"' + fold(text).replace('"', '""') + '"'


def search(archive: Archive, query: str, filters: Filters | None = None,
           limit: int = DEFAULT_LIMIT, all_snapshots: bool = False,
           marks: tuple[str, str] = ("[", "]")) -> list[Hit]:
    """The best `limit` hits for `query`, best first (the latest snapshot of each article
    unless `all_snapshots`)."""
    filters = filters or Filters()
    filters.check()
    if limit < 1:
        raise UsageError(f"--limit {limit}: give a positive number")
    expression = fts_query(query)
    with Catalog.open(archive) as catalog:
        return _run(catalog.conn, expression, query, filters, limit, all_snapshots, marks)


def _run(conn: sqlite3.Connection, expression: str, query: str, filters: Filters, limit: int,
         all_snapshots: bool, marks: tuple[str, str]) -> list[Hit]:
    where = ["1"]
    args: list[Any] = [expression]
    if not all_snapshots:
        where.append("t.latest = 1")
    if filters.since:
        where.append("a.published_at >= ?")
        args.append(filters.since)
    if filters.until:
        # a date prefix compares as the whole day (month, year): 2026-11 covers 2026-11-30
        where.append("substr(a.published_at, 1, ?) <= ?")
        args += [len(filters.until), filters.until]
    if filters.section:
        where.append("fold_key(a.section) = ?")
        args.append(fold_key(filters.section))
    if filters.source:
        where.append("fold_key(a.source) = ?")
        args.append(fold_key(filters.source))
    if filters.author:
        where.append("(instr(fold_key(a.authors), ?) > 0 OR instr(fold_key(a.byline), ?) > 0)")
        args += [fold_key(filters.author)] * 2
    weights = ", ".join(str(w) for w in WEIGHTS)
    # Two steps: rank and filter without snippets (an ORDER BY evaluates every selected
    # column of every match before sorting), then snippets for the hits kept only.
    sql = (f"WITH m AS MATERIALIZED (SELECT rowid, bm25(article_fts, {weights}) AS score "
           f"FROM article_fts WHERE article_fts MATCH ?) "
           f"SELECT t.docid, m.score, a.id, a.path, a.url, a.title, a.published_at, "
           f"a.captured_at, a.section, a.byline, a.source "
           f"FROM m JOIN article_text t ON t.docid = m.rowid JOIN articles a ON a.path = t.path "
           f"WHERE {' AND '.join(where)} ORDER BY m.score, a.path LIMIT ?")
    try:
        rows = conn.execute(sql, [*args, limit]).fetchall()
        snippets = dict(conn.execute(
            f"SELECT rowid, snippet(article_fts, -1, ?, ?, '…', {SNIPPET_TOKENS}) "
            f"FROM article_fts WHERE article_fts MATCH ? AND rowid IN "
            f"({', '.join('?' * len(rows))})", [*marks, expression, *(r[0] for r in rows)]
        ).fetchall()) if rows else {}
    except sqlite3.OperationalError as exc:
        # FTS5 reports query syntax errors this way (a dangling OR, unbalanced parentheses)
        raise UsageError(f"malformed query {query!r}: {exc}") from None
    return [Hit(r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
                snippets.get(r[0], ""), -float(r[1])) for r in rows]
