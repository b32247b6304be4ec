"""Synthetic inputs for the benchmarks, built through archiver's own library so they are real
archives (WARC files, article files, a hash-chained manifest that audits and validates clean),
but without capturing gigabytes over HTTP.

Every builder caches its output under the work folder with a marker naming its parameters;
an interrupted build has no marker and is rebuilt from scratch.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
# vov_pages (the synthetic VOV-template pages) lives in tests/; archiver may not be installed.
for _path in (REPO / "tests", REPO):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from archiver import extract  # noqa: E402
from archiver.pipeline.commit import ArticleOutcome, StoredUnit, record_event, store_warc  # noqa: E402
from archiver.store import manifest  # noqa: E402
from archiver.store.archive import Archive, FileInfo  # noqa: E402
from archiver.store.warc import (  # noqa: E402
    RecordRef,
    StoredRecord,
    WarcFileWriter,
    new_record_id,
    sha256_label,
)

OPERATOR = "benchmarks"
BASE_TIME = datetime(2025, 3, 1, tzinfo=UTC)
MARKER = ".bench-complete"
EMPTY_SHA256 = sha256_label(hashlib.sha256(b"").digest())
# Real news pages carry ~100 KB of HTML, mostly navigation, footers and inline scripts; the
# generated VOV pages are the article alone (5-11 KB), so padding brings them to size.
PAGE_BYTES = 100_000


# ---------------------------------------------------------------- shared helpers

def cached(root: Path, params: dict[str, Any], build: Callable[[], None]) -> Path:
    """Run `build` unless `root` already holds a complete build with these parameters."""
    marker = root / MARKER
    wanted = json.dumps(params, sort_keys=True)
    if marker.is_file() and marker.read_text() == wanted:
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    build()
    marker.write_text(wanted)
    return root


def vov_pages(n: int, seed: int = 7) -> list[tuple[str, bytes]]:
    """n varied VOV-template pages (url, html) padded to ~PAGE_BYTES."""
    import vov_pages as gen

    return [(url, pad_page(html, i)) for i, (url, html) in enumerate(gen.generate(n, seed))]


def pad_page(html: bytes, n: int, size: int = PAGE_BYTES) -> bytes:
    """Add site chrome (a footer of links and an inline script) before </body>, outside the
    article container, the way real pages carry it."""
    links = "".join(f'<li><a href="/tag/chu-de-{n}-{k}.vov">Chủ đề {n} số {k}</a></li>'
                    for k in range(400))
    footer = f'<footer class="site-footer"><ul class="menu">{links}</ul></footer>'
    missing = max(0, size - len(html) - len(footer.encode()) - 40)
    script = "<script>window.__STATE__=" + json.dumps({"k": "x" * missing}) + ";</script>"
    return html.replace(b"</body>", (footer + script).encode() + b"</body>", 1)


def http_response(body: bytes) -> bytes:
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    return head + body


def _split(n: int, jobs: int) -> list[list[int]]:
    return [list(range(j, n, jobs)) for j in range(jobs)]


# ---------------------------------------------------------------- audit archive

AUDIT_FILE_BYTES = 550_000  # mean WARC size: ~2000 files per GB, as in issue 7's figure


def build_audit_archive(root: Path, total_bytes: int, jobs: int = 2) -> Path:
    """An archive of ~total_bytes: one WARC per synthetic capture (request, HTML response,
    a random-bytes image resource), an article for every 4th capture, one manifest entry each.
    Random image bytes do not compress, so the WARCs are as big on disk as they claim."""
    files = max(1, total_bytes // AUDIT_FILE_BYTES)

    def build() -> None:
        Archive(root).ensure()
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(_audit_files, [root] * jobs, _split(files, jobs)))

    return cached(root, {"kind": "audit", "bytes": total_bytes}, build)


def _audit_files(root: Path, indexes: list[int]) -> None:
    archive = Archive(root)
    pages = vov_pages(64)
    for i in indexes:
        _audit_capture(archive, i, *pages[i % len(pages)])


def _audit_capture(archive: Archive, i: int, url: str, html: bytes) -> None:
    rng = random.Random(i)
    when = BASE_TIME + timedelta(seconds=37 * i)
    image = rng.randbytes(rng.randint(100_000, 1_000_000))  # mean ~550 KB
    with_article = i % 4 == 0

    def write(w: WarcFileWriter) -> RecordRef:
        response_id = new_record_id()
        request = f"GET {urlsplit(url).path} HTTP/1.1\r\nHost: vov.vn\r\n\r\n".encode()
        w.write_record("request", url, request, when, payload_digest=EMPTY_SHA256,
                       content_type="application/http; msgtype=request",
                       extra={"WARC-Concurrent-To": response_id})
        ref = w.write_record("response", url, http_response(html), when,
                             content_type="application/http; msgtype=response",
                             payload_digest=sha256_label(hashlib.sha256(html).digest()),
                             record_id=response_id)
        w.write_record("resource", f"https://media.vov.vn/bench/{i}.jpg", image, when,
                       content_type="image/jpeg",
                       payload_digest=sha256_label(hashlib.sha256(image).digest()))
        return ref

    unit = store_warc(archive, when, OPERATOR, f"synthetic capture {i} (benchmarks)", write,
                      derive=with_article)
    record_event(archive, "capture", "success", "HTTP 200 (synthetic benchmark capture)",
                 OPERATOR, source={"url": url, "final_url": url, "status": 200},
                 **unit.manifest_fields())


def audit_files(root: Path) -> list[Path]:
    """Every file the manifest names (what both audit and sha256sum read)."""
    names: dict[str, None] = {}
    for entry in manifest.iter_entries(root / "manifest.jsonl"):
        for f in entry.get("files") or []:
            names.setdefault(f["path"], None)
    return [root / n for n in names]


# ---------------------------------------------------------------- corpus archive

RECORDS_PER_WARC = 1000


def build_corpus_archive(root: Path, articles: int, jobs: int = 2) -> Path:
    """`articles` schema-valid article files, each linked to its own response record named
    in the manifest (one capture entry per article). The articles are real extractor output
    for generated VOV pages, re-keyed by id, URL and snapshot. The records carry a small
    stub payload: validate's WARC throughput is benchmark 2's subject, so this archive's
    bytes are mostly articles and manifest, as the corpus check is what is timed here."""
    warcs = -(-articles // RECORDS_PER_WARC)

    def build() -> None:
        archive = Archive(root).ensure()
        templates = article_templates(48)
        with ProcessPoolExecutor(jobs) as pool:
            parts = pool.map(_corpus_warcs, [root] * jobs, _split(warcs, jobs),
                             [templates] * jobs, [articles] * jobs)
            bodies = [b for part in parts for b in part]
        bodies.sort(key=lambda b: b["at"])
        write_manifest(archive.manifest_path, bodies)

    return cached(root, {"kind": "corpus", "articles": articles}, build)


def article_templates(n: int) -> list[dict[str, Any]]:
    """Articles extracted by archiver itself from n generated pages (not padded: the article
    is the same with or without site chrome)."""
    import vov_pages as gen

    out = []
    for url, html in gen.generate(n, seed=11):
        source = extract.SourceRecord(
            url=url, payload=html, content_type="text/html; charset=utf-8",
            warc_path="warcs/x.warc.gz", record_id=new_record_id(),
            warc_date="2025-03-01T00:00:00.000000Z",
            payload_digest=sha256_label(hashlib.sha256(html).digest()), http_status=200)
        doc = extract.extract(source)
        if isinstance(doc, dict):
            out.append(doc)
    if not out:
        raise RuntimeError("the extractor produced no article from the generated pages")
    return out


def _corpus_warcs(root: Path, warc_indexes: list[int], templates: list[dict[str, Any]],
                  total: int) -> list[dict[str, Any]]:
    archive = Archive(root)
    bodies: list[dict[str, Any]] = []
    for w in warc_indexes:
        first = w * RECORDS_PER_WARC
        numbers = range(first, min(total, first + RECORDS_PER_WARC))
        bodies += _corpus_warc(archive, w, numbers, templates)
    return bodies


def _corpus_warc(archive: Archive, w: int, numbers: range,
                 templates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    when = BASE_TIME + timedelta(hours=w)
    rel = archive.warc_relpath(f"bench-corpus-{w:05d}", when)
    planned = [_plan_article(n, templates) for n in numbers]
    refs: list[RecordRef] = []
    with archive.atomic_file(rel) as f:
        writer = WarcFileWriter(f, Path(rel).name)
        writer.write_warcinfo({"software": "archiver benchmarks", "operator": OPERATOR}, when)
        for k, (url, stub) in enumerate(planned):
            at = when + timedelta(seconds=k)
            refs.append(writer.write_record(
                "response", url, http_response(stub), at,
                content_type="application/http; msgtype=response",
                payload_digest=sha256_label(hashlib.sha256(stub).digest())))
    warc = archive.file_info(rel)
    return [_article_entry(archive, warc, ref, n, templates)
            for ref, n in zip(refs, numbers, strict=True)]


def _plan_article(n: int, templates: list[dict[str, Any]]) -> tuple[str, bytes]:
    template = templates[n % len(templates)]
    url = _rekeyed_url(template["url"], template["id"], n)
    stub = (f"<!doctype html><html><head><link rel=canonical href='{url}'>"
            f"<title>Article {n}</title></head><body><p>stub {n}</p></body></html>").encode()
    return url, stub


def _rekeyed_url(url: str, article_id: str, n: int) -> str:
    post = article_id.removeprefix("vov-")
    return url.replace(f"post{post}", f"post{3_000_000 + n}")


def _article_entry(archive: Archive, warc: FileInfo, ref: RecordRef, n: int,
                   templates: list[dict[str, Any]]) -> dict[str, Any]:
    """Write article n's file and return its manifest event body (no chain fields yet)."""
    template = templates[n % len(templates)]
    url = ref.target_uri or ""
    doc = dict(template, id=f"vov-{3_000_000 + n}", url=url, canonical_url=url)
    doc["capture"] = dict(template["capture"], warc_path=warc.path, record_id=ref.record_id,
                          warc_date=ref.date, payload_digest=ref.payload_digest, url=url)
    record = StoredRecord(Path(warc.path), ref.offset, "response",
                          {"WARC-Date": ref.date, "WARC-Record-ID": ref.record_id}, 200, {},
                          b"", False)
    from archiver.pipeline.commit import article_relpath

    outcome = ArticleOutcome("stored", article=doc, path=article_relpath(doc["id"], record))
    data = extract.article_json_bytes(doc)
    path = archive.resolve(outcome.path or "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)  # no fsync: a benchmark input, not an archive anyone keeps
    info = FileInfo(outcome.path or "", hashlib.sha256(data).hexdigest(), len(data))
    outcome.sha256 = info.sha256
    unit = StoredUnit(warc, [ref], outcome, info)
    return {"at": ref.date,
            "source": {"url": url, "final_url": url, "status": 200},
            **unit.manifest_fields()}


def write_manifest(path: Path, bodies: list[dict[str, Any]]) -> None:
    """Chain the event bodies exactly as manifest.append does, in one buffered write
    (append's per-entry lock and fsync would make 100,000 entries take minutes)."""
    base = manifest.new_event("capture", "success", "", operator=OPERATOR)
    prev = manifest.GENESIS
    with path.open("wb") as out:
        for seq, body in enumerate(bodies):
            entry = dict(base, **body)
            entry["outcome"] = {"status": "success",
                                "detail": f"HTTP 200; article {body['articles'][0]['id']}"}
            entry["seq"], entry["prev"] = seq, prev
            entry["hash"] = prev = manifest.entry_hash(entry)
            out.write(manifest.canonical(entry) + b"\n")
