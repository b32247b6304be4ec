"""A crawled article replays in pywb with its image: the crawl's WARCs and the index.cdxj it
keeps current are enough for the replay tool archivists use."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import requests
from crawl_site import GIF, NewsSite
from test_pywb_replay import free_port, wait_until_up, write_config

pytestmark = pytest.mark.slow


def test_pywb_replays_a_crawled_article_with_its_image(run, archive_dir, tmp_path):
    with NewsSite() as site:
        article = site.site.articles[0]
        url = site.site.pages_base + article.path
        result = run("crawl", url, "--scope", "page", "--delay", "0.005", "--no-sitemaps",
                     "--no-feeds")
        assert result.exit_code == 0, result.output
        image = f"{site.site.cdn_base}/img/{article.post}.jpg"
        assert f"/img/{article.post}.jpg" in site.paths("cdn")
    # the site is gone: whatever replays now comes from the archive
    cwd = tmp_path / "pywb"
    cwd.mkdir()
    write_config(cwd, archive_dir)
    port = free_port()
    with open(cwd / "pywb.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pywb.apps.cli", "-b", "127.0.0.1", "-p", str(port)],
            cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(proc, base, cwd / "pywb.log")
            page = requests.get(f"{base}/ours/{url}", timeout=30)
            assert page.status_code == 200
            assert article.title in page.text
            # the lazy-loaded image, as the replayed page asks for it (pywb's im_ modifier)
            img = requests.get(f"{base}/ours/im_/{image}", timeout=30)
            assert img.status_code == 200 and img.content == GIF
            missing = requests.get(f"{base}/ours/im_/{site.site.cdn_base}/img/0.jpg",
                                   timeout=30)
            assert missing.status_code == 404
        finally:
            proc.terminate()
            proc.wait(timeout=10)
