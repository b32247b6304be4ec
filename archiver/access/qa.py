"""`archiver qa`: replay each browser capture in pywb with the same Chromium and compare what
the replay shows with what the browser saw at capture time (as Browsertrix Crawler's QA does).

It lives in `access`, not `check`: it needs pywb replay (access) and the browser driver
(capture), and `check` sits below both in the layers (pyproject's import contracts). It only
reads the archive: the replay's screenshot and text are compared in memory, and a diff image
is written only where asked (`--diff-dir`), outside the archive.

Scores (each 0..1):
- screenshot: the share of pixels alike between the capture's viewport screenshot
  (`urn:view:`) and the replay's, by pixelmatch with threshold 0.1 (Browsertrix's setting);
- text: 1 - Levenshtein distance / length of the longer text, between the capture's visible
  text (`urn:text:`) and the replay's;
- resources: responses loaded (< 400) and failed, at capture and at replay (a request the
  replay makes outside pywb, toward the live web, is refused and counted as failed).
"""

from __future__ import annotations

import io
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.access.replay import Replay, timestamp14
from archiver.base.errors import UsageError
from archiver.capture.browser.page import Browser, BrowserOptions, first_line
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.rolling import open_path
from archiver.store.warc import read_record_at

PIXEL_THRESHOLD = 0.1
TEXT_CAP = 200_000  # characters compared: Levenshtein is quadratic


@dataclass
class BrowserCapture:
    """One browser capture as the manifest names it."""

    url: str
    seq: int
    page_record: dict[str, Any]
    attachments: dict[str, dict[str, Any]]  # kind -> the attachment's record (file, offset)
    resources: dict[str, int]


@dataclass
class QaResult:
    url: str
    seq: int
    replay_url: str
    screenshot: float | None = None
    text: float | None = None
    capture_resources: dict[str, int] = field(default_factory=dict)
    replay_resources: dict[str, int] = field(default_factory=dict)
    diff: str | None = None
    error: str | None = None
    ok: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "seq": self.seq, "replay_url": self.replay_url,
                "screenshot": self.screenshot, "text": self.text,
                "resources": {"capture": self.capture_resources,
                              "replay": self.replay_resources},
                "diff": self.diff, "error": self.error, "ok": self.ok}


def browser_captures(archive: Archive, url: str | None) -> list[BrowserCapture]:
    """The latest browser capture of `url`, or of every URL (None), in URL order."""
    latest: dict[str, BrowserCapture] = {}
    for entry in manifest.iter_entries(archive.manifest_path):
        browser = entry.get("browser")
        if entry.get("event") != "capture" or not browser or not browser.get("page_record"):
            continue
        source = entry["source"]["url"]
        if url is not None and url not in (source, entry["source"].get("final_url")):
            continue
        records = {r["id"]: r for r in entry.get("records", [])}
        latest[source] = BrowserCapture(
            source, entry["seq"], records[browser["page_record"]],
            {a["kind"]: records[a["record_id"]] for a in browser.get("attachments", [])
             if a["record_id"] in records},
            browser.get("resources", {}))
    if url is not None and not latest:
        raise UsageError(f"{url}: no browser capture of this URL in the archive")
    return [latest[k] for k in sorted(latest)]


def _payload(archive: Archive, record: dict[str, Any], cap: int = 64 * 1024 * 1024
             ) -> tuple[bytes, dict[str, str]]:
    stored = read_record_at(open_path(archive, record["file"]), record["offset"], cap=cap)
    return stored.payload, stored.headers


def screenshot_match(captured: bytes, replayed: bytes,
                     diff_path: Path | None = None) -> float:
    """Share of pixels alike (pixelmatch, threshold 0.1); images of different sizes are
    compared over the capture's size, the replay cropped or padded white.

    pixelmatch's Python port costs ~50 µs a pixel (a 1600x900 screenshot that differs
    everywhere takes over a minute), so it is given only the box around the pixels that
    differ at all, plus a margin of 3 pixels (its anti-aliasing test looks 2 pixels out):
    pixels outside the box are identical, which pixelmatch counts as alike anyway, so the
    count is the same."""
    from PIL import Image, ImageChops
    from pixelmatch.contrib.PIL import pixelmatch

    a = Image.open(io.BytesIO(captured)).convert("RGBA")
    b = Image.open(io.BytesIO(replayed)).convert("RGBA")
    if b.size != a.size:
        canvas = Image.new("RGBA", a.size, (255, 255, 255, 255))
        canvas.paste(b.crop((0, 0, min(a.width, b.width), min(a.height, b.height))))
        b = canvas
    # (getbbox of an RGBA image looks at alpha only: compare the channels without it)
    box = ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox()
    diff = Image.blend(Image.new("RGBA", a.size, (255, 255, 255, 255)),
                       a.convert("L").convert("RGBA"), 0.1) if diff_path else None
    mismatched = 0
    if box is not None:
        margin = 3
        box = (max(0, box[0] - margin), max(0, box[1] - margin),
               min(a.width, box[2] + margin), min(a.height, box[3] + margin))
        part = Image.new("RGBA", (box[2] - box[0], box[3] - box[1])) if diff else None
        mismatched = pixelmatch(a.crop(box), b.crop(box), part, threshold=PIXEL_THRESHOLD)
        if diff is not None and part is not None:
            diff.paste(part, box[:2])
    if diff is not None and diff_path is not None:
        diff.save(diff_path, "PNG")
    return 1.0 - mismatched / (a.width * a.height)


def text_match(captured: str, replayed: str) -> float:
    """1 - Levenshtein distance / length of the longer text (1.0 for two empty texts)."""
    from rapidfuzz.distance import Levenshtein

    a, b = captured[:TEXT_CAP], replayed[:TEXT_CAP]
    longer = max(len(a), len(b))
    return 1.0 if longer == 0 else 1.0 - Levenshtein.distance(a, b) / longer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_qa(archive: Archive, url: str | None, options: BrowserOptions, *,
           min_screenshot: float = 0.9, min_text: float = 0.95,
           diff_dir: Path | None = None,
           on_result: Callable[[QaResult], None] | None = None) -> list[QaResult]:
    captures = browser_captures(archive, url)
    if not captures:
        return []
    if diff_dir is not None:
        diff_dir.mkdir(parents=True, exist_ok=True)
    import subprocess

    replay = Replay(archive, "127.0.0.1", free_port(), log=subprocess.DEVNULL)
    replay.start()
    results = []
    try:
        browser = Browser(options, replay_base=replay.base_url)
        try:
            for capture in captures:
                result = _qa_one(archive, browser, replay, capture, diff_dir)
                result.ok = result.error is None and (result.screenshot or 0) >= min_screenshot \
                    and (result.text or 0) >= min_text
                results.append(result)
                if on_result:
                    on_result(result)
        finally:
            browser.close()
    finally:
        replay.stop()
    return results


def _qa_one(archive: Archive, browser: Browser, replay: Replay, capture: BrowserCapture,
            diff_dir: Path | None) -> QaResult:
    _, page_headers = _payload(archive, capture.page_record, cap=0)  # its headers only
    stamp = timestamp14(page_headers.get("WARC-Date", ""))
    # mp_: the page itself, without pywb's frame or banner, as the browser first saw it
    target = page_headers.get("WARC-Target-URI", capture.url)
    replay_url = f"{replay.collection_url}{stamp}mp_/{target}"
    result = QaResult(capture.url, capture.seq, replay_url,
                      capture_resources=dict(capture.resources))
    if "screenshot-view" not in capture.attachments or "text" not in capture.attachments:
        result.error = "the capture has no viewport screenshot or visible text to compare"
        return result
    try:
        view = browser.view(replay_url, attachments=("view", "text"))
    except Exception as exc:  # the browser itself failed (crashed, closed): a finding
        result.error = f"browser failed: {first_line(exc)}"
        return result
    result.replay_resources = {"loaded": len(view.loaded), "failed": len(view.failed)}
    if view.screenshot_view is None or view.text is None:
        result.error = "replay gave no screenshot or text: " + "; ".join(
            f"{s.name} {s.outcome}" for s in view.steps if s.outcome != "ok")
        return result
    shot, _ = _payload(archive, capture.attachments["screenshot-view"])
    text, _ = _payload(archive, capture.attachments["text"])
    diff_path = diff_dir / f"{capture.seq}-{_safe(capture.url)}.png" if diff_dir else None
    try:
        result.screenshot = round(screenshot_match(shot, view.screenshot_view, diff_path), 4)
    except OSError as exc:  # PIL: a stored screenshot that is not a readable image
        result.error = f"screenshot not comparable: {exc}"
        return result
    result.text = round(text_match(text.decode("utf-8", "replace"), view.text), 4)
    result.diff = str(diff_path) if diff_path else None
    return result


def _safe(url: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", url)[:100]

