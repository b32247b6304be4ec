"""A browser capture's witness records beyond capture itself (issue 23 item 6): the WACZ pages
list names the page with its attachments (Browsertrix's pages.jsonl row, its `text` field,
and the screenshot record in the package's index), `wacz validate` accepts the package,
`show` lists the attachments, and pywb replays the page and serves its screenshot record.

One Chromium run captures two pages of a loopback site: the script-written article (its
article comes from the rendered DOM) and the article in the raw HTML."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from browser_site import TITLE, Site
from conftest import Cli, free_port

from archiver.access.replay import Replay
from archiver.capture.browser.guard import parse_allowed
from archiver.capture.browser.page import DEFAULT_EXECUTABLE, BrowserOptions
from archiver.capture.browser.run import BrowserOutcome, capture_browser
from archiver.capture.run import CaptureOptions
from archiver.store.archive import Archive

pytestmark = pytest.mark.skipif(not os.access(DEFAULT_EXECUTABLE, os.X_OK),
                                reason="needs Debian's chromium (apt-get install chromium)")


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.site = Site()
        self.archive = Archive(tmp / "archive")
        self.outcomes: dict[str, BrowserOutcome] = {}
        self.wacz = tmp / "out.wacz"

    def url(self, path: str) -> str:
        return self.site.base + path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = Env(tmp_path_factory.mktemp("witness"))
    try:
        outcomes = capture_browser(
            env.archive, [env.url("/"), env.url("/static")], CaptureOptions(dedup="off"),
            BrowserOptions(page_timeout=8.0, step_timeout=8.0,
                           allowed=parse_allowed([f"127.0.0.1:{env.site.port}"])))
        env.outcomes = {o.url: o for o in outcomes}
        result = Cli(env.archive.root)("export", "wacz", str(env.wacz))
        assert result.exit_code == 0, result.output
        yield env
    finally:
        env.site.close()


def attachments(env: Env, path: str) -> dict[str, dict[str, Any]]:
    return {a["kind"]: a for a in env.outcomes[env.url(path)].attachments}


def pages_of(wacz: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with zipfile.ZipFile(wacz) as zf:
        lines = zf.read("pages/pages.jsonl").decode().splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def test_wacz_pages_name_the_page_and_its_screenshot(env: Env) -> None:
    for path in ("/", "/static"):
        assert env.outcomes[env.url(path)].outcome == "archived", \
            env.outcomes[env.url(path)].to_dict()
    check = subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(env.wacz)],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    header, pages = pages_of(env.wacz)
    assert header["format"] == "json-pages-1.0" and header["hasText"] is True
    by_url = {p["url"]: p for p in pages}
    assert all(not u.startswith("urn:") for u in by_url)
    page = by_url[env.url("/")]
    att = attachments(env, "/")
    outcome = env.outcomes[env.url("/")]
    page_record = next(r for r in outcome.record_ids if r.endswith(page["id"] + ">"))
    assert page["status"] == 200 and page["mime"] == "text/html" and page["title"] == TITLE
    assert page_record in outcome.record_ids
    # Browsertrix's `text`: the page's visible text, the urn:text: record's content
    assert "Loading" not in page["text"] and "By Lan Nguyen" in page["text"]
    listed = {a["kind"]: a for a in page["attachments"]}
    assert set(listed) == set(att)
    view = listed["screenshot-view"]
    assert view["uri"] == "urn:view:" + env.url("/")
    assert view["record_id"] == att["screenshot-view"]["record_id"]
    assert view["sha256"] == att["screenshot-view"]["sha256"]
    # each page lists its own attachments
    assert by_url[env.url("/static")]["attachments"][0]["uri"].endswith(env.url("/static"))
    # the screenshot record is in the package's index, and its bytes are the ones listed
    with zipfile.ZipFile(env.wacz) as zf:
        index = [json.loads(line.split(" ", 2)[2]) for line in
                 gzip.decompress(zf.read("indexes/index.cdx.gz")).decode().splitlines()]
        shot = next(i for i in index if i["url"] == view["uri"])
        assert shot["mime"] == "image/png"
        warc = zf.read("archive/" + shot["filename"])
    from warcio.archiveiterator import ArchiveIterator

    offset = int(shot["offset"])
    record = next(iter(ArchiveIterator(io.BytesIO(warc[offset:offset + int(shot["length"])]))))
    assert record.rec_headers.get_header("WARC-Record-ID") == view["record_id"]
    assert hashlib.sha256(record.content_stream().read()).hexdigest() == view["sha256"]


def test_show_lists_the_attachments(env: Env) -> None:
    cli = Cli(env.archive.root)
    article = env.outcomes[env.url("/")].article
    assert article is not None and article.article_id
    result = cli("show", env.url("/"))
    assert result.exit_code == 0, result.output
    for att in attachments(env, "/").values():
        assert (f"attachment {att['kind']} {att['uri']} {att['record_id']} sha256 "
                f"{att['sha256']} ({att['size']} bytes)") in result.output
    [doc] = cli.json_lines("show", env.url("/"))
    listed = doc["snapshots"][0]["attachments"]
    assert {a["record_id"] for a in listed} == \
        {a["record_id"] for a in attachments(env, "/").values()}


def test_pywb_replays_the_page_and_serves_its_screenshot(env: Env) -> None:
    outcome = env.outcomes[env.url("/")]
    view = attachments(env, "/")["screenshot-view"]
    replay = Replay(env.archive, "127.0.0.1", free_port(), log=subprocess.DEVNULL)
    replay.start()
    try:
        page = requests.get(f"{replay.collection_url}2030id_/{env.url('/')}", timeout=30)
        assert page.status_code == 200 and TITLE in page.text
        assert "fetch('/api/article.json')" in page.text  # the raw page, as sent
        api = requests.get(f"{replay.collection_url}2030id_/{env.url('/api/article.json')}",
                           timeout=30)
        assert api.status_code == 200 and "Lan Nguyen" in api.text
        shot = requests.get(f"{replay.collection_url}2030id_/{view['uri']}", timeout=30)
        assert shot.status_code == 200, shot.status_code
        assert shot.headers["Content-Type"] == "image/png"
        assert hashlib.sha256(shot.content).hexdigest() == view["sha256"]
    finally:
        replay.stop()
    assert outcome.outcome == "archived"
