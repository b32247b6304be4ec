"""`archiver report`: the figures against what `ls`, `search` and `export` say, the article
pages, and bad input (empty archive, 0.1.0-layout captures only, undated articles, a damaged
article file, a read-only archive, an OUT_DIR inside the archive). The rendering in
Chromium is tests/test_report_browser.py."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import SEED_DOCUMENT, Cli, free_port
from crawl_site import NewsSite
from news_site import PARAGRAPHS, serve_news, three_snapshots

from archiver.access.report import charts, search_index
from archiver.access.report.figures import Figure
from archiver.store.fulltext import fold

ASSETS = Path(__file__).resolve().parents[1] / "archiver" / "access" / "report" / "assets"


@pytest.fixture
def news():
    yield from serve_news()


def report(run: Cli, out: Path, *args: str) -> tuple[int, list[dict]]:
    result = run("report", str(out), "--json", *args)
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.strip()]
    return result.exit_code, lines


def index_entries(out: Path) -> list[list]:
    text = (out / "search-index.js").read_text(encoding="utf-8")
    return json.loads(text.removeprefix("window.ARCHIVER_SEARCH=").removesuffix(";\n"))


def figure(lines: list[dict], name: str) -> dict:
    return next(x for x in lines if x.get("figure") == name)


def series_total(fig: dict) -> int:
    return sum(sum(v) for v in fig["series"].values())


def test_seed_report_matches_ls_search_and_export(run, archive_dir, tmp_path):
    """The README's main job: ingest the seed (one WARC per document: the 0.1.0 layout),
    audit, report; the seed's article page carries its provenance."""
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    assert run("audit", "--record").exit_code == 0
    out = tmp_path / "report"
    code, lines = report(run, out)
    assert code == 0, lines
    summary = lines[-1]
    ls = run.json_lines("ls")
    assert summary["articles"] == len(ls) == 1 and summary["article_pages"] == 1
    # sources and authors as ls gives them; the seed states no date: undated
    assert figure(lines, "top_sources")["x"] == [ls[0]["source"]] == ["VOV.VN"]
    assert figure(lines, "top_authors")["x"] == ["PV"]
    lag = figure(lines, "publish_to_capture_lag")
    assert dict(zip(lag["x"], lag["series"]["articles"], strict=True))["undated"] == 1
    # every capture record the export lists, counted once per day, hour, status class
    exported = tmp_path / "captures.jsonl"
    assert run("export", "jsonl", str(exported), "--what", "captures").exit_code == 0
    captures = [json.loads(x) for x in exported.read_text().splitlines()]
    for name in ("captures_per_day", "captures_per_hour", "status_classes", "mime_types",
                 "revisits"):
        assert series_total(figure(lines, name)) == len(captures) == summary["captures"]
    assert figure(lines, "status_classes")["series"] == {"resource (no HTTP)": [1]}
    # WARC bytes: the file the ingestion entry names
    entry = json.loads((archive_dir / "manifest.jsonl").read_text().splitlines()[0])
    warc_size = sum(f["size"] for f in entry["files"] if f["path"].endswith(".warc.gz"))
    assert figure(lines, "growth")["series"]["bytes"][-1] == warc_size
    # health: the recorded audit, no copies, no proofs, no crawl
    health = next(x["health"] for x in lines if "health" in x)
    assert health["last_audit"]["status"] == "success" and health["audits"] == 1
    assert health["copies"] == [] and health["crawls"] == []
    coverage = figure(lines, "fixity_coverage")
    assert coverage["series"]["by a recorded audit"][0] == 2  # the WARC and the article file
    # the article page: its capture record and both manifest events with seq and hash
    page = (out / "a" / "00000.html").read_text()
    assert '<article id="vov-1064050">' in page
    entries = [json.loads(x) for x in (archive_dir / "manifest.jsonl").read_text().splitlines()]
    [resource] = [r for r in entry["records"] if r["type"] == "resource"]
    assert entries[0]["hash"] in page and html.escape(resource["id"]) in page
    assert "http://127.0.0.1:8080/archive/" in page and "PV/VOV.VN" in page
    assert entries[1]["hash"] not in page  # the audit does not concern the article alone
    # the search box's index holds the folded byline and the id, as search folds them
    index = (out / "search-index.js").read_text()
    assert "pv/vov.vn" in index and '"a/00000.html#vov-1064050"' in index
    hits = run.json_lines("search", "quyen con nguoi")
    assert [h["id"] for h in hits] == ["vov-1064050"]
    for name in ("index.html", "health.html", "articles.html", "style.css", "search.js",
                 "data/captures_per_day.csv"):
        assert (out / name).is_file(), name
    assert not list(archive_dir.rglob("report*"))  # nothing written into the archive


def test_three_snapshots_page_shows_the_diff_and_unchanged_text(run, news, tmp_path):
    three_snapshots(run, news)
    out = tmp_path / "out"
    code, lines = report(run, out, "--replay-base", "http://replay.example/coll")
    assert code == 0
    [page] = list((out / "a").iterdir())
    html = page.read_text()
    assert html.count('class="snapshot"') == 3
    assert "text changed" in html and "unchanged" in html
    changed = PARAGRAPHS[1].replace("cuối tuần", "thứ Hai tuần sau")
    assert f"<del>{PARAGRAPHS[1]}</del>" in html and f"<ins>{changed}</ins>" in html
    assert html.count('class="capture"') == 3
    assert html.count("http://replay.example/coll/2") == 3  # one replay link per capture
    assert figure(lines, "revisits")["series"]["new payload"] == [3]


def test_an_empty_archive_gives_a_report_that_says_so(run, archive_dir, tmp_path):
    archive_dir.mkdir()
    out = tmp_path / "r"
    code, lines = report(run, out)
    assert code == 0 and lines[-1]["empty"] is True
    assert 'id="empty"' in (out / "index.html").read_text()
    assert "No recorded audit" in (out / "health.html").read_text()
    # events but no capture record (a capture that failed): said, not drawn as empty charts
    assert run("capture", f"http://127.0.0.1:{free_port()}/").exit_code == 1
    code, lines = report(run, out)
    assert code == 0 and lines[-1]["empty"] is False and lines[-1]["captures"] == 0
    assert 'id="nocapture"' in (out / "index.html").read_text()
    assert "capture" in (out / "health.html").read_text()
    result = run("report", str(tmp_path / "r2"), "--archive", str(tmp_path / "nothing"),
                 archive=False)
    assert result.exit_code == 2 and "no archive here" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_out_dir_inside_the_archive_or_a_foreign_folder_is_refused(run, archive_dir,
                                                                   tmp_path):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    before = sorted(p.relative_to(archive_dir) for p in archive_dir.rglob("*"))
    for inside in (archive_dir / "report", archive_dir, archive_dir / "warcs" / "r"):
        result = run("report", str(inside))
        assert result.exit_code == 2 and "inside the archive" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.relative_to(archive_dir) for p in archive_dir.rglob("*")) == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    result = run("report", str(foreign))
    assert result.exit_code == 2 and "not a report folder" in result.output
    assert (foreign / "notes.txt").read_text() == "keep me"
    # the default: report/ beside the archive; a second run replaces its own folder
    assert run("report", "--quiet").exit_code == 0
    assert run("report", "--quiet").exit_code == 0
    assert (archive_dir.parent / "report" / "index.html").is_file()


def test_a_damaged_article_file_is_listed_and_the_rest_drawn(run, news, archive_dir,
                                                            tmp_path):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    three_snapshots(run, news)
    [seed_file] = (archive_dir / "articles" / "vov-1064050").iterdir()
    seed_file.write_bytes(seed_file.read_bytes()[:100])  # cut mid-JSON
    out = tmp_path / "out"
    result = run("report", str(out))
    assert result.exit_code == 1
    assert "damaged" in result.stderr and seed_file.name in result.stderr
    health = (out / "health.html").read_text()
    assert "Damaged article files" in health and seed_file.name in health
    [page] = (out / "a").iterdir()
    html_text = page.read_text()
    assert html_text.count("<article ") == 2  # the other article drawn too
    damaged = html_text.split('<article id="vov-1064050">')[1].split("</article>")[0]
    assert 'class="box damaged"' in damaged and seed_file.name in damaged


@pytest.mark.parametrize("catalog", ["none", "current"])
def test_a_read_only_archive_is_reported_without_a_write(run, archive_dir, tmp_path,
                                                        monkeypatch, catalog):
    from test_read_only import make_read_only, make_writable, snapshot

    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    assert run("ls").exit_code == 0  # current, and checkpointed on close
    for suffix in ("-wal", "-shm"):
        (archive_dir / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    if catalog == "none":
        (archive_dir / "catalog.sqlite").unlink()  # the report must make a private one
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    make_read_only(archive_dir)
    try:
        before = snapshot(archive_dir)
        code, lines = report(run, tmp_path / "out")
        assert code == 0 and lines[-1]["articles"] == 1
        assert snapshot(archive_dir) == before
        assert list(scratch.iterdir()) == []
    finally:
        make_writable(archive_dir)


def test_max_articles_limits_pages_not_the_listing(run, news, tmp_path):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    three_snapshots(run, news)
    out = tmp_path / "out"
    code, lines = report(run, out, "--max-articles", "1")
    assert code == 0 and lines[-1]["article_pages"] == 1 and lines[-1]["articles"] == 2
    [page] = (out / "a").iterdir()
    assert page.read_text().count("<article ") == 1
    # every article is listed and searchable; newest publication first, undated last: the
    # dated story has the page, the undated seed none
    entries = index_entries(out)
    assert [(e[0], e[1] is not None) for e in entries][1] == ("vov-1064050", False)
    assert entries[0][1] == f"a/00000.html#{entries[0][0]}"


def test_the_report_is_byte_identical_when_built_twice(run, news, tmp_path, monkeypatch):
    three_snapshots(run, news)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1800000000")
    trees = []
    for name in ("one", "two"):
        assert run("report", str(tmp_path / name), "--quiet").exit_code == 0
        root = tmp_path / name
        trees.append({p.relative_to(root): p.read_bytes() for p in root.rglob("*")
                      if p.is_file()})
    assert trees[0] == trees[1]
    fig = Figure("t", "T", "bar", ["a", "b"], {"n": [1, 2]})
    assert charts.svg(fig) == charts.svg(fig) and "Date" not in charts.svg(fig)


def test_the_js_fold_keeps_the_same_characters_as_the_python_fold():
    """search.js lists the characters the fold keeps; they are Python's (the browser test
    compares the two folds character by character)."""
    listed = re.search(r"ARCHIVER_FOLD_KEEP = new Set\(\[([^\]]*)\]", (ASSETS / "search.js")
                       .read_text()).group(1)
    assert sorted(int(x, 16) for x in listed.split(",")) == search_index.fold_keep()
    assert search_index.key("Quyền con người", "Đức Tuấn") == "quyen con nguoi duc tuan"
    assert search_index.key("ĐẢNG") == fold("ĐẢNG").lower() == "dang"


def test_crawl_figures_match_the_manifest(run, tmp_path):
    """A small crawl: hosts, crawl runs and skips as the manifest and crawl state say."""
    with NewsSite() as site:
        result = run("crawl", site.home, "--max-pages", "12", "--no-requisites",
                     "--delay", "0.01")
        assert result.exit_code == 0, result.output
    code, lines = report(run, tmp_path / "out")
    assert code == 0
    health = next(x["health"] for x in lines if "health" in x)
    [crawl] = health["crawls"]
    entries = [json.loads(x) for x in (run.archive / "manifest.jsonl").read_text().splitlines()]
    crawled = [e for e in entries if e["event"] == "capture"
               and (e.get("discovery") or {}).get("crawl") == crawl["crawl_id"]]
    ok = Counter(e["outcome"]["status"] == "success" for e in crawled)
    assert (crawl["pages"], crawl["failures"]) == (ok[True], ok[False])
    assert crawl["started"] and crawl["ended"]
    import sqlite3

    state = sqlite3.connect(run.archive / "crawls" / crawl["crawl_id"] / "state.sqlite")
    skipped = dict(state.execute("SELECT reason, count(*) FROM urls WHERE state = 'skipped' "
                                 "GROUP BY reason").fetchall())
    state.close()
    assert crawl["skips"] == skipped and skipped  # --max-pages leaves URLs skipped
    hosts = figure(lines, "top_hosts")
    assert sum(hosts["series"]["captures"]) == lines[-1]["captures"]
    assert hosts["x"][0] == "127.0.0.1"
    assert (tmp_path / "out" / "health.html").is_file()


def test_without_matplotlib_the_report_has_its_numbers_and_says_why_no_chart(
        run, archive_dir, tmp_path, monkeypatch):
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    monkeypatch.setattr(charts, "available", lambda: False)
    result = run("report", str(tmp_path / "out"))
    assert result.exit_code == 0 and "archiver[report]" in result.stderr
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<svg" not in page and page.count("nochart") == 13 and "<table>" in page


def test_signed_heads_are_shown_as_proofs(run, archive_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHIVER_KEY", str(tmp_path / "keys" / "ed25519.key"))
    assert run("keygen", archive=False).exit_code == 0
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0  # signs the new head
    code, lines = report(run, tmp_path / "out")
    assert code == 0
    proofs = next(x["health"] for x in lines if "health" in x)["proofs"]
    assert proofs["signed"] == {"count": 1, "last_seq": 0}
    assert [f["name"] for f in proofs["files"]] == ["manifest.sig.jsonl"]
    assert "the last covers the current head" in (tmp_path / "out" / "health.html").read_text()


def test_a_browser_capture_screenshot_is_shown_on_the_article_page(archive_dir, tmp_path):
    """A capture whose entry also wrote a screenshot `resource` record (image/png, URI
    urn:view:<page>, as browser captures write them): the article page shows the image,
    copied into the report."""
    import hashlib
    from datetime import UTC, datetime

    from vov_pages import generate

    from archiver.pipeline.commit import record_event, store_warc
    from archiver.store.archive import Archive
    from archiver.store.warc import sha256_label

    [(url, page)] = generate(1, seed=3)
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
           b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00"
           b"\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")
    http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
            + f"Content-Length: {len(page)}\r\n\r\n".encode() + page)
    when = datetime(2026, 11, 20, 1, 2, 3, tzinfo=UTC)

    def write(writer):
        ref = writer.write_record("response", url, http, when,
                                  content_type="application/http; msgtype=response",
                                  payload_digest=sha256_label(hashlib.sha256(page).digest()))
        writer.write_record("resource", f"urn:view:{url}", png, when, content_type="image/png",
                            payload_digest=sha256_label(hashlib.sha256(png).digest()))
        return ref

    archive = Archive(archive_dir).ensure()
    unit = store_warc(archive, when, "tester", "a browser capture", write)
    assert unit.article is not None and unit.article.status == "stored"
    record_event(archive, "capture", "success", "HTTP 200", "tester",
                 source={"url": url, "final_url": url, "status": 200},
                 **unit.manifest_fields())
    out = tmp_path / "out"
    code, _ = report(Cli(archive_dir), out)
    assert code == 0
    [shot] = (out / "shots").iterdir()
    assert shot.read_bytes() == png and shot.suffix == ".png"
    html_text = (out / "a" / "00000.html").read_text()
    assert f'src="../shots/{shot.name}"' in html_text
    assert html_text.count('class="capture"') == 1  # the screenshot is not a page capture


def test_copies_and_proofs_are_read_from_newer_events_generically(run, archive_dir,
                                                                  tmp_path):
    """Replication events (written by `replicate`), read by type: each replica holds the
    files named up to the head it copied; a later file has none. Time-stamp tokens that an
    event describes (`timestamps`), per TSA, and proof folders beside the manifest."""
    from archiver.store import manifest

    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    path = archive_dir / "manifest.jsonl"

    def chain_raw(event: dict) -> None:
        """Appended as a newer archiver would: this version's schema has no such type."""
        last = manifest.read_last(path)
        entry = dict(event, seq=last["seq"] + 1, prev=last["hash"])
        entry["hash"] = manifest.entry_hash(entry)
        with path.open("ab") as f:
            f.write(manifest.canonical(entry) + b"\n")

    chain_raw(manifest.new_event("replication", "success", "copied to usb",
                                 details={"replica": "usb", "head_seq": 0, "files": 2}))
    chain_raw(manifest.new_event("replication", "failure", "nas unreachable",
                                 details={"replica": "nas", "head_seq": 1}))
    chain_raw(manifest.new_event(
        "digital signature generation", "success", "RFC 3161 time-stamp token over seq 2",
        timestamps=[{"token": "timestamps/00000002-aa.tsr", "seq": 2, "tsa": "http://tsa.test/",
                     "gen_time": "2026-12-01T00:00:00Z"}]))
    for name in ("timestamps/00000002-aa.tsr", "checkpoints/3-abc.note",
                 "checkpoints/3-abc.w1.cosig"):
        (archive_dir / name).parent.mkdir(exist_ok=True)
        (archive_dir / name).write_bytes(b"proof")
    extra = tmp_path / "extra.txt"
    extra.write_text("Tin mới về zebrafinch.\n\nPV/VOV.VN\n", encoding="utf-8")
    assert run("ingest", str(extra), "--url", "https://vov.vn/extra-1").exit_code == 0
    code, lines = report(run, tmp_path / "out")
    assert code == 0
    health = next(x["health"] for x in lines if "health" in x)
    assert health["replicas"] == {"usb": 0, "nas": None}
    assert [c["event"] for c in health["copies"]] == ["replication", "replication"]
    copies = figure(lines, "copies_per_file")
    # the seed's WARC and article file are on usb; the second document's two files nowhere
    assert copies["x"] == ["0", "1", "2"] and copies["series"]["files"] == [2, 2, 0]
    page = (tmp_path / "out" / "health.html").read_text()
    assert "nas unreachable" in page and 'id="copies_per_file"' in page
    proofs = health["proofs"]
    assert proofs["tsas"] == {"http://tsa.test/": {"tokens": 1, "last_seq": 2,
                                                   "last_gen_time": "2026-12-01T00:00:00Z"}}
    assert [(f["folder"], f["kind"], f["files"]) for f in proofs["folders"]] == [
        ("timestamps/", ".tsr", 1), ("checkpoints/", ".cosig", 1), ("checkpoints/", ".note", 1)]
    assert [e["event"] for e in proofs["events"]] == ["digital signature generation"]
    assert "http://tsa.test/" in page


def test_text_from_the_archive_is_escaped_in_charts_and_tables():
    from archiver.access.report import pages

    hostile = '<script>alert("x")</script>'
    fig = Figure("top_sections", "Top sections", "barh", [hostile, "a&b"], {"articles": [2, 1]},
                 f"the first is {hostile}", "section", "articles")
    section = pages.figure_section(fig, charts.svg(fig), "data/top_sections.csv")
    assert "<script" not in section
    assert section.count("&lt;script&gt;") == 3  # the chart label, the sentence, the table
