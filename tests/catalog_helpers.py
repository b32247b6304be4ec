"""Manifest entries and article files written by hand, for catalog and search tests: the
shapes the storage engine and the extractors write, without a capture to make them."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from archiver.store import manifest
from archiver.store.archive import Archive


class Chain:
    """Appends hash-chained entries to an archive's manifest (continuing what is there)."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.last = manifest.read_last(archive.manifest_path)

    def add(self, **fields: Any) -> dict[str, Any]:
        seq = 0 if self.last is None else self.last["seq"] + 1
        entry = {"event": "capture", "at": f"2026-11-30T00:00:{seq % 60:02d}Z", "agent": {},
                 "outcome": {"status": "success", "detail": ""}, **fields, "seq": seq,
                 "prev": manifest.GENESIS if self.last is None else self.last["hash"]}
        entry["hash"] = manifest.entry_hash(entry)
        with open(self.archive.manifest_path, "ab") as f:
            f.write(manifest.canonical(entry) + b"\n")
        self.last = entry
        return entry


def add_article(archive: Archive, chain: Chain, article_id: str, snapshot: str, *,
                title: str, body: list[str], lead: str | None = None,
                published_at: str | None = None, section: str | None = None,
                byline: str | None = None, authors: list[str] | None = None,
                source: str | None = None,
                captured_at: str = "2026-11-30T00:00:00Z") -> dict[str, Any]:
    """An article file and the entry naming it."""
    path = f"articles/{article_id}/{snapshot}.json"
    url = f"https://vov.vn/{article_id}.vov"
    doc = {"id": article_id, "url": url, "title": title, "lead": lead, "body": body,
           "published_at": published_at, "section": section, "language": "vi",
           "byline": {"raw": byline, "authors": authors or [], "source": source},
           "capture": {"warc_date": captured_at}, "schema_version": "1.0.0",
           "extraction": {"version": "test"}}
    data = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
    archive.write_bytes(path, data)
    sha = hashlib.sha256(data).hexdigest()
    return chain.add(source={"url": url, "final_url": url},
                     files=[{"path": path, "sha256": sha, "size": len(data)}],
                     articles=[{"id": article_id, "path": path, "sha256": sha, "url": url,
                                "record_id": f"<urn:uuid:{snapshot}>",
                                "byline": {"raw": byline, "authors": authors or [],
                                           "source": source}}])
