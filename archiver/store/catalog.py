"""The catalog, `archive/catalog.sqlite`: a derived SQLite index of captures, articles, files
and their full text, for lookups a scan of manifest.jsonl cannot give at a million entries.

It is never the source of truth. Every row comes from a manifest entry (in seq order) and the
bytes that entry names; `rebuild()` makes it again from scratch, and `Catalog.open()` catches
up with the manifest: `meta` holds the last applied entry's seq and hash and the byte offset
just past its line, so catching up reads only the new lines. When the line found there does
not continue the chain the catalog knows (the manifest was replaced, repaired or edited), the
catalog is stale and is rebuilt. Applying an entry twice is harmless: rows are keyed by record
id or path and the first entry that names one owns it.

SQLite in WAL mode (readers never block the writer); writes are transactions of a few thousand
rows, each moving `meta` along with them, so an interrupted catch-up resumes where it stopped.
Derived data needs no fsync per commit (synchronous=NORMAL): a lost tail is caught up again.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.base.cluster import Cluster
from archiver.base.errors import StoreError
from archiver.store import fulltext, manifest
from archiver.store.archive import Archive
from archiver.store.catalog_rows import (
    ARTICLE_COLUMNS,
    CAPTURE_COLUMNS,
    EntryRows,
    RecordHead,
    RecordReader,
    entry_rows,
    file_claims,
    rows_for_lines,
)
from archiver.store.cdxj import surt_key

CATALOG_NAME = "catalog.sqlite"
# "2": captures rows for every record of an ingested foreign WARC (issue 24, item 4); a
# catalog made by "1" lacks them, so it is made again on first open (derived data).
SCHEMA_VERSION = "2"
SCAN_CACHE_KIB = 8 * 1024
MMAP_BYTES = 256 * 1024 * 1024
CACHE_KIB = 32 * 1024
BATCH_ROWS = 2000  # rows per transaction: memory stays flat, commits stay few

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS captures(
    record_id TEXT PRIMARY KEY, url TEXT NOT NULL, surt TEXT NOT NULL,
    timestamp TEXT NOT NULL, record_type TEXT NOT NULL, status INTEGER, mime TEXT,
    payload_digest TEXT, file TEXT NOT NULL, offset INTEGER NOT NULL,
    length INTEGER NOT NULL, revisit_of TEXT, seq INTEGER NOT NULL, discovered_via TEXT);
CREATE INDEX IF NOT EXISTS captures_surt ON captures(surt, timestamp);
CREATE INDEX IF NOT EXISTS captures_digest ON captures(payload_digest);
CREATE INDEX IF NOT EXISTS captures_seq ON captures(seq);
CREATE TABLE IF NOT EXISTS articles(
    path TEXT PRIMARY KEY, id TEXT NOT NULL, snapshot TEXT NOT NULL, url TEXT,
    record_id TEXT, seq INTEGER NOT NULL, sha256 TEXT NOT NULL, text_sha256 TEXT,
    title TEXT, lead TEXT, published_at TEXT, section TEXT, byline TEXT, authors TEXT,
    source TEXT, language TEXT, captured_at TEXT, extractor_version TEXT,
    schema_version TEXT,
    recorded_at TEXT, source_url TEXT, final_url TEXT);  -- the entry's `at` and source URLs
CREATE INDEX IF NOT EXISTS articles_id ON articles(id, captured_at);
CREATE INDEX IF NOT EXISTS articles_seq ON articles(seq);
CREATE INDEX IF NOT EXISTS articles_url ON articles(url);
CREATE INDEX IF NOT EXISTS articles_source_url ON articles(source_url);
CREATE INDEX IF NOT EXISTS articles_final_url ON articles(final_url);
CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, state TEXT NOT NULL, sha256 TEXT,
    size INTEGER, seq INTEGER NOT NULL);
"""
TABLES = ("captures", "articles", "files")


@dataclass(frozen=True)
class Position:
    """The last manifest entry applied: its seq and hash, and where the next line starts."""

    seq: int | None
    hash: str | None
    offset: int


class Catalog:
    """One connection to an archive's catalog. Safe to share between threads (a lock guards
    writes); several processes may write at once (SQLite serialises them)."""

    def __init__(self, archive: Archive, conn: sqlite3.Connection,
                 private_dir: Path | None = None) -> None:
        self.archive = archive
        self.conn = conn
        self._lock = threading.RLock()
        self._private_dir = private_dir  # a read-only archive's catalog, made elsewhere

    # ------------------------------------------------------------ open, close

    @classmethod
    def open(cls, archive: Archive, catch_up: bool = True) -> Catalog:
        """Open (creating if needed) and catch up with the manifest; on an archive this
        process cannot write, see _open_read_only."""
        path = archive.root / CATALOG_NAME
        try:
            if archive.read_only():
                return cls._open_read_only(archive, path, catch_up)
            catalog = cls(archive, _connect(str(path)))
            try:
                catalog._ensure_schema()
            except BaseException:
                catalog.close()
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the catalog: {exc}") from exc
        if catch_up:
            try:
                catalog.catch_up()
            except sqlite3.Error as exc:  # locked past the timeout, read-only, damaged
                catalog.close()
                raise StoreError(f"{path}: cannot bring the catalog up to date: {exc}"
                                 ) from exc
        return catalog

    @classmethod
    def _open_read_only(cls, archive: Archive, path: Path, catch_up: bool) -> Catalog:
        """A read-only archive (a replica on read-only media or mount, an immutable copy)
        can take neither a new catalog nor its catalog's updates, yet validate, search and
        the views need one. Its own catalog, read as immutable (SQLite's URI parameter for
        read-only media), when it is current; else a private one in a temporary folder, a
        copy of it (or made from the manifest when there is none) caught up there, removed on
        close. Derived data: either way the same rows."""
        source = None
        if path.is_file():
            source = cls(archive, _connect(f"{path.as_uri()}?immutable=1", uri=True))
            if not catch_up or source._current():
                return source
        private_dir = Path(tempfile.mkdtemp(prefix="archiver-catalog-"))
        catalog = None
        try:
            catalog = cls(archive, _connect(str(private_dir / CATALOG_NAME)), private_dir)
            if source is not None:
                source.conn.backup(catalog.conn)
            catalog._ensure_schema()
            if catch_up:
                catalog.catch_up()
        except BaseException:
            if catalog is not None:
                catalog.close()  # and its folder
            shutil.rmtree(private_dir, ignore_errors=True)
            raise
        finally:
            if source is not None:
                source.close()
        return catalog

    @classmethod
    def recreate(cls, archive: Archive) -> Catalog:
        """A new, empty catalog in place of one that cannot be opened (damaged, or not a
        database at all): it is derived data, so nothing is lost."""
        for suffix in ("", "-wal", "-shm"):
            (archive.root / (CATALOG_NAME + suffix)).unlink(missing_ok=True)
        return cls.open(archive, catch_up=False)

    def close(self) -> None:
        self.conn.close()
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)

    def for_scans(self, cache_kib: int = SCAN_CACHE_KIB) -> Catalog:
        """This connection set for reading whole tables once (exports, validate's revisit
        check): pages through a small cache instead of the memory map search uses, since a
        scan gains nothing from mapping and every mapped page it touches counts in the
        process's memory (398 MB peak exporting 100,000 articles; 338 MB validating them)."""
        self.conn.execute("PRAGMA mmap_size=0")
        self.conn.execute(f"PRAGMA cache_size=-{cache_kib}")
        return self

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_schema(self) -> None:
        version = None
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'"
                                    ).fetchone()
            version = row[0] if row else None
        except sqlite3.OperationalError:
            pass  # a new file
        if version == SCHEMA_VERSION:
            return  # made by this version (the common case: no DDL to parse on each open)
        # One transaction (SQLite's DDL is transactional): a process killed while making
        # the schema leaves all of it or none, never tables without `meta`.
        drop = "".join(f"DROP TABLE IF EXISTS {table};\n"
                       for table in (*fulltext.TABLES, *TABLES, "meta"))
        try:
            self.conn.executescript(
                "BEGIN IMMEDIATE;\n"
                # made by another version: derived data, so make it again
                + (drop if version is not None else "")
                + SCHEMA + fulltext.SCHEMA
                + f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}');\n"
                "COMMIT;")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ keeping current

    def position(self) -> Position:
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        seq = meta.get("manifest_seq")
        return Position(int(seq) if seq is not None else None, meta.get("manifest_hash"),
                        int(meta.get("manifest_offset", 0)))

    def catch_up(self) -> int:
        """Apply the manifest entries after the last one applied; rebuild when the catalog
        does not continue the manifest's chain. Returns the number of entries applied."""
        with self._lock:
            if self._up_to_date():
                return 0
            applied = self._apply_from_manifest()
            if applied is None:
                return self.rebuild()
            return applied

    def _up_to_date(self) -> bool:
        pos = self.position()
        try:
            last = manifest.read_last(self.archive.manifest_path)
        except Exception:  # a torn tail: catch up with the whole lines only
            return False
        if last is None:
            return pos.seq is None
        return pos.seq == last.get("seq") and pos.hash == last.get("hash")

    def _current(self) -> bool:
        """Made by this version and up to date (a read-only catalog is used only then)."""
        try:
            version = self.conn.execute(
                "SELECT value FROM meta WHERE key='schema_version'").fetchone()
            return version == (SCHEMA_VERSION,) and self._up_to_date()
        except sqlite3.Error:  # no schema yet, or damaged
            return False

    def _ends_at(self, pos: Position) -> bool:
        """Does the manifest end exactly with the entry `pos` names?"""
        try:
            size = self.archive.manifest_path.stat().st_size
            last = manifest.read_last(self.archive.manifest_path)
        except Exception:
            return False
        return size == pos.offset and last is not None and last.get("hash") == pos.hash

    def apply(self, entries: Iterable[dict[str, Any]],
              heads: dict[tuple[str, int], RecordHead] | None = None,
              docs: dict[str, dict[str, Any]] | None = None) -> int:
        """Apply entries just appended to the manifest (the committer calls this after each
        group commit). Entries already applied are skipped; one that does not follow the
        last applied entry sends us to the manifest to catch up instead. `heads` (by file
        and offset) and `docs` (article documents by path): what the writer knows of the
        records and articles it wrote, used instead of reading them back."""
        with self._lock:
            applied = 0
            batch = _Batch(self)
            batch.reader.known.update(heads or {})
            batch.reader.docs.update(docs or {})
            try:
                for entry in entries:
                    pos = batch.position
                    seq = entry.get("seq")
                    if seq == pos.seq and entry.get("hash") != pos.hash:
                        # the manifest was cut and written again (repair): not ours
                        batch.commit()
                        return applied + self.rebuild()
                    if not isinstance(seq, int) or (pos.seq is not None and seq <= pos.seq):
                        continue
                    if seq != (pos.seq + 1 if pos.seq is not None else 0) or \
                            entry.get("prev") != (pos.hash or manifest.GENESIS):
                        batch.commit()
                        return applied + self.catch_up()
                    batch.add(entry, len(manifest.canonical(entry)) + 1)
                    applied += 1
                batch.commit()
            finally:
                batch.close()
            return applied

    def rebuild(self, cluster: Cluster | None = None) -> int:
        """Everything again from the manifest, WARC headers and article files; with a Dask
        `cluster`, its workers read the headers and files and this process writes."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                for table in TABLES:
                    self.conn.execute(f"DELETE FROM {table}")
                self.conn.execute("DELETE FROM article_text")
                self.conn.execute("DELETE FROM search_docs")
                # external-content FTS: 'delete-all' empties the index itself
                self.conn.execute("INSERT INTO article_fts(article_fts) VALUES ('delete-all')")
                self.conn.execute("DELETE FROM meta WHERE key != 'schema_version'")
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
            applied = self._apply_from_manifest(cluster) or 0
            fulltext.optimize(self.conn)
            return applied

    def _apply_from_manifest(self, cluster: Cluster | None = None) -> int | None:
        """Stream the manifest from the stored offset; None when the line there does not
        continue the last applied entry (the catalog is stale: rebuild)."""
        if not self.archive.manifest_path.is_file():
            return 0 if self.position().seq is None else None
        batch = _Batch(self)
        applied = lines = 0
        try:
            with open(self.archive.manifest_path, "rb") as f:
                f.seek(batch.position.offset)
                parsed = ((raw, _parse(raw) if raw.endswith(b"\n") else None) for raw in f)
                for raw, entry, rows in rows_for_lines(parsed, self.archive, cluster):
                    lines += 1
                    if not raw.endswith(b"\n"):
                        break  # a torn last line is not an entry (repair cuts it)
                    pos = batch.position
                    if applied == 0 and pos.seq is not None and (
                            entry is None or entry.get("seq") != pos.seq + 1
                            or entry.get("prev") != pos.hash):
                        return None
                    if entry is None or not isinstance(entry.get("seq"), int):
                        batch.skip(len(raw))
                        continue
                    batch.add(entry, len(raw), rows)
                    applied += 1
            if lines == 0 and batch.position.seq is not None and not self._ends_at(batch.position):
                return None  # nothing after our line, yet the manifest's head differs
            batch.commit()
        finally:
            batch.close()
        return applied

    # ------------------------------------------------------------ lookups

    def captures_for(self, url: str) -> list[dict[str, Any]]:
        """Every capture of `url` (by SURT, so scheme, www. and case variants agree)."""
        return self._rows("SELECT * FROM captures WHERE surt = ? ORDER BY timestamp, seq",
                          (surt_key(url),))

    def latest_capture(self, url: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT * FROM captures WHERE surt = ? "
                          "ORDER BY timestamp DESC, seq DESC LIMIT 1", (surt_key(url),))
        return rows[0] if rows else None

    def find_digest(self, url: str | None, digest: str) -> dict[str, Any] | None:
        """The earliest response or resource with this payload digest (of this URL, when
        given): what a revisit record refers to."""
        sql = ("SELECT * FROM captures WHERE payload_digest = ? "
               "AND record_type IN ('response', 'resource')")
        args: list[Any] = [digest]
        if url is not None:
            sql += " AND surt = ?"
            args.append(surt_key(url))
        rows = self._rows(sql + " ORDER BY timestamp, seq LIMIT 1", args)
        return rows[0] if rows else None

    def article_path_for_record(self, record_id: str) -> str | None:
        """The latest article file derived from the record `record_id`."""
        rows = self._rows("SELECT path FROM articles WHERE record_id = ? "
                          "ORDER BY seq DESC LIMIT 1", (record_id,))
        return rows[0]["path"] if rows else None

    def articles(self, latest: bool = True) -> Iterator[dict[str, Any]]:
        """Article snapshots in manifest order; `latest`: only each article's latest."""
        sql = "SELECT a.* FROM articles a"
        if latest:
            sql += (" JOIN article_text t ON t.path = a.path "
                    "JOIN search_docs d ON d.docid = t.docid WHERE d.latest = 1")
        cur = self.conn.execute(sql + " ORDER BY a.seq, a.path")
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    def article_ids_matching(self, query: str) -> list[str]:
        """Article ids whose id, URL, or captured URL (before or after redirects) is `query`."""
        rows = self.conn.execute(
            "SELECT id FROM articles WHERE id = ? UNION SELECT id FROM articles WHERE url = ? "
            "UNION SELECT id FROM articles WHERE source_url = ? "
            "UNION SELECT id FROM articles WHERE final_url = ?", (query,) * 4).fetchall()
        return sorted(r[0] for r in rows)

    def snapshots_of(self, article_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Article rows (all, or one article's), in manifest order."""
        where, args = ("WHERE id = ?", (article_id,)) if article_id else ("", ())
        cur = self.conn.execute(f"SELECT * FROM articles {where} ORDER BY seq, path", args)
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    def _rows(self, sql: str, args: Iterable[Any]) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, tuple(args))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]

    def counts(self) -> dict[str, Any]:
        """Rows per table and the manifest seq they reach (for reports)."""
        out: dict[str, Any] = {t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                               for t in TABLES}
        out["manifest_seq"] = self.position().seq
        return out

    def dump(self) -> str:
        """Every row of every table in a canonical order, plus the full-text vocabulary:
        equal dumps mean equal catalogs (internal ids and the stored offset left out)."""
        out = []
        for key, value in self.conn.execute("SELECT key, value FROM meta ORDER BY key"):
            out.append(f"meta {key}={value}")
        for table, order in (("captures", "record_id"), ("articles", "path"),
                             ("files", "path")):
            for row in self.conn.execute(f"SELECT * FROM {table} ORDER BY {order}"):
                out.append(f"{table} " + json.dumps(row, ensure_ascii=False))
        for row in self.conn.execute(
                "SELECT t.path, t.title, t.lead, t.body, t.byline, d.latest, d.published, "
                "d.section_key, d.source_key, d.people_key FROM article_text t "
                "JOIN search_docs d ON d.docid = t.docid ORDER BY t.path"):
            out.append("article_text " + json.dumps(row, ensure_ascii=False))
        for row in self.conn.execute("SELECT term, doc, cnt FROM article_vocab ORDER BY term"):
            out.append("vocab " + json.dumps(row, ensure_ascii=False))
        return "\n".join(out) + "\n"


def _connect(database: str, uri: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(database, timeout=60, isolation_level=None,
                           check_same_thread=False, uri=uri)
    try:
        if not uri:  # an immutable database keeps the journal mode it was made with
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        # Search reads many index pages per query: map them (no read() per page) and keep
        # more of them than SQLite's 2 MB default.
        conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        fulltext.register(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


class _Batch:
    """Entries applied in transactions of about BATCH_ROWS rows, `meta` moving with them."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.conn = catalog.conn
        self.reader = RecordReader(catalog.archive)
        self.rows = 0
        self._begin()

    def _begin(self) -> None:
        self.dirty = False
        self.conn.execute("BEGIN IMMEDIATE")
        # read inside the write transaction: another process may have moved it meanwhile
        self.position = self.catalog.position()

    def add(self, entry: dict[str, Any], line_bytes: int, rows: EntryRows | None = None) -> None:
        written = _apply_entry(self.conn, entry, rows or entry_rows(entry, self.reader))
        self.rows += written + 1
        self.dirty = self.dirty or written > 0
        self.position = Position(int(entry["seq"]), str(entry.get("hash")),
                                 self.position.offset + line_bytes)
        if self.rows >= BATCH_ROWS:
            self.commit()
            self._begin()

    def skip(self, line_bytes: int) -> None:
        """An unparseable line: step over it (audit reports it)."""
        self.position = Position(self.position.seq, self.position.hash,
                                 self.position.offset + line_bytes)

    def commit(self) -> None:
        if not self.conn.in_transaction:
            return
        if not self.dirty:
            # Entries that add no rows (failures, fixity checks) leave the file untouched;
            # `meta` then lags behind them, and the next catch-up steps over them again.
            self.conn.execute("ROLLBACK")
            self.rows = 0
            return
        pos = self.position
        if pos.seq is not None:
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [
                ("manifest_seq", str(pos.seq)), ("manifest_hash", str(pos.hash)),
                ("manifest_offset", str(pos.offset))])
        self.conn.execute("COMMIT")
        self.rows = 0

    def close(self) -> None:
        self.reader.close()
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def _apply_entry(conn: sqlite3.Connection, entry: dict[str, Any], rows: EntryRows) -> int:
    """One entry's rows. The first entry naming a record or article owns its row; a file
    named by ranges is `open` until an entry gives its whole-file sha256 (sealing, or a
    0.1.0 per-capture WARC named in `files`)."""
    seq = int(entry["seq"])
    conn.executemany(f"INSERT OR IGNORE INTO captures VALUES "
                     f"({', '.join('?' * len(CAPTURE_COLUMNS))})", rows.captures)
    count = len(rows.captures)
    for art in rows.articles:
        count += 2 * insert_article(conn, art.values, art.body, art.folded)
    whole, ranges = file_claims(entry)
    for path, end in ranges:
        conn.execute("INSERT INTO files VALUES (?, 'open', NULL, ?, ?) ON CONFLICT(path) DO "
                     "UPDATE SET size = max(size, excluded.size) WHERE state = 'open'",
                     (path, end, seq))
    for path, sha256, size in whole:
        conn.execute("INSERT INTO files VALUES (?, 'sealed', ?, ?, ?) ON CONFLICT(path) DO "
                     "UPDATE SET state = 'sealed', sha256 = excluded.sha256, "
                     "size = excluded.size, seq = excluded.seq WHERE state = 'open'",
                     (path, sha256, size, seq))
    return count + len(whole) + len(ranges)


def insert_article(conn: sqlite3.Connection, values: dict[str, Any], body: str | None,
                   folded: fulltext.Folded | None = None) -> bool:
    """One article snapshot row (the columns of ARTICLE_COLUMNS) and its full text, unless
    a row for its path exists already. False when it did."""
    cur = conn.execute(f"INSERT OR IGNORE INTO articles({', '.join(ARTICLE_COLUMNS)}) "
                       f"VALUES ({', '.join('?' * len(ARTICLE_COLUMNS))})",
                       [values.get(c) for c in ARTICLE_COLUMNS])
    if not cur.rowcount:
        return False
    fulltext.add(conn, values, body, folded)
    return True


def update(archive: Archive, entries: list[dict[str, Any]] | None = None,
           heads: dict[tuple[str, int], RecordHead] | None = None,
           docs: dict[str, dict[str, Any]] | None = None) -> None:
    """Bring the archive's catalog up to date after a manifest append (open, apply, close);
    `heads` and `docs` as for Catalog.apply."""
    with Catalog.open(archive, catch_up=entries is None) as catalog:
        if entries is not None:
            catalog.apply(entries, heads, docs)
