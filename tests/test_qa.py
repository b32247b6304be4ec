"""`archiver qa`: browser captures replayed in a real pywb with the same Chromium and
scored against what the browser saw. The script-rendered page with lazy images replays at
>= 0.95; a page that draws with Math.random (which pywb seeds on replay) falls below."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_site import Site
from conftest import Cli

from archiver.access.qa import screenshot_match, text_match
from archiver.capture.browser.guard import parse_allowed
from archiver.capture.browser.page import DEFAULT_EXECUTABLE, BrowserOptions
from archiver.capture.browser.run import capture_browser
from archiver.capture.run import CaptureOptions
from archiver.store.archive import Archive

pytestmark = pytest.mark.skipif(not os.access(DEFAULT_EXECUTABLE, os.X_OK),
                                reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("qa")
    site = Site()
    archive = Archive(tmp / "archive")
    outcomes = capture_browser(
        archive, [site.base + "/", site.base + "/random", site.base + "/"], CaptureOptions(),
        BrowserOptions(page_timeout=20, allowed=parse_allowed([f"127.0.0.1:{site.port}"])))
    assert [o.outcome for o in outcomes] == ["archived"] * 3
    site.close()  # replay must not need the live site
    result = Cli(archive.root)("qa", "--all", "--json", "--diff-dir", str(tmp / "diffs"))
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    yield {"result": result, "by_url": {line["url"]: line for line in lines},
           "base": site.base, "archive": archive, "tmp": tmp}


def test_script_rendered_page_replays_as_captured(qa_run) -> None:
    line = qa_run["by_url"][qa_run["base"] + "/"]
    assert line["screenshot"] >= 0.95 and line["text"] >= 0.95, line
    assert line["ok"] and line["error"] is None
    assert "mp_/" in line["replay_url"]
    # the XHR and the four lazy images came back from pywb
    assert line["resources"]["replay"]["loaded"] >= line["resources"]["capture"]["loaded"] >= 7
    assert line["resources"]["replay"]["failed"] == 0


def test_unchanged_raw_page_still_takes_its_article_from_the_dom(qa_run) -> None:
    """The second capture of the script page: its raw answer is a revisit (dedup), and the
    article, which the raw page never held, comes from that capture's rendered DOM."""
    from archiver.store import manifest

    url = qa_run["base"] + "/"
    entries = [e for e in manifest.iter_entries(qa_run["archive"].manifest_path)
               if e["event"] == "capture" and e["source"]["url"] == url]
    first, second = entries
    assert "revisit" not in first and second["revisit"]["profile"].endswith(
        "identical-payload-digest")
    dom = next(a for a in second["browser"]["attachments"] if a["kind"] == "dom")
    assert second["articles"][0]["record_id"] == dom["record_id"]
    # qa replayed this latest capture (its page a revisit, resolved by pywb)
    assert qa_run["by_url"][url]["seq"] == second["seq"]


def test_page_that_differs_on_replay_is_below_and_exit_is_1(qa_run) -> None:
    line = qa_run["by_url"][qa_run["base"] + "/random"]
    assert not line["ok"]
    assert line["text"] < 0.95 or line["screenshot"] < 0.9, line
    assert qa_run["result"].exit_code == 1
    diff = Path(line["diff"])
    assert diff.is_file() and diff.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scores_are_computed_not_assumed() -> None:
    from PIL import Image

    def png(color: tuple[int, int, int], half: tuple[int, int, int] | None = None) -> bytes:
        img = Image.new("RGB", (100, 50), color)
        if half:
            img.paste(Image.new("RGB", (50, 50), half), (0, 0))
        out = io.BytesIO()
        img.save(out, "PNG")
        return out.getvalue()

    assert screenshot_match(png((255, 255, 255)), png((255, 255, 255))) == 1.0
    assert screenshot_match(png((255, 255, 255)), png((255, 255, 255), (0, 0, 0))) == 0.5
    assert text_match("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert text_match("", "") == 1.0


def test_qa_usage_errors(qa_run, tmp_path: Path) -> None:
    run = Cli(qa_run["archive"].root)
    assert run("qa").exit_code == 2
    result = run("qa", "http://nowhere.invalid/")
    assert result.exit_code == 2 and "no browser capture" in result.output
