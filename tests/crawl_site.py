"""A news site of a few hundred URLs on two loopback hosts, served by the test, with its own
request log: the ground truth for crawl tests.

- pages on 127.0.0.1: home, 6 sections with pagination (`/<section>/trang-N`), 120 VOV-template
  articles (lazy-loaded images on the CDN, a stylesheet), an RSS feed, a sitemap index with a
  news sitemap, robots.txt (disallows /private/, names the sitemap, Crawl-delay), a calendar
  trap (`/lich/YYYY-MM`, each month links the next and previous), a repeating-path trap
  (`/tag/x/` links `tag/x/`), utm_ copies of links, a 404, a redirect, and an off-site link;
- the "CDN" on 127.0.0.2: article images, a stylesheet importing another (whose font must
  not be fetched: one level of CSS), a lazy image and srcset candidates;
- an off-site host on 127.0.0.3 that must never be asked for anything.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vov_pages import SECTION_SLUGS, SPECS, render

SECTIONS = list(SECTION_SLUGS.values())
PER_SECTION = 12
PAGE_SIZE = 8
CRAWL_DELAY = 0.03  # robots.txt Crawl-delay of the pages host
CALENDAR_START = (2026, 11)
SITEMAP_ONLY = 3  # articles listed only in the news sitemap
FEED_ONLY = 2  # articles listed only in the RSS feed
GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
       b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


@dataclass
class Hit:
    at: float
    host: str  # "pages", "cdn" or "offsite"
    path: str


@dataclass
class Article:
    section: str
    post: int
    title: str

    @property
    def path(self) -> str:
        return f"/{self.section}/bai-{self.post}-post{self.post}.vov"


def _articles() -> list[Article]:
    out = []
    for s, section in enumerate(SECTIONS):
        for i in range(PER_SECTION):
            post = 1_100_000 + s * 1000 + i
            out.append(Article(section, post, f"Tin {section} số {i}: chuyện thời sự {post}"))
    return out


@dataclass
class Site:
    pages_base: str = ""
    cdn_base: str = ""
    offsite_base: str = ""
    articles: list[Article] = field(default_factory=_articles)
    extra: list[Article] = field(default_factory=list)  # added later, on section pages
    sitemap_only: list[Article] = field(default_factory=lambda: [
        Article("kinh-te", 1_200_000 + i, f"Tin chỉ có trong sitemap {i}")
        for i in range(SITEMAP_ONLY)])
    feed_only: list[Article] = field(default_factory=lambda: [
        Article("the-gioi", 1_300_000 + i, f"Tin chỉ có trong RSS {i}")
        for i in range(FEED_ONLY)])

    def all_articles(self) -> list[Article]:
        return self.articles + self.extra + self.sitemap_only + self.feed_only

    def section_list(self, section: str) -> list[Article]:
        listed = [a for a in self.extra if a.section == section]
        return listed + [a for a in self.articles if a.section == section]

    # -- pages ------------------------------------------------------------------------------
    def page(self, path: str) -> tuple[int, str, bytes, dict[str, str]]:
        html_type = "text/html; charset=utf-8"
        by_path = {a.path: a for a in self.all_articles()}
        if path == "/":
            return 200, html_type, self.home(), {}
        if path in by_path:
            return 200, html_type, self.article(by_path[path]), {}
        if path == "/robots.txt":
            return 200, "text/plain", self.robots(), {}
        if path == "/sitemap_index.xml":
            return 200, "application/xml", self.sitemap_index(), {}
        if path == "/sitemap-news.xml":
            return 200, "application/xml", self.news_sitemap(), {}
        if path == "/rss/home.rss":
            return 200, "application/rss+xml", self.rss(), {}
        if path == "/go/featured":
            return 301, "text/plain", b"moved\n", {"Location": self.articles[0].path}
        if path.startswith("/lich/"):
            return 200, html_type, self.calendar(path.removeprefix("/lich/")), {}
        if path.startswith("/tag/"):
            return 200, html_type, _html("Tag", '<a href="tag/x/">again</a>'), {}
        if path == "/themes/vov/css/style.css":
            return 200, "text/css", (f"@import url('{self.cdn_base}/static/fonts.css');\n"
                                     "body{background:url(../img/bg.png)}\n").encode(), {}
        if path in ("/themes/vov/img/bg.png", "/qc/top.gif"):
            return 200, "image/gif", GIF, {}
        for section in SECTIONS:
            if path == f"/{section}/":
                return 200, html_type, self.listing(section, 1), {}
            if path.startswith(f"/{section}/trang-"):
                n = int(path.rsplit("-", 1)[1])
                if self.pages_of(section) >= n > 1:
                    return 200, html_type, self.listing(section, n), {}
        return 404, html_type, _html("Not found", "<p>Không tìm thấy</p>"), {}

    def cdn(self, path: str) -> tuple[int, str, bytes, dict[str, str]]:
        if path.startswith("/img/"):
            return 200, "image/gif", GIF, {}
        if path == "/static/fonts.css":
            return 200, "text/css", b"@font-face{font-family:v;src:url(font.woff2)}\n", {}
        if path == "/static/vov.css":
            return 200, "text/css", b".a{background:url(/img/sprite.gif)}\n", {}
        return 404, "text/plain", b"no\n", {}

    def pages_of(self, section: str) -> int:
        return -(-len(self.section_list(section)) // PAGE_SIZE)

    def home(self) -> bytes:
        top = self.articles[:6]
        links = "".join(f'<li><a href="{a.path}?utm_source=home&amp;utm_medium=web">'
                        f"{html.escape(a.title)}</a></li>" for a in top)
        links += "".join(f'<li><a href="{a.path}#comments">{html.escape(a.title)}</a></li>'
                         for a in top)
        y, m = CALENDAR_START
        body = (f"<ul>{links}</ul>"
                + "".join(f'<a href="/{s}/">{s}</a> ' for s in SECTIONS)
                + f'<a href="/lich/{y}-{m:02d}">Lịch</a> <a href="/tag/x/">tag</a> '
                '<a href="/private/report">nội bộ</a> <a href="/missing">cũ</a> '
                '<a href="/go/featured">nổi bật</a> '
                f'<a href="{self.offsite_base}/offsite">đối tác</a>'
                '<a href="mailto:toasoan@example.org">thư</a>')
        head = ('<link rel="alternate" type="application/rss+xml" href="/rss/home.rss">'
                f'<link rel="stylesheet" href="{self.cdn_base}/static/vov.css">'
                '<link rel="icon" href="/qc/top.gif">')
        return _html("VOV.VN (SYNTHETIC)", body, head)

    def listing(self, section: str, n: int) -> bytes:
        items = self.section_list(section)[(n - 1) * PAGE_SIZE:n * PAGE_SIZE]
        body = "".join(f'<article><h3><a href="{a.path}">{html.escape(a.title)}</a></h3>'
                       f"</article>" for a in items)
        head = ""
        if n < self.pages_of(section):
            head += f'<link rel="next" href="/{section}/trang-{n + 1}">'
            body += f'<a class="next" href="/{section}/trang-{n + 1}">Trang sau</a>'
        if n > 1:
            head += f'<link rel="prev" href="/{section}/trang-{n - 1}">'
        return _html(f"{section} trang {n}", body, head)

    def article(self, a: Article) -> bytes:
        spec = replace(SPECS[0], name=f"post-{a.post}", post=a.post, slug=f"bai-{a.post}",
                       title=a.title, images=((f"{self.cdn_base}/img/{a.post}.jpg", None),),
                       related=False)
        page = render(spec).decode()
        if a.post % 1000 < 2:  # a few articles also carry a responsive thumbnail
            thumb = (f'<img src="{self.cdn_base}/img/{a.post}-s.jpg" srcset="{self.cdn_base}/'
                     f'img/{a.post}-m.jpg 2x, {self.cdn_base}/img/{a.post}-l.jpg 3x" alt="">')
            page = page.replace("</footer>", thumb + "</footer>")
        return page.encode()

    def calendar(self, month: str) -> bytes:
        y, m = (int(x) for x in month.split("-"))
        nxt = (y + m // 12, m % 12 + 1)
        prev = (y - (m == 1), 12 if m == 1 else m - 1)
        body = (f'<a href="/lich/{nxt[0]}-{nxt[1]:02d}">tháng sau</a>'
                f'<a href="/lich/{prev[0]}-{prev[1]:02d}">tháng trước</a>')
        return _html(f"Lịch {month}", body)

    def robots(self) -> bytes:
        return (f"User-agent: *\nDisallow: /private/\nCrawl-delay: {CRAWL_DELAY}\n\n"
                f"Sitemap: {self.pages_base}/sitemap_index.xml\n").encode()

    def sitemap_index(self) -> bytes:
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitema'
                f'ps.org/schemas/sitemap/0.9"><sitemap><loc>{self.pages_base}/sitemap-news.xml'
                "</loc></sitemap></sitemapindex>\n").encode()

    def news_sitemap(self) -> bytes:
        urls = "".join(
            f"<url><loc>{self.pages_base}{a.path}</loc><news:news><news:publication>"
            "<news:name>VOV</news:name><news:language>vi</news:language></news:publication>"
            "<news:publication_date>2026-11-29T08:00:00+07:00</news:publication_date>"
            f"<news:title>{html.escape(a.title)}</news:title></news:news></url>"
            for a in self.sitemap_only + self.articles[:10])
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/'
                'schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/'
                f'0.9">{urls}</urlset>\n').encode()

    def rss(self) -> bytes:
        items = "".join(f"<item><title>{html.escape(a.title)}</title>"
                        f"<link>{self.pages_base}{a.path}</link>"
                        "<pubDate>Sun, 29 Nov 2026 01:00:00 GMT</pubDate></item>"
                        for a in self.feed_only + self.extra + self.articles[:5])
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
                f"<title>VOV</title><link>{self.pages_base}/</link>{items}</channel></rss>\n"
                ).encode()


def _html(title: str, body: str, head: str = "") -> bytes:
    return (f'<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>{title}'
            f"</title>{head}</head><body>{body}</body></html>\n").encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.log.append(Hit(time.monotonic(), srv.role, self.path))
        path = self.path.split("?")[0]
        if srv.role == "pages":
            status, ctype, body, headers = srv.site.page(path)
        elif srv.role == "cdn":
            status, ctype, body, headers = srv.site.cdn(path)
        else:
            status, ctype, body, headers = 200, "text/html", _html("x", ""), {}
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: str, role: str, site: Site, log: list[Hit]) -> None:
        super().__init__((address, 0), _Handler)
        self.role, self.site, self.log = role, site, log

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class NewsSite:
    """The three servers and the shared request log."""

    def __init__(self) -> None:
        self.site = Site()
        self.log: list[Hit] = []
        self.servers = [_Server(addr, role, self.site, self.log) for addr, role in
                        (("127.0.0.1", "pages"), ("127.0.0.2", "cdn"), ("127.0.0.3", "offsite"))]
        pages, cdn, offsite = self.servers
        self.site.pages_base, self.site.cdn_base = pages.base, cdn.base
        self.site.offsite_base = offsite.base
        for srv in self.servers:
            threading.Thread(target=srv.serve_forever, daemon=True).start()

    @property
    def home(self) -> str:
        return self.site.pages_base + "/"

    def hits(self, host: str = "pages", since: int = 0) -> list[Hit]:
        return [h for h in self.log[since:] if h.host == host]

    def paths(self, host: str = "pages", since: int = 0) -> list[str]:
        return [h.path.split("?")[0] for h in self.hits(host, since)]

    def add_articles(self, n: int) -> list[Article]:
        new = [Article("xa-hoi", 1_400_000 + len(self.site.extra) + i, f"Tin mới {i}")
               for i in range(n)]
        self.site.extra += new
        return new

    def close(self) -> None:
        for srv in self.servers:
            srv.shutdown()
            srv.server_close()

    def __enter__(self) -> NewsSite:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
