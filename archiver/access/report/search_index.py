"""The report's search box: titles and bylines, folded as `archiver search` folds them
(archiver/store/fulltext.py: each character to the base letter of its NFD decomposition,
đ→d), lower-cased, in a script file the pages load from disk (`search-index.js`; a page
opened from file:// may load a script, but not fetch a JSON file).

The browser folds only the query, with the same rule written in JavaScript (assets/
search.js); tests/test_report_browser.py checks in Chromium that both folds agree.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from archiver.store.fulltext import fold

GLOBAL = "ARCHIVER_SEARCH"


def key(*texts: str | None) -> str:
    """What a query is matched against: the texts folded and lower-cased."""
    return fold(" ".join(t for t in texts if t)).lower()


def entry(article_id: str, page: str | None, title: str | None, byline: str | None,
          date: str | None, source: str | None, snapshots: int) -> list[Any]:
    """[id, page, title, byline, date, key, source, snapshots]: the search box matches
    key; the articles page lists the rest."""
    return [article_id, page, title or "", byline or "", (date or "")[:10],
            key(title, byline, article_id), source or "", snapshots]


def script(entries: list[list[Any]]) -> str:
    """The index as a script assigning one global (JSON is valid JavaScript)."""
    body = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    # "</script" cannot occur in a script file, but U+2028/2029 broke old JS parsers
    body = body.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f"window.{GLOBAL}={body};\n"


def fold_keep() -> list[int]:
    """Characters the fold keeps as they are although they decompose: those whose
    decomposition starts with a combining mark (fulltext._FoldTable keeps them, so tokens
    keep their positions). search.js lists the same code points."""
    out = []
    for code in range(0x80, 0x110000):
        if 0xD800 <= code < 0xE000:
            continue
        ch = chr(code)
        base = unicodedata.normalize("NFD", ch)[0]
        if base != ch and unicodedata.combining(base):
            out.append(code)
    return out
