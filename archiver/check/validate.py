"""validate: check what is stored, not what the manifest says about it (that is audit's job).

With an archive: every WARC (archiver.check.warccheck, stricter than `warcio check`), every article
against schemas/article.schema.json and linked to a record that exists, every manifest entry
against its schema. With paths: any WARC/ARC files or folders, no archive needed.
Every finding is collected; an internal failure on one file is a finding for that file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.base.findings import Finding, Report
from archiver.check.revisits import RevisitLinks
from archiver.check.warccheck.paths import SUFFIXES as WARC_SUFFIXES
from archiver.check.warccheck.report import WarcReport
from archiver.store.archive import open_regular

if TYPE_CHECKING:
    from archiver.base.cluster import Cluster
    from archiver.base.cluster import Progress as TaskProgress
    from archiver.store.archive import Archive

# What only a whole-archive or a --dask run needs (the manifest and its schemas, the Dask
# glue) is imported where it is used: `validate FILE` would otherwise
# pay ~0.3 s of imports (jsonschema, warcio, surt, requests) it never uses, a quarter of a
# 186 MB check (issue 16 item 10).

Progress = Callable[[str], None]


@dataclass
class ValidateReport(Report):
    warcs: int = 0
    records: int = 0
    bytes: int = 0
    articles: int = 0
    entries: int = 0
    seconds: float = 0.0
    files: list[dict[str, Any]] = field(default_factory=list)  # one summary per WARC
    # Findings the manifest recorded as accepted when their file was ingested, with that
    # entry's seq: listed, but neither errors nor warnings.
    accepted: list[tuple[Finding, int]] = field(default_factory=list)

    def summary(self) -> str:
        verdict = "valid" if self.ok else "INVALID"
        parts = [f"{self.warcs} WARC files ({self.records} records, {self.bytes / 1e6:.1f} MB)"]
        if self.articles or self.entries:
            parts.append(f"{self.articles} articles, {self.entries} manifest entries")
        return (f"validate {verdict}: " + ", ".join(parts)
                + f" in {self.seconds:.2f}s; {self.errors} errors, {self.warnings} warnings"
                + (f", {len(self.accepted)} accepted at ingest" if self.accepted else ""))

    def accepted_lines(self) -> list[str]:
        return [f"ACCEPTED (manifest seq {seq}) {finding.render()}"
                for finding, seq in self.accepted]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "warcs": self.warcs, "records": self.records, "bytes": self.bytes,
                "articles": self.articles, "entries": self.entries,
                "seconds": round(self.seconds, 3), "errors": self.errors,
                "warnings": self.warnings, "files": self.files,
                "findings": [f.to_dict() for f in self.findings],
                "accepted": [{**f.to_dict(), "manifest_seq": seq} for f, seq in self.accepted]}




def find_warcs(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames.sort()
                for name in sorted(filenames):
                    if name.lower().endswith(WARC_SUFFIXES) and not name.startswith("."):
                        yield Path(dirpath) / name
        else:
            yield path


def check_warcs(report: ValidateReport, paths: list[Path], jobs: int,
                progress: Progress | None = None, base: Path | None = None,
                on: Distributed | None = None, links: RevisitLinks | None = None) -> None:
    if on is not None:
        reports: Iterable[WarcReport] = _cluster_reports(paths, base, on)
    else:
        from archiver.check.warccheck import check_paths

        reports = check_paths([str(p) for p in paths], jobs=jobs)
    for warc in reports:
        shown = _shown(Path(warc.path), base)
        report.warcs += 1
        report.records += warc.records
        report.bytes += warc.bytes
        report.findings += warc.findings
        report.files.append({"path": shown, "ok": warc.ok, "format": warc.format,
                             "compression": warc.compression, "records": warc.records})
        if links is not None:
            links.add(shown, warc)
        if progress:
            progress(shown)


@dataclass
class Distributed:
    """Where validate's tasks run: a Dask cluster, and how to find record starts in large
    WARCs (None outside an archive: those files are then one task each)."""

    cluster: Cluster
    progress: TaskProgress | None = None
    archive: Archive | None = None


FILES_PER_TASK = 256  # small WARCs checked by one validate task, at most


def _cluster_reports(paths: list[Path], base: Path | None,
                     on: Distributed) -> Iterator[WarcReport]:
    """One report per file, in order, from tasks of whole files or byte ranges."""
    from archiver.base.cluster import Task
    from archiver.check import ranges
    from archiver.check.warccheck.paths import check_one, check_parts, expand

    files = expand([str(p) for p in paths])
    sizes = {f: os.path.getsize(f) if os.path.isfile(f) else 0 for f in files}
    large = {_shown(Path(f), base): f for f in files
             if sizes[f] > ranges.RANGE_BYTES and f.lower().endswith(".gz")}
    known = (ranges.record_boundaries(on.archive, large) if on.archive is not None and large
             else {})
    plan = [(f, ranges.cut(sizes[f], known.get(_shown(Path(f), base), []), ranges.RANGE_BYTES))
            for f in files]

    def tasks() -> Iterator[Task]:
        """Small files go several to a task (a task has a fixed cost on the scheduler)."""
        batch: list[tuple[str, tuple[int, int] | None]] = []
        size = 0
        for f, windows in plan:
            for window in windows:
                n = window[1] - window[0]
                if batch and (size + n > ranges.RANGE_BYTES or len(batch) >= FILES_PER_TASK):
                    yield Task(check_parts, (batch,), size)
                    batch, size = [], 0
                batch.append((f, window if len(windows) > 1 else None))
                size += n
        if batch:
            yield Task(check_parts, (batch,), size)

    done = on.cluster.map_ordered(tasks(), on.progress, "validate")
    results = (part for reports in done for part in reports)
    for f, windows in plan:
        parts = [next(results) for _ in windows]
        merged = ranges.merge(f, sizes[f], parts)
        if merged is None:  # the ranges saw something only the whole file can judge
            merged = on.cluster.result_of(on.cluster.submit(Task(check_one, (f,)), "validate"))
        yield merged


def _shown(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return path.absolute().relative_to(base).as_posix()
        except ValueError:
            pass
    return str(path)


def validate_paths(paths: list[Path], jobs: int = 1, progress: Progress | None = None,
                   on: Distributed | None = None) -> ValidateReport:
    started = time.monotonic()
    report = ValidateReport()
    links = RevisitLinks()
    check_warcs(report, list(find_warcs(paths)), jobs, progress, on=on, links=links)
    report.findings += list(links.findings(in_archive=False))
    report.seconds = time.monotonic() - started
    return report


def validate_archive(archive: Archive, jobs: int = 1, progress: Progress | None = None,
                     on: Distributed | None = None) -> ValidateReport:
    """Every WARC, article and manifest entry of the archive. `on` a Dask cluster, the WARCs
    (large ones as byte ranges) and the article folders are checked by its workers."""
    started = time.monotonic()
    report = ValidateReport()
    warcs = sorted(archive.warcs_dir.rglob("*")) if archive.warcs_dir.is_dir() else []
    warcs = [p for p in warcs if p.is_file() and p.name.lower().endswith(WARC_SUFFIXES)
             and not p.name.startswith(".")]
    if on is not None:
        on = Distributed(on.cluster, on.progress, archive)
    # The WARCs first: their local pool forks this process, which must not yet have the
    # article pool's threads (a fork of a threaded process can deadlock in the child).
    links = RevisitLinks()
    check_warcs(report, warcs, jobs, progress, base=archive.root, on=on, links=links)
    article_dirs = list_article_dirs(archive)
    # Articles are listed, parsed and schema-checked in worker processes while this one reads
    # the manifest: all pure Python, and a corpus holds 100,000s of each.
    pool = _ClusterPool(on.cluster) if on else _article_pool(jobs, len(article_dirs))
    with pool:
        pending = [pool.submit(read_article_dirs, str(archive.root), chunk)
                   for chunk in _chunks(article_dirs, ARTICLES_PER_TASK)]
        accepted: AcceptedFindings = {}
        known = known_records(archive, report, accepted)
        set_apart_accepted(report, accepted, archive.root)
        for future in pending:
            for checked in future.result():
                report.articles += 1
                report.findings += checked.findings
                report.findings += list(link_finding(archive, checked, known))
    report.findings += list(links.findings(in_archive=True))
    report.seconds = time.monotonic() - started
    return report


ARTICLES_PER_TASK = 2000  # article folders per worker task
MIN_ARTICLES_FOR_PROCESSES = 5000  # below this, starting processes costs more than it saves


def _article_pool(jobs: int, articles: int) -> Any:
    if jobs > 1 and articles >= MIN_ARTICLES_FOR_PROCESSES:
        from concurrent.futures import ProcessPoolExecutor  # here: `validate FILE` needs none
        from multiprocessing import get_context

        return ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"))
    return _InlineExecutor()


class _ClusterPool:
    """The executor interface over a Dask cluster: futures whose result() is the task's."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def __enter__(self) -> _ClusterPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        from archiver.base.cluster import Task

        future = self.cluster.submit(Task(fn, args), "validate-articles")
        return _Result(lambda: self.cluster.result_of(future))


@dataclass
class _Result:
    result: Callable[[], Any]


class _InlineExecutor:
    """The executor interface, run in this process (small archives, --jobs 1)."""

    def __enter__(self) -> _InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        return future


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def list_article_dirs(archive: Archive) -> list[str]:
    """The article-id folders under articles/ (one scandir; their files are listed by the
    workers that read them)."""
    if not archive.articles_dir.is_dir():
        return []
    return sorted(e.name for e in os.scandir(archive.articles_dir)
                  if e.is_dir() and not e.name.startswith("."))


def read_article_dirs(root: str, dir_names: list[str]) -> list[CheckedArticle]:
    """Parse and schema-check every article file in these article-id folders."""
    checked = []
    for dir_name in dir_names:
        folder = os.path.join(root, "articles", dir_name)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json") and not name.startswith("."):
                rel = f"articles/{dir_name}/{name}"
                checked.append(read_article(rel, os.path.join(folder, name)))
    return checked


def known_records(archive: Archive, report: ValidateReport,
                  accepted: AcceptedFindings | None = None) -> dict[str, set[str]]:
    """Record ids per WARC path, from the manifest (whose entries are checked on the way);
    fills `accepted` with the findings ingest entries accepted."""
    from archiver.base import schemas
    from archiver.store import manifest

    known: dict[str, set[str]] = {}
    if not archive.manifest_path.is_file():
        return known
    for number, entry in enumerate(manifest.iter_entries(archive.manifest_path), start=1):
        report.entries += 1
        for pointer, message in schemas.validate(entry, manifest.SCHEMA):
            report.findings.append(Finding("error", "invalid-entry", f"manifest.jsonl:{number}",
                                           f"{pointer or '/'}: {message}"))
        for rec in entry.get("records") or []:
            if isinstance(rec, dict):
                known.setdefault(str(rec.get("file")), set()).add(str(rec.get("id")))
        if accepted is not None and entry.get("event") == "ingestion" and entry.get("findings"):
            note_accepted(entry, accepted)
    return known


# Stored file -> finding key -> manifest seq of the ingestion that accepted it.
AcceptedFindings = dict[str, dict[tuple[Any, ...], int]]


def _finding_key(f: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a finding in one file, whatever the file was called when checked."""
    return (f.get("severity"), f.get("code"), f.get("offset"), f.get("record_id"), f.get("field"))


def note_accepted(entry: dict[str, Any], accepted: AcceptedFindings) -> None:
    """A foreign WARC ingested with findings: the copy in the archive is the entry's file
    with the source file's sha256, and its findings were accepted by this entry."""
    source_sha = ((entry.get("source") or {}).get("file") or {}).get("sha256")
    for f in entry.get("files") or []:
        if isinstance(f, dict) and source_sha and f.get("sha256") == source_sha:
            keys = accepted.setdefault(str(f.get("path")), {})
            for finding in entry["findings"]:
                if isinstance(finding, dict):
                    keys.setdefault(_finding_key(finding), int(entry.get("seq", 0)))


def set_apart_accepted(report: ValidateReport, accepted: AcceptedFindings, root: Path) -> None:
    """Move the WARC findings an ingestion accepted out of the errors and warnings. Any other
    finding in that file (the file changed, or a newer check found more) stays as it is."""
    if not accepted:
        return
    kept = []
    for finding in report.findings:
        rel = _shown(Path(finding.where), root)
        seq = accepted.get(rel, {}).get(_finding_key(finding.to_dict()))
        if seq is None:
            kept.append(finding)
        else:  # named as the manifest names the file
            report.accepted.append((dataclasses.replace(finding, where=rel), seq))
    report.findings = kept


@dataclass
class CheckedArticle:
    """One article file after parsing and its schema check (what a worker sends back)."""

    rel: str
    findings: list[Finding]
    warc: Any = None
    record_id: Any = None
    readable: bool = True


def read_article(rel: str, path: str | Path) -> CheckedArticle:
    from archiver.base import schemas

    try:
        with open_regular(path) as fh:  # no pathlib: its objects add up over 100,000s of files
            doc = json.loads(fh.read())
    except OSError as exc:
        return CheckedArticle(rel, [Finding("error", "unreadable-article", rel,
                                            f"cannot read: {exc.strerror or exc}")],
                              readable=False)
    except ValueError as exc:
        return CheckedArticle(rel, [Finding("error", "unreadable-article", rel,
                                            f"not readable JSON: {exc}")], readable=False)
    if not isinstance(doc, dict):
        return CheckedArticle(rel, [Finding("error", "invalid-article", rel,
                                            "not a JSON object")], readable=False)
    findings = [Finding("error", "invalid-article", rel, f"{pointer or '/'}: {message}",
                        field=pointer or "/")
                for pointer, message in schemas.validate(doc, "article")]
    capture = doc.get("capture") or {}
    return CheckedArticle(rel, findings, capture.get("warc_path"), capture.get("record_id"))


def link_finding(archive: Archive, checked: CheckedArticle,
                 known: dict[str, set[str]]) -> Iterator[Finding]:
    """Is the article's source record one the manifest names?"""
    if not checked.readable:
        return
    warc, record_id, rel = checked.warc, checked.record_id, checked.rel
    if warc not in known:
        on_disk = isinstance(warc, str) and (archive.root / warc).is_file()
        # A WARC on disk but not in the manifest is an interrupted capture's orphan.
        yield Finding("warning" if on_disk else "error", "unlinked-article", rel,
                      f"its source WARC {warc!r} is not in the manifest"
                      + (" (orphan of an interrupted write)" if on_disk else ""))
    elif record_id not in known[warc]:
        yield Finding("error", "unlinked-article", rel,
                      f"its source record {record_id} is not a known record of {warc}")
