"""`archiver validate` on the stored corpus, foreign-WARC ingest (a real wget WARC), and
`archiver extract` re-deriving articles offline."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import SHARED
from http_fixture import VOV_PATH
from warc_helpers import warc_files

from archiver.store import manifest


def article_files(archive: Path) -> list[Path]:
    return sorted((archive / "articles").rglob("*.json"))


@pytest.fixture
def captured(run, server, archive_dir) -> Path:
    assert run("capture", server.url(VOV_PATH), server.url("/missing")).exit_code == 1
    return archive_dir


def test_validate_whole_archive_is_clean(run, captured):
    result = run("validate")
    assert result.exit_code == 0, result.output
    line = result.output.splitlines()[-1]
    assert line.startswith("validate valid: 1 WARC files")  # the run's rolling WARC
    assert "1 articles, 3 manifest entries" in line  # 2 captures and the WARC's seal


def test_validate_reports_a_schema_failure_in_an_article(run, captured):
    path = article_files(captured)[0]
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["published_at"] = "yesterday"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = run("validate", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    bad = [f for f in report["findings"] if f["code"] == "invalid-article"]
    assert bad and bad[0]["where"] == captured.joinpath(path).relative_to(captured).as_posix()
    assert "/published_at" in bad[0]["message"]


def test_validate_reports_an_article_whose_record_is_unknown(run, captured):
    path = article_files(captured)[0]
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["capture"]["record_id"] = "<urn:uuid:11111111-1111-1111-1111-111111111111>"
    path.write_text(json.dumps(doc), encoding="utf-8")
    report = json.loads(run("validate", "--json").output)
    assert [f["code"] for f in report["findings"]] == ["unlinked-article"]


def test_validate_a_corrupt_warc_by_path_without_an_archive(run, captured, tmp_path):
    warc = warc_files(captured)[0]
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(warc.read_bytes()[:-50])
    result = run("validate", str(broken), archive=False)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.splitlines()[-1].startswith("validate INVALID: 1 WARC files")


def test_validate_missing_path_is_usage_error(run, tmp_path):
    assert run("validate", str(tmp_path / "nope.warc"), archive=False).exit_code == 2


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget not installed")
def test_ingest_a_warc_written_by_wget(run, server, archive_dir, tmp_path):
    base = tmp_path / "wget-crawl"
    subprocess.run(["wget", "-q", f"--warc-file={base}", "-O", str(tmp_path / "page.html"),
                    server.url(VOV_PATH)], check=True, timeout=60)
    foreign = base.with_suffix(".warc.gz")
    original = foreign.read_bytes()
    result = run("ingest", str(foreign))
    assert result.exit_code == 0, result.output
    entry = list(manifest.iter_entries(archive_dir / "manifest.jsonl"))[-1]
    assert entry["event"] == "ingestion"
    copied = entry["files"][0]
    assert (archive_dir / copied["path"]).read_bytes() == original  # verbatim, never rewritten
    assert entry["source"]["file"]["name"] == foreign.name
    assert entry["articles"][0]["id"] == "vov-1064050"
    assert entry["articles"][0]["byline"]["raw"] == "PV/VOV.VN"
    again = run("ingest", str(foreign))
    assert "same bytes already ingested" in again.output
    assert run("audit").exit_code == 0
    # wget 1.19-1.21 wrap WARC-Target-URI in <...>: ingest tolerates and records that known
    # defect; validate lists it as accepted by that entry, apart from the errors.
    recorded = {f["code"] for f in entry["findings"] if f["severity"] == "error"}
    assert recorded <= {"angle-bracketed-uri"}
    report = json.loads(run("validate", "--json").output)
    assert report["ok"] and report["errors"] == 0
    assert {f["code"] for f in report["accepted"] if f["severity"] == "error"} == recorded


def test_invalid_foreign_warc_is_refused_unless_accepted(run, archive_dir, tmp_path):
    bad = tmp_path / "bad.warc"
    bad.write_bytes(b"WARC/1.0\r\nWARC-Type: response\r\n\r\n")
    refused = run("ingest", str(bad))
    assert refused.exit_code == 1
    assert "refused:" in refused.output and "--accept-invalid" in refused.output
    assert warc_files(archive_dir) == []
    accepted = run("ingest", str(bad), "--accept-invalid")
    assert accepted.exit_code == 0, accepted.output
    entry = list(manifest.iter_entries(archive_dir / "manifest.jsonl"))[-1]
    assert entry["findings"] and all(f["severity"] in ("error", "warning", "info")
                                     for f in entry["findings"])


def test_foreign_revisit_resolves_to_its_original(run, archive_dir):
    pywb_dupes = SHARED / "conformance" / "warc" / "warcio" / "example.warc.gz"
    if not pywb_dupes.exists():
        pytest.skip("shared conformance corpus absent")
    result = run("ingest", str(pywb_dupes))
    assert result.exit_code == 0, result.output


def test_extract_all_is_deterministic_and_offline(run, captured, server):
    before = {p: p.read_bytes() for p in article_files(captured)}
    server.shutdown()  # offline: nothing may be fetched
    result = run("extract", "--all")
    assert result.exit_code == 0, result.output
    assert "1 unchanged" in result.output
    assert {p: p.read_bytes() for p in article_files(captured)} == before
    entries = list(manifest.iter_entries(captured / "manifest.jsonl"))
    assert len(entries) == 3  # nothing changed, nothing recorded (2 captures, 1 seal)


def test_extract_after_an_article_is_lost_rewrites_it_and_records_the_event(run, captured):
    lost = article_files(captured)[0]
    original = lost.read_bytes()
    lost.unlink()
    result = run("extract", "vov-1064050")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("new")
    assert lost.read_bytes() == original  # byte-identical re-derivation
    last = list(manifest.iter_entries(captured / "manifest.jsonl"))[-1]
    assert last["event"] == "metadata extraction"
    assert last["articles"][0]["path"] == lost.relative_to(captured).as_posix()


def test_extract_json_includes_the_article(run, captured):
    lines = run.json_lines("extract", "--all")
    assert len(lines) == 1
    assert lines[0]["article"]["id"] == "vov-1064050"
    assert lines[0]["status"] == "unchanged"


def test_extract_needs_a_selector(run, captured):
    assert run("extract").exit_code == 2



def _ingest_wget_warc(run, server, archive_dir, tmp_path) -> dict:
    base = tmp_path / "wget-crawl"
    subprocess.run(["wget", "-q", f"--warc-file={base}", "-O", str(tmp_path / "page.html"),
                    server.url(VOV_PATH)], check=True, timeout=60)
    assert run("ingest", str(base.with_suffix(".warc.gz"))).exit_code == 0
    return list(manifest.iter_entries(archive_dir / "manifest.jsonl"))[-1]


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget not installed")
def test_validate_lists_findings_accepted_at_ingest_apart_from_errors(run, server, archive_dir,
                                                                       tmp_path):
    entry = _ingest_wget_warc(run, server, archive_dir, tmp_path)
    stored = entry["files"][0]["path"]
    accepted = [f for f in entry["findings"] if f["severity"] == "error"]
    assert accepted  # wget's angle-bracketed URIs
    text = run("validate")
    assert text.exit_code == 0, text.output
    lines = [ln for ln in text.output.splitlines() if ln.startswith("ACCEPTED")]
    assert len(lines) == len(accepted)
    assert all(f"manifest seq {entry['seq']}" in ln and stored in ln for ln in lines)
    assert f"0 errors, 0 warnings, {len(accepted)} accepted at ingest" in text.output
    report = json.loads(run("validate", "--json").output)
    assert report["ok"] and report["errors"] == 0
    assert {(f["code"], f["offset"], f["manifest_seq"], f["where"]) for f in report["accepted"]} \
        == {(f["code"], f["offset"], entry["seq"], stored) for f in accepted}


@pytest.mark.skipif(shutil.which("wget") is None, reason="wget not installed")
def test_a_finding_not_accepted_at_ingest_stays_an_error(run, server, archive_dir, tmp_path):
    entry = _ingest_wget_warc(run, server, archive_dir, tmp_path)
    path = archive_dir / entry["files"][0]["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the stored copy changed after ingest
    path.write_bytes(bytes(data))
    result = run("validate", "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["errors"] >= 1 and report["accepted"]
    accepted_keys = {(f["code"], f.get("offset")) for f in entry["findings"]}
    assert all((f["code"], f.get("offset")) not in accepted_keys for f in report["findings"])
