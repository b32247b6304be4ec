"""Hostile and broken input (issue 8, sections 3 and 4), against a real loopback server.

Every case must end in one clear line or a safe result, and lose nothing stored before it:
the `seeded` fixture captures one article first and, after the test, checks that its files
are byte-identical, the manifest only grew, and audit finds no error.
"""

from __future__ import annotations

import codecs
import json
import os
import random
import resource
import subprocess
import sys
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import REPO, Cli
from http_fixture import FixtureServer, Handler, article_bytes
from warc_helpers import read_warc, warc_files

from archiver.base.errors import UsageError
from archiver.check import audit
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.warc import DEFAULT_PAYLOAD_CAP, read_record_at

BOMB_INFLATED = 64 * 1024 * 1024


def _bomb(wbits: int) -> bytes:
    """64 MiB of zeros deflated to ~64 KiB: small on the wire, huge inflated."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = b"\0" * (1 << 20)
    return b"".join([c.compress(zeros) for _ in range(BOMB_INFLATED >> 20)] + [c.flush()])


GZIP_BOMB = _bomb(zlib.MAX_WBITS + 16)
DEFLATE_BOMB = _bomb(zlib.MAX_WBITS)


def to_cp1258(text: str) -> bytes:
    """Vietnamese in windows-1258: precomposed base letter + combining tone mark."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        tries = [(unicodedata.normalize("NFC", base + m), marks[:i] + marks[i + 1:])
                 for i, m in enumerate(marks)] + [(base, marks)]
        for head, rest in tries:
            try:
                out += head.encode("cp1258") + "".join(rest).encode("cp1258")
                break
            except UnicodeEncodeError:
                continue
        else:
            raise AssertionError(f"cannot write {ch!r} in windows-1258")
    return bytes(out)


def _article_without_meta_charset() -> bytes:
    return article_bytes().replace(b'<meta charset="utf-8">', b"")


# ---------------------------------------------------------------- the hostile server

def _endless(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Connection", "close")
    h.end_headers()
    chunk = b"<p>" + b"x" * 65530 + b"</p>"
    try:
        for _ in range(16384):  # 1 GiB, far past any cap; the client hangs up long before
            h.wfile.write(chunk)
    except OSError:
        pass
    h.close_connection = True


def _dribble_headers(h: Handler) -> None:
    """Slow-loris: the status line, then one header byte every 50 ms, never finishing."""
    try:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            h.wfile.write(b"a")
            h.wfile.flush()
            time.sleep(0.05)
    except OSError:
        pass
    h.close_connection = True


def _silent(h: Handler) -> None:
    time.sleep(6)
    h.close_connection = True


def _many_headers(h: Handler) -> None:
    h.send_response(200)
    for i in range(500):
        h.send_header(f"X-H{i}", "v")
    h.send_header("Content-Length", "0")
    h.end_headers()


def _long_header(h: Handler) -> None:
    h.send_response(200)
    h.send_header("X-Long", "a" * 200_000)
    h.send_header("Content-Length", "0")
    h.end_headers()


def _chain(h: Handler, path: str) -> None:
    n = int(path.rsplit("/", 1)[1])
    if n == 0:
        h.send_body(article_bytes())
    else:
        h.redirect(302, f"/chain/{n - 1}")


def _binary(h: Handler) -> None:
    rng = random.Random(8)
    h.send_body(b"\x89PNG\r\n\x1a\n" + rng.randbytes(200_000), ctype="text/html; charset=utf-8")


def _loader_page(secret: str) -> bytes:
    """Everything a browser would fetch or run; an archiver must do none of it."""
    return (f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY leak SYSTEM "file://{secret}">]>'
            '<html><head><title>Loader</title><link rel="stylesheet" href="/x/style.css">'
            '<script src="/x/script.js"></script><meta http-equiv="refresh" content="0;/x/r">'
            '<base href="/x/base/"></head><body><h1>Loader &leak;</h1>'
            '<img src="/x/img.png"><iframe src="/x/frame"></iframe>'
            '<object data="/x/obj"></object><video src="/x/v.mp4"></video>'
            "<script>fetch('/x/js-fetch')</script>"
            + "<p>Body text of a page that tries to make the archiver load things.</p>" * 10
            + "</body></html>").encode()


CHARSET_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    # name: (body, Content-Type as sent)
    "lying-utf8-is-cp1258": (lambda: to_cp1258(article_bytes().decode()),
                             "text/html; charset=utf-8"),
    "undeclared-utf8": (_article_without_meta_charset, "text/html"),
    "undeclared-cp1258": (lambda: to_cp1258(_article_without_meta_charset().decode()),
                          "text/html"),
    "utf8-bom-declared-latin1": (lambda: codecs.BOM_UTF8 + article_bytes(),
                                 "text/html; charset=iso-8859-1"),
    "utf16-bom-declared-utf8": (lambda: article_bytes().decode().encode("utf-16"),
                                "text/html; charset=utf-8"),
    "nfd": (lambda: unicodedata.normalize("NFD", article_bytes().decode()).encode(),
            "text/html; charset=utf-8"),
}


class HostileHandler(Handler):
    server: HostileServer

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        route = HOSTILE_ROUTES.get(path)
        if route is not None:
            self.server.hits.append(self.path)
            route(self)
        elif path.startswith("/chain/"):
            self.server.hits.append(self.path)
            _chain(self, path)
        elif path.startswith("/charset/"):
            self.server.hits.append(self.path)
            body, ctype = CHARSET_CASES[path.rsplit("/", 1)[1]]
            self.send_body(body(), ctype=ctype)
        else:
            super().do_GET()


HOSTILE_ROUTES: dict[str, Callable[[HostileHandler], None]] = {
    "/endless": _endless,
    "/bomb/gzip": lambda h: h.send_body(GZIP_BOMB, extra={"Content-Encoding": "gzip"}),
    "/bomb/deflate": lambda h: h.send_body(DEFLATE_BOMB, extra={"Content-Encoding": "deflate"}),
    "/nested": lambda h: h.send_body(b"<html><body>" + b"<div><span>" * 20000 + b"deep"
                                     + b"</span></div>" * 20000 + b"</body></html>"),
    "/enormous": lambda h: h.send_body(
        b"<html><head><title>Enormous</title></head><body><article>"
        + b"<p>Paragraph of an enormous page, repeated many times over.</p>\n" * 15000
        + b"</article></body></html>"),
    "/binary": _binary,
    "/close": lambda h: (h.send_body(b"<p>" + b"y" * 300_000, extra={"Connection": "close"}),
                         setattr(h, "close_connection", True)),
    "/loris": _dribble_headers,
    "/silent": _silent,
    "/many-headers": _many_headers,
    "/long-header": _long_header,
    "/self": lambda h: h.redirect(302, "/self"),
    "/bad-location": lambda h: h.redirect(302, "http://[::1/x"),
    "/to-file": lambda h: h.redirect(302, "file:///etc/passwd"),
    "/to-javascript": lambda h: h.redirect(302, "javascript:alert(1)"),
    "/to-data": lambda h: h.redirect(302, "data:text/html,<h1>hi</h1>"),
    "/to-gopher": lambda h: h.redirect(301, "gopher://127.0.0.1/x"),
    "/loader": lambda h: h.send_body(_loader_page(h.server.secret)),
}


class HostileServer(FixtureServer):
    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = HostileHandler
        self.secret = ""


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    srv = HostileServer().start()
    yield srv  # type: ignore[misc]
    srv.shutdown()
    srv.server_close()


def snapshot(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}


def audit_errors(root: Path) -> list[str]:
    report = audit.audit(Archive(root))
    return [f.render() for f in report.findings if f.severity == "error"]


@pytest.fixture
def seeded(run: Cli, hostile: HostileServer, archive_dir: Path) -> Iterator[dict[Path, bytes]]:
    """One good capture first; afterwards nothing of it may be lost or changed."""
    assert run("capture", hostile.url("/article")).exit_code == 0
    before = snapshot(archive_dir)
    yield before
    log = archive_dir / "manifest.jsonl"
    after = snapshot(archive_dir)
    # rebuilt from the WARCs and the manifest: they grow by design
    derived = {archive_dir / name for name in
               ("index.cdxj", "catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm")}
    for path, data in before.items():
        if path == log:
            assert after[path].startswith(data), "manifest history changed"
        elif path not in derived:
            assert after.get(path) == data, f"{path} changed or vanished"
    assert audit_errors(archive_dir) == []


def last_entry(root: Path) -> dict:
    """The newest capture or ingestion (a capture run ends with its WARC's seal event)."""
    entries = manifest.iter_entries(root / "manifest.jsonl")
    return [e for e in entries if e["event"] != "message digest calculation"][-1]


def newest_warc(root: Path, before: dict[Path, bytes]) -> Path:
    new = [p for p in warc_files(root) if p not in before]
    assert len(new) == 1, new
    return new[0]


def response(path: Path, index: int = -1):  # type: ignore[no-untyped-def]
    return [r for r in read_warc(path) if r.type == "response"][index]


def capture_json(run: Cli, url: str, *args: str) -> dict:
    lines = run.json_lines("capture", url, *args)
    assert len(lines) == 1
    return lines[0]


# ---------------------------------------------------------------- size caps

def test_endless_body_is_cut_at_the_byte_cap(run, hostile, seeded, archive_dir):
    started = time.monotonic()
    out = capture_json(run, hostile.url("/endless"), "--max-bytes", "300000",
                       "--max-time", "30")
    assert time.monotonic() - started < 10
    assert out["truncated"] == "length"  # the byte cap stopped it, not the time cap
    rec = response(newest_warc(archive_dir, seeded))
    assert rec.headers["WARC-Truncated"] == "length"
    assert 300_000 <= len(rec.raw_payload) < 2_000_000


def test_connection_close_body_is_read_whole(run, hostile, seeded, archive_dir):
    """Regression: the recording socket closed under http.client's reader (EBADF after 8 KiB)."""
    out = capture_json(run, hostile.url("/close"))
    assert out["error"] is None and out["truncated"] is None
    assert response(newest_warc(archive_dir, seeded)).raw_payload == b"<p>" + b"y" * 300_000


@pytest.mark.parametrize("kind", ["gzip", "deflate"])
def test_compression_bomb_is_stored_as_sent_and_inflated_only_to_the_cap(
        run, hostile, seeded, archive_dir, kind):
    out = capture_json(run, hostile.url(f"/bomb/{kind}"), "--no-extract")
    assert out["outcome"] == "archived"
    path = newest_warc(archive_dir, seeded)
    assert path.stat().st_size < 1_000_000  # the bytes as sent, not the 64 MiB inflated
    offset = next(r for r in read_warc(path) if r.type == "response")
    rec_offset = _response_offset(path)
    assert offset.http_headers["content-encoding"] == kind
    small = read_record_at(path, rec_offset, cap=1 << 20)
    assert small.payload_truncated and len(small.payload) == 1 << 20
    assert set(small.payload[:4096]) == {0}  # really inflated, not the raw bytes
    default = read_record_at(path, rec_offset)
    assert default.payload_truncated and len(default.payload) == DEFAULT_PAYLOAD_CAP


def _response_offset(path: Path) -> int:
    from archiver.store.warc import record_ids

    return next(off for _, rtype, off in record_ids(path) if rtype == "response")


def test_compression_bomb_with_extraction_stays_small_and_fast(hostile, tmp_path):
    """In a child process under a 1.5 GB address-space limit, so the machine is safe."""
    code = ("import resource,sys;resource.setrlimit(resource.RLIMIT_AS,(1536<<20,1536<<20));"
            "from archiver.cli.main import main;sys.argv[0]='archiver';main()")
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, "capture", hostile.url("/bomb/gzip"), "--json",
             "--archive", str(tmp_path / "a")],
            capture_output=True, text=True, timeout=10, check=False,
            env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail("capture of a 64 KiB compression bomb took more than 10 s")
    assert time.monotonic() - started < 10
    assert "Traceback" not in done.stderr
    out = json.loads(done.stdout)
    assert "MemoryError" not in json.dumps(out)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 1024 * 1024  # KiB


# ---------------------------------------------------------------- hostile HTML

@pytest.mark.parametrize(("route", "expect"), [("/nested", "not-article"),
                                                ("/enormous", "stored")])
def test_deep_or_enormous_html_is_a_clean_outcome(run, hostile, seeded, archive_dir,
                                                  route, expect):
    out = capture_json(run, hostile.url(route))
    assert out["status"] == 200 and out["warc"]
    article = out["article"]
    assert article["status"] == expect, article
    # A swallowed exception would also be "not-article"; say it must not be one.
    assert not str(article.get("reason", "")).startswith("extraction failed"), article


def test_binary_served_as_html_is_archived_verbatim_and_not_an_article(
        run, hostile, seeded, archive_dir):
    out = capture_json(run, hostile.url("/binary"))
    assert out["outcome"] == "archived" and out["article"]["status"] == "not-article"
    assert not str(out["article"].get("reason", "")).startswith("extraction failed")
    rng = random.Random(8)
    sent = b"\x89PNG\r\n\x1a\n" + rng.randbytes(200_000)
    assert response(newest_warc(archive_dir, seeded)).raw_payload == sent
    articles = {p for p in (archive_dir / "articles").rglob("*") if p.is_file()}
    assert articles == {p for p in seeded if "articles" in p.parts}


@pytest.fixture
def honest_article(seeded, archive_dir) -> dict:
    """The article extracted from the honestly served UTF-8 page (captured by `seeded`)."""
    path = next(p for p in seeded if "articles" in p.parts)
    return json.loads(path.read_bytes())


@pytest.mark.parametrize("case", sorted(CHARSET_CASES))
def test_lying_missing_or_odd_charsets_give_the_same_text(run, hostile, seeded, archive_dir,
                                                          honest_article, case):
    body, _ = CHARSET_CASES[case]
    out = capture_json(run, hostile.url(f"/charset/{case}"))
    assert out["article"]["status"] == "stored", out["article"]
    assert response(newest_warc(archive_dir, seeded)).raw_payload == body()  # bytes kept as sent
    doc = json.loads((archive_dir / out["article"]["path"]).read_bytes())
    for key in ("title", "lead", "body"):
        assert doc[key] == honest_article[key], (case, key)
    assert "\ufffd" not in json.dumps(doc, ensure_ascii=False)
    if case == "nfd":
        assert "NFC" in doc["extraction"]["normalization"]


# ---------------------------------------------------------------- URLs and redirects

@pytest.mark.parametrize(("url", "reason"), [
    ("http://[::1/", "invalid URL"),
    ("http://127.0.0.1:99999/", "invalid URL"),
    ("http://exa%mple.com/", "invalid URL"),
    ("http://☃.invalid/", "invalid URL"),
    ("http://" + "a" * 70 + ".invalid/", "label empty or too long"),
    ("http://bücher.invalid/", "DNS lookup failed"),
    ("http://xn--zz.invalid/", "DNS lookup failed"),
    ("http://127.0.0.1/a\x00b", "control characters"),
    ("http://127.0.0.1/a\nb", "control characters"),
    ("http://127.0.0.1/a\x1b[2Jb", "control characters"),
    ("javascript:alert(1)", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("data:text/html,hi", "only http and https"),
])
def test_invalid_urls_and_idns_give_one_clear_line(run, seeded, archive_dir, url, reason):
    result = run("capture", url, "--retries", "0")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("FAILED  ") and reason in first, first
    assert "Traceback" not in result.output
    assert len(result.stdout.splitlines()) == 2  # the line and the summary, nothing else
    assert warc_files(archive_dir) == [p for p in seeded if p.suffix == ".gz"]


def test_a_redirect_chain_at_the_limit_is_followed(run, hostile, seeded, archive_dir):
    out = capture_json(run, hostile.url("/chain/10"))
    assert out["outcome"] == "archived"
    assert len([r for r in read_warc(newest_warc(archive_dir, seeded))
                if r.type == "response"]) == 11


def test_an_over_long_redirect_chain_is_stopped_and_every_hop_kept(run, hostile, seeded,
                                                                   archive_dir):
    out = capture_json(run, hostile.url("/chain/30"))
    assert out["outcome"] != "archived"
    assert out["error"] == "more than 10 redirects"
    assert len(hostile.hits) == 1 + 11  # seeded's capture + 11 hops, then it stopped
    statuses = [r.http_status for r in read_warc(newest_warc(archive_dir, seeded))
                if r.type == "response"]
    assert statuses == [302] * 11
    assert last_entry(archive_dir)["outcome"]["status"] == "failure"


@pytest.mark.parametrize(("route", "reason"), [
    ("/self", "redirect loop"),
    ("/to-file", "redirect to a non-http(s) URL refused: file:///etc/passwd"),
    ("/to-javascript", "redirect to a non-http(s) URL refused"),
    ("/to-data", "redirect to a non-http(s) URL refused"),
    ("/to-gopher", "redirect to a non-http(s) URL refused"),
    ("/bad-location", "redirect to an invalid URL refused"),
])
def test_bad_redirects_are_refused(run, hostile, seeded, archive_dir, route, reason):
    result = run("capture", hostile.url(route))
    assert result.exit_code == 1
    assert reason in result.output and "Traceback" not in result.output
    assert hostile.hits[1:] == [route]  # asked once, never followed anywhere
    assert b"root:" not in newest_warc(archive_dir, seeded).read_bytes()


# ---------------------------------------------------------------- slow and broken servers

@pytest.mark.parametrize("route", ["/loris", "/silent"])
def test_slow_servers_are_cut_off_by_the_total_time_per_url(run, hostile, seeded, route):
    started = time.monotonic()
    result = run("capture", hostile.url(route), "--timeout", "5", "--max-time", "1",
                 "--retries", "2")
    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert "timed out" in result.output
    # per-read timeouts alone would allow 3 attempts x 5 s, or forever for the dribbler
    assert elapsed < 3.5, elapsed


@pytest.mark.parametrize("route", ["/many-headers", "/long-header"])
def test_header_floods_are_a_clear_failure(run, hostile, seeded, route):
    result = run("capture", hostile.url(route), "--retries", "0")
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"FAILED  {hostile.url(route)}: "), first
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- never write outside the root

@pytest.mark.parametrize("path", ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/x",
                                  "/a/..%2f..%2f..%2fb", "/%00%0a%1b[2J", "/%2F%2F..%2Fetc"])
def test_url_paths_cannot_escape_the_archive(run, hostile, seeded, archive_dir, tmp_path, path):
    outside_before = {p for p in tmp_path.rglob("*") if archive_dir not in p.parents}
    run("capture", hostile.base + path)
    outside_after = {p for p in tmp_path.rglob("*") if archive_dir not in p.parents}
    assert outside_after == outside_before
    for p in archive_dir.rglob("*"):
        assert p.resolve().is_relative_to(archive_dir.resolve())
        assert all(c.isprintable() for c in p.name), p


@pytest.mark.parametrize("rel", ["../escape", "/etc/passwd", "warcs/../../escape",
                                 "articles/../../../escape", "a\0b", "a\\..\\b", ""])
def test_store_refuses_paths_outside_the_root(tmp_path, rel):
    archive = Archive(tmp_path / "archive").ensure()
    with pytest.raises(UsageError):
        archive.write_bytes(rel, b"x")
    assert not (tmp_path / "escape").exists()


def test_store_refuses_to_follow_a_symlink_out_of_the_root(tmp_path):
    archive = Archive(tmp_path / "archive").ensure()
    outside = tmp_path / "outside"
    outside.mkdir()
    archive.articles_dir.rmdir()
    archive.articles_dir.symlink_to(outside)
    with pytest.raises(UsageError, match="escapes the archive root"):
        archive.write_bytes("articles/x/y.json", b"{}")
    assert list(outside.rglob("*")) == []


# ---------------------------------------------------------------- ingest of hostile files

def test_file_name_with_control_characters_is_ingested_safely(run, seeded, archive_dir,
                                                               tmp_path):
    name = "evil\x1b[2J\n\x07\x7fname.html"
    path = tmp_path / name
    path.write_bytes(article_bytes())
    result = run("ingest", str(path), "--url", "https://example.org/evil", "--json")
    assert result.exit_code == 0, result.output
    entry = last_entry(archive_dir)
    assert entry["source"]["file"]["name"] == name  # kept exactly, JSON-escaped on disk
    assert b"\x1b" not in (archive_dir / "manifest.jsonl").read_bytes()
    for p in archive_dir.rglob("*"):
        assert all(c.isprintable() for c in p.name), p


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.html"
    os.mkfifo(path)
    return path


def _symlink(tmp_path: Path) -> Path:
    target = tmp_path / "real.html"
    target.write_bytes(article_bytes())
    link = tmp_path / "link.html"
    link.symlink_to(target)
    return link


def _huge(tmp_path: Path) -> Path:
    path = tmp_path / "huge.html"
    with open(path, "wb") as f:  # sparse: 300 MB on paper, nothing on disk
        f.truncate(300 * 1024 * 1024)
    return path


def _unreadable(tmp_path: Path) -> Path:
    # Root reads chmod 000 files, so use a regular file whose read() fails for anyone:
    # /proc/self/mem is a regular file of size 0 whose first page is unmapped (EIO).
    return Path("/proc/self/mem")


@pytest.mark.parametrize(("make", "reason"), [
    (_symlink, "is a symbolic link"),
    (lambda _: Path("/dev/null"), "not a regular file"),
    (lambda _: Path("/dev/zero"), "not a regular file"),
    (_fifo, "not a regular file"),
    (_unreadable, "cannot read"),
    (_huge, "byte limit for a document"),
])
def test_hostile_local_files_are_refused_with_one_clear_line(run, seeded, tmp_path,
                                                             make, reason):
    path = make(tmp_path)
    result = run("ingest", str(path), "--url", "https://example.org/x")
    assert result.exit_code == 1, result.output
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"FAILED  {path}: ") and reason in first, first
    assert "Traceback" not in result.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads chmod 000 files; the /proc/self/mem "
                                              "case covers unreadable files instead")
def test_chmod_000_file_is_refused(run, seeded, tmp_path):
    path = tmp_path / "secret.html"
    path.write_bytes(article_bytes())
    path.chmod(0)
    result = run("ingest", str(path), "--url", "https://example.org/x")
    assert result.exit_code == 1 and "Permission denied" in result.output


# ---------------------------------------------------------------- never load or execute

def test_captured_content_is_never_fetched_from_or_executed(run, hostile, seeded,
                                                            archive_dir, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LOCAL-FILE")
    hostile.secret = str(secret)
    out = capture_json(run, hostile.url("/loader"))
    assert out["status"] == 200
    assert hostile.hits[1:] == ["/loader"]  # no image, script, frame, refresh or base fetch
    for p in archive_dir.rglob("*"):
        if p.is_file():
            assert b"TOP-SECRET" not in p.read_bytes(), p  # no external entity resolved


# ---------------------------------------------------------------- a damaged stored WARC

def _story(title: str, extra: str = "") -> bytes:
    from news_site import Story

    story = Story()
    story.title = title
    if extra:
        story.paragraphs = [*story.paragraphs, extra]
    return story.html()


@pytest.fixture
def damaged(run: Cli, archive_dir: Path, tmp_path: Path) -> dict[str, object]:
    """Three ingested documents (two snapshots of one story, one other story), then one
    flipped byte inside the resource record of the first WARC."""
    docs = [("one.html", "https://news.example.org/one", _story("Story one")),
            ("two.html", "https://news.example.org/two", _story("Story two")),
            ("one-b.html", "https://news.example.org/one",
             _story("Story one", "Cập nhật: thêm một đoạn văn mới cho bài báo này."))]
    for name, url, body in docs:
        (tmp_path / name).write_bytes(body)
        assert run("ingest", str(tmp_path / name), "--url", url).exit_code == 0
    first = warc_files(archive_dir)[0]
    offset = next(off for _, kind, off in _record_ids(first) if kind == "resource")
    data = bytearray(first.read_bytes())
    for i in range(200, 216):  # inside the resource record's deflate stream: one flipped
        data[offset + i] ^= 0xFF  # byte can still inflate (it lands in a literal), 16 cannot
    first.write_bytes(bytes(data))
    return {"warc": first.relative_to(archive_dir).as_posix(), "offset": offset,
            "others": [w.relative_to(archive_dir).as_posix() for w in warc_files(archive_dir)[1:]]}


@pytest.mark.parametrize("command", [("audit",), ("validate",), ("export", "bag", "OUT")])
def test_a_fifo_planted_in_the_archive_is_reported_not_waited_on(damaged, archive_dir, tmp_path,
                                                                 command):
    """A FIFO in place of a stored file would make a reader wait for a writer forever: every
    whole-archive reader names it and goes on (in a subprocess, so a hang fails the test)."""
    article = sorted((archive_dir / "articles").rglob("*.json"))[0]
    article.unlink()
    os.mkfifo(article)
    argv = [str(tmp_path / "out.bag") if arg == "OUT" else arg for arg in command]
    result = subprocess.run([sys.executable, "-m", "archiver", *argv, "--archive",
                             str(archive_dir), "--json"], capture_output=True, timeout=120,
                            cwd=REPO)
    assert result.returncode == 1 and b"Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    [finding] = [f for f in report["findings"]
                 if f["where"] == article.relative_to(archive_dir).as_posix()]
    assert "not a regular file" in finding["message"]


def _record_ids(path: Path) -> list[tuple[str, str, int]]:
    from archiver.store.warc import record_ids

    return list(record_ids(path))


def test_extract_all_reports_a_damaged_warc_and_goes_on(run, damaged):
    result = run("extract", "--all")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"ERROR: {damaged['warc']} @" in result.output and "damaged WARC" in result.output
    for other in damaged["others"]:
        assert f"[{other}]" in result.output  # the other WARCs were read
    lines = [json.loads(x) for x in run("extract", "--all", "--json").stdout.splitlines()]
    [bad] = [x for x in lines if x["status"] == "damaged"]
    assert bad["warc"] == damaged["warc"] and isinstance(bad["offset"], int)
    assert {x["warc"] for x in lines if x["status"] == "unchanged"} == set(damaged["others"])


def test_index_reports_a_damaged_warc_and_indexes_the_rest(run, damaged, archive_dir):
    result = run("index", "--json")
    assert result.exit_code == 1
    stats = json.loads(result.stdout)
    [finding] = stats["findings"]
    assert finding["where"] == damaged["warc"] and isinstance(finding["offset"], int)
    indexed = (archive_dir / "index.cdxj").read_text()
    assert all(other in indexed for other in damaged["others"])


@pytest.mark.parametrize("kind", ["wacz", "bag"])
def test_export_names_every_damaged_file_with_its_offset(run, damaged, archive_dir, tmp_path,
                                                         kind):
    article = sorted((archive_dir / "articles").rglob("*.json"))[-1]
    article.write_bytes(article.read_bytes() + b" ")  # a second damaged file
    out = tmp_path / f"out.{kind}"
    result = run("export", kind, str(out), "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output
    findings = json.loads(result.stdout)["findings"]
    located = [f for f in findings if f["where"] == damaged["warc"] and "offset" in f]
    assert located and located[0]["offset"] == damaged["offset"]  # the damaged member
    assert any(f["where"] == article.relative_to(archive_dir).as_posix() for f in findings)
    assert not out.exists() and not list(tmp_path.glob(".tmp-*"))


def test_show_ls_and_diff_read_no_warc_and_are_unaffected(run, damaged):
    # They read the manifest and the article files only: a damaged WARC is audit's and
    # validate's to report, and the views still work.
    for args in (("show", "https://news.example.org/one"), ("ls",),
                 ("diff", "https://news.example.org/one")):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
    assert "text changed" in run("diff", "https://news.example.org/one").output


def test_show_ls_and_diff_report_a_damaged_article_file_and_go_on(run, damaged, archive_dir):
    history = json.loads(run("show", "https://news.example.org/one", "--json").stdout)
    latest = archive_dir / history["snapshots"][-1]["path"]
    text = latest.read_bytes()
    # Torn inside the first body paragraph (not at len // 2, which moves with every change
    # to the article's other fields and can land between two keys).
    cut = text.index(b'"body": [') + len(b'"body": [') + 40
    latest.write_bytes(text[:cut])
    # The offset is where the JSON breaks: the start of the string the cut left open.
    start = text.rfind(b'"', 0, cut)
    shown = f"{latest.relative_to(archive_dir).as_posix()} @{start}"

    # ls lists from the catalog without opening article files (what makes it scale), so it
    # lists both; show and diff open the file and report it; audit finds it by its digest.
    listed = run("ls")
    assert listed.exit_code == 0 and "Traceback" not in listed.output
    assert "Story two" in listed.output
    assert run("audit").exit_code == 1
    showed = run("show", "https://news.example.org/one")
    assert showed.exit_code == 1 and shown in showed.output
    assert run("show", "https://news.example.org/two").exit_code == 0
    compared = run("diff", "https://news.example.org/one")  # nothing else to compare with
    assert compared.exit_code == 1 and "Traceback" not in compared.output
    assert f"{latest.relative_to(archive_dir).as_posix()}: damaged at offset {start}" in \
        compared.output
