"""Loopback sites for the browser tests: real HTTP and HTTPS servers on 127.0.0.1.

Routes: a page whose article body is written by script from a JSON XHR, with lazy images
below the fold; a page with a slow asset; a page whose script reaches another loopback port
and 169.254.169.254; a page with an asset bigger than the page's byte budget; an article in
the raw HTML. The HTTPS twin serves the same routes with a certificate from a test CA.
"""

from __future__ import annotations

import io
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from archiver.capture.browser.ca import Authority

PARAGRAPHS = [
    "Quốc hội đã thông qua luật mới về lưu trữ số sau nhiều tháng thảo luận tại Hà Nội. "
    "The new archiving law sets out how public bodies keep web records for the long term.",
    "Under the law every agency must keep a copy of what it publishes online, with the date "
    "and the address of the page, so that citizens can check later what was said.",
    "Librarians welcomed the change. They said that pages written by scripts were the "
    "hardest to keep, because a plain download of the address returns an empty shell.",
    "The ministry will publish technical guidance next year, covering formats such as WARC "
    "and the checks an archive must run to prove that nothing was altered after capture.",
]
TITLE = "Parliament passes digital archiving law"


def png(color: tuple[int, int, int], size: tuple[int, int] = (120, 80)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def script_page() -> bytes:
    images = "".join(f'<p><img loading="lazy" width="120" height="80" src="/img/{i}.png" '
                     f'alt="figure {i}"></p>' for i in range(4))
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{TITLE}</title><link rel="stylesheet" href="/style.css"></head>
<body><header><a href="/">News</a></header>
<main><article id="story"><h1>{TITLE}</h1><p class="loading">Loading…</p></article>
<div style="height:2400px">spacer</div>{images}</main>
<script>
fetch('/api/article.json').then(r => r.json()).then(a => {{
  const story = document.getElementById('story');
  story.innerHTML = '<h1>' + a.title + '</h1><p class="byline">By ' + a.author +
    '</p><time datetime="' + a.date + '">' + a.date + '</time>' +
    a.paragraphs.map(p => '<p>' + p + '</p>').join('');
}});
</script></body></html>""".encode()


def static_page() -> bytes:
    body = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title>
</head><body><article><h1>{TITLE}</h1><p class="byline">By Lan Nguyen</p>
<time datetime="2026-11-02">2026-11-02</time>{body}</article></body></html>""".encode()


class Site(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, other_port: int = 0, big: int = 3 * 1024 * 1024,
                 slow_seconds: float = 30.0) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.other_port = other_port  # a loopback port the SSRF page's script aims at
        self.big = big
        self.slow_seconds = slow_seconds
        self.hits: list[str] = []
        self.stop = threading.Event()
        self.scheme = "http"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a browser that gave up on the slow asset: not the test's business

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()


def https_site(authority: Authority, tmp: Path, **kwargs: object) -> Site:
    """The same site over TLS, its certificate issued by `authority` (a test CA)."""
    site = Site.__new__(Site)
    chain, key = authority.leaf("127.0.0.1")
    (tmp / "leaf.pem").write_bytes(chain)
    (tmp / "leaf.key").write_bytes(key)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp / "leaf.pem", tmp / "leaf.key")
    ThreadingHTTPServer.__init__(site, ("127.0.0.1", 0), Handler, bind_and_activate=True)
    site.socket = ctx.wrap_socket(site.socket, server_side=True)
    site.other_port, site.big, site.slow_seconds = 0, 3 * 1024 * 1024, 30.0
    site.hits, site.stop, site.scheme = [], threading.Event(), "https"
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Site

    def log_message(self, *args: object) -> None:
        pass

    def send(self, body: bytes, ctype: str = "text/html; charset=utf-8",
             status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        path = self.path.split("?")[0]
        if path in ("/", "/script"):
            self.send(script_page())
        elif path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/static")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first part, ", b"second part"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/static":
            self.send(static_page())
        elif path == "/hub":  # one link in the HTML, one written by script (crawl --browser)
            self.send(b"""<!doctype html><html><head><title>Hub</title></head><body>
<h1>Hub</h1><p><a href="/static">raw link</a></p><img src="/img/1.png" alt="one">
<div id="more"></div><script>
document.getElementById('more').innerHTML = '<a href="/written">written by script</a>';
</script></body></html>""")
        elif path == "/written":
            self.send(b"<!doctype html><html><head><title>Written</title></head><body>"
                      b"<h1>Reached through a script's link</h1></body></html>")
        elif path == "/api/article.json":
            self.send(json.dumps({"title": TITLE, "author": "Lan Nguyen", "date": "2026-11-02",
                                  "paragraphs": PARAGRAPHS}).encode(), "application/json")
        elif path == "/style.css":
            self.send(b"body{font-family:serif;margin:20px} h1{color:#234}", "text/css")
        elif path.startswith("/img/"):
            n = int(path.rsplit("/", 1)[1].split(".")[0])
            self.send(png((40 * n % 255, 120, 200 - 30 * n)), "image/png")
        elif path == "/slow-page":
            self.send(b"<!doctype html><html><body><h1>Slow asset</h1>"
                      b"<img src='/slow.png'></body></html>")
        elif path == "/slow.png":
            self.server.stop.wait(self.server.slow_seconds)
            self.send(png((200, 0, 0)), "image/png")
        elif path == "/ssrf":
            other = self.server.other_port
            self.send(f"""<!doctype html><html><body><h1>Reaching inside</h1><script>
fetch('http://127.0.0.1:{other}/secret').catch(() => 0);
fetch('http://169.254.169.254/latest/meta-data/').catch(() => 0);
</script></body></html>""".encode())
        elif path == "/random":  # differs at every load; pywb seeds Math.random on replay
            self.send(b"""<!doctype html><html><body><h1>Chance</h1><div id="box"
style="width:160px;height:90px"></div><script>
const x = Math.random();
document.getElementById('box').style.background = 'hsl(' + Math.floor(x * 360) + ',90%,50%)';
document.getElementById('box').textContent = 'Draw ' + x + ' ' + Math.random() + Math.random();
</script></body></html>""")
        elif path == "/loop":  # a request every 100 ms: network idle never comes
            self.send(b"""<!doctype html><html><body><h1>Ticking</h1><script>
setInterval(() => fetch('/api/tick?' + Date.now()).catch(() => 0), 100);
</script></body></html>""")
        elif path == "/infinite":  # more items each time the reader nears the bottom
            self.send(b"""<!doctype html><html><body><h1>Feed</h1><ol id="feed"></ol><script>
let n = 0, busy = false;
function more() {
  if (busy) return; busy = true;
  fetch('/api/items?page=' + (n++)).then(r => r.json()).then(items => {
    for (const t of items) {
      const li = document.createElement('li'); li.style.height = '400px'; li.textContent = t;
      document.getElementById('feed').appendChild(li);
    }
    busy = false;
  });
}
more();
window.addEventListener('scroll', () => {
  if (window.scrollY + window.innerHeight > document.body.scrollHeight - 300) more();
});
</script></body></html>""")
        elif path == "/api/items":
            page = self.path.split("page=")[-1]
            self.send(json.dumps([f"item {page}.{i}" for i in range(5)]).encode(),
                      "application/json")
        elif path == "/api/tick":
            self.send(b"{}", "application/json")
        elif path == "/secret":
            self.send(b"secret", "text/plain")
        elif path == "/big-page":
            self.send(b"<!doctype html><html><body><h1>Big asset</h1>"
                      b"<script src='/big.js'></script></body></html>")
        elif path == "/big.js":
            self.send(b"//" + b"x" * self.server.big + b"\n", "text/javascript")
        else:
            self.send(b"not found", "text/plain", 404)


def wait(seconds: float) -> None:
    time.sleep(seconds)
