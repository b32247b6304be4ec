"""A small news site on the loopback fixture server whose article text the test controls, so
the same URL can be captured several times with different content (repeated snapshots).

The pages are plain HTML that archiver's generic extractor reads (no site profile needed).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from conftest import Cli
from http_fixture import FixtureServer, Handler

STORY_PATH = "/news/mua-ha-noi"
REDIRECT_PATH = "/go/mua-ha-noi"  # 301 -> STORY_PATH
TITLE = "Thời tiết Hà Nội: mưa rào cuối tuần"
PARAGRAPHS = [
    "Hà Nội hôm nay có mưa rào và dông vài nơi, nhiệt độ thấp nhất 24 độ C, cao nhất 31 độ C; "
    "gió đông nam cấp 2-3.",
    "Các chuyên gia khí tượng cho biết đợt mưa này sẽ kéo dài đến cuối tuần, người dân cần "
    "chú ý khi tham gia giao thông.",
    "Trung tâm Dự báo khí tượng thủy văn quốc gia sẽ tiếp tục cập nhật tình hình thời tiết "
    "trong các bản tin tiếp theo.",
]


@dataclass
class Story:
    title: str = TITLE
    paragraphs: list[str] = field(default_factory=lambda: list(PARAGRAPHS))
    published: str = "2026-11-20T08:00:00+07:00"

    def html(self) -> bytes:
        body = "".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)
        return (
            "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title>"
            f"<meta property='article:published_time' content='{self.published}'></head>"
            f"<body><article><h1>{html.escape(self.title)}</h1>"
            f"<p class='byline'>Minh Hòa/VOV.VN</p>{body}</article></body></html>\n"
        ).encode()


class NewsHandler(Handler):
    server: NewsServer

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == STORY_PATH:
            self.server.hits.append(self.path)
            self.send_body(self.server.story.html())
        elif path == REDIRECT_PATH:
            self.server.hits.append(self.path)
            self.redirect(301, STORY_PATH)
        else:
            super().do_GET()


class NewsServer(FixtureServer):
    """The shared fixture server with the story routes added; `story` is what it serves."""

    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = NewsHandler
        self.story = Story()


def serve_news() -> Iterator[NewsServer]:
    """For a test module's fixture: `yield from serve_news()`."""
    srv = NewsServer()
    srv.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def capture(run: Cli, *urls: str, dedup: str = "url") -> None:
    result = run("capture", *urls, "--workers", "1", "--dedup", dedup)
    assert result.exit_code == 0, result.output


def three_snapshots(run: Cli, news: NewsServer) -> str:
    """Capture the story three times: as first published, with paragraph 2 corrected, and
    unchanged again. Returns the story URL. Without deduplication, so the unchanged third
    capture stores its payload and derives its own snapshot (tests/test_revisits.py covers
    the default, where it becomes a revisit record)."""
    url = news.url(STORY_PATH)
    capture(run, url, dedup="off")
    news.story.paragraphs[1] = PARAGRAPHS[1].replace("cuối tuần", "thứ Hai tuần sau")
    capture(run, url, dedup="off")
    capture(run, url, dedup="off")
    return url


def article_files(archive: Path) -> list[Path]:
    return sorted((archive / "articles").rglob("*.json"))
