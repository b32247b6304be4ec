"""Replay proven with pywb itself: our WARCs and our per-WARC indexes, served by a real pywb
on 127.0.0.1, give back the archived article, earlier snapshots by time, redirects, and the
original payload for a revisit record.

pywb comes with the test extra (`pip install -e '.[test]'`); nothing is installed here.
Collections in one pywb: `ours` reads the archive in place through its indexes/ folder (a
directory index source: one CDXJ per WARC, written by capture itself); `packed` is our WACZ
export added with `wb-manager add --unpack-wacz`;
`added` is one WARC added with plain `wb-manager add`, which pywb re-indexes itself.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import requests
from conftest import Cli, free_port
from news_site import REDIRECT_PATH, STORY_PATH, TITLE, NewsServer, capture, serve_news

from archiver.store import cdxj
from archiver.store.archive import Archive

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 30


@pytest.fixture(scope="module")
def news() -> Iterator[NewsServer]:
    yield from serve_news()


def wb_manager(cwd: Path, *commands: list[str]) -> None:
    """Run `wb-manager` commands in one interpreter (pywb's imports take a second each)."""
    script = "import sys\nfrom pywb.manager.manager import main\n" + "".join(
        f"main({cmd!r})\n" for cmd in commands)
    result = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def write_config(cwd: Path, archive: Path) -> None:
    """The README's recipe: a collection that reads the archive in place."""
    (cwd / "config.yaml").write_text(
        "collections:\n"
        "  ours:\n"
        f"    index_paths: {archive / 'indexes'}\n"
        f"    archive_paths: {archive}/\n"
        "framed_replay: false\n",
        encoding="utf-8")


@pytest.fixture(scope="module")
def pywb(archive: Archive) -> Iterator[str]:
    """Start pywb on the filled archive; yields its base URL."""
    cwd = archive.root.parent / "pywb"  # wb-manager's collections/ is already there
    write_config(cwd, archive.root)
    port = free_port()
    log = open(cwd / "pywb.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pywb.apps.cli", "-b", "127.0.0.1", "-p", str(port)],
        cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base, cwd / "pywb.log")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def wait_until_up(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"pywb exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if requests.get(base + "/", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    pytest.fail(f"pywb did not answer within {STARTUP_SECONDS}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def archive(news: NewsServer, tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """The story captured; a second later (14-digit timestamps differ) captured unchanged, a
    revisit record; then with changed text, and once through a 301 (a revisit of that);
    exported, and put in two more collections."""
    root = tmp_path_factory.mktemp("replay")
    run = Cli(root / "archive")
    capture(run, news.url(STORY_PATH))
    time.sleep(1.1)
    capture(run, news.url(STORY_PATH))  # unchanged: a revisit record
    time.sleep(1.1)
    news.story.paragraphs[0] = "Tin cập nhật: " + news.story.paragraphs[0]
    capture(run, news.url(STORY_PATH))
    capture(run, news.url(REDIRECT_PATH))
    wacz = root / "export.wacz"
    assert run("export", "wacz", str(wacz)).exit_code == 0
    archive = Archive(root / "archive")
    first = archive.resolve(cdxj.warc_relpaths(archive)[0])
    pywb_dir = root / "pywb"  # pywb finds wb-manager's collections/ in its cwd
    pywb_dir.mkdir()
    wb_manager(pywb_dir, ["init", "packed"], ["add", "packed", str(wacz), "--unpack-wacz"],
               ["init", "added"], ["add", "added", str(first)])
    return archive


def title_of(html: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", html, re.S)
    return found.group(1).strip() if found else ""


def test_pywb_replays_captures_latest_earlier_and_through_redirects(
        archive, pywb, news):
    story = news.url(STORY_PATH)
    latest = requests.get(f"{pywb}/ours/{story}", timeout=30)
    assert latest.status_code == 200, latest.text[:500]
    assert title_of(latest.text) == TITLE
    assert "Tin cập nhật:" in latest.text  # no timestamp: the latest snapshot

    # An earlier snapshot by its timestamp from our index.
    first_ts = min(line.timestamp for line in cdxj.lookup(archive, story))
    earlier = requests.get(f"{pywb}/ours/{first_ts}/{story}", timeout=30)
    assert earlier.status_code == 200
    assert title_of(earlier.text) == TITLE
    assert "Tin cập nhật:" not in earlier.text

    # The redirect-captured URL replays as a redirect into the archive, then the article.
    hop = requests.get(f"{pywb}/ours/{news.url(REDIRECT_PATH)}", timeout=30,
                       allow_redirects=False)
    assert hop.status_code in (301, 302, 307), hop.status_code
    assert STORY_PATH in hop.headers["Location"]
    assert hop.headers["Location"].startswith(f"{pywb}/ours/") or \
        hop.headers["Location"].startswith("/ours/")
    followed = requests.get(f"{pywb}/ours/{news.url(REDIRECT_PATH)}", timeout=30)
    assert followed.status_code == 200
    assert title_of(followed.text) == TITLE
    assert followed.url.startswith(f"{pywb}/ours/")  # stayed inside the archive

    # Our WACZ, unpacked into a pywb collection with its own index, replays the same.
    packed = requests.get(f"{pywb}/packed/{story}", timeout=30)
    assert packed.status_code == 200
    assert title_of(packed.text) == TITLE and "Tin cập nhật:" in packed.text
    hop = requests.get(f"{pywb}/packed/{news.url(REDIRECT_PATH)}", timeout=30)
    assert hop.status_code == 200 and title_of(hop.text) == TITLE


def test_a_revisit_replays_with_the_original_payload(archive, pywb, news):
    story = news.url(STORY_PATH)
    lines = sorted(cdxj.lookup(archive, story), key=lambda line: line.timestamp)
    revisit = lines[1]
    assert revisit.fields["mime"] == "warc/revisit" and lines[0].fields["mime"] == "text/html"
    replayed = requests.get(f"{pywb}/ours/{revisit.timestamp}/{story}", timeout=30)
    assert replayed.status_code == 200, replayed.text[:300]
    assert title_of(replayed.text) == TITLE
    assert "Tin cập nhật:" not in replayed.text  # the payload of the first capture
    # served as the revisit itself (its own time), with the payload it refers to
    served_at = parsedate_to_datetime(replayed.headers["Memento-Datetime"])
    assert served_at.strftime("%Y%m%d%H%M%S") == revisit.timestamp != lines[0].timestamp


def test_plain_wb_manager_add_of_a_warc_replays_the_page(archive, pywb, news):
    added = requests.get(f"{pywb}/added/{news.url(STORY_PATH)}", timeout=30)
    assert added.status_code == 200
    assert title_of(added.text) == TITLE, (added.headers.get("content-type"), added.text[:300])


def test_pywb_does_not_invent_captures(archive, pywb, news):
    missing = requests.get(f"{pywb}/ours/{news.url('/never-captured')}", timeout=30)
    assert missing.status_code == 404
