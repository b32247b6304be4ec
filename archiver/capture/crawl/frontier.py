"""The crawl's state on disk: frontier, seen set, outcomes and host facts, in SQLite
(`crawls/<crawl-id>/state.sqlite`, WAL). Nothing here is held in memory but counters: a
frontier of millions of URLs costs disk, not RAM.

One connection, used by the crawl's scheduling thread only. Every URL ever offered has one
row, keyed by the SURT of its canonical URL (the seen set); its `state` is queued, active,
done, failed or skipped (with a reason). Rows left `active` by a killed run go back to the
queue when the state is opened again.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS urls(
    id INTEGER PRIMARY KEY,          -- offer order
    key TEXT NOT NULL UNIQUE,        -- SURT of the canonical URL: the seen key
    url TEXT NOT NULL,               -- canonical URL, fetched as is
    host TEXT NOT NULL,              -- host[:port], the unit of politeness
    role TEXT NOT NULL,              -- robots | page | requisite | sitemap | feed
    kind TEXT NOT NULL,              -- how it was found: seed|link|sitemap|feed|requisite|...
    seed TEXT, via TEXT,
    hops INTEGER NOT NULL,           -- link hops from a seed
    prio INTEGER NOT NULL,           -- lower first
    css_child INTEGER NOT NULL DEFAULT 0,  -- found inside a stylesheet: not parsed again
    published TEXT,                  -- from a news sitemap or a feed
    state TEXT NOT NULL,             -- queued | active | done | failed | skipped
    reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    status INTEGER, seq INTEGER, warc TEXT,
    article TEXT                     -- id of the article stored from it
);
CREATE INDEX IF NOT EXISTS queue ON urls(host, prio, id) WHERE state = 'queued';
CREATE TABLE IF NOT EXISTS hosts(
    host TEXT PRIMARY KEY,
    robots TEXT,                     -- robots.txt text once fetched ('' for none)
    robots_disallow_all INTEGER NOT NULL DEFAULT 0,
    pages INTEGER NOT NULL DEFAULT 0 -- page fetches dispatched (the per-host cap)
);
CREATE TABLE IF NOT EXISTS archived(key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS warcs(path TEXT PRIMARY KEY) WITHOUT ROWID;  -- to index at the end
"""

# Dispatch order inside one host: robots.txt, then sitemaps and feeds (cheap and rich in
# links), then requisites (so a page's images follow it), then pages breadth-first by hops.
PRIO = {"robots": 0, "sitemap": 1, "feed": 1, "requisite": 2}
PAGE_PRIO_BASE = 3


@dataclass
class Item:
    """One frontier row, as the scheduler hands it to a worker."""

    id: int
    key: str
    url: str
    host: str
    role: str
    kind: str
    seed: str | None
    via: str | None
    hops: int
    css_child: bool
    published: str | None
    attempts: int

    def discovery(self, crawl_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "seed": self.seed, "via": self.via,
                               "hops": self.hops, "crawl": crawl_id}
        if self.published:
            out["published"] = self.published
        return out


_ITEM_COLUMNS = "id, key, url, host, role, kind, seed, via, hops, css_child, published, attempts"


class Frontier:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a killed process loses nothing committed; only power loss can
        # drop the last transactions, and the manifest (fsynced) is reconciled on resume.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.db.execute("UPDATE urls SET state = 'queued' WHERE state = 'active'")
        self.queued: Counter[str] = Counter(dict(self.db.execute(
            "SELECT host, count(*) FROM urls WHERE state = 'queued' GROUP BY host")))

    def close(self) -> None:
        self.db.close()

    # -- meta ---------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def transaction(self) -> Any:
        """`with frontier.transaction():` groups writes into one commit."""
        return _Transaction(self.db)

    # -- the seen set and the queue -----------------------------------------------------
    def offer(self, key: str, url: str, host: str, role: str, kind: str, seed: str | None,
              via: str | None, hops: int, skip: str | None = None, css_child: bool = False,
              published: str | None = None) -> bool:
        """Record a URL once. A URL first skipped (say, an out-of-scope link) is queued when
        it comes back allowed (the same URL as an image, which requisite scope allows).
        Returns True when the URL was queued now."""
        prio = PRIO.get(role, PAGE_PRIO_BASE + hops)
        state = "skipped" if skip else "queued"
        row = self.db.execute("SELECT state FROM urls WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.db.execute(
                "INSERT INTO urls(key, url, host, role, kind, seed, via, hops, prio, css_child,"
                " published, state, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (key, url, host, role, kind, seed, via, hops, prio, int(css_child), published,
                 state, skip))
        elif row[0] == "skipped" and not skip:
            self.db.execute(
                "UPDATE urls SET url=?, host=?, role=?, kind=?, seed=?, via=?, hops=?, prio=?,"
                " css_child=?, published=?, state='queued', reason=NULL WHERE key=?",
                (url, host, role, kind, seed, via, hops, prio, int(css_child), published, key))
        else:
            return False
        if not skip:
            self.queued[host] += 1
        return not skip

    def next_for(self, host: str) -> Item | None:
        """The host's next queued URL, marked active."""
        row = self.db.execute(
            f"SELECT {_ITEM_COLUMNS} FROM urls WHERE state = 'queued' AND host = ?"
            " ORDER BY prio, id LIMIT 1", (host,)).fetchone()
        if row is None:
            self.queued.pop(host, None)
            return None
        self.db.execute("UPDATE urls SET state = 'active' WHERE id = ?", (row[0],))
        self._dequeued(host)
        return _item(row)

    def _dequeued(self, host: str) -> None:
        self.queued[host] -= 1
        if self.queued[host] <= 0:
            del self.queued[host]

    def requeue(self, item: Item) -> None:
        self.db.execute("UPDATE urls SET state = 'queued', attempts = attempts + 1 WHERE id = ?",
                        (item.id,))
        self.queued[item.host] += 1

    def park(self, item: Item) -> None:
        """Queued again with its attempts reset, for a later run (its host is paused)."""
        self.db.execute("UPDATE urls SET state = 'queued', attempts = 0 WHERE id = ?",
                        (item.id,))
        self.queued[item.host] += 1

    def finish(self, item_id: int, state: str, status: int | None = None,
               seq: int | None = None, warc: str | None = None,
               reason: str | None = None, article: str | None = None) -> None:
        self.db.execute("UPDATE urls SET state=?, status=?, seq=?, warc=?, reason=?, article=?"
                        " WHERE id=?", (state, status, seq, warc, reason, article, item_id))

    def skip_queued(self, item: Item, reason: str) -> None:
        """A queued URL refused at dispatch time (robots, a cap)."""
        self.finish(item.id, "skipped", reason=reason)

    def queued_item(self, key: str) -> Item | None:
        """The queued row of `key`, marked active (a resumed crawl settling what a killed run
        committed)."""
        row = self.db.execute(f"SELECT {_ITEM_COLUMNS} FROM urls WHERE key = ? AND"
                              " state = 'queued'", (key,)).fetchone()
        if row is None:
            return None
        self.db.execute("UPDATE urls SET state = 'active' WHERE id = ?", (row[0],))
        self._dequeued(row[3])
        return _item(row)

    def pages_dispatched(self) -> int:
        row = self.db.execute("SELECT count(*) FROM urls WHERE role = 'page' AND"
                              " state IN ('done', 'failed', 'active')").fetchone()
        return int(row[0])

    def active_hosts(self) -> list[str]:
        return list(self.queued)

    # -- hosts ----------------------------------------------------------------------------
    def robots_for(self, host: str) -> tuple[str, bool] | None:
        row = self.db.execute("SELECT robots, robots_disallow_all FROM hosts WHERE host = ?",
                              (host,)).fetchone()
        return (row[0], bool(row[1])) if row and row[0] is not None else None

    def set_robots(self, host: str, text: str, disallow_all: bool) -> None:
        self.db.execute("INSERT INTO hosts(host, robots, robots_disallow_all) VALUES (?,?,?)"
                        " ON CONFLICT(host) DO UPDATE SET robots=excluded.robots,"
                        " robots_disallow_all=excluded.robots_disallow_all",
                        (host, text, int(disallow_all)))

    def count_page(self, host: str) -> int:
        """Count one page dispatched to `host`; returns the new count."""
        self.db.execute("INSERT INTO hosts(host, pages) VALUES (?, 1) ON CONFLICT(host)"
                        " DO UPDATE SET pages = pages + 1", (host,))
        row = self.db.execute("SELECT pages FROM hosts WHERE host = ?", (host,)).fetchone()
        return int(row[0])

    # -- articles archived before this crawl (incremental reruns) ------------------------
    def load_archived(self, keys: Iterable[str]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO archived VALUES (?)", ((k,) for k in keys))

    def is_archived(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM archived WHERE key = ?", (key,)).fetchone() \
            is not None

    # -- reporting ------------------------------------------------------------------------
    def counts(self) -> dict[str, Any]:
        by_state = dict(self.db.execute("SELECT state, count(*) FROM urls GROUP BY state"))
        by_role = dict(self.db.execute(
            "SELECT role, count(*) FROM urls WHERE state = 'done' GROUP BY role"))
        skips = dict(self.db.execute(
            "SELECT reason, count(*) FROM urls WHERE state = 'skipped' GROUP BY reason"))
        http_errors = self.db.execute(
            "SELECT count(*) FROM urls WHERE state = 'done' AND status >= 400").fetchone()[0]
        articles = self.db.execute(
            "SELECT count(*) FROM urls WHERE article IS NOT NULL").fetchone()[0]
        return {"states": by_state, "done_by_role": by_role, "skips": skips,
                "http_errors": http_errors, "articles": articles}

    def failed_seeds(self) -> list[str]:
        return [u for (u,) in self.db.execute(
            "SELECT url FROM urls WHERE kind = 'seed' AND (state = 'failed' OR status >= 400)")]

    def add_warc(self, path: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO warcs VALUES (?)", (path,))

    def warcs(self) -> list[str]:
        return [w for (w,) in self.db.execute("SELECT path FROM warcs ORDER BY path")]


def _item(row: tuple[Any, ...]) -> Item:
    return Item(id=row[0], key=row[1], url=row[2], host=row[3], role=row[4], kind=row[5],
                seed=row[6], via=row[7], hops=row[8], css_child=bool(row[9]),
                published=row[10], attempts=row[11])


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
