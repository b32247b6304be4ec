"""Issue 24, items 3 and 6: validate checks revisits from the WARCs themselves.

Item 3: `archiver validate FILE...` checks each revisit against its target when the target is
in one of the given files (the payload digest must match), and warns for a revisit whose
target is in none of them. Item 6: validate of an archive reads no catalog, so it never
writes catalog.sqlite into the archive, and finds the same things."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

from conftest import Cli
from http_fixture import FixtureServer
from warc_helpers import warcio_check
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

URL = "http://example.org/page"
BODY = b"<html><body>the payload</body></html>"


def digest(data: bytes) -> str:
    """sha1 in hex: warcio writes the response's in base32, so a match needs both read."""
    return "sha1:" + hashlib.sha1(data).hexdigest()


def write(path: Path, records: list[tuple[str, str | None, str | None]]) -> dict[str, str]:
    """(kind, refers_to, payload digest of a revisit) -> a gzip WARC; the record ids."""
    ids: dict[str, str] = {}
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        for n, (kind, refers_to, revisit_digest) in enumerate(records):
            head = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                               ("Content-Length", str(len(BODY)))],
                                    protocol="HTTP/1.1")
            if kind == "response":
                rec = writer.create_warc_record(URL, "response", payload=io.BytesIO(BODY),
                                                http_headers=head)
            else:
                rec = writer.create_revisit_record(URL, revisit_digest or digest(BODY), URL,
                                                   "2026-12-01T00:00:00Z", http_headers=head)
                if refers_to:
                    rec.rec_headers.add_header("WARC-Refers-To", refers_to)
            ids[f"{kind}{n}"] = rec.rec_headers.get_header("WARC-Record-ID")
            writer.write_record(rec)
    assert warcio_check(path).returncode == 0
    return ids


def findings(run: Cli, *paths: Path) -> tuple[int, list[dict]]:
    result = run("validate", *map(str, paths), "--json", archive=False)
    return result.exit_code, json.loads(result.stdout.splitlines()[-1])["findings"]


def lone_file(tmp_path: Path, revisit_digest: str) -> Path:
    path = tmp_path / "one.warc.gz"
    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True, warc_version="1.1")
        head = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                           ("Content-Length", str(len(BODY)))],
                                protocol="HTTP/1.1")
        response = writer.create_warc_record(URL, "response", payload=io.BytesIO(BODY),
                                             http_headers=head)
        writer.write_record(response)
        revisit = writer.create_revisit_record(URL, revisit_digest, URL, "2026-12-01T00:00:00Z",
                                               http_headers=head)
        revisit.rec_headers.add_header("WARC-Refers-To",
                                       response.rec_headers.get_header("WARC-Record-ID"))
        writer.write_record(revisit)
    return path


def test_a_revisit_whose_digest_differs_from_its_target_in_the_same_file_fails(
        tmp_path: Path) -> None:
    run = Cli(tmp_path / "none")
    good = lone_file(tmp_path, digest(BODY))
    code, found = findings(run, good)
    assert code == 0, found
    assert not [f for f in found if f["code"].startswith("revisit")]
    bad = lone_file(tmp_path, digest(b"another payload"))
    code, found = findings(run, bad)
    assert code == 1
    [mismatch] = [f for f in found if f["code"] == "revisit-digest-mismatch"]
    assert mismatch["severity"] == "error" and mismatch["where"] == str(bad)


def test_files_given_together_are_checked_together(tmp_path: Path) -> None:
    run = Cli(tmp_path / "none")
    target = write(tmp_path / "a.warc.gz", [("response", None, None)])["response0"]
    write(tmp_path / "b.warc.gz", [("revisit", target, digest(b"changed"))])
    code, found = findings(run, tmp_path / "a.warc.gz", tmp_path / "b.warc.gz")
    assert code == 1
    assert [f["code"] for f in found] == ["revisit-digest-mismatch"]
    assert found[0]["where"].endswith("b.warc.gz")
    # the revisit alone: its target is in none of the files given, a warning
    code, found = findings(run, tmp_path / "b.warc.gz")
    assert code == 0
    assert [(f["severity"], f["code"]) for f in found] == [("warning", "revisit-target-missing")]
    assert "none of the files given" in found[0]["message"]
    # a revisit of a revisit has no payload to refer to
    other = write(tmp_path / "c.warc.gz", [("revisit", target, None)])["revisit0"]
    write(tmp_path / "d.warc.gz", [("revisit", other, None)])
    code, found = findings(run, tmp_path / "a.warc.gz", tmp_path / "c.warc.gz",
                           tmp_path / "d.warc.gz")
    assert code == 1 and [f["code"] for f in found] == ["revisit-of-revisit"]


def test_validate_writes_no_catalog_and_still_checks_revisits(server: FixtureServer,
                                                              archive_dir: Path) -> None:
    run = Cli(archive_dir)
    url = server.url("/article")
    assert run("capture", url, "-q").exit_code == 0
    assert run("capture", url, "-q").exit_code == 0  # a revisit of the first
    catalog = archive_dir / "catalog.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    result = run("validate", "--json")
    assert result.exit_code == 0, result.output
    assert not catalog.exists()  # a check does not write derived data
    assert json.loads(result.stdout.splitlines()[-1])["errors"] == 0
    # the revisit is still checked: its target's WARC gone is an error
    warcs = sorted((archive_dir / "warcs").rglob("*.warc.gz"))
    assert len(warcs) == 2
    warcs[0].unlink()
    result = run("validate", "--json")
    assert result.exit_code == 1
    codes = {f["code"] for f in json.loads(result.stdout.splitlines()[-1])["findings"]}
    assert "revisit-target-missing" in codes
    assert not catalog.exists()
