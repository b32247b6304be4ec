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

from archiver.base.errors import StoreError, UnreadableInputError, UsageError
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog
from archiver.store.fulltext import fold, fold_key

DEFAULT_LIMIT = 20
# bm25 weights of title, lead, body, byline: a word in the title says more than one in
# the body; a byline match (searching a reporter's name) counts like a lead match.
WEIGHTS = (10.0, 4.0, 1.0, 4.0)
RANK = f"bm25(article_fts, {', '.join(str(w) for w in WEIGHTS)})"
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
        """The publication date, None when the article has none: never the capture time in
        its place (someone citing the hit would cite the wrong date; `captured_at` is
        there under its own name)."""
        return self.published_at

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
    try:
        catalog = Catalog.open(archive)
    except StoreError as exc:
        raise UnreadableInputError(f"{exc}; `archiver index --rebuild` remakes it") from exc
    with catalog:
        return _run(catalog.conn, expression, query, filters, limit, all_snapshots, marks)


def _run(conn: sqlite3.Connection, expression: str, query: str, filters: Filters, limit: int,
         all_snapshots: bool, marks: tuple[str, str]) -> list[Hit]:
    try:
        top = _top(conn, expression, filters, limit, all_snapshots)
        if not top:
            return []
        marks_in = ", ".join("?" * len(top))
        snippets = dict(conn.execute(
            f"SELECT rowid, snippet(article_fts, -1, ?, ?, '…', {SNIPPET_TOKENS}) "
            f"FROM article_fts WHERE article_fts MATCH ? AND rowid IN ({marks_in})",
            [*marks, expression, *(r[0] for r in top)]).fetchall())
    except sqlite3.OperationalError as exc:
        # FTS5 reports query syntax errors this way (a dangling OR, unbalanced parentheses)
        raise UsageError(f"malformed query {query!r}: {exc}") from None
    fields = {r[0]: r[1:] for r in conn.execute(
        f"SELECT t.docid, a.id, a.path, a.url, a.title, a.published_at, a.captured_at, "
        f"a.section, a.byline, a.source FROM article_text t JOIN articles a ON a.path = t.path "
        f"WHERE t.docid IN ({marks_in})", [r[0] for r in top])}
    hits = []
    for docid, score in top:
        f = fields[docid]
        hits.append(Hit(article_id=f[0], path=f[1], url=f[2], title=f[3], published_at=f[4],
                        captured_at=f[5], section=f[6], byline=f[7], source=f[8],
                        snippet=snippets.get(docid, ""), score=-float(score)))
    return hits


# Without filters, this many times `limit` best matches are ranked first, unjoined; see _top.
UNJOINED_DEPTH = 4


def _top(conn: sqlite3.Connection, expression: str, filters: Filters, limit: int,
         all_snapshots: bool) -> list[tuple[int, float]]:
    """(docid, bm25) of the best `limit` matches that pass the filters, best first.

    bm25 is most of a query's cost (~1.5 µs a match: FTS5 reads each match's length from its
    docsize table), so it goes in the SELECT list, computed only for the matches that pass
    the filters, and SQLite keeps the best `limit` in a bounded sorter. (`ORDER BY rank`, FTS5
    sorting by itself, scores every match before any filter and sorts them all: 1.2-1.5x the
    CPU on common words at 100,000 articles, 2x with a filter.)"""
    if filters == Filters():
        # No filter but "latest snapshot": joining search_docs for each of, say, 60,000
        # matches costs as much again as ranking them. Rank them unjoined and keep the latest
        # of the best few; when too few of those are latest (an archive of many recaptures),
        # the joined query below decides. Exact either way: a match outside the best
        # UNJOINED_DEPTH * limit ranks below every one inside.
        depth = limit if all_snapshots else UNJOINED_DEPTH * limit
        best = conn.execute(f"SELECT rowid, {RANK} AS score FROM article_fts "
                            f"WHERE article_fts MATCH ? ORDER BY score LIMIT ?",
                            [expression, depth]).fetchall()
        if all_snapshots or not best:
            return best
        latest = {r[0] for r in conn.execute(
            f"SELECT docid FROM search_docs WHERE latest = 1 AND docid IN "
            f"({', '.join('?' * len(best))})", [r[0] for r in best])}
        kept = [r for r in best if r[0] in latest]
        if len(kept) >= limit or len(best) < depth:
            return kept[:limit]
    where, args = _filters(filters, all_snapshots)
    return conn.execute(f"SELECT f.rowid, {RANK} AS score FROM article_fts f "
                        f"JOIN search_docs d ON d.docid = f.rowid "
                        f"WHERE article_fts MATCH ? AND {' AND '.join(where)} "
                        f"ORDER BY score LIMIT ?", [expression, *args, limit]).fetchall()


def _filters(filters: Filters, all_snapshots: bool) -> tuple[list[str], list[Any]]:
    """SQL conditions on search_docs (d) for the filters; keys are folded like the index."""
    where: list[str] = ["1"]
    args: list[Any] = []
    if not all_snapshots:
        where.append("d.latest = 1")
    if filters.since:
        where.append("d.published >= ?")
        args.append(filters.since)
    if filters.until:
        # a date prefix compares as the whole day (month, year): 2026-11 covers 2026-11-30
        where.append("substr(d.published, 1, ?) <= ?")
        args += [len(filters.until), filters.until]
    if filters.section:
        where.append("d.section_key = ?")
        args.append(fold_key(filters.section))
    if filters.source:
        where.append("d.source_key = ?")
        args.append(fold_key(filters.source))
    if filters.author:
        where.append("instr(d.people_key, ?) > 0")
        args.append(fold_key(filters.author))
    return where, args
