"""`capture --browser` end to end: Debian's Chromium through archiver's recording proxy onto
loopback sites the test starts. One browser run (one Chromium) captures every page of the
module; the CLI tests start one more each.

Pages: an article written by script from a JSON XHR with lazy images below the fold; an
article in the raw HTML; the same over HTTPS with a test-CA certificate; a slow asset past
the page timeout; a script reaching another loopback port and 169.254.169.254; an asset over
the page's byte budget."""

from __future__ import annotations

import hashlib
import html
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_site import TITLE, Site, https_site
from conftest import Cli, free_port

from archiver.capture.browser.ca import Authority
from archiver.capture.browser.guard import parse_allowed
from archiver.capture.browser.page import DEFAULT_EXECUTABLE, BrowserOptions
from archiver.capture.browser.run import capture_browser
from archiver.capture.run import CaptureOptions
from archiver.store import manifest
from archiver.store.archive import Archive

pytestmark = pytest.mark.skipif(not os.access(DEFAULT_EXECUTABLE, os.X_OK),
                                reason="needs Debian's chromium (apt-get install chromium)")

PAGE_TIMEOUT = 4.0
MAX_BYTES = 1024 * 1024
SCROLL_CAP = 8


class Env:
    def __init__(self, tmp: Path) -> None:
        self.test_ca = Authority.create("archiver test origin CA")
        self.ca_file = tmp / "test-ca.pem"
        self.ca_file.write_bytes(self.test_ca.cert_pem())
        self.other = Site()  # a loopback service the page's script must not reach
        self.site = Site(other_port=self.other.port, big=3 * MAX_BYTES)
        self.secure = https_site(self.test_ca, tmp)
        self.archive = Archive(tmp / "archive")
        self.dead_port = free_port()
        self.outcomes: dict[str, Any] = {}

    def allow(self) -> list[str]:
        return [f"127.0.0.1:{self.site.port}", f"127.0.0.1:{self.secure.port}",
                f"127.0.0.1:{self.dead_port}"]

    def close(self) -> None:
        for s in (self.site, self.other, self.secure):
            s.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = Env(tmp_path_factory.mktemp("browser"))
    urls = [env.site.base + p for p in ("/", "/static", "/ssrf", "/big-page", "/slow-page",
                                        "/loop", "/infinite", "/moved")]
    urls.append(env.secure.base + "/static")
    urls.append(f"http://127.0.0.1:{env.dead_port}/")  # allowed, nobody listening
    urls.append(env.other.base + "/secret")  # loopback, not allowed: the page is refused
    outcomes = capture_browser(
        env.archive, urls, CaptureOptions(dedup="off"),
        BrowserOptions(page_timeout=PAGE_TIMEOUT, step_timeout=PAGE_TIMEOUT,
                       max_bytes=MAX_BYTES, allowed=parse_allowed(env.allow()),
                       restart_every=6, scroll_cap=SCROLL_CAP))  # 11 pages: 2 Chromiums
    env.outcomes = {o.url: o for o in outcomes}
    yield env
    env.close()


def entry_for(archive: Archive, url: str) -> dict[str, Any]:
    return [e for e in manifest.iter_entries(archive.manifest_path)
            if e["event"] == "capture" and e["source"]["url"] == url][-1]


def records_of(archive: Archive, entry: dict[str, Any]) -> dict[str, Any]:
    """record id -> warcio record (headers and block bytes) for the entry's records."""
    from warcio.archiveiterator import ArchiveIterator

    wanted = {r["id"] for r in entry["records"]}
    out = {}
    for warc in sorted({r["file"] for r in entry["records"]}):
        path = archive.root / warc
        with open(path if path.exists() else str(path) + ".open", "rb") as f:
            for record in ArchiveIterator(f):
                rid = record.rec_headers.get_header("WARC-Record-ID")
                if rid in wanted:
                    block = record.content_stream().read() if record.rec_type == "resource" \
                        else b""
                    out[rid] = (record.rec_type, record.rec_headers, block,
                                record.http_headers)
    return out


def by_uri(records: dict[str, Any], rec_type: str, uri: str) -> Any:
    for rid, (kind, headers, block, http) in records.items():
        if kind == rec_type and headers.get_header("WARC-Target-URI") == uri:
            return rid, headers, block, http
    raise AssertionError(f"no {rec_type} record for {uri}")


def test_script_written_article_comes_from_the_rendered_dom(env: Env) -> None:
    url = env.site.base + "/"
    outcome = env.outcomes[url]
    assert outcome.outcome == "archived", outcome.to_dict()
    entry = entry_for(env.archive, url)
    records = records_of(env.archive, entry)
    page_id, *_ = by_uri(records, "response", url)
    dom_id, _dom_headers, dom, _ = by_uri(records, "resource", "urn:dom:" + url)
    assert b"Librarians welcomed the change" in dom  # written by the script, not in the raw
    [article] = entry["articles"]
    assert article["record_id"] == dom_id  # the evidence names the rendered-DOM record
    stored = json.loads((env.archive.root / article["path"]).read_text())
    assert stored["title"] == TITLE and "Librarians welcomed" in " ".join(stored["body"])
    assert entry["browser"]["page_record"] == page_id
    # the XHR and the lazy images below the fold were requested through the proxy
    by_uri(records, "response", env.site.base + "/api/article.json")
    for i in range(4):
        by_uri(records, "response", f"{env.site.base}/img/{i}.png")


def test_article_in_raw_html_still_comes_from_the_response(env: Env) -> None:
    url = env.site.base + "/static"
    entry = entry_for(env.archive, url)
    page_id, *_ = by_uri(records_of(env.archive, entry), "response", url)
    [article] = entry["articles"]
    assert article["record_id"] == page_id


def test_attachments_are_linked_resource_records_named_with_sha256(env: Env) -> None:
    from PIL import Image

    url = env.site.base + "/"
    entry = entry_for(env.archive, url)
    records = records_of(env.archive, entry)
    page_id = entry["browser"]["page_record"]
    kinds = {a["kind"]: a for a in entry["browser"]["attachments"]}
    assert set(kinds) == {"screenshot-full", "screenshot-view", "dom", "text", "summary"}
    for item in kinds.values():
        kind, headers, block, _ = records[item["record_id"]]
        assert kind == "resource" and headers.get_header("WARC-Target-URI") == item["uri"]
        assert headers.get_header("WARC-Refers-To-Target-URI") == url
        assert headers.get_header("WARC-Concurrent-To") == page_id
        assert hashlib.sha256(block).hexdigest() == item["sha256"]
        assert headers.get_header("WARC-Payload-Digest") == "sha256:" + item["sha256"]
    full = Image.open(io.BytesIO(records[kinds["screenshot-full"]["record_id"]][2]))
    view = Image.open(io.BytesIO(records[kinds["screenshot-view"]["record_id"]][2]))
    assert view.size == (1600, 900) and full.size[0] == 1600 and full.size[1] > 2400
    text = records[kinds["text"]["record_id"]][2].decode()
    assert "Librarians welcomed the change" in text
    summary = records[kinds["summary"]["record_id"]][2].decode()
    assert "Chromium" in summary and "1600x900" in summary and url in summary
    assert html.escape(page_id) in summary  # every record before the summary, with its digest
    assert entry["browser"]["browser"]["executable"]["sha256"]


def test_https_origin_tls_facts_from_the_same_handshake(env: Env) -> None:
    url = env.secure.base + "/static"
    entry = entry_for(env.archive, url)
    assert env.outcomes[url].outcome == "archived"
    records = records_of(env.archive, entry)
    _, headers, _, _ = by_uri(records, "response", url)
    protocols = [v for k, v in headers.headers if k == "WARC-Protocol"]
    assert protocols[0] == "http/1.1" and protocols[1].startswith("tls/1.")
    cipher = headers.get_header("WARC-Cipher-Suite")
    [tls] = [a for a in entry["browser"]["attachments"] if a["kind"] == "tls"]
    facts = json.loads(records[tls["record_id"]][2])
    assert facts["validation"].startswith("untrusted")  # the test CA is not a system root
    assert facts["cipher"] == cipher
    assert "BEGIN CERTIFICATE" in facts["chain_pem"]
    assert facts["certificates"][0]["subject"].startswith("CN=127.0.0.1")


def test_slow_asset_makes_the_capture_partial_naming_the_step(env: Env) -> None:
    url = env.site.base + "/slow-page"
    outcome = env.outcomes[url]
    assert outcome.outcome == "incomplete" and outcome.partial[0] == "load"
    entry = entry_for(env.archive, url)
    assert entry["outcome"]["status"] == "warning"
    assert "PARTIAL: timed out: load" in entry["outcome"]["detail"]
    steps = {s["name"]: s for s in entry["browser"]["steps"]}
    assert steps["load"]["outcome"] == "timeout"
    assert steps["screenshot (viewport)"]["outcome"] == "ok"  # attachments still taken


def test_network_idle_that_never_comes_is_capped_and_marked(env: Env) -> None:
    url = env.site.base + "/loop"
    outcome = env.outcomes[url]
    assert outcome.outcome == "incomplete" and outcome.partial == ["network idle"]
    entry = entry_for(env.archive, url)
    ticks = [r for r in entry["records"] if r["type"] == "response"
             and "/api/tick" in (r["uri"] or "")]
    assert len(ticks) >= 5  # the ticks were recorded while the step waited


def test_redirect_hops_are_recorded_and_the_page_is_the_final_one(env: Env) -> None:
    url = env.site.base + "/moved"
    outcome = env.outcomes[url]
    assert outcome.final_url == env.site.base + "/static" and outcome.status == 200
    entry = entry_for(env.archive, url)
    assert [h["status"] for h in entry["source"]["redirects"]] == [302, 200]
    records = records_of(env.archive, entry)
    page_id, *_ = by_uri(records, "response", env.site.base + "/static")
    assert entry["browser"]["page_record"] == page_id
    by_uri(records, "response", url)  # the 302 itself


def test_unreachable_and_refused_pages_fail_with_the_reason(env: Env) -> None:
    dead = env.outcomes[f"http://127.0.0.1:{env.dead_port}/"]
    assert dead.outcome == "failed" and "refused" in (dead.error or "")
    refused = env.outcomes[env.other.base + "/secret"]
    assert refused.outcome == "failed" and "loopback" in (refused.error or "")
    assert "/secret" not in env.other.hits
    entry = entry_for(env.archive, env.other.base + "/secret")
    assert entry["outcome"]["status"] == "failure" and "records" not in entry


def test_infinite_list_is_scrolled_to_the_cap(env: Env) -> None:
    url = env.site.base + "/infinite"
    entry = entry_for(env.archive, url)
    steps = {s["name"]: s for s in entry["browser"]["steps"]}
    assert steps["scroll"]["outcome"] == "ok"
    assert steps["scroll"]["detail"] == f"stopped at the cap of {SCROLL_CAP} viewport steps"
    pages = [r for r in entry["records"] if r["type"] == "response"
             and "/api/items" in (r["uri"] or "")]
    assert len(pages) >= 4  # more of the list was loaded as the browser scrolled


def test_script_reaching_loopback_and_metadata_is_refused_and_logged(env: Env) -> None:
    url = env.site.base + "/ssrf"
    entry = entry_for(env.archive, url)
    blocked = {b["url"]: b["reason"] for b in entry["browser"]["blocked"]
               if b["by"] == "page"}
    assert "loopback" in blocked[f"http://127.0.0.1:{env.other.port}/secret"]
    assert "link-local" in blocked["http://169.254.169.254/latest/meta-data/"]
    assert "/secret" not in env.other.hits  # never reached
    summary_id = next(a for a in entry["browser"]["attachments"] if a["kind"] == "summary")
    summary = records_of(env.archive, entry)[summary_id["record_id"]][2].decode()
    assert "169.254.169.254" in summary
    log = Cli(env.archive.root)("log", "--url", url).output
    assert "refused http://169.254.169.254/latest/meta-data/" in log
    assert "attachment screenshot-view urn:view:" + url in log


def test_asset_over_the_page_budget_is_truncated_and_marked(env: Env) -> None:
    entry = entry_for(env.archive, env.site.base + "/big-page")
    _, headers, _, _ = by_uri(records_of(env.archive, entry), "response",
                              env.site.base + "/big.js")
    assert headers.get_header("WARC-Truncated") == "length"


def test_warcs_pass_warcio_check_and_validate(env: Env) -> None:
    warcs = sorted(env.archive.root.glob("warcs/**/*.warc.gz"))
    assert warcs
    from warcio.archiveiterator import ArchiveIterator

    with open(warcs[0], "rb") as f:
        info = next(iter(ArchiveIterator(f)))
        fields = info.content_stream().read().decode()
    assert "http-header-user-agent: Mozilla/5.0" in fields and "Chromium/" in fields
    for warc in warcs:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(warc)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
    result = Cli(env.archive.root)("validate")
    assert result.exit_code == 0, result.output
    result = Cli(env.archive.root)("audit")
    assert result.exit_code == 0, result.output


def test_cli_ca_file_makes_the_origin_valid(env: Env, tmp_path: Path) -> None:
    run = Cli(tmp_path / "cli-archive")
    url = env.secure.base + "/"
    result = run("capture", "--browser", url, "--allow-host", f"127.0.0.1:{env.secure.port}",
                 "--ca-file", str(env.ca_file), "--page-timeout", "20", "--json",
                 "--pdf", "--viewport", "800x600")
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line["outcome"] == "archived" and line["article"]["status"] == "stored"
    archive = Archive(tmp_path / "cli-archive")
    entry = entry_for(archive, url)
    [tls] = [a for a in entry["browser"]["attachments"] if a["kind"] == "tls"]
    records = records_of(archive, entry)
    assert json.loads(records[tls["record_id"]][2])["validation"] == "valid"
    kinds = {a["kind"]: a for a in entry["browser"]["attachments"]}
    assert records[kinds["pdf"]["record_id"]][2][:5] == b"%PDF-"
    from PIL import Image

    view = Image.open(io.BytesIO(records[kinds["screenshot-view"]["record_id"]][2]))
    assert view.size == (800, 600)


def test_cli_without_chromium_is_one_line_naming_the_install(tmp_path: Path) -> None:
    result = Cli(tmp_path / "a")("capture", "--browser", "http://example.org/",
                                 "--chromium", str(tmp_path / "no-chromium"))
    assert result.exit_code == 2
    assert "apt-get install chromium" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = Cli(tmp_path / "a")("capture", "--browser", "http://example.org/",
                                 "--viewport", "wide")
    assert result.exit_code == 2 and "--viewport" in result.output


def test_index_matches_cdxj_indexer_and_wacz_lists_pages_not_attachments(
        env: Env, tmp_path: Path) -> None:
    """The committer's per-WARC index holds the attachments as cdxj-indexer would; a WACZ
    export lists the pages, not the urn: attachments."""
    from archiver.store import cdxj

    warcs = cdxj.warc_relpaths(env.archive)
    written = sorted(line for f in sorted((env.archive.root / "indexes").glob("*.cdxj"))
                     for line in f.read_text().splitlines(keepends=True))
    rebuilt = sorted(cdxj.index_lines(env.archive, warcs))
    assert written == rebuilt
    assert any('"url": "urn:view:' in line for line in written)
    result = Cli(env.archive.root)("export", "wacz", str(tmp_path / "out.wacz"))
    assert result.exit_code == 0, result.output
    import zipfile

    with zipfile.ZipFile(tmp_path / "out.wacz") as zf:
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()[1:]]
    urls = {p["url"] for p in pages}
    assert env.site.base + "/" in urls and not any(u.startswith("urn:") for u in urls)
