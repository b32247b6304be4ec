"""archiver against its anchors, side by side, in one run (issue 7).

    python benchmarks/run.py                  # full run, ~15 min (inputs cached after the first)
    python benchmarks/run.py --quick          # smaller inputs, < 3 min
    python benchmarks/run.py --only audit,validate --reps 5
    python benchmarks/run.py --cold           # also audit with the page cache dropped (root)

Benchmarks (names for --only):
    audit     `archiver audit` vs `sha256sum` over the same files of a real archive
              (1 GB, and 4 GB unless --no-4g; --quick: 256 MB), warm page cache
    validate  `archiver validate FILE` vs `warcio check FILE` on a 300 MB per-record-gzip
              WARC from make_big_warc.py (--quick: 60 MB), and on one of 1.6 MB incompressible
              pages (150 pairs, 186 MB; --quick: 40 pairs)
    capture   `archiver capture` (extraction on) vs `wget --warc-file -i urls.txt` on 500
              loopback pages of ~100 KB served by page_server.py (--quick: 100)
    extract   `archiver extract --all --force` vs `trafilatura.extract`
              (trafilatura_anchor.py) over the same stored pages, one process each
    unchanged `archiver extract --all` (articles current: skipped) vs `archiver extract --all
              --force` (every record re-derived) on the same archive (issue 16 item 7)
    corpus    `archiver validate` of a whole archive of 100,000 articles (--quick: 10,000);
              no anchor, the target is absolute
    export    `archiver export parquet` of the same 100,000 articles (--quick: 10,000) vs
              reading their files (json.loads each, writing nothing: the floor)

Inputs are built under --work (default benchmarks/work/, git-ignored) through archiver's
library and kept for the next run. Each repetition runs archiver and the anchor back to
back, alternating which goes first, each as a fresh process (imports and start-up
included); the table gives medians, the ratio of archiver's throughput to the anchor's
(> 1: archiver is faster) and each tool's peak RSS (largest process, from wait4). The
table, machine facts and the command are also written to WORK/results.md and results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The working tree's archiver, here and in every child process, installed or not.
sys.path[:0] = [str(HERE), str(REPO)]
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)

import builders  # noqa: E402
from measure import (  # noqa: E402
    PY,
    BenchError,
    Sample,
    compile_archiver,
    drop_page_cache,
    machine_facts,
    median,
    run_measured,
)

ARCHIVER = [PY, "-m", "archiver"]
ALL = ("audit", "validate", "capture", "extract", "unchanged", "corpus", "export")
SLOW_SAMPLE = 90.0  # seconds: a run this slow is measured once (the figure is clear enough)


# ---------------------------------------------------------------- model

@dataclass
class Side:
    """One tool's command, with what must happen (untimed) before each of its runs."""

    label: str
    cmd: list[str]
    before: Callable[[], None] | None = None
    ok_codes: tuple[int, ...] = (0,)
    samples: list[Sample] = field(default_factory=list)

    def run(self) -> Sample:
        if self.before:
            self.before()
        sample = run_measured(self.cmd, ok_codes=self.ok_codes)
        self.samples.append(sample)
        return sample

    @property
    def seconds(self) -> float:
        return median([s.seconds for s in self.samples])

    @property
    def rss(self) -> float:
        return max((s.peak_rss_mb for s in self.samples), default=float("nan"))


@dataclass
class Bench:
    name: str
    work: float  # units of work per run (MB, records, pages, articles)
    unit: str  # "MB/s", "records/s", ...
    archiver: Side
    anchor: Side | None
    target: str
    meets: Callable[[Bench], bool]
    warmup: bool = True
    note: str = ""

    def rate(self, side: Side) -> float:
        return self.work / side.seconds

    @property
    def ratio(self) -> float:
        return self.rate(self.archiver) / self.rate(self.anchor) if self.anchor else float("nan")


def measure_bench(bench: Bench, reps: int) -> Bench:
    """Warm up once (untimed), then alternate archiver and anchor for `reps` rounds."""
    sides = [bench.archiver] + ([bench.anchor] if bench.anchor else [])
    if bench.warmup:
        for side in sides:
            if side.before:
                side.before()
            run_measured(side.cmd, ok_codes=side.ok_codes)
    for i in range(reps):
        order = sides if i % 2 == 0 else sides[::-1]
        slow = [side.run().seconds > SLOW_SAMPLE for side in order]
        if any(slow):
            break
    return bench


# ---------------------------------------------------------------- benchmarks

def audit_bench(work: Path, size_mb: int, cold: bool) -> Bench:
    root = builders.build_audit_archive(work / f"audit-{size_mb}mb", size_mb * 1_000_000)
    files = [str(p) for p in builders.audit_files(root)]
    total_mb = sum(Path(p).stat().st_size for p in files) / 1e6
    before = drop_page_cache if cold else None
    label = f"audit {total_mb / 1000:.2f} GB" + (" cold" if cold else "")
    return Bench(
        label, total_mb, "MB/s",
        Side("archiver audit", [*ARCHIVER, "audit", "--archive", str(root), "--quiet"], before),
        Side("sha256sum", ["sha256sum", *files], before),
        "≥ 3.5× sha256sum, RSS ≤ 100 MB",
        lambda b: b.ratio >= 3.5 and b.archiver.rss <= 100,
        warmup=not cold,
        note=f"{len(files)} files" + (", page cache dropped before every run" if cold else
                                     ", warm page cache"))


def validate_bench(work: Path, records: int, page_kb: int | None = None) -> Bench:
    """`page_kb`: pages of that size, incompressible (base64 of random bytes), for the
    large-record case of issue 16 item 10; else make_big_warc's ~60 KB text pages."""
    large = ["--page-kb", str(page_kb), "--incompressible"] if page_kb else []
    warc = work / (f"noise-{records}x{page_kb}k.warc.gz" if page_kb else f"big-{records}.warc.gz")
    done = warc.with_suffix(".done")
    if not done.exists():
        subprocess.run([PY, str(HERE / "make_big_warc.py"), str(warc), "--records", str(records),
                        *large], check=True, stdout=subprocess.DEVNULL)
        done.touch()
    mb = warc.stat().st_size / 1e6
    return Bench(
        f"validate {mb:.0f} MB WARC" + (f" of {page_kb} KB records" if page_kb else ""),
        1 + 2 * records, "records/s",
        Side("archiver validate FILE", [*ARCHIVER, "validate", str(warc), "--quiet"]),
        # warcio digests chunked payloads before de-chunking, so it flags the generator's
        # every-20th chunked response (exit 1); archiver follows WARC 1.1 and finds none.
        Side("warcio check", [PY, "-m", "warcio.cli", "check", str(warc)], ok_codes=(0, 1)),
        "≥ 1.5× warcio check", lambda b: b.ratio >= 1.5,
        note=f"{mb:.0f} MB, {1 + 2 * records} records")


@contextmanager
def page_server(pages: int, urls: Path) -> Iterator[None]:
    proc = subprocess.Popen([PY, str(HERE / "page_server.py"), "--pages", str(pages),
                             "--urls-out", str(urls)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        if not proc.stdout.readline().strip():
            raise BenchError("page_server.py did not start")
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def fresh(path: Path) -> Callable[[], None]:
    """A `before` hook: remove what the previous run wrote, so each run starts empty."""
    def clear() -> None:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return clear


def capture_bench(work: Path, pages: int, urls: Path) -> Bench:
    target = work / "capture"
    target.mkdir(parents=True, exist_ok=True)
    archive = target / "archive"
    wget_base = target / "wget"
    return Bench(
        f"capture {pages} pages", pages, "pages/s",
        Side("archiver capture", [*ARCHIVER, "capture", "--seeds", str(urls), "--archive",
                                  str(archive), "--quiet"], fresh(archive)),
        Side("wget --warc-file", ["wget", "--quiet", f"--warc-file={wget_base}",
                                  "--no-warc-keep-log", "-i", str(urls), "-O", "/dev/null"],
             fresh(wget_base.with_suffix(".warc.gz"))),
        "≥ 1.0× wget", lambda b: b.ratio >= 1.0, warmup=False,
        note="loopback, ~100 KB pages, extraction on, archiver --workers default")


def captured_archive(work: Path, pages: int) -> Path:
    """An archive of `pages` captured pages for the extraction benchmark (built once)."""
    root = work / f"extract-{pages}"

    def build() -> None:
        urls = work / f"urls-extract-{pages}.txt"
        with page_server(pages, urls):
            run_measured([*ARCHIVER, "capture", "--seeds", str(urls), "--archive", str(root),
                          "--quiet"])

    return builders.cached(root, {"kind": "extract", "pages": pages}, build)


def trafilatura_works() -> bool:
    done = subprocess.run([PY, "-c", "import trafilatura"], capture_output=True)
    return done.returncode == 0


def extract_bench(work: Path, pages: int) -> Bench:
    root = captured_archive(work, pages)
    anchor = None
    note = "whole process, one process each (startup and WARC reading included)"
    if trafilatura_works():
        anchor = Side("trafilatura.extract", [PY, str(HERE / "trafilatura_anchor.py"),
                                              str(root)])
    else:
        note += "; trafilatura cannot be imported here, so no anchor"
    return Bench(
        f"extract {pages} pages", pages, "pages/s",
        Side("archiver extract --all --force", [*ARCHIVER, "extract", "--all", "--force",
                                                "--archive", str(root), "--quiet"]),
        anchor, "≥ 1.5× trafilatura", lambda b: b.ratio >= 1.5, note=note)


def unchanged_bench(work: Path, pages: int) -> Bench:
    """`extract --all` on an archive whose articles are all current: records are skipped,
    not re-derived; the yardstick re-derives them all (--force), as 0.1.0 did."""
    root = captured_archive(work, pages)
    cmd = [*ARCHIVER, "extract", "--all", "--archive", str(root), "--quiet"]
    return Bench(
        f"extract --all, nothing changed, {pages} pages", pages, "pages/s",
        Side("archiver extract --all", cmd),
        Side("archiver extract --all --force", [*cmd, "--force"]),
        "≥ 2× --force", lambda b: b.ratio >= 2.0,
        note="whole process; both read every WARC, only --force runs the extractor")


def corpus_bench(work: Path, articles: int) -> Bench:
    root = builders.build_corpus_archive(work / f"corpus-{articles}", articles)
    limit = 10.0 * articles / 100_000  # issue 7: 100,000 articles in 10 s; scaled for --quick
    return Bench(
        f"corpus validate {articles:,} articles", articles, "articles/s",
        Side("archiver validate", [*ARCHIVER, "validate", "--archive", str(root), "--quiet"]),
        None, f"≤ {limit:g} s", lambda b: b.archiver.seconds <= limit, warmup=False,
        note=f"{articles // builders.RECORDS_PER_WARC or 1} WARCs of stub records, "
             f"{articles:,} manifest entries")


# Reads every article file the way export does (bytes, then json.loads), writes nothing.
READ_ARTICLES = ("import json, pathlib, sys\n"
                 "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.json')):\n"
                 "    json.loads(p.read_bytes())\n")


def export_bench(work: Path, articles: int) -> Bench:
    root = builders.build_corpus_archive(work / f"corpus-{articles}", articles)
    out = work / f"export-{articles}.parquet"
    limit = 15.0 * articles / 100_000  # issue 14: 100,000 articles in 15 s; scaled for --quick

    def clear() -> None:
        out.unlink(missing_ok=True)
        out.with_name(out.name + ".meta.json").unlink(missing_ok=True)

    return Bench(
        f"export parquet {articles:,} articles", articles, "articles/s",
        Side("archiver export parquet", [*ARCHIVER, "export", "parquet", str(out),
                                         "--archive", str(root), "--quiet"], clear),
        Side("read the article files", [PY, "-c", READ_ARTICLES, str(root / "articles")]),
        f"≤ {limit:g} s, RSS ≤ 300 MB",
        lambda b: b.archiver.seconds <= limit and b.archiver.rss <= 300,
        note=f"{articles:,} article files, one row each, zstd Parquet")


# ---------------------------------------------------------------- plan

@dataclass(frozen=True)
class Plan:
    audit_mb: tuple[int, ...]
    warc_records: int
    large_records: int  # request/response pairs of 1.6 MB incompressible pages
    pages: int
    articles: int
    reps: int


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        return Plan((256,), 1000, 40, 100, 10_000, args.reps or 3)
    sizes = (1000,) if args.no_4g or not room_for(args.work, 4000 * 1.3) else (1000, 4000)
    return Plan(sizes, 5000, 150, 500, 100_000, args.reps or 5)


def room_for(work: Path, mb: float) -> bool:
    work.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(work).free / 1e6 > mb * 2  # leave the disk half its space


def benches(names: Sequence[str], plan: Plan, work: Path,
            cold: bool) -> Iterator[tuple[Bench, int]]:
    """(benchmark, repetitions) in order; inputs are built lazily, just before each."""
    if "audit" in names:
        for mb in plan.audit_mb:
            yield audit_bench(work, mb, cold=False), plan.reps if mb <= 1000 else 3
        if cold:
            yield audit_bench(work, plan.audit_mb[0], cold=True), 3
    if "validate" in names:
        yield validate_bench(work, plan.warc_records), plan.reps
        yield validate_bench(work, plan.large_records, page_kb=1600), plan.reps
    if "capture" in names:
        urls = work / "urls-capture.txt"
        with page_server(plan.pages, urls):
            yield capture_bench(work, plan.pages, urls), min(plan.reps, 3)
    if "extract" in names:
        yield extract_bench(work, plan.pages), min(plan.reps, 3)
    if "unchanged" in names:
        yield unchanged_bench(work, plan.pages), min(plan.reps, 3)
    if "corpus" in names:
        yield corpus_bench(work, plan.articles), 3
    if "export" in names:
        yield export_bench(work, plan.articles), 3


# ---------------------------------------------------------------- report

def fmt_rate(bench: Bench, side: Side | None) -> str:
    if side is None or not side.samples:
        return "n/a"
    return f"{bench.rate(side):,.0f} {bench.unit} ({side.seconds:.2f} s)"


def table(results: list[Bench]) -> str:
    head = ["benchmark", "archiver", "anchor", "ratio", "archiver RSS", "anchor RSS", "target",
            "met"]
    rows = [head, ["---"] * len(head)]
    for b in results:
        anchor_label = f"{b.anchor.label}: {fmt_rate(b, b.anchor)}" if b.anchor else "n/a"
        rows.append([
            b.name, fmt_rate(b, b.archiver), anchor_label,
            f"{b.ratio:.2f}×" if b.anchor and b.anchor.samples else "n/a",
            f"{b.archiver.rss:.0f} MB",
            f"{b.anchor.rss:.0f} MB" if b.anchor and b.anchor.samples else "n/a",
            b.target, "yes" if b.meets(b) else "NO",
        ])
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def notes(results: list[Bench]) -> str:
    lines = []
    for b in results:
        n = len(b.archiver.samples)
        lines.append(f"- {b.name}: {b.note}; median of {n} run{'s' if n > 1 else ''}; "
                     "archiver runs: " + ", ".join(f"{s.seconds:.2f}" for s in b.archiver.samples)
                     + (" s; anchor runs: " + ", ".join(f"{s.seconds:.2f}"
                                                          for s in b.anchor.samples)
                        if b.anchor else "") + " s")
    return "\n".join(lines)


def write_report(work: Path, results: list[Bench], facts: dict[str, str], command: str) -> str:
    text = (f"Command: `{command}`\n\n"
            + "\n".join(f"- {k}: {v}" for k, v in facts.items())
            + "\n\n" + table(results) + "\n\n" + notes(results) + "\n")
    (work / "results.md").write_text(text)
    raw = {"command": command, "machine": facts, "results": [
        {"name": b.name, "unit": b.unit, "work": b.work, "target": b.target, "met": b.meets(b),
         "archiver": [s.__dict__ for s in b.archiver.samples],
         "anchor": [s.__dict__ for s in b.anchor.samples] if b.anchor else None}
        for b in results]}
    (work / "results.json").write_text(json.dumps(raw, indent=1))
    return text


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--quick", action="store_true", help="small inputs (< 3 min)")
    ap.add_argument("--only", default=",".join(ALL),
                    help=f"comma-separated subset of {','.join(ALL)}")
    ap.add_argument("--reps", type=int, default=0, help="repetitions [5; --quick: 3]")
    ap.add_argument("--no-4g", action="store_true", help="skip the 4 GB audit")
    ap.add_argument("--cold", action="store_true",
                    help="also audit with the page cache dropped before every run (root)")
    ap.add_argument("--work", type=Path, default=HERE / "work", help="inputs and results")
    args = ap.parse_args(argv)
    unknown = set(args.only.split(",")) - set(ALL)
    if unknown:
        ap.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.cold and not drop_page_cache():
        print("--cold: cannot drop the page cache here (not root?); skipping cold runs")
        args.cold = False
    compile_archiver()
    plan = make_plan(args)
    command = "python benchmarks/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    results = []
    for bench, reps in benches(args.only.split(","), plan, args.work, args.cold):
        print(f"-- {bench.name} ({reps} rounds) ...", flush=True)
        results.append(measure_bench(bench, reps))
        print(table(results[-1:]).splitlines()[-1], flush=True)
    report = write_report(args.work, results, machine_facts(), command.strip())
    print("\n" + report + f"\ntotal {time.monotonic() - started:.0f} s; "
          f"written to {args.work / 'results.md'}")
    return 0 if all(b.meets(b) for b in results) else 1


if __name__ == "__main__":
    sys.exit(main())
