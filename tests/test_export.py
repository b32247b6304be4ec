"""WACZ and BagIt exports, checked by the ecosystem's own validators (`wacz validate`,
`bagit.py --validate`) and by reading the packages ourselves (validators have missed empty
pages and stale hashes before: py-wacz #46, js-wacz #127)."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from news_site import REDIRECT_PATH, TITLE, NewsServer, capture, serve_news, three_snapshots

from archiver import __version__


@pytest.fixture
def news() -> Iterator[NewsServer]:
    yield from serve_news()


@pytest.fixture
def story(run, news) -> str:
    url = three_snapshots(run, news)
    capture(run, news.url(REDIRECT_PATH))
    return url


def wacz_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wacz", "validate", "-f", str(path)],
                          capture_output=True, text=True, timeout=120)


def bagit_validate(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bagit", "--validate", str(path)],
                          capture_output=True, text=True, timeout=120)


def manifest_files(archive: Path) -> dict[str, str]:
    named = {}
    for line in (archive / "manifest.jsonl").read_text().splitlines():
        for f in json.loads(line).get("files") or []:
            named[f["path"]] = f["sha256"]
    return named


# ---------------------------------------------------------------- WACZ


def test_wacz_export_is_accepted_by_wacz_validate(run, story, tmp_path):
    out = tmp_path / "out.wacz"
    [result] = run.json_lines("export", "wacz", str(out), "--title", "Thời tiết")
    assert result["export"] == "wacz" and result["warnings"] == []
    assert result["bytes"] == out.stat().st_size and result["pages"] >= 1
    check = wacz_validate(out)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "is valid" in check.stdout
    assert "1.1.1" in check.stdout


def test_wacz_holds_pages_software_manifest_and_articles(run, story, tmp_path, archive_dir):
    out = tmp_path / "out.wacz"
    assert run("export", "wacz", str(out)).exit_code == 0
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        package = json.loads(zf.read("datapackage.json"))
        header, *pages = [json.loads(x) for x in zf.read("pages/pages.jsonl").splitlines()]
        assert header["format"] == "json-pages-1.0"
        assert pages and all(p["url"] == story and p["title"] == TITLE for p in pages)
        assert all(p["ts"].startswith("20") and p["ts"].endswith("Z") for p in pages)
        assert package["software"].startswith(f"archiver/{__version__} (py-wacz ")
        assert package["wacz_version"] == "1.1.1"
        # Every entry is listed with the hash of its actual bytes (no stale hashes).
        listed = {r["path"]: r for r in package["resources"]}
        assert set(listed) == names - {"datapackage.json", "datapackage-digest.json"}
        for path, res in listed.items():
            data = zf.read(path)
            assert res["hash"] == "sha256:" + hashlib.sha256(data).hexdigest(), path
            assert res["bytes"] == len(data)
        digest = json.loads(zf.read("datapackage-digest.json"))
        assert digest["hash"] == "sha256:" + hashlib.sha256(zf.read("datapackage.json")).hexdigest()
        # WARCs stored uncompressed in the ZIP so replay can seek; an index is present.
        warcs = [i for i in zf.infolist() if i.filename.startswith("archive/")]
        assert len(warcs) == 4 and all(i.compress_type == zipfile.ZIP_STORED for i in warcs)
        assert zf.read("indexes/index.idx")
        cdx = gzip.decompress(zf.read("indexes/index.cdx.gz")).decode().splitlines()
        mimes = {json.loads(line.split(" ", 2)[2])["mime"] for line in cdx}
        # pages, the 301, and the unchanged page behind it (a revisit record); no JSON metadata
        assert mimes == {"text/html", "text/plain", "warc/revisit"}
        # The manifest and every article travel along, byte for byte, mapped to their paths.
        assert zf.read("archiver/manifest.jsonl") == (archive_dir / "manifest.jsonl").read_bytes()
        mapping = [json.loads(x) for x in zf.read("archiver/files.jsonl").splitlines()]
        named = manifest_files(archive_dir)
        assert {m["path"] for m in mapping} == set(named) | {"manifest.jsonl"}
        articles = [m for m in mapping if m["path"].startswith("articles/")]
        assert len(articles) == 3  # three snapshots; the capture through the 301 is a revisit
        for m in articles:
            assert hashlib.sha256(zf.read(m["packed"])).hexdigest() == named[m["path"]]


def test_wacz_refuses_a_file_that_no_longer_matches_the_manifest(run, story, tmp_path,
                                                                  archive_dir):
    article = sorted((archive_dir / "articles").rglob("*.json"))[0]
    article.write_bytes(article.read_bytes().replace(b"VOV.VN", b"VOV.XX"))
    out = tmp_path / "out.wacz"
    result = run("export", "wacz", str(out))
    assert result.exit_code == 1
    assert "sha256 differs from the manifest" in result.output
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_wacz_will_not_overwrite(run, story, tmp_path):
    out = tmp_path / "out.wacz"
    out.write_bytes(b"precious")
    result = run("export", "wacz", str(out))
    assert result.exit_code == 2 and "already exists" in result.output
    assert out.read_bytes() == b"precious"


# ---------------------------------------------------------------- BagIt


def test_bag_export_is_accepted_by_bagit_validate(run, story, tmp_path):
    out = tmp_path / "bag"
    [result] = run.json_lines("export", "bag", str(out), "--organization", "Thư viện Thử",
                              "--external-id", "coll-42")
    # 4 WARCs (one per run), 3 articles (the 4th capture is a revisit), the manifest
    assert result["export"] == "bag" and result["files"] == 8
    check = bagit_validate(out)
    assert check.returncode == 0, check.stderr
    assert "is valid" in check.stderr
    info = (out / "bag-info.txt").read_text(encoding="utf-8")
    assert "Source-Organization: Thư viện Thử" in info
    assert "External-Identifier: coll-42" in info
    assert "Bagging-Date: 20" in info
    assert f"Bag-Software-Agent: archiver/{__version__} (bagit.py " in info
    assert "Payload-Oxum: " in info
    assert (out / "bagit.txt").read_text().startswith("BagIt-Version: 1.0\n")
    for alg in ("sha256", "sha512"):
        assert (out / f"manifest-{alg}.txt").is_file()
        assert (out / f"tagmanifest-{alg}.txt").is_file()


def test_bag_payload_is_an_archive_that_audits_clean(run, story, tmp_path, archive_dir):
    out = tmp_path / "bag"
    assert run("export", "bag", str(out)).exit_code == 0
    data = out / "data"
    assert (data / "manifest.jsonl").read_bytes() == (archive_dir / "manifest.jsonl").read_bytes()
    sha256_lines = (out / "manifest-sha256.txt").read_text().splitlines()
    listed = {line.split(maxsplit=1)[1]: line.split()[0] for line in sha256_lines}
    for path, sha in manifest_files(archive_dir).items():
        assert listed["data/" + path] == sha  # bag checksums agree with our manifest
    audit = run("audit", "--archive", str(data), "--json")
    report = json.loads(audit.output.splitlines()[-1])
    assert audit.exit_code == 0, report
    info = (out / "bag-info.txt").read_text()
    last = json.loads((archive_dir / "manifest.jsonl").read_text().splitlines()[-1])
    assert f"External-Identifier: archive manifest {last['hash']}" in info


def test_bag_leaves_out_files_the_manifest_does_not_name(run, story, tmp_path, archive_dir):
    orphan = archive_dir / "warcs" / "2026" / "orphan.warc.gz"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    out = tmp_path / "bag"
    assert run("export", "bag", str(out)).exit_code == 0
    assert not list(out.rglob("orphan.warc.gz"))
    assert bagit_validate(out).returncode == 0


def test_bag_refuses_a_damaged_warc_and_leaves_nothing(run, story, tmp_path, archive_dir):
    warc = sorted((archive_dir / "warcs").rglob("*.warc.gz"))[0]
    data = bytearray(warc.read_bytes())
    data[-5] ^= 0xFF
    warc.write_bytes(bytes(data))
    out = tmp_path / "bag"
    result = run("export", "bag", str(out))
    assert result.exit_code == 1
    assert warc.name in result.output and "sha256 differs" in result.output
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_bag_goes_into_an_empty_folder_but_not_a_full_one(run, story, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("export", "bag", str(empty)).exit_code == 0
    assert (empty / "bagit.txt").is_file()
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    result = run("export", "bag", str(full))
    assert result.exit_code == 2 and "already exists" in result.output
    assert [p.name for p in full.iterdir()] == ["keep.txt"]


def test_exports_refuse_a_missing_archive(run, tmp_path):
    for kind, target in (("wacz", "x.wacz"), ("bag", "bag")):
        result = run("export", kind, str(tmp_path / target))
        assert result.exit_code == 2 and "no archive here" in result.output
