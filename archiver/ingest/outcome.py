"""What document and foreign-WARC ingest share: the per-file outcome, the record of earlier
ingestions, and the check that an input is a regular file."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.base.errors import UnreadableInputError, UsageError
from archiver.pipeline.commit import ArticleOutcome
from archiver.store import manifest
from archiver.store.archive import Archive


@dataclass
class IngestOutcome:
    """The result for one input file, as the CLI reports it."""

    path: str
    status: str  # "ingested", "already-ingested", "skipped", "failed"
    url: str | None = None
    warc: str | None = None
    record_ids: list[str] = field(default_factory=list)
    article: ArticleOutcome | None = None
    reason: str = ""
    seq: int | None = None

    @property
    def ok(self) -> bool:
        if self.status == "failed":
            return False
        return not (self.article is not None and self.article.status == "invalid")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "url": self.url,
            "warc": self.warc,
            "record_ids": self.record_ids,
            "reason": self.reason or None,
            "article": self.article.to_dict() if self.article else None,
            "manifest_seq": self.seq,
        }


class Ingested:
    """Earlier successful ingestions by file sha256 (and source URL), read from the manifest
    once per run and kept current by it: ingesting a folder of N files is one manifest scan,
    not N."""

    def __init__(self, archive: Archive) -> None:
        self._seq: dict[tuple[str, str | None], int] = {}
        for entry in manifest.iter_entries(archive.manifest_path):
            self.note(entry)

    def note(self, entry: dict[str, Any]) -> None:
        src = entry.get("source") or {}
        sha = (src.get("file") or {}).get("sha256")
        if entry.get("event") == "ingestion" and entry["outcome"]["status"] == "success" and sha:
            self._seq.setdefault((sha, src.get("url")), int(entry["seq"]))
            self._seq.setdefault((sha, None), int(entry["seq"]))

    def find(self, sha256: str, url: str | None = None) -> int | None:
        """The seq that ingested these bytes (for this URL; for any URL when url is None)."""
        return self._seq.get((sha256, url))


def check_regular_file(path: Path) -> os.stat_result:
    """Inputs are regular files named directly: no symlinks (a link can point anywhere), no
    devices or FIFOs (reading one can hang or never end)."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise UnreadableInputError(f"{path}: {exc.strerror or exc}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise UsageError(f"{path}: is a symbolic link; give the file it points to")
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path}: not a regular file")
    return info
