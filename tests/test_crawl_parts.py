"""The crawler's parts on their own: canonical URLs, traps, discovery, robots, scope, frontier;
and politeness under 429/503 on real loopback servers."""

from __future__ import annotations

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from archiver.capture.crawl.discover import css_urls, html_links, srcset_urls, xml_links
from archiver.capture.crawl.frontier import Frontier
from archiver.capture.crawl.robots import Robots
from archiver.capture.crawl.scope import Scope
from archiver.capture.crawl.traps import TrapLimits, trap_reason
from archiver.capture.crawl.urls import BadUrl, canonical, seen_key


@pytest.mark.parametrize(("raw", "expected"), [
    ("HTTP://Example.COM:80/a/../b/%7euser/?b=2&a=1#frag", "http://example.com/b/~user/?a=1&b=2"),
    ("https://vov.vn", "https://vov.vn/"),
    ("https://vov.vn:443/x?utm_source=fb&utm_medium=s&id=3&fbclid=Z&gclid=Q",
     "https://vov.vn/x?id=3"),
    ("http://a.vn/%e1%bb%87?q=1", "http://a.vn/%E1%BB%87?q=1"),
])
def test_canonical(raw, expected):
    assert canonical(raw) == expected


def test_seen_key_is_the_surt_so_variants_agree():
    assert seen_key(canonical("http://www.vov.vn/a?b=1&a=2")) == \
        seen_key(canonical("https://vov.vn/a?a=2&b=1&utm_campaign=x#top"))
    assert seen_key(canonical("https://vov.vn/a")) != seen_key(canonical("https://vov.vn/b"))


@pytest.mark.parametrize("bad", ["ftp://x/", "mailto:a@b", "http:///nohost", "http://[::1/"])
def test_canonical_refuses(bad):
    with pytest.raises(BadUrl):
        canonical(bad)


def test_traps():
    limits = TrapLimits(max_url_length=60, max_path_depth=4)
    assert trap_reason("http://h/a/b/c", limits) is None
    assert trap_reason("http://h/" + "x" * 80, limits) == "trap: URL too long"
    assert trap_reason("http://h/1/2/3/4/5", limits) == "trap: path too deep"
    assert trap_reason("http://h/a/b/a/b/a/b", TrapLimits()) == "trap: repeated path segments"
    assert trap_reason("http://h/a/b/a/b", TrapLimits()) is None
    assert trap_reason("http://h/x/x/x", TrapLimits()) == "trap: repeated path segments"


def test_srcset_every_candidate():
    assert srcset_urls("a.jpg 1x, b,c.jpg 2x,d.jpg") == ["a.jpg", "b,c.jpg", "d.jpg"]
    assert srcset_urls(" x.webp 100w,\n y.webp 200w ") == ["x.webp", "y.webp"]
    assert srcset_urls("") == []


def test_html_links_and_requisites():
    page = b"""<html><head><base href="/s/"><link rel="stylesheet" href="a.css">
    <link rel="preload" href="f.woff2" as="font"><link rel="canonical" href="/c">
    <link rel="alternate" type="application/atom+xml" href="/atom"></head><body>
    <a href="p1">1</a><area href="/map"><a href="javascript:void(0)">x</a>
    <img src="i.gif" data-src="lazy.jpg" srcset="s1.jpg 1x, s2.jpg 2x">
    <picture><source srcset="w.webp"></picture><video poster="v.jpg"><source src="v.mp4"></video>
    <script src="j.js"></script><div style="background:url('bg.png')"></div></body></html>"""
    found = html_links("http://h/x/page", page)
    assert found.pages == ["http://h/c", "http://h/s/p1", "http://h/map"]
    assert found.feeds == ["http://h/atom"]
    assert set(found.requisites) == {f"http://h/s/{n}" for n in (
        "a.css", "f.woff2", "i.gif", "lazy.jpg", "s1.jpg", "s2.jpg", "w.webp", "v.jpg", "v.mp4",
        "j.js", "bg.png")}


def test_css_urls_and_imports():
    css = b"@import 'a.css'; @import url(b.css) screen; p{background:url(\"../i/x.png\")}"
    assert css_urls("http://h/c/s.css", css) == ["http://h/c/a.css", "http://h/c/b.css",
                                                 "http://h/i/x.png"]


def test_gzipped_sitemap_and_atom_feed():
    sitemap = gzip.compress(b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/sche'
                            b'mas/sitemap/0.9"><url><loc>http://h/a</loc></url></urlset>')
    assert xml_links("http://h/s.xml.gz", sitemap).pages == ["http://h/a"]
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            b'<entry><title>e</title><link href="http://h/e1"/><id>1</id></entry></feed>')
    found = xml_links("http://h/atom", atom)
    assert found.source == "feed" and found.pages == ["http://h/e1"]


def test_sitemap_refuses_external_entities():
    evil = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://h/&e;'
            b"</loc></url></urlset>")
    assert all("root:" not in u for u in xml_links("http://h/s.xml", evil).pages)


def test_robots_rules():
    robots = Robots.from_answer(200, b"User-agent: *\nDisallow: /private/\nCrawl-delay: 2\n"
                                     b"Sitemap: http://h/sm.xml\n")
    assert not robots.allows("http://h/private/x") and robots.allows("http://h/public")
    assert robots.crawl_delay() == 2.0 and robots.sitemaps() == ["http://h/sm.xml"]
    assert Robots.from_answer(404, b"").allows("http://h/private/x")
    assert not Robots.from_answer(503, b"").allows("http://h/")  # RFC 9309 2.3.1.4
    assert not Robots.from_answer(None, b"").allows("http://h/")


def test_scope_modes():
    seeds = ["http://vov.vn/chinh-tri/index.html"]
    assert Scope("host", seeds).page_reason("http://www.vov.vn/x") is None
    assert Scope("host", seeds).page_reason("http://en.vov.vn/x") == "out of scope"
    assert Scope("domain", seeds).page_reason("http://en.vov.vn/x") is None
    assert Scope("prefix", seeds).page_reason("http://vov.vn/chinh-tri/a") is None
    assert Scope("prefix", seeds).page_reason("http://vov.vn/xa-hoi/a") == "out of scope"
    assert Scope("page", seeds).page_reason("http://vov.vn/chinh-tri/a") == "out of scope"
    scoped = Scope("host", seeds, include=[r"^http://media\."], exclude=[r"/video/"])
    assert scoped.page_reason("http://media.vov.vn/a") is None
    assert scoped.page_reason("http://vov.vn/video/1") == "excluded"
    assert Scope("host", seeds, requisites="domain").requisite_reason("http://cdn.x/a.png") \
        == "out of scope"
    assert Scope("host", seeds).requisite_reason("http://cdn.x/a.png") is None


def test_frontier_seen_set_survives_reopen(tmp_path):
    path = tmp_path / "state.sqlite"
    frontier = Frontier(path)
    assert frontier.offer("k1", "http://h/1", "h", "page", "link", None, None, 1)
    assert not frontier.offer("k1", "http://h/1", "h", "page", "link", None, None, 1)
    assert not frontier.offer("k2", "http://x/i.png", "x", "page", "link", None, None, 1,
                              skip="out of scope")
    # the same URL offered again as a requisite, which scope allows: queued after all
    assert frontier.offer("k2", "http://x/i.png", "x", "requisite", "requisite", None, None, 1)
    item = frontier.next_for("h")
    assert item is not None and item.url == "http://h/1"
    frontier.close()
    frontier = Frontier(path)  # a killed run: the active row goes back to the queue
    assert frontier.queued == {"h": 1, "x": 1}
    frontier.close()


# -- politeness under pressure, on real servers --------------------------------------------

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        srv = self.server
        srv.log.append((time.monotonic(), srv.name, self.path))  # type: ignore[attr-defined]
        status, body, headers = srv.route(self.path)  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


def _serve(address, name, log, route):
    srv = ThreadingHTTPServer((address, 0), _Handler)
    srv.daemon_threads = True
    srv.name, srv.log, srv.route = name, log, route  # type: ignore[attr-defined]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def _base(srv):
    return f"http://{srv.server_address[0]}:{srv.server_address[1]}"


def test_429_backs_off_that_host_only_and_a_failing_host_is_paused(run):
    log: list = []
    asked: dict = {}
    links = {}

    def main_route(path):
        if path == "/":
            body = "".join(f'<a href="{u}">x</a>' for u in links["all"])
            return 200, body.encode(), {}
        if path == "/busy":
            asked["busy"] = asked.get("busy", 0) + 1
            if asked["busy"] == 1:
                return 429, b"slow down", {"Retry-After": "1"}
        return 200, b"<p>ok</p>", {}

    main = _serve("127.0.0.1", "main", log, main_route)
    other = _serve("127.0.0.2", "other", log, lambda p: (200, b"<p>fine</p>", {}))
    broken = _serve("127.0.0.3", "broken", log, lambda p: (503, b"down", {"Retry-After": "0"}))
    try:
        links["all"] = (["/busy", "/after"] + [f"{_base(other)}/o{i}" for i in range(20)]
                        + [f"{_base(broken)}/b{i}" for i in range(4)])
        result = run("crawl", _base(main) + "/", "--delay", "0.05", "--robots", "ignore",
                     "--scope", "domain", "--include", ".", "--no-sitemaps", "--retries", "2",
                     "--json")
    finally:
        for srv in (main, other, broken):
            srv.shutdown()
            srv.server_close()
    summary = json.loads(result.output.splitlines()[-1])
    assert result.exit_code == 1  # a paused host is a problem to report
    assert list(summary["paused_hosts"]) == [_base(broken).removeprefix("http://")]
    assert len([h for h in log if h[1] == "broken"]) == 5  # paused at 5 failures in a row
    main_hits = [h for h in log if h[1] == "main"]
    first_429 = next(h[0] for h in main_hits if h[2] == "/busy")
    after = [h[0] for h in main_hits if h[0] > first_429]
    assert after and min(after) - first_429 >= 0.95  # Retry-After: 1 held that host back...
    others = [h[0] for h in log if h[1] == "other"]
    assert len(others) == 20
    assert any(first_429 < t < first_429 + 0.9 for t in others)  # ...and only that host
    assert [h[2] for h in main_hits].count("/busy") == 2
