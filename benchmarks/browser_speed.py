"""capture --browser against Playwright's own goto + screenshot loop, on the same loopback
site and the same Chromium, alternating, as issue 23 asks: pages per second of each and the
ratio (archiver / plain; >= 0.7 is the goal), and the peak RSS of archiver's own process
(the browser's processes excluded: each side reports its RUSAGE_SELF).

    python benchmarks/browser_speed.py --pages 100 --rounds 3
    python benchmarks/browser_speed.py --pages 10 --rounds 1     # a quick look

The site: N pages of ~8 KB text, each with 3 images (~6 KB PNG) and a stylesheet, served
by a threaded HTTP/1.1 server in this process (its CPU is not in either side's figures,
which are wall time of a child process each). Both sides start their Chromium inside the
timed run. archiver's side is the full capture: proxy, records, attachments (screenshots,
DOM, text, summary), extraction, group commit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_speed import SiteServer  # the benchmarks' loopback site server

CHROMIUM = "/usr/bin/chromium"


def make_site(pages: int) -> dict[str, tuple[str, bytes]]:
    from PIL import Image

    site: dict[str, tuple[str, bytes]] = {"/style.css": ("text/css",
                                                         b"body{margin:2em;font:16px serif}")}
    for i in range(pages * 3):
        out = io.BytesIO()
        Image.new("RGB", (160, 100), (i * 7 % 255, 90, 160)).save(out, "PNG")
        site[f"/img/{i}.png"] = ("image/png", out.getvalue())
    para = "<p>Báo cáo thường niên về lưu trữ web: một đoạn văn để trang có độ dài.</p>"
    for n in range(pages):
        imgs = "".join(f"<img src='/img/{n * 3 + k}.png' width=160 height=100>" for k in range(3))
        html = (f"<!doctype html><html><head><meta charset='utf-8'><title>Page {n}</title>"
                f"<link rel=stylesheet href='/style.css'></head><body><h1>Page {n}</h1>"
                f"{imgs}{para * 60}</body></html>")
        site[f"/p/{n}"] = ("text/html; charset=utf-8", html.encode())
    return site


def side_archiver(urls_file: str, port: int) -> None:
    from archiver.cli.main import cli

    archive = tempfile.mkdtemp(prefix="bench-browser-")
    started = time.perf_counter()
    with contextlib.suppress(SystemExit):
        cli(["capture", "--browser", "--seeds", urls_file, "--archive", archive, "--quiet",
             "--allow-host", f"127.0.0.1:{port}"], standalone_mode=False)
    report(time.perf_counter() - started, urls_file)


def side_plain(urls_file: str, port: int) -> None:
    from playwright.sync_api import sync_playwright

    urls = Path(urls_file).read_text().split()
    started = time.perf_counter()
    with sync_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args)
        context = browser.new_context(viewport={"width": 1600, "height": 900})
        page = context.new_page()
        for url in urls:
            page.goto(url, wait_until="load")
            page.screenshot(full_page=True)
        browser.close()
    report(time.perf_counter() - started, urls_file)


def report(seconds: float, urls_file: str) -> None:
    pages = len(Path(urls_file).read_text().split())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"pages": pages, "seconds": seconds, "rss_mb": rss}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--side", choices=["archiver", "plain"], help=argparse.SUPPRESS)
    ap.add_argument("--urls", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side == "archiver":
        side_archiver(args.urls, args.port)
        return 0
    if args.side == "plain":
        side_plain(args.urls, args.port)
        return 0
    server = SiteServer(make_site(args.pages))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("".join(f"http://127.0.0.1:{port}/p/{n}\n" for n in range(args.pages)))
        urls_file = f.name
    results: dict[str, list[dict[str, float]]] = {"archiver": [], "plain": []}
    for i in range(args.rounds):
        for side in (("archiver", "plain") if i % 2 == 0 else ("plain", "archiver")):
            out = subprocess.run([sys.executable, __file__, "--side", side, "--urls", urls_file,
                                  "--port", str(port)], capture_output=True, text=True,
                                 check=True)
            results[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
    server.shutdown()
    os.unlink(urls_file)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.pages} pages, {args.rounds} rounds, "
          "alternating")
    ratios = []
    for a, b in zip(results["archiver"], results["plain"], strict=True):
        ratios.append((a["pages"] / a["seconds"]) / (b["pages"] / b["seconds"]))
    for side, runs in results.items():
        pps = sorted(r["pages"] / r["seconds"] for r in runs)
        rss = max(r["rss_mb"] for r in runs)
        print(f"{side:9} pages/s median {pps[len(pps) // 2]:.2f}  own peak RSS {rss:.0f} MB")
    ratios.sort()
    print(f"archiver/plain pages per second: median {ratios[len(ratios) // 2]:.2f} "
          f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
