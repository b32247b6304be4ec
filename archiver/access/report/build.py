"""Build the report folder: read the chain and the catalog, compute the figures, draw the
charts, write the pages. Nothing is written into the archive: the catalog of a read-only
archive is a private copy (Catalog.open), and the output folder may not lie inside the
archive at all.

The folder is written under a temporary name beside its final one and renamed into place
at the end, so an interrupted build leaves the previous report whole. An existing folder
is replaced only when an earlier `archiver report` made it (it holds MARKER).
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from archiver.access import snapshots
from archiver.access.report import articles, chain, charts, figures, pages, search_index
from archiver.base.errors import StoreError, UnreadableInputError, UsageError
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog

MARKER = ".archiver-report"
DEFAULT_REPLAY = "http://127.0.0.1:8080/archive/"  # `archiver replay`'s collection URL
ASSETS = ("style.css", "search.js")
PROOF_FOLDERS = ("timestamps", "checkpoints")
ARTICLES_PER_FILE = 100  # article sections per page file in a/

Progress = Callable[[str, int, int], None]  # stage, done, total


@dataclass
class Options:
    out_dir: Path | None = None  # default: report/ beside the archive
    replay_base: str = DEFAULT_REPLAY
    max_articles: int | None = None
    now: datetime | None = None  # "time since last verified" is measured from here


@dataclass
class Result:
    out_dir: Path
    empty: bool
    figures: figures.Figures
    health: dict[str, Any] = field(default_factory=dict)
    articles: int = 0
    article_pages: int = 0
    damaged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def json_lines(self) -> list[dict[str, Any]]:
        """What --json prints: every figure, the health facts, then a summary."""
        out: list[dict[str, Any]] = [f.to_dict() for f in self.figures.all()]
        out.append({"health": self.health})
        out.append({"event": "summary", "out": str(self.out_dir), "empty": self.empty,
                    "articles": self.articles, "article_pages": self.article_pages,
                    "damaged": self.damaged, **self.figures.totals})
        return out


def default_out_dir(archive: Archive) -> Path:
    return archive.root.parent / "report"


def now_from_environment() -> datetime:
    """SOURCE_DATE_EPOCH (reproducible builds) when set, else the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def check_out_dir(archive: Archive, out_dir: Path) -> Path:
    """The output folder, refused inside the archive (a report is not part of it) and in
    place of a folder that an earlier report did not make."""
    out = out_dir.absolute()
    root = archive.root.resolve()
    if out.resolve() == root or out.resolve().is_relative_to(root):
        raise UsageError(f"{out_dir}: inside the archive {archive.root}; a report is written "
                         "beside the archive, never into it (give another OUT_DIR)")
    if root.is_relative_to(out.resolve()):  # an earlier report's folder is replaced whole
        raise UsageError(f"{out_dir}: holds the archive {archive.root}; a report is written "
                         "beside the archive (give another OUT_DIR)")
    if out.exists() and (not out.is_dir() or (any(out.iterdir())
                                              and not (out / MARKER).is_file())):
        raise UsageError(f"{out_dir}: exists and is not a report folder made by archiver "
                         "report; give an empty or new OUT_DIR")
    return out


def build_report(archive: Archive, options: Options | None = None,
                 progress: Progress | None = None) -> Result:
    options = options or Options()
    if not archive.root.is_dir():
        raise UsageError(f"{archive.root}: no archive here")
    out = check_out_dir(archive, options.out_dir or default_out_dir(archive))
    now = options.now or now_from_environment()
    work = _scratch(out)
    try:
        result = _write(archive, options, now, work, out, progress or _quiet)
        (work / MARKER).write_text("made by archiver report\n", encoding="utf-8")
        work.chmod(0o755)  # mkdtemp made it private; a report is for reading
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return result


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def _scratch(out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise UsageError(f"{out}: cannot write the report: {exc.strerror or exc}") from exc


def _write(archive: Archive, options: Options, now: datetime, work: Path, out: Path,
           progress: Progress) -> Result:
    size = archive.manifest_path.stat().st_size if archive.manifest_path.is_file() else 0
    done = [0]

    def read_progress(n: int) -> None:
        done[0] += n
        progress("manifest", done[0], size)

    events = chain.read(archive.manifest_path, read_progress if size else None)
    name = archive.root.name
    generated = now.isoformat(timespec="seconds").replace("+00:00", "Z")
    for asset in ASSETS:
        (work / asset).write_bytes(
            resources.files("archiver.access.report").joinpath("assets", asset).read_bytes())
    (work / "data").mkdir()
    (work / "a").mkdir()
    if events.empty:
        return _write_empty(archive, work, out, name, generated, events)
    try:
        catalog = Catalog.open(archive)
    except StoreError as exc:
        raise UnreadableInputError(f"{exc}; `archiver index --rebuild` remakes it") from exc
    with catalog:
        return _write_full(archive, catalog.for_scans(), events, options, now, work, out,
                           name, generated, progress)


def _write_empty(archive: Archive, work: Path, out: Path, name: str, generated: str,
                 events: chain.Chain) -> Result:
    figs = figures.Figures(totals={"captures": 0, "articles": 0, "snapshots": 0})
    (work / "index.html").write_text(pages.overview(name, {}, [], True, generated),
                                     encoding="utf-8")
    health = pages.health(name, events, {}, _proofs(archive.root, None), {}, [], generated)
    (work / "health.html").write_text(health, encoding="utf-8")
    (work / "articles.html").write_text(pages.articles_list(name, 0, generated),
                                        encoding="utf-8")
    (work / "search-index.js").write_text(search_index.script([]), encoding="utf-8")
    return Result(out, True, figs, {"empty": True})


def _write_full(archive: Archive, catalog: Catalog, events: chain.Chain,
                options: Options, now: datetime, work: Path, out: Path, name: str,
                generated: str, progress: Progress) -> Result:
    conn = catalog.conn
    histories = snapshots.group(snapshots.snapshot_from_row(r) for r in catalog.snapshots_of())
    latest = [h.latest.row or {} for h in histories.values()]
    first = {h.article_id: str((h.snapshots[0].row or {}).get("captured_at") or "")
             for h in histories.values()}
    figs = figures.compute(conn, latest, first, events, now)
    head_seq = max(events.events)
    figs.totals["head_seq"] = head_seq
    sections = []
    drawn = charts.available()
    for i, fig in enumerate(figs.overview):
        progress("charts", i, len(figs.overview))
        svg = charts.svg(fig) if drawn else charts.MISSING
        sections.append(pages.figure_section(fig, svg, f"data/{fig.name}.csv"))
    for fig in figs.all():
        _write_csv(work / "data" / f"{fig.name}.csv", fig.rows())
    (work / "index.html").write_text(pages.overview(name, figs.totals, sections, False,
                                                    generated), encoding="utf-8")
    ordered = sorted(histories.values(), key=_newest_first)
    limit = len(ordered) if options.max_articles is None else min(options.max_articles,
                                                                  len(ordered))
    files = -(-limit // ARTICLES_PER_FILE)
    damaged: list[str] = []
    index: list[list[Any]] = []
    group: list[str] = []
    for i, history in enumerate(ordered):
        row = history.latest.row or {}
        href = None
        if i < limit:
            progress("articles", i, limit)
            v = articles.view(archive, conn, history, events)
            damaged += v.damaged
            number = i // ARTICLES_PER_FILE
            href = f"a/{number:05d}.html#{v.slug}"
            group.append(pages.article(v, options.replay_base,
                                       _screenshots(archive, v, work / "shots")))
            if len(group) == ARTICLES_PER_FILE or i == limit - 1:
                (work / f"a/{number:05d}.html").write_text(
                    pages.article_group(group, number, files), encoding="utf-8")
                group = []
        date = snapshots.publication_date({"published_at": row.get("published_at")})
        index.append(search_index.entry(history.article_id, href, row.get("title"),
                                        row.get("byline"), date, row.get("source"),
                                        len(history.snapshots)))
    (work / "articles.html").write_text(pages.articles_list(name, len(index), generated),
                                        encoding="utf-8")
    (work / "search-index.js").write_text(search_index.script(index), encoding="utf-8")
    proofs = _proofs(archive.root, head_seq)
    proofs["events"] = events.proofs
    proofs["tsas"] = events.tsas
    skips = _crawl_skips(archive, list(events.crawls))
    health_charts = {fig.name: pages.figure_section(
        fig, charts.svg(fig) if drawn else charts.MISSING, f"data/{fig.name}.csv")
        for fig in figs.health}
    (work / "health.html").write_text(
        pages.health(name, events, health_charts, proofs, skips, damaged, generated),
        encoding="utf-8")
    health = _health_facts(events, proofs, skips)
    result = Result(out, False, figs, health, len(ordered), limit, damaged)
    if not drawn:
        result.warnings.append("matplotlib is not installed: the report has its tables but "
                               "no charts (pip install 'archiver[report]')")
    return result


def _newest_first(history: snapshots.ArticleHistory) -> tuple[int, str, str]:
    """As `archiver ls --sort date --reverse`: newest publication first, undated last."""
    row = history.latest.row or {}
    date = snapshots.publication_date({"published_at": row.get("published_at")})
    if date is None:
        return (1, "", history.article_id)
    try:
        instant = datetime.fromisoformat(date.replace("Z", "+00:00"))
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        key = f"{9999999999 - instant.timestamp():020.6f}"
    except ValueError:
        key = date
    return (0, key, history.article_id)


def _write_csv(path: Path, rows: list[list[Any]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _screenshots(archive: Archive, view: articles.ArticleView, folder: Path
                 ) -> dict[str, str]:
    saved = {}
    for capture in view.screenshots:
        data = articles.screenshot_bytes(archive, capture)
        if data is None:
            continue
        import hashlib

        ext = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}.get(
            str(capture["mime"]).split(";")[0], "img")
        name = f"shots/{hashlib.sha256(data).hexdigest()[:32]}.{ext}"
        folder.mkdir(exist_ok=True)
        (folder.parent / name).write_bytes(data)
        saved[str(capture["record_id"])] = name
    return saved


def _proofs(root: Path, head_seq: int | None) -> dict[str, Any]:
    """Files beside the manifest that prove its heads (signatures, time-stamps,
    checkpoints: any `manifest.*` other than the manifest and its lock), read generically:
    their lines and the highest `seq` any line names."""
    files = []
    signed = {"count": 0, "last_seq": None}
    candidates = sorted(root.glob("manifest.*")) if root.is_dir() else []
    for path in candidates:
        if path.name in ("manifest.jsonl", "manifest.jsonl.lock") or not path.is_file():
            continue
        lines, last = 0, None
        try:
            with open(path, "rb") as f:
                for raw in f:
                    lines += 1
                    try:
                        seq = json.loads(raw).get("seq")
                    except (ValueError, AttributeError):
                        continue
                    if isinstance(seq, int):
                        last = seq if last is None else max(last, seq)
        except OSError:
            continue
        files.append({"name": path.name, "lines": lines, "last_seq": last})
        if path.name == "manifest.sig.jsonl":
            signed = {"count": lines, "last_seq": last}
    return {"files": files, "signed": signed, "head_seq": head_seq, "events": [],
            "folders": _proof_folders(root)}


def _proof_folders(root: Path) -> list[dict[str, Any]]:
    """Proof files kept in folders beside the manifest (RFC 3161 replies in timestamps/,
    checkpoints and witness cosignatures in checkpoints/), counted by kind: the file
    name's last suffix."""
    out = []
    for name in PROOF_FOLDERS:
        folder = root / name
        if not folder.is_dir():
            continue
        kinds: dict[str, int] = {}
        for path in folder.rglob("*"):
            if path.is_file():
                kinds[path.suffix or "(none)"] = kinds.get(path.suffix or "(none)", 0) + 1
        out += [{"folder": f"{name}/", "kind": k, "files": n} for k, n in sorted(kinds.items())]
    return out


def _crawl_skips(archive: Archive, crawl_ids: list[str]) -> dict[str, dict[str, int]]:
    """Skipped URLs by reason, from each crawl's state (read-only, immutable: never a
    journal or lock file in the archive)."""
    out: dict[str, dict[str, int]] = {}
    for crawl_id in crawl_ids:
        path = archive.root / "crawls" / crawl_id / "state.sqlite"
        if not path.is_file():
            continue
        try:
            conn = sqlite3.connect(f"{path.as_uri()}?immutable=1", uri=True)
            try:
                out[crawl_id] = {str(r): int(n) for r, n in conn.execute(
                    "SELECT reason, count(*) FROM urls WHERE state = 'skipped' "
                    "GROUP BY reason")}
            finally:
                conn.close()
        except sqlite3.Error:
            continue
    return out


def _health_facts(events: chain.Chain, proofs: dict[str, Any],
                  skips: dict[str, dict[str, int]]) -> dict[str, Any]:
    last = events.audits[-1] if events.audits else None
    return {
        "last_audit": None if last is None else {k: last[k] for k in ("seq", "at", "status",
                                                                      "detail")},
        "audits": len(events.audits),
        "copies": [c.to_dict() for c in events.copies],
        "replicas": events.replicas,
        "proofs": {"files": proofs["files"], "signed": proofs["signed"],
                   "folders": proofs["folders"], "tsas": events.tsas,
                   "events": [p.to_dict() for p in events.proofs]},
        "crawls": [dict(run.to_dict(), skips=skips.get(run.crawl_id, {}))
                   for run in events.crawls.values()],
        "event_types": dict(sorted(events.types.items())),
        "unreadable_manifest_lines": events.unreadable_lines,
    }
