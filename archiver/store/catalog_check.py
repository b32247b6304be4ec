"""Does catalog.sqlite agree with the manifest? Audit asks this entry by entry, in its one pass
over the manifest. The manifest wins: a disagreement is a warning (derived data, remade by
`archiver index --rebuild`), never a reason to doubt the manifest.

Checked: the catalog's last applied entry is the manifest's entry at that seq (same hash);
every response/revisit/resource record, article file and whole-file claim of an applied entry
has its row, with the file, offset, length, id and digests the manifest gives, owned by the
first entry that names it; and no row is left over that no entry explains (a row added by
hand). Entries after the last applied one are not checked: the catalog catches up with them
on its next use. The catalog is opened read-only: audit changes nothing.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from archiver.base.findings import Finding
from archiver.store.archive import Archive
from archiver.store.catalog import CATALOG_NAME, TABLES
from archiver.store.catalog_rows import CAPTURE_TYPES, file_claims, foreign_warc

WHERE = CATALOG_NAME
HINT = "; `archiver index --rebuild` remakes the catalog from the manifest"


class CatalogVerifier:
    """Fed every manifest entry in order; `finish()` gives the findings."""

    def __init__(self, conn: sqlite3.Connection | None, problem: str | None = None) -> None:
        self.conn = conn
        self.findings: list[Finding] = []
        self.explained = dict.fromkeys(TABLES, 0)
        self.seq: int | None = None
        self.hash: str | None = None
        if problem:
            self._warn("catalog-unreadable", problem)
        if conn is not None:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            self.seq = int(meta["manifest_seq"]) if "manifest_seq" in meta else None
            self.hash = meta.get("manifest_hash")

    @classmethod
    def open(cls, archive: Archive) -> CatalogVerifier:
        path = archive.root / CATALOG_NAME
        if not path.is_file():
            return cls(None)  # no catalog yet: nothing to disagree
        try:
            # read-only media: `immutable`, since reading a WAL database otherwise needs
            # its -shm file, which such an archive neither has nor can take
            mode = "immutable=1" if archive.read_only() else "mode=ro"
            conn = sqlite3.connect(f"{path.as_uri()}?{mode}", uri=True,
                                   isolation_level=None)
            conn.execute("BEGIN")  # one read snapshot, whatever a writer does meanwhile
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() \
                    is None:  # made by a process killed before its schema: the next use
                conn.close()  # makes it, so there is nothing yet to disagree
                return cls(None)
            return cls(conn)
        except sqlite3.Error as exc:  # not a database, or damaged
            return cls(None, f"cannot read the catalog: {exc}")

    def _warn(self, code: str, message: str) -> None:
        if len(self.findings) < 100:  # one damaged catalog, not a million lines
            self.findings.append(Finding("warning", code, WHERE, message + HINT))

    def check(self, entry: dict[str, Any]) -> None:
        seq = entry.get("seq")
        if self.conn is None or self.seq is None or not isinstance(seq, int) or seq > self.seq:
            return
        try:
            self._check(entry, seq)
        except sqlite3.Error as exc:
            self._warn("catalog-unreadable", f"cannot read the catalog: {exc}")
            self.conn = None

    def _check(self, entry: dict[str, Any], seq: int) -> None:
        assert self.conn is not None
        if seq == self.seq and entry.get("hash") != self.hash:
            self._warn("catalog-stale", f"the catalog was made from another manifest: its "
                       f"entry {seq} has hash {self.hash}, the manifest's {entry.get('hash')}")
        foreign = foreign_warc(entry)
        named_foreign = 0
        for r in entry.get("records") or []:
            if isinstance(r, dict) and r.get("type") in CAPTURE_TYPES and \
                    isinstance(r.get("offset"), int):
                expected = {"file": r.get("file"), "offset": r["offset"]}
                if isinstance(r.get("length"), int):
                    expected["length"] = r["length"]
                if self._row("captures", "record_id", str(r.get("id")), seq, expected) \
                        and r.get("file") == foreign:
                    named_foreign += 1
        if foreign is not None:  # its other records are rows too (catalog_rows.foreign_warc)
            rows = self.conn.execute("SELECT count(*) FROM captures WHERE seq = ? AND file = ?",
                                     (seq, foreign)).fetchone()[0]
            self.explained["captures"] += max(0, rows - named_foreign)
        for a in entry.get("articles") or []:
            if isinstance(a, dict) and a.get("id") and a.get("path"):
                self._row("articles", "path", str(a["path"]), seq, {
                    "id": str(a["id"]), "sha256": str(a.get("sha256") or ""),
                    "text_sha256": a.get("text_sha256"),
                    "record_id": str(a.get("record_id") or a["path"])})
        whole, ranges = file_claims(entry)
        owned = set()
        for path, sha256, size in whole:
            if self._row("files", "path", path, seq, {"sha256": sha256, "size": size,
                                                      "state": "sealed"}, count=False):
                owned.add(path)
        for path in {p for p, _end in ranges} - owned:
            row = self.conn.execute("SELECT seq, state FROM files WHERE path = ?",
                                    (path,)).fetchone()
            if row is None:
                self._warn("catalog-missing-row", f"files: no row for {path} "
                           f"(manifest seq {seq})")
            elif row[0] == seq:
                owned.add(path)
            elif row[0] > seq and row[1] != "sealed":  # only sealing takes a file over
                self._warn("catalog-row-mismatch", f"files: {path} is credited to seq "
                           f"{row[0]}, but seq {seq} names it first")
        self.explained["files"] += len(owned)

    def _row(self, table: str, key: str, value: str, seq: int, expected: dict[str, Any],
             count: bool = True) -> bool:
        """Check the row `entry seq` should own; True when this entry owns it."""
        assert self.conn is not None
        names = ["seq", *expected]
        row = self.conn.execute(f"SELECT {', '.join(names)} FROM {table} WHERE {key} = ?",
                                (value,)).fetchone()
        if row is None:
            self._warn("catalog-missing-row", f"{table}: no row for {value} "
                       f"(manifest seq {seq})")
            return False
        found = dict(zip(names, row, strict=True))
        if found["seq"] > seq:
            self._warn("catalog-row-mismatch", f"{table}: {value} is credited to seq "
                       f"{found['seq']}, but seq {seq} names it first")
            return False
        if found["seq"] < seq:
            return False  # an earlier entry owns it (audit checks conflicting claims)
        for name, want in expected.items():
            if found[name] != want:
                self._warn("catalog-row-mismatch", f"{table}: {value}: {name} is "
                           f"{found[name]!r}, the manifest (seq {seq}) says {want!r}")
        if count:
            self.explained[table] += 1
        return True

    def finish(self) -> list[Finding]:
        if self.conn is not None and self.seq is not None:
            try:
                for table in TABLES:
                    rows = self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    extra = rows - self.explained[table]
                    if extra > 0:
                        self._warn("catalog-extra-rows", f"{table}: {extra} rows that no "
                                   "manifest entry names")
            except sqlite3.Error as exc:
                self._warn("catalog-unreadable", f"cannot read the catalog: {exc}")
        if self.conn is not None:
            self.conn.close()
        return self.findings
