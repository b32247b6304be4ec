"""The archive's CDXJ indexes: one line per replayable record, sorted, so pywb and other
replay tools can find a capture by URL and time. All of it is derived data: deleting it loses
nothing, `archiver index` makes it again.

- `indexes/` holds one sorted CDXJ file per WARC, written once: when a rolling WARC is sealed
  (from the offsets the writer already knows, no second read of the WARC), or when a WARC
  made elsewhere is ingested. Captures still in an `.open` WARC are indexed batch by batch in
  `indexes/<name>.open-<seq>.cdxj`, merged into the WARC's own file when it is sealed. pywb
  reads the folder as a directory index source, merging the files at query time, so no run
  ever rewrites a whole index.
- `index.cdxj` is the single merged file of 0.1.0 (one WARC per capture); `archiver index`
  still writes it, for tools that want one file, and it is what 0.1.0 archives replay from.

Lines come from cdxj-indexer (webrecorder's indexer, the one pywb and py-wacz use) where a
WARC must be read, and from `cdxj_line` (the same format, proven equal by a test) where the
writer knows the record already. Files are replaced atomically, so a reader (pywb, a second
archiver process) never sees a half-written or unsorted index. A damaged WARC met by
`rebuild` is a finding (file and offset), and the other WARCs are still indexed.
"""

from __future__ import annotations

import heapq
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from archiver.base.errors import StoreError, UnreadableInputError
from archiver.base.findings import Finding
from archiver.store.archive import TEMP_PREFIX, Archive
from archiver.store.rolling import open_path
from archiver.store.warc import WARC_SUFFIXES

if TYPE_CHECKING:
    from filelock import FileLock

INDEX_NAME = "index.cdxj"
INDEXES_DIR = "indexes"
# Only what replay serves. Named explicitly because py-wacz appends "warcinfo" to the
# indexer's class-wide default list when imported, and we must not index warcinfo then.
# Our metadata and conversion records share the page's URL and would shadow it in replay.
REPLAY_RECORDS = "response,revisit,resource"


@dataclass(frozen=True)
class IndexStats:
    """What an index run did: files read, lines the index now holds, damaged files (their
    records up to the damage are indexed; the rest of the file is not)."""

    warcs: int
    lines: int
    path: str = INDEX_NAME
    findings: tuple[Finding, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"index": self.path, "warcs": self.warcs, "lines": self.lines}
        if self.findings:
            out["findings"] = [f.to_dict() for f in self.findings]
        return out


@dataclass(frozen=True)
class CdxjLine:
    """One parsed index line: SURT key, 14-digit timestamp, and the JSON fields."""

    urlkey: str
    timestamp: str
    fields: dict[str, str]

    @classmethod
    def parse(cls, line: str) -> CdxjLine:
        urlkey, timestamp, blob = line.rstrip("\n").split(" ", 2)
        return cls(urlkey, timestamp, json.loads(blob))

    @property
    def url(self) -> str:
        return self.fields.get("url", "")

    @property
    def filename(self) -> str:
        return self.fields.get("filename", "")


def lock_for(archive: Archive) -> FileLock:
    from filelock import FileLock  # ~10 ms; only index writers lock (see surt_key)

    return FileLock(str(archive.index_path) + ".lock")


def warc_relpaths(archive: Archive) -> list[str]:
    """Every WARC/ARC file under warcs/, sorted, temporaries of interrupted writes excluded."""
    if not archive.warcs_dir.is_dir():
        return []
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(archive.warcs_dir):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(WARC_SUFFIXES) and not name.startswith(TEMP_PREFIX):
                found.append(archive.relpath(Path(dirpath) / name))
    return found


def index_lines(archive: Archive, relpaths: Iterable[str], sort: bool = True) -> list[str]:
    """CDXJ lines for the given WARCs, `filename` relative to the archive root (so pywb can
    use the root as its archive path). A damaged WARC raises UnreadableInputError naming it
    and the offset (callers that must go on use `rebuild`)."""
    paths = [str(archive.resolve(rel)) for rel in relpaths]
    out = io.StringIO()
    damaged = _run_indexer(archive, paths, out, sort)
    if damaged:
        raise UnreadableInputError("cannot index WARC: " + damaged[0].render())
    return out.getvalue().splitlines(keepends=True)


@cache
def _filewise_indexer() -> Any:
    """cdxj-indexer's indexer class, extended; imported on first use, since cdxj-indexer pulls
    in pkg_resources (~0.3 s), which a capture (its lines come from cdxj_line) should not pay.
    """
    from cdxj_indexer.main import CDXJIndexer

    class _FilewiseIndexer(CDXJIndexer):
        """cdxj-indexer, but a file that stops parsing becomes a finding (with the offset where
        it stopped) and the next file is indexed; lines of its records before the damage stay."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self.damaged: list[Finding] = []
            self._records: object = None

        def _create_record_iter(self, input_: object) -> object:
            self._records = super()._create_record_iter(input_)
            return self._records

        def process_one(self, input_: object, output: object, filename: str) -> None:
            self._records = None
            try:
                super().process_one(input_, output, filename)
            except Exception as exc:  # warcio's and zlib's parse errors are plain Exceptions
                offset = getattr(self._records, "offset", None)
                text = "".join(c if c.isprintable() else "?" for c in str(exc))[:160]
                self.damaged.append(Finding(
                    "error", "damaged-warc", self._resolve_rel_path(filename),
                    f"stops parsing here ({type(exc).__name__}: {text}); records before it are "
                    "indexed, the rest of the file is not", offset=offset))

    return _FilewiseIndexer


def _run_indexer(archive: Archive, paths: Iterable[str], out: IO[str] | io.TextIOBase,
                 sort: bool) -> list[Finding]:
    indexer = _filewise_indexer()(out, paths, sort=sort, dir_root=str(archive.root),
                                  records=REPLAY_RECORDS)
    try:
        indexer.process_all()
    except OSError as exc:
        raise UnreadableInputError(f"cannot index WARC: {exc}") from exc
    return indexer.damaged


def rebuild(archive: Archive, progress: Callable[[str], None] | None = None) -> IndexStats:
    """Index every WARC in the archive into a new `index.cdxj` (replacing the old one)."""
    if not archive.exists():
        raise StoreError(f"{archive.root}: no archive here")
    relpaths = warc_relpaths(archive)
    # cdxj-indexer sorts in memory up to 32 MiB and spills to temporary files beyond,
    # so one pass over all WARCs gives a sorted file without holding it all.
    with lock_for(archive), archive.atomic_file(INDEX_NAME) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
        counter = _CountingWriter(text)
        damaged = _run_indexer(archive, _reporting(archive, relpaths, progress), counter,
                               sort=True)
        text.flush()
        text.detach()  # atomic_file still owns the binary handle
    return IndexStats(len(relpaths), counter.lines, findings=tuple(damaged))


def read(archive: Archive) -> Iterator[CdxjLine]:
    """The index's lines, parsed (empty when there is no index yet)."""
    if not archive.index_path.is_file():
        return
    with open(archive.index_path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield CdxjLine.parse(line)


def lookup(archive: Archive, url: str) -> list[CdxjLine]:
    """Every indexed capture of exactly `url`, oldest first."""
    found = [line for line in read_all(archive) if line.url == url]
    return sorted(found, key=lambda line: line.timestamp)


class _CountingWriter(io.TextIOBase):
    """Counts the lines the indexer writes on their way to the file."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.lines = 0

    def write(self, s: str) -> int:
        self.lines += s.count("\n")
        return self.out.write(s)


def _reporting(archive: Archive, relpaths: list[str],
               progress: Callable[[str], None] | None) -> Iterator[str]:
    """Absolute WARC paths, reporting each as the indexer takes it (it reads inputs lazily)."""
    for rel in relpaths:
        if progress:
            progress(rel)
        yield str(archive.resolve(rel))


# ---------------------------------------------------------------- per-WARC indexes


def cdxj_line(url: str, date: str, rec_type: str, mime: str | None, status: int | None,
              digest: str | None, offset: int, length: int, filename: str) -> str:
    """One line exactly as cdxj-indexer writes it (key order, `warc/revisit` as a revisit's
    mime), for a record whose facts the writer already has."""
    fields: dict[str, str] = {"url": url}
    if rec_type == "revisit":
        fields["mime"] = "warc/revisit"
    elif mime:
        fields["mime"] = mime.split(";", 1)[0].strip()
    if status is not None:
        fields["status"] = str(status)
    if digest:
        fields["digest"] = digest
    fields.update(length=str(length), offset=str(offset), filename=filename)
    from warcio.timeutils import iso_date_to_timestamp  # see surt_key

    return f"{surt_key(url)} {iso_date_to_timestamp(date)} {json.dumps(fields)}\n"


@lru_cache(maxsize=65536)  # a capture's URL is keyed for its index line, catalog and dedup
def surt_key(url: str) -> str:
    """SURT of `url` (surt's defaults, as cdxj-indexer and pywb: scheme and www. dropped,
    host reversed, lower case), so http/https, www. and case variants share a key.

    surt (with tldextract and requests) and warcio are imported where they are used: ~0.1 s
    that audit's catalog check, which imports the catalog but makes no key, need not pay."""
    import surt

    try:
        return str(surt.surt(url))
    except Exception:  # surt raises on some non-URLs (urn:, odd IRIs); the indexer keys
        return url  # them by the text, and so do we


def index_name(warc_relpath: str) -> str:
    """`warcs/2026/11/x.warc.gz` -> `indexes/warcs_2026_11_x.warc.gz.cdxj` (flat: pywb reads
    one folder level)."""
    return f"{INDEXES_DIR}/{warc_relpath.replace('/', '_')}.cdxj"


def write_warc_index(archive: Archive, warc_relpath: str, lines: Iterable[str]) -> str:
    """The sealed WARC's own sorted index; the batch files of its open life go away."""
    rel = index_name(warc_relpath)
    archive.write_bytes(rel, "".join(sorted(lines)).encode("utf-8"), durable=False)
    for batch in _batch_files(archive, warc_relpath):
        batch.unlink(missing_ok=True)
    return rel


def write_batch_index(archive: Archive, warc_relpath: str, seq: int, lines: list[str]) -> None:
    """Lines of one group commit into a still-open WARC, so replay finds them at once."""
    if lines:
        rel = index_name(warc_relpath).removesuffix(".cdxj") + f".open-{seq}.cdxj"
        archive.write_bytes(rel, "".join(sorted(lines)).encode("utf-8"), durable=False)


def _batch_files(archive: Archive, warc_relpath: str) -> list[Path]:
    folder = archive.root / INDEXES_DIR
    stem = Path(index_name(warc_relpath)).name.removesuffix(".cdxj")
    return sorted(folder.glob(f"{stem}.open-*.cdxj")) if folder.is_dir() else []


WARCS_PER_TASK = 16  # per-WARC indexing on a cluster: a few files a task


def index_batch(root: str, relpaths: list[str]) -> list[tuple[str, list[str], list[Finding]]]:
    """(WARC, its sorted CDXJ lines, damage found) for each WARC: reads only, so it can run
    on a Dask worker that mounts the archive; the caller writes the files."""
    archive = Archive(Path(root))
    out = []
    for rel in relpaths:
        text = io.StringIO()
        damaged = _run_indexer(archive, [str(open_path(archive, rel))], text, sort=True)
        out.append((rel, text.getvalue().splitlines(keepends=True), damaged))
    return out


def rebuild_warc_indexes(archive: Archive, cluster: Any,
                         progress: Callable[[int, int, int], None] | None = None,
                         ) -> tuple[int, int, list[Finding]]:
    """Write every WARC's own index in indexes/ anew, from the WARC, read on a Dask
    `cluster`'s workers (this process writes). Returns (WARCs, lines, damage found)."""
    from archiver.base.cluster import Task

    relpaths = warc_relpaths(archive)
    batches = [relpaths[i:i + WARCS_PER_TASK] for i in range(0, len(relpaths), WARCS_PER_TASK)]
    tasks = (Task(index_batch, (str(archive.root), b),
                  sum(open_path(archive, rel).stat().st_size for rel in b))
             for b in batches)
    results = cluster.map_ordered(tasks, progress, "index")
    lines, findings = 0, []
    for batch in results:
        for rel, warc_lines, damaged in batch:
            write_warc_index(archive, rel, warc_lines)
            lines += len(warc_lines)
            findings += damaged
    return len(relpaths), lines, findings


def merge_warc_indexes(archive: Archive, findings: list[Finding]) -> IndexStats:
    """`index.cdxj` as the merge of the per-WARC indexes (each sorted: no WARC read again)."""
    relpaths = warc_relpaths(archive)
    files = [open(archive.root / index_name(rel), encoding="utf-8", newline="\n")
             for rel in relpaths if (archive.root / index_name(rel)).is_file()]
    lines = 0
    try:
        with lock_for(archive), archive.atomic_file(INDEX_NAME) as raw:
            for line in heapq.merge(*files):
                raw.write(line.encode("utf-8"))
                lines += 1
    finally:
        for f in files:
            f.close()
    return IndexStats(len(relpaths), lines, findings=tuple(findings))


def index_warc_file(archive: Archive, warc_relpath: str) -> str:
    """Index a WARC by reading it (one made elsewhere, or after crash recovery)."""
    return write_warc_index(archive, warc_relpath, index_lines(archive, [warc_relpath], False))


def read_all(archive: Archive) -> Iterator[CdxjLine]:
    """Every record indexed in `indexes/` or `index.cdxj`, once (unsorted)."""
    seen: set[tuple[str, str]] = set()
    folder = archive.root / INDEXES_DIR
    for path in sorted(folder.glob("*.cdxj")) if folder.is_dir() else []:
        with open(path, encoding="utf-8") as f:
            for text in f:
                if text.strip():
                    line = CdxjLine.parse(text)
                    seen.add((line.filename.removesuffix(".open"), line.fields["offset"]))
                    yield line
    for line in read(archive):
        if (line.filename, line.fields.get("offset", "")) not in seen:
            yield line
