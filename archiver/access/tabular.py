"""Research exports: articles or captures as Parquet, CSV or JSON Lines, with a sidecar that
cites the exact archive state they were made from.

- Parquet through pyarrow with a declared schema (strings, int16/int64, list<string>,
  timestamp[us, UTC]); column descriptions are field metadata. Arrow timestamps carry one
  zone for a whole column, so `published_at` is the UTC instant and `published_at_offset`
  keeps the offset as published, in minutes (420 = +07:00).
- CSV per RFC 4180 (§2: CRLF line ends, a header line, fields with commas, quotes or line
  breaks quoted, quotes doubled), UTF-8 without a byte-order mark. Timestamps are RFC 3339
  with the offset as published (`Z` for UTC), lists are JSON arrays, null is the empty field.
- JSON Lines: one object per line, keys in column order, timestamps as in the CSV.

Rows stream in batches of BATCH_ROWS (one Parquet row group each), so memory does not grow
with the archive beyond the export plan (rows.py). The file is written under a temporary
name beside OUT and renamed when whole; then the sidecar `OUT.meta.json` names the manifest
head (seq and hash) the rows come from (entries after it are left out, so a capture running
meanwhile does not blur the state cited), the command, the software, the row count and the
file's sha256.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.metadata
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from archiver import SOFTWARE_NAME, __version__
from archiver.access import rows
from archiver.access.rows import Column, Row
from archiver.base.cluster import Cluster
from archiver.base.errors import UsageError
from archiver.store import manifest
from archiver.store.archive import Archive, hash_file
from archiver.store.manifest import now_rfc3339

FORMATS = ("parquet", "csv", "jsonl")
WHAT = ("articles", "captures")
MEDIA_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv; charset=utf-8; header=present",  # RFC 4180 §3
    "jsonl": "application/jsonl",
}
SIDECAR_SUFFIX = ".meta.json"
SIDECAR_VERSION = "1.0"
# Rows converted at a time. Peak memory follows it: Python keeps each str's UTF-8 copy once
# Arrow has asked for it, until the rows are dropped; so rows go to Arrow 1024 at a time,
# and Arrow batches are gathered into row groups of ROW_GROUP_ROWS (~60 MB of text).
BATCH_ROWS = 1024
ROW_GROUP_ROWS = 8192
PARQUET_HINT = "Parquet export needs pyarrow: pip install 'archiver[parquet]'"


class Progress(Protocol):
    """What an export reports: the row count once planned, then rows written."""

    def start(self, total: int) -> None: ...

    def update(self, n: int) -> None: ...


class _Silent:
    def start(self, total: int) -> None:
        return None

    def update(self, n: int) -> None:
        return None


@dataclass
class TableExport:
    """What an export wrote."""

    path: str
    sidecar: str
    format: str
    what: str
    latest: bool
    rows: int
    sha256: str
    size: int
    manifest_seq: int | None
    manifest_hash: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"export": self.format, "what": self.what, "latest": self.latest,
                "path": self.path, "sidecar": self.sidecar, "rows": self.rows,
                "sha256": self.sha256, "size": self.size,
                "manifest": {"seq": self.manifest_seq, "hash": self.manifest_hash}}


def sidecar_path(out: Path) -> Path:
    return out.with_name(out.name + SIDECAR_SUFFIX)


def export_table(archive: Archive, out: Path, fmt: str, what: str = "articles",
                 latest: bool = False, command: str = "",
                 progress: Progress | None = None,
                 cluster: Cluster | None = None) -> TableExport:
    """Write the articles (one row per snapshot; `latest`: one per article) or the captures
    of the archive to `out` in `fmt`, and the sidecar beside it. With a Dask `cluster`, its
    workers read the files and this process writes the same bytes."""
    if fmt not in FORMATS:
        raise UsageError(f"{fmt!r}: not an export format; choose one of {', '.join(FORMATS)}")
    if what not in WHAT:
        raise UsageError(f"{what!r}: choose articles or captures")
    if latest and what != "articles":
        raise UsageError("--latest applies to articles (captures have no snapshots)")
    if fmt == "parquet":
        require_pyarrow()
    if not archive.manifest_path.is_file():
        raise UsageError(f"{archive.manifest_path}: no archive here")
    sidecar = sidecar_path(out)
    for target in (out, sidecar):
        if target.exists():
            raise UsageError(f"{target}: already exists; choose a new name")
    progress = progress or _Silent()

    head = manifest.read_last(archive.manifest_path)
    head_seq = int(head["seq"]) if head else -1
    head_hash = str(head["hash"]) if head else None
    columns = rows.COLUMNS[what]
    source: Iterator[Row]
    if what == "articles":
        article_refs = rows.article_refs(archive, head_seq, latest)
        progress.start(len(article_refs))
        source = rows.article_rows(archive, article_refs, cluster)
    else:
        progress.start(rows.count_captures(archive, head_seq))
        source = rows.capture_rows(archive, head_seq, cluster)

    stamp = {"what": what, "latest": latest, "manifest_seq": head_seq if head else None,
             "manifest_hash": head_hash, "software": f"{SOFTWARE_NAME}/{__version__}"}
    with _atomic(out) as temp:
        count = WRITERS[fmt](temp, columns, _counted(source, progress), stamp)
        sha256, size = hash_file(temp)
    result = TableExport(str(out), str(sidecar), fmt, what, latest, count, sha256, size,
                         head_seq if head else None, head_hash)
    document = sidecar_document(archive, result, columns, command)
    with _atomic(sidecar) as temp:
        temp.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    return result


def sidecar_document(archive: Archive, result: TableExport, columns: Iterable[Column],
                     command: str) -> dict[str, Any]:
    software = {"name": SOFTWARE_NAME, "version": __version__}
    if result.format == "parquet":
        software["pyarrow"] = importlib.metadata.version("pyarrow")
    return {
        "archiver_export": SIDECAR_VERSION,
        "file": Path(result.path).name,
        "format": result.format,
        "media_type": MEDIA_TYPES[result.format],
        "what": result.what,
        "latest": result.latest,
        "rows": result.rows,
        "size": result.size,
        "sha256": result.sha256,
        "archive": str(archive.root),
        "manifest": {"path": "manifest.jsonl", "seq": result.manifest_seq,
                     "hash": result.manifest_hash},
        "command": command,
        "software": software,
        "created_at": now_rfc3339(),
        "columns": [c.to_dict() for c in columns],
    }


def require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise UsageError(PARQUET_HINT) from None


@contextlib.contextmanager
def _atomic(final: Path) -> Iterator[Path]:
    """A temporary path beside `final`, fsynced and renamed into place on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".tmp-{secrets.token_hex(4)}-{final.name}")
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, final)
    finally:
        temp.unlink(missing_ok=True)


def _counted(source: Iterator[Row], progress: Progress) -> Iterator[Row]:
    done = 0
    for row in source:
        yield row
        done += 1
        if done % 1000 == 0:
            progress.update(1000)
    progress.update(done % 1000)


def _batches(source: Iterator[Row]) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in source:
        batch.append(row)
        if len(batch) >= BATCH_ROWS:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------- text values

def rfc3339(value: datetime) -> str:
    """RFC 3339 §5.6 with the offset the value carries; `Z` for UTC."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def json_value(value: Any) -> Any:
    return rfc3339(value) if isinstance(value, datetime) else value


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


# ---------------------------------------------------------------- writers

Writer = Callable[[Path, tuple[Column, ...], Iterator[Row], dict[str, Any]], int]


def write_csv(path: Path, columns: tuple[Column, ...], source: Iterator[Row],
              stamp: dict[str, Any]) -> int:
    names = [c.name for c in columns]
    count = 0
    with open(path, "x", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")  # RFC 4180 §2.1: CRLF
        writer.writerow(names)
        for batch in _batches(source):
            writer.writerows([csv_value(row[n]) for n in names] for row in batch)
            count += len(batch)
    return count


def write_jsonl(path: Path, columns: tuple[Column, ...], source: Iterator[Row],
                stamp: dict[str, Any]) -> int:
    names = [c.name for c in columns]
    count = 0
    with open(path, "x", encoding="utf-8", newline="\n") as f:
        for batch in _batches(source):
            f.writelines(json.dumps({n: json_value(row[n]) for n in names},
                                    ensure_ascii=False) + "\n" for row in batch)
            count += len(batch)
    return count


def arrow_schema(columns: tuple[Column, ...], stamp: dict[str, Any]) -> Any:
    import pyarrow as pa

    types = {"string": pa.string(), "int16": pa.int16(), "int32": pa.int32(),
             "int64": pa.int64(), "timestamp": pa.timestamp("us", tz="UTC"),
             "list<string>": pa.list_(pa.string())}
    fields = [pa.field(c.name, types[c.type], metadata={"description": c.description})
              for c in columns]
    return pa.schema(fields, metadata={"archiver": json.dumps(stamp, sort_keys=True)})


def write_parquet(path: Path, columns: tuple[Column, ...], source: Iterator[Row],
                  stamp: dict[str, Any]) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(columns, stamp)
    names = [c.name for c in columns]
    count = 0
    group: list[Any] = []  # Arrow record batches of the row group being gathered
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        for batch in _batches(source):
            # Column-wise conversion; aware datetimes become UTC instants.
            group.append(pa.RecordBatch.from_pydict(
                {n: [row[n] for row in batch] for n in names}, schema=schema))
            count += len(batch)
            if sum(b.num_rows for b in group) >= ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(group, schema))  # one row group
                group = []
        if group or count == 0:
            writer.write_table(pa.Table.from_batches(group, schema))
    return count


WRITERS: dict[str, Writer] = {"parquet": write_parquet, "csv": write_csv,
                              "jsonl": write_jsonl}
