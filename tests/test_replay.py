"""`archiver replay` as a user runs it: a subprocess serving the archive through pywb on a
free loopback port. A captured article replays with its title, a WARC 1.1 revisit record
resolves to the original body, a WARC still being written (`<name>.open`) replays, an
uncaptured URL is a 404, and SIGINT stops everything (exit 0, pywb gone, folder removed).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import Cli, free_port
from news_site import PARAGRAPHS, STORY_PATH, TITLE, NewsServer, capture, serve_news
from warc_helpers import warcio_check

from archiver.store import cdxj
from archiver.store.archive import Archive
from archiver.store.warc import WarcFileWriter, sha256_label

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 150
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
OPEN_PAGE = b"<!doctype html><html><head><title>Dang ghi</title></head><body><h1>Dang ghi</h1>"\
    b"<p>A record in a WARC that is still open.</p></body></html>"


@pytest.fixture(scope="module")
def news() -> Iterator[NewsServer]:
    yield from serve_news()


def write_warc(archive: Archive, rel: str, when: datetime,
               write: Any) -> None:
    with archive.atomic_file(rel) as f:
        writer = WarcFileWriter(f, Path(rel).name)
        writer.write_warcinfo({"software": "archiver tests"}, when)
        write(writer)
    assert warcio_check(archive.resolve(rel)).returncode == 0


@pytest.fixture(scope="module")
def archive(news: NewsServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The story captured once; then, written here as the storage engine will: a revisit of
    it a day later (WARC 1.1 §6.7.2, headers only), and a WARC left `.open`."""
    root = tmp_path_factory.mktemp("replay") / "archive"
    story = news.url(STORY_PATH)
    capture(Cli(root), story)
    arch = Archive(root)
    [article_file] = sorted((root / "articles").rglob("*.json"))
    original = json.loads(article_file.read_bytes())["capture"]

    later = datetime.fromisoformat(original["warc_date"]) + timedelta(days=1)
    revisit_rel = "warcs/2026/11/revisit-test.warc.gz"

    def revisit(w: WarcFileWriter) -> None:
        w.write_record(
            "revisit", story,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n", later,
            content_type="application/http; msgtype=response",
            payload_digest=original["payload_digest"],
            extra={"WARC-Profile": REVISIT_PROFILE,
                   "WARC-Refers-To": original["record_id"],
                   "WARC-Refers-To-Target-URI": story,
                   "WARC-Refers-To-Date": original["warc_date"]})

    write_warc(arch, revisit_rel, later, revisit)

    open_url = news.url("/being-written")
    open_rel = "warcs/2026/11/rolling-test.warc.gz"

    def response(w: WarcFileWriter) -> None:
        http = (b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                b"Content-Length: %d\r\n\r\n" % len(OPEN_PAGE)) + OPEN_PAGE
        w.write_record("response", open_url, http, later,
                       content_type="application/http; msgtype=response",
                       payload_digest=sha256_label(hashlib.sha256(OPEN_PAGE).digest()))

    write_warc(arch, open_rel, later, response)
    for rel in (revisit_rel, open_rel):
        cdxj.index_warc_file(arch, rel)
    # The index names the final name; on disk the file is still being written.
    path = arch.resolve(open_rel)
    path.rename(path.with_name(path.name + ".open"))
    return {"root": root, "story": story, "open_url": open_url,
            "revisit_stamp": later.strftime("%Y%m%d%H%M%S"),
            "revisit_date": later}


class Lines:
    """The subprocess's stdout lines, read by a thread (select() on a buffered pipe misses
    lines already in Python's buffer)."""

    def __init__(self, proc: subprocess.Popen[str], log: Path) -> None:
        self.proc, self.log = proc, log
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.queue.put(line)

    def next_json(self, deadline: float) -> dict[str, Any]:
        while time.monotonic() < deadline:
            try:
                return dict(json.loads(self.queue.get(timeout=0.5)))
            except queue.Empty:
                if self.proc.poll() is not None and self.queue.empty():
                    pytest.fail(f"archiver replay exited with {self.proc.returncode}:\n"
                                f"{self.log.read_text()}")
        pytest.fail(f"archiver replay printed nothing within {STARTUP_SECONDS}s:\n"
                    f"{self.log.read_text()}")


@pytest.fixture(scope="module")
def served(archive: dict[str, Any]) -> Iterator[dict[str, Any]]:
    port = free_port()
    log = archive["root"].parent / "replay.log"
    stderr = open(log, "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", "replay", "--archive", str(archive["root"]),
         "--port", str(port), "--list", "--json"],
        stdout=subprocess.PIPE, stderr=stderr, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        lines = Lines(proc, log)
        head = lines.next_json(deadline)
        links = [lines.next_json(deadline)]  # one article in this archive
        yield {"proc": proc, "head": head, "links": links, "port": port}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        stderr.close()


def title_of(html: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", html, re.S)
    return found.group(1).strip() if found else ""


def test_replay_serves_the_article_the_revisit_and_the_open_warc(archive, served):
    collection = served["head"]["collection"]
    assert collection == f"http://127.0.0.1:{served['port']}/archive/"

    [link] = served["links"]
    assert link["url"] == archive["story"] and link["title"] == TITLE
    page = requests.get(link["replay"], timeout=30)
    assert page.status_code == 200, page.text[:300]
    assert title_of(page.text) == TITLE

    # The revisit (a day later, headers only) replays with the original capture's body.
    revisit = requests.get(f"{collection}{archive['revisit_stamp']}/{archive['story']}",
                           timeout=30)
    assert revisit.status_code == 200, revisit.text[:300]
    served_at = revisit.headers["Memento-Datetime"]
    assert served_at == archive["revisit_date"].astimezone(UTC).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")  # the revisit record itself was chosen...
    assert title_of(revisit.text) == TITLE  # ...and its payload came from the original
    assert PARAGRAPHS[0] in revisit.text

    still_open = requests.get(f"{collection}{archive['open_url']}", timeout=30)
    assert still_open.status_code == 200, still_open.text[:300]
    assert title_of(still_open.text) == "Dang ghi"

    missing = requests.get(f"{collection}{archive['story']}-never-captured", timeout=30)
    assert missing.status_code == 404


def test_sigint_stops_replay_and_pywb(served):
    proc, pywb_pid = served["proc"], served["head"]["pid"]
    config = Path(served["head"]["config"])
    assert config.is_file()
    os.kill(pywb_pid, 0)  # running
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert not config.parent.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pywb_pid, 0)
    with pytest.raises(requests.ConnectionError):
        requests.get(served["head"]["collection"], timeout=5)


def test_a_port_in_use_is_one_line_and_exit_2(archive):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = Cli(archive["root"])("replay", "--port", str(port))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: port {port} on 127.0.0.1 is in use; choose another with --port"]


def test_without_pywb_replay_names_the_extra(archive, monkeypatch):
    monkeypatch.setitem(sys.modules, "pywb", None)  # find_spec then says: not installed
    result = Cli(archive["root"])("replay")
    assert result.exit_code == 2
    assert "pip install 'archiver[replay]'" in result.output
    assert len(result.output.strip().splitlines()) == 1
