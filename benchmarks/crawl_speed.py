"""`archiver crawl` speed and memory (issue 13), against wget on the same loopback site.

    python benchmarks/crawl_speed.py                 # 2,000 pages, 3 rounds, + 1M frontier
    python benchmarks/crawl_speed.py --pages 500 --rounds 1 --frontier 100000   # quick

The site (its own process): a home page linking 100 listing pages, each linking 20 VOV-template
article pages (tests' generator), every page with a stylesheet and an image: 2,001 HTML pages
and ~2,000 requisites. Both tools crawl it from the home page with page requisites:

- archiver: `archiver crawl HOME --delay 0 --no-extract` (links and requisites still parsed),
  and once more with extraction on;
- wget: `wget --recursive --level 5 --page-requisites --warc-file` (robots.txt obeyed by both).

Rounds alternate which tool goes first. Peak RSS is each process's own (os.wait4). Then a
frontier of N synthetic URLs is offered to the crawl state (canonicalised, SURT-keyed, SQLite)
and drained in a child process, whose peak RSS is reported. Exits 1 if a target is missed:
>= 0.5x wget's pages/s, RSS <= 200 MB for both.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import PY, Sample, machine_facts, median, run_measured

PER_LIST = 20
CSS = b"body{font-family:serif} .logo{background:url(/img/logo.png)}\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 2000


def site(pages: int) -> dict[str, tuple[str, bytes]]:
    from builders import vov_pages

    lists = max(1, (pages - 1) // PER_LIST)
    out: dict[str, tuple[str, bytes]] = {}
    articles = vov_pages(lists * PER_LIST)
    links = []
    for i, (_url, page) in enumerate(articles):
        # the template's own links (menu, tags, related) would add thousands of 404s
        html = re.sub(rb'<a ([^>]*)href="[^"]*"', rb"<a \1", page)
        html = html.replace(b"https://media.vov.vn/", b"/")  # images from this site, not VOV's
        path = f"/a/{i}.html"
        extra = (f'<link rel="stylesheet" href="/site.css"><img src="/img/{i}.png">'
                 '<a href="/">home</a></body>')
        out[path] = ("text/html; charset=utf-8", html.replace(b"</body>", extra.encode()))
        links.append(path)
    for n in range(lists):
        chunk = links[n * PER_LIST:(n + 1) * PER_LIST]
        body = "".join(f'<a href="{p}">{p}</a> ' for p in chunk)
        out[f"/list/{n}.html"] = ("text/html", _page(f"list {n}", body))
    out["/"] = ("text/html", _page("home", "".join(
        f'<a href="/list/{n}.html">{n}</a> ' for n in range(lists))))
    out["/site.css"] = ("text/css", CSS)
    return out


def _page(title: str, body: str) -> bytes:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<link rel="stylesheet" href="/site.css"></head><body>{body}</body></html>'
            ).encode()


class SiteHandler(BaseHTTPRequestHandler):
    """path -> (content type, body); any other /img/ path is a PNG (the crawl site's images)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: SiteServer

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        found = self.server.pages.get(path)
        if found is None and path.startswith("/img/"):
            found = ("image/png", PNG)
        ctype, body = found or ("text/html", b"<html><body>not found</body></html>")
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SiteServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, pages: dict[str, tuple[str, bytes]]) -> None:
        super().__init__(("127.0.0.1", 0), SiteHandler)
        self.pages = pages


def serve(pages: int) -> None:
    server = SiteServer(site(pages))
    print(server.server_address[1], flush=True)
    server.serve_forever()


def frontier_child(n: int, folder: str) -> None:
    """Offer n synthetic URLs (as a crawl does: canonical, SURT key, seen-check), then take
    them all out again host by host."""
    from archiver.capture.crawl.frontier import Frontier
    from archiver.capture.crawl.urls import canonical, host_of, seen_key

    frontier = Frontier(Path(folder) / "state.sqlite")
    batch = 10_000
    for start in range(0, n, batch):
        with frontier.transaction():
            for i in range(start, min(n, start + batch)):
                url = canonical(f"http://h{i % 50}.example/section-{i % 97}/article-{i}.html"
                                f"?utm_source=x&page={i % 7}")
                frontier.offer(seen_key(url), url, host_of(url), "page", "link",
                               None, None, 1)
    taken = 0
    for host in list(frontier.queued):
        with frontier.transaction():
            while frontier.next_for(host) is not None:
                taken += 1
    assert taken == n, (taken, n)
    frontier.close()
    print(taken)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=2001)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frontier", type=int, default=1_000_000)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--frontier-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.frontier_child:
        frontier_child(args.frontier_child, args.folder)
        return 0
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    server = subprocess.Popen([PY, __file__, "--serve", str(args.pages)], stdout=subprocess.PIPE,
                              text=True)
    assert server.stdout is not None
    home = f"http://127.0.0.1:{server.stdout.readline().strip()}/"
    work = Path(tempfile.mkdtemp(prefix="crawl-bench-"))
    pages = 1 + max(1, (args.pages - 1) // PER_LIST) * (PER_LIST + 1)
    try:
        def archiver_cmd(extract: bool) -> list[str]:
            out = work / "archive"
            shutil.rmtree(out, ignore_errors=True)
            cmd = [PY, "-m", "archiver", "crawl", home, "--archive", str(out), "--delay", "0",
                   "--json", "--quiet"]
            return cmd if extract else [*cmd, "--no-extract"]

        def wget_cmd() -> list[str]:
            out = work / "wget"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            return ["wget", "--recursive", "--level", "5", "--page-requisites", "--no-verbose",
                    "--warc-file", str(out / "crawl"), "--directory-prefix", str(out), home]

        check = subprocess.run(archiver_cmd(False), env=env, capture_output=True, text=True)
        summary = json.loads(check.stdout.splitlines()[-1])
        assert summary["pages"] == pages, (summary, pages)
        samples: dict[str, list[Sample]] = {"archiver": [], "wget": [], "archiver+extract": []}
        for r in range(args.rounds):
            order = ["archiver", "wget"] if r % 2 == 0 else ["wget", "archiver"]
            for name in order:
                cmd = archiver_cmd(False) if name == "archiver" else wget_cmd()
                samples[name].append(run_measured(cmd, env=env, ok_codes=(0, 8)))
        samples["archiver+extract"].append(run_measured(archiver_cmd(True), env=env))
        frontier_dir = work / "frontier"
        frontier_dir.mkdir()
        front = run_measured([PY, __file__, "--frontier-child", str(args.frontier),
                              "--folder", str(frontier_dir)], env=env)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    return report(samples, front, pages, args.frontier)


def report(samples: dict[str, list[Sample]], front: Sample, pages: int, n: int) -> int:
    facts = machine_facts()
    print(f"machine: {facts['cpu']}, {facts['nproc']} cores, python {facts['python']}, "
          f"{facts['wget']}")
    rate = {k: pages / median([s.seconds for s in v]) for k, v in samples.items()}
    rss = {k: max(s.peak_rss_mb for s in v) for k, v in samples.items()}
    for name, runs in samples.items():
        print(f"{name:17} {rate[name]:7.1f} pages/s  peak RSS {rss[name]:5.0f} MB  runs: "
              + ", ".join(f"{s.seconds:.2f} s" for s in runs))
    ratio = rate["archiver"] / rate["wget"]
    print(f"ratio archiver/wget (no extraction): {ratio:.2f}x (target >= 0.5x); "
          f"with extraction: {rate['archiver+extract'] / rate['wget']:.2f}x")
    print(f"frontier of {n:,} URLs: {front.seconds:.1f} s, peak RSS {front.peak_rss_mb:.0f} MB "
          "(target <= 200 MB)")
    ok = ratio >= 0.5 and rss["archiver"] <= 200 and front.peak_rss_mb <= 200
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
