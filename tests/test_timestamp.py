"""RFC 3161 time-stamps over chain heads, against a real TSA on loopback (`openssl ts -reply`):
`archiver timestamp`, audit's offline checks (each one a named finding), renewal, and
capture/ingest timestamping their final head without ever failing or waiting past
--tsa-timeout."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import SEED_DOCUMENT, Cli, free_port, rewrite_history
from rfc3161_client import decode_timestamp_response
from tsa_server import LoopbackTSA, tsa_fixture

from archiver.check import audit as audit_mod
from archiver.check import timestamps as tsa_check
from archiver.store import manifest, timestamps
from archiver.store.archive import Archive

tsa = tsa_fixture()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (timestamps.ENV_TSA, timestamps.ENV_ROOTS):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARCHIVER_KEY", str(tmp_path / "no-key" / "ed25519.key"))


def make_archive(root: Path, entries: int = 2, at: str | None = None) -> Archive:
    archive = Archive(root).ensure()
    for i in range(entries):
        event = manifest.new_event("validation", "success", f"event {i}", operator="tester")
        if at:
            event["at"] = at
        manifest.append(archive.manifest_path, event)
    return archive


def audit(archive: Archive, roots: list[Any] | None,
          now: datetime | None = None) -> tsa_check.Result:
    """The timestamp part of audit, at `now` (expiry is judged at a moved clock)."""
    entries = list(manifest.iter_entries(archive.manifest_path))
    chain = {e["seq"]: e["hash"] for e in entries}
    at = {e["seq"]: e["at"] for e in entries}
    work = max(e["seq"] for e in entries if "timestamps" not in e)
    return tsa_check.verify(archive, roots, chain, at, work, now=now)


def codes(result: Any, severity: str | None = None) -> set[str]:
    return {f.code for f in result.findings if severity in (None, f.severity)}


def roots(tsa: LoopbackTSA) -> list[Any]:
    return tsa_check.load_roots([tsa.root_pem])


def forced(archive: Archive, tsa: LoopbackTSA, mode: str,
           seq_hash: tuple[int, str] | None = None) -> timestamps.Stamp:
    """Store whatever the TSA answers in `mode`, skipping the client's own checks (as an
    older tool, a bug or an intruder with write access might): audit must catch it."""
    seq, head = seq_hash or timestamps.target_head(archive)
    stamp = timestamps.Stamp(tsa.url, seq, head, 0)
    query, stamp.nonce = timestamps.build_query(stamp.message())
    stamp.reply = tsa.reply(query, mode)
    try:
        info = decode_timestamp_response(stamp.reply).tst_info
        stamp.gen_time = timestamps.iso(info.gen_time)
    except ValueError:
        stamp.gen_time = "2026-01-01T00:00:00Z"
    timestamps.store(archive, [stamp])
    return stamp


# ---------------------------------------------------------------- archiver timestamp

def test_timestamp_then_audit_proves_the_head(run: Cli, archive_dir: Path,
                                             tsa: LoopbackTSA) -> None:
    archive = make_archive(archive_dir)
    head = manifest.read_last(archive.manifest_path)
    assert head is not None
    result = run("timestamp", "--tsa", tsa.url)
    assert result.exit_code == 0, result.output
    assert f"granted  seq {head['seq']} existed by" in result.output
    entry = manifest.read_last(archive.manifest_path)
    assert entry is not None and entry["event"] == "digital signature generation"
    (token,) = entry["timestamps"]
    assert (token["seq"], token["hash"], token["tsa"]) == (head["seq"], head["hash"], tsa.url)
    data = (archive_dir / token["token"]).read_bytes()
    assert entry["files"] == [{"path": token["token"], "size": len(data),
                               "sha256": hashlib.sha256(data).hexdigest()}]
    # OpenSSL alone verifies the stored reply over the documented message
    message = timestamps.head_message(head["seq"], head["hash"])
    assert message == json.dumps({"hash": head["hash"], "seq": head["seq"],
                                  "type": "archiver-timestamp-head", "v": 1},
                                 separators=(",", ":")).encode()
    assert tsa.openssl_verify(data, data=message).returncode == 0
    # audit: clean, with the proof line and the proofs list
    audited = run("audit", "--tsa-roots", str(tsa.root_pem))
    assert audited.exit_code == 0, audited.output
    assert f"seq {head['seq']} existed by {token['gen_time']} (O=archiver tests," \
           in audited.output
    report = json.loads(run("audit", "--tsa-roots", str(tsa.root_pem), "--json").stdout)
    assert report["ok"] and [p["token"] for p in report["proofs"]] == [token["token"]]
    assert report["proofs"][0]["seq"] == head["seq"]


def test_timestamp_again_proves_the_same_work_not_its_own_event(run: Cli, archive_dir: Path,
                                                                tsa: LoopbackTSA) -> None:
    make_archive(archive_dir, entries=1)
    assert run("timestamp", "--tsa", tsa.url).exit_code == 0
    assert run("timestamp", "--tsa", tsa.url).exit_code == 0
    recorded = timestamps.all_recorded(Archive(archive_dir))
    assert [r.seq for r in recorded] == [0, 0]  # not seq 1, the first timestamp event


def test_audit_without_roots_warns_and_checks_what_it_can(run: Cli, archive_dir: Path,
                                                          tsa: LoopbackTSA) -> None:
    make_archive(archive_dir)
    run("timestamp", "--tsa", tsa.url)
    report = json.loads(run("audit", "--json").stdout)
    assert report["ok"] and report["proofs"] == []
    assert "tsa-no-roots" in {f["code"] for f in report["findings"]}


def test_env_tsa_and_roots(run: Cli, archive_dir: Path, tsa: LoopbackTSA,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    make_archive(archive_dir)
    monkeypatch.setenv(timestamps.ENV_TSA, tsa.url)
    monkeypatch.setenv(timestamps.ENV_ROOTS, str(tsa.root_pem))
    assert run("timestamp").exit_code == 0
    report = json.loads(run("audit", "--json").stdout)
    assert report["ok"] and len(report["proofs"]) == 1


def test_min_counts_granting_tsas(run: Cli, archive_dir: Path, tsa: LoopbackTSA) -> None:
    make_archive(archive_dir)
    dead = f"http://127.0.0.1:{free_port()}/tsr"
    result = run("timestamp", "--tsa", tsa.url, "--tsa", dead, "--min", "2")
    assert result.exit_code == 1
    assert f"FAILED   seq 1: {dead}: no answer" in result.output
    assert "1 of 2 TSAs granted a token over seq 1 (fewer than --min 2)" in result.output
    assert len(timestamps.all_recorded(Archive(archive_dir))) == 1  # the granted one is kept
    lines = run("timestamp", "--tsa", tsa.url, "--tsa", dead, "--json").stdout.splitlines()
    summary = json.loads(lines[-1])
    assert summary["ok"] and summary["tsas_granted"] == 1 and summary["asked"] == 2


@pytest.mark.parametrize(("mode", "reason"), [
    ("reject", "refused: status rejection (Message digest algorithm is not supported.)"),
    ("garbage", "unreadable reply (not a DER TimeStampResp)"),
    ("wrong-nonce", "reply nonce differs from the request's"),
    ("other-imprint", "reply is for another message"),
    ("hang", "no answer within 1 s"),
])
def test_bad_replies_are_refused_in_one_line(run: Cli, archive_dir: Path, tsa: LoopbackTSA,
                                            mode: str, reason: str) -> None:
    make_archive(archive_dir)
    tsa.mode = mode
    started = time.monotonic()
    result = run("timestamp", "--tsa", tsa.url, "--tsa-timeout", "1")
    assert time.monotonic() - started < 3
    assert result.exit_code == 1
    assert f"FAILED   seq 1: {tsa.url}: {reason}" in result.output
    assert "Traceback" not in result.output
    assert timestamps.all_recorded(Archive(archive_dir)) == []
    assert not (archive_dir / "timestamps").exists()


@pytest.mark.parametrize(("mode", "reason"), [
    ("no-eku", "has no extendedKeyUsage extension"),
    ("expired", "not at genTime"),
])
def test_timestamp_with_roots_refuses_untrusted_tokens(run: Cli, archive_dir: Path,
                                                      tsa: LoopbackTSA, mode: str,
                                                      reason: str) -> None:
    make_archive(archive_dir)
    tsa.mode = mode
    result = run("timestamp", "--tsa", tsa.url, "--tsa-roots", str(tsa.root_pem))
    assert result.exit_code == 1
    assert "not trusted: the TSA certificate" in result.output and reason in result.output
    assert timestamps.all_recorded(Archive(archive_dir)) == []


def test_usage_errors(run: Cli, archive_dir: Path, tmp_path: Path, tsa: LoopbackTSA) -> None:
    assert run("timestamp", "--tsa", tsa.url).exit_code == 2  # no archive
    make_archive(archive_dir)
    result = run("timestamp")
    assert result.exit_code == 2 and "no TSA named" in result.output
    assert run("timestamp", "--tsa", "ftp://x").exit_code == 2
    bad = tmp_path / "roots.pem"
    bad.write_text("not a certificate\n")
    for args in (("timestamp", "--tsa", tsa.url, "--tsa-roots", str(bad)),
                 ("audit", "--tsa-roots", str(bad))):
        result = run(*args)
        assert result.exit_code == 2 and "not PEM certificates" in result.output
    assert run("audit", "--tsa-roots", str(tmp_path / "absent.pem")).exit_code == 2
    result = run("timestamp", "--tsa", tsa.url, "--renew", "--within", "soon")
    assert result.exit_code == 2 and "not a window" in result.output


# ---------------------------------------------------------------- audit: each check named

@pytest.mark.parametrize(("mode", "code", "words"), [
    ("no-eku", "tsa-eku", "has no extendedKeyUsage extension"),
    ("eku-noncritical", "tsa-eku", "not marked critical"),
    ("expired", "tsa-cert-not-valid-at-gentime", "not at genTime"),
    ("wrong-nonce", "tsa-nonce-mismatch", "is not the one requested"),
    ("other-imprint", "tsa-imprint-mismatch", "not the digest of this head"),
    ("reject", "tsa-not-granted", "status rejection"),
    ("garbage", "tsa-token-unreadable", "not a DER TimeStampResp"),
])
def test_audit_names_each_bad_token(archive_dir: Path, tsa: LoopbackTSA, mode: str,
                                    code: str, words: str, run: Cli) -> None:
    archive = make_archive(archive_dir)
    stamp = forced(archive, tsa, mode)
    result = audit(archive, roots(tsa))
    bad = [f for f in result.findings if f.severity == "error"]
    assert [f.code for f in bad] == [code], result.findings
    assert words in bad[0].message and bad[0].where == stamp.path
    assert result.proofs == []
    cli = run("audit", "--tsa-roots", str(tsa.root_pem))
    assert cli.exit_code == 1 and words in cli.output and "Traceback" not in cli.output


def test_root_not_in_the_trust_file(archive_dir: Path, tsa: LoopbackTSA,
                                    tmp_path: Path) -> None:
    archive = make_archive(archive_dir)
    forced(archive, tsa, "ok")
    other = LoopbackTSA(tmp_path / "other-ca")  # another CA, never started
    result = audit(archive, roots(other))
    (finding,) = [f for f in result.findings if f.severity == "error"]
    assert finding.code == "tsa-untrusted"
    assert "to a root named in --tsa-roots" in finding.message
    # the TSA's own certificate offered as a "root" is not a CA: still untrusted
    leaf_as_root = tsa_check.load_roots([tsa.cert_pem("ok")])
    assert codes(audit(archive, leaf_as_root), "error") == {"tsa-untrusted"}


def test_tampered_tokens(run: Cli, archive_dir: Path, tsa: LoopbackTSA) -> None:
    archive = make_archive(archive_dir)
    flipped = forced(archive, tsa, "ok")
    truncated = forced(archive, tsa, "ok")
    deleted = forced(archive, tsa, "ok")
    path = archive_dir / flipped.path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01  # the last byte of the signature value
    path.write_bytes(bytes(data))
    (archive_dir / truncated.path).write_bytes(truncated.reply[:200])
    (archive_dir / deleted.path).unlink()
    (archive_dir / "timestamps" / "00000001-stray.tsr").write_bytes(flipped.reply)
    report = json.loads(run("audit", "--tsa-roots", str(tsa.root_pem), "--json").stdout)
    found = {(f["code"], f["where"]) for f in report["findings"]}
    assert ("checksum-mismatch", flipped.path) in found
    assert ("tsa-bad-signature", flipped.path) in found
    assert ("size-changed", truncated.path) in found
    assert ("tsa-token-unreadable", truncated.path) in found
    assert ("missing-file", deleted.path) in found
    assert ("tsa-token-unreadable", deleted.path) in found
    assert ("orphan-file", "timestamps/00000001-stray.tsr") in found
    assert not report["ok"] and report["proofs"] == []


def test_token_for_another_archives_head(archive_dir: Path, tmp_path: Path,
                                         tsa: LoopbackTSA) -> None:
    other = make_archive(tmp_path / "other", entries=3)
    theirs = forced(other, tsa, "ok")
    mine = make_archive(archive_dir)
    # their token, recorded here as it was made (their seq 2 and head hash) ...
    copied = timestamps.Stamp(theirs.tsa, theirs.seq, theirs.hash, theirs.nonce,
                              reply=theirs.reply, gen_time=theirs.gen_time)
    timestamps.store(mine, [copied])
    assert codes(audit(mine, roots(tsa)), "error") == {"tsa-head-mismatch"}
    # ... or relabelled as a proof of our own head: its imprint gives it away
    mine2 = make_archive(tmp_path / "mine2")
    seq, head = timestamps.target_head(mine2)
    relabelled = timestamps.Stamp(theirs.tsa, seq, head, theirs.nonce, reply=theirs.reply,
                                  gen_time=theirs.gen_time)
    timestamps.store(mine2, [relabelled])
    assert codes(audit(mine2, roots(tsa)), "error") == {"tsa-imprint-mismatch"}


def test_rewritten_history_breaks_the_proof(archive_dir: Path, tsa: LoopbackTSA) -> None:
    archive = make_archive(archive_dir)
    forced(archive, tsa, "ok")
    rewrite_history(archive.manifest_path)
    report = audit_mod.audit(archive, jobs=1, tsa_roots=roots(tsa))
    assert "tsa-head-mismatch" in {f.code for f in report.findings}
    assert report.proofs == []


def test_operator_clock_ahead_is_a_named_warning(archive_dir: Path, tsa: LoopbackTSA) -> None:
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    archive = make_archive(archive_dir, entries=1, at=ahead)
    forced(archive, tsa, "ok")
    result = audit(archive, roots(tsa))
    (finding,) = result.findings
    assert (finding.code, finding.severity) == ("tsa-clock-ahead", "warning")
    assert "operator's clock was ahead" in finding.message
    assert len(result.proofs) == 1  # a warning, the proof stands


def test_pending_heads_are_noted(archive_dir: Path, tsa: LoopbackTSA) -> None:
    archive = make_archive(archive_dir)
    forced(archive, tsa, "ok")
    manifest.append(archive.manifest_path, manifest.new_event("validation", "success"))
    report = audit_mod.audit(archive, jobs=1, tsa_roots=roots(tsa))
    pending = [f for f in report.findings if f.code == "tsa-pending"]
    assert pending and "entries 2..3" in pending[0].message and report.ok


# ---------------------------------------------------------------- renewal and expiry

def test_renewal_carries_a_token_past_its_certificate(run: Cli, archive_dir: Path,
                                                      tsa: LoopbackTSA) -> None:
    archive = make_archive(archive_dir)
    tsa.mode = "short"  # its certificate expires in 30 days
    assert run("timestamp", "--tsa", tsa.url).exit_code == 0
    later = datetime.now(UTC) + timedelta(days=60)
    assert codes(audit(archive, roots(tsa)), "warning") == {"tsa-expiring"}
    assert codes(audit(archive, roots(tsa), now=later), "error") == {"tsa-cert-expired"}
    # nothing due within 7 days; due within 90
    tsa.mode = "ok"
    result = run("timestamp", "--tsa", tsa.url, "--renew", "--within", "7d")
    assert result.exit_code == 0 and "nothing to renew" in result.output
    result = run("timestamp", "--tsa", tsa.url, "--renew")
    assert result.exit_code == 0, result.output
    assert "granted  renewal of timestamps/" in result.output
    (old, new) = timestamps.all_recorded(archive)
    assert new.renews == old.token and new.seq == old.seq
    assert new.renews_sha256 == hashlib.sha256((archive_dir / old.token).read_bytes()).hexdigest()
    now_result = audit(archive, roots(tsa))
    assert codes(now_result) == set() and len(now_result.proofs) == 2
    later_result = audit(archive, roots(tsa), now=later)
    assert codes(later_result) == set(), later_result.findings
    assert {p["token"] for p in later_result.proofs} == {old.token, new.token}
    # renewing again finds nothing due: the short token is covered
    again = run("timestamp", "--tsa", tsa.url, "--renew")
    assert "nothing to renew" in again.output
    # the renewed token edited: the renewal no longer covers it
    path = archive_dir / old.token
    path.write_bytes(path.read_bytes() + b"\0")
    assert "tsa-renewal-mismatch" in codes(audit(archive, roots(tsa)), "error")


def test_expired_tokens_are_reported_not_renewed(archive_dir: Path, tsa: LoopbackTSA) -> None:
    archive = make_archive(archive_dir)
    forced(archive, tsa, "short")
    later = datetime.now(UTC) + timedelta(days=60)
    due, late = timestamps.renewable(archive, timedelta(days=90), now=later)
    assert due == [] and len(late) == 1
    due, late = timestamps.renewable(archive, timedelta(days=90))
    assert len(due) == 1 and late == []


# ---------------------------------------------------------------- capture, ingest, log

def test_capture_with_a_hanging_tsa_still_succeeds_in_time(run: Cli, archive_dir: Path,
                                                           server: Any,
                                                           tsa: LoopbackTSA) -> None:
    tsa.mode = "hang"
    started = time.monotonic()
    result = run("capture", server.url("/article"), "--timestamp", "--tsa", tsa.url,
                 "--tsa-timeout", "1", "--no-extract")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 8
    assert "timestamp pending" in result.output and "no answer within 1 s" in result.output
    assert timestamps.all_recorded(Archive(archive_dir)) == []
    assert run("audit").exit_code == 0
    # the next `archiver timestamp` proves it
    tsa.mode = "ok"
    assert run("timestamp", "--tsa", tsa.url).exit_code == 0
    assert run("audit", "--tsa-roots", str(tsa.root_pem)).exit_code == 0


def test_capture_and_ingest_timestamp_their_final_head(run: Cli, archive_dir: Path,
                                                       server: Any, tsa: LoopbackTSA,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("capture", server.url("/article"), "--timestamp", "--tsa", tsa.url, "--no-extract")
    assert result.exit_code == 0 and "timestamp: seq" in result.output
    archive = Archive(archive_dir)
    (rec,) = timestamps.all_recorded(archive)
    entries = list(manifest.iter_entries(archive.manifest_path))
    work = [e for e in entries if "timestamps" not in e]
    assert rec.seq == work[-1]["seq"]  # the final head: the seal after the capture
    monkeypatch.setenv(timestamps.ENV_TSA, tsa.url)  # on by default when set
    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0
    assert len(timestamps.all_recorded(archive)) == 2
    report = json.loads(run("audit", "--tsa-roots", str(tsa.root_pem), "--json").stdout)
    assert report["ok"] and len(report["proofs"]) == 2
    monkeypatch.delenv(timestamps.ENV_TSA)
    result = run("ingest", str(SEED_DOCUMENT), "--timestamp")
    assert result.exit_code == 2 and "no TSA named" in result.output


def test_unreachable_tsa_never_fails_ingest(run: Cli, archive_dir: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/tsr"
    result = run("ingest", str(SEED_DOCUMENT), "--tsa", dead, "--tsa-timeout", "2")
    assert result.exit_code == 0
    assert "timestamp pending" in result.output


def test_log_shows_proofs_beside_events(run: Cli, archive_dir: Path, tsa: LoopbackTSA) -> None:
    make_archive(archive_dir)
    run("timestamp", "--tsa", tsa.url)
    text = run("log").output
    (rec,) = timestamps.all_recorded(Archive(archive_dir))
    assert text.count(f"existed by {rec.gen_time}") == 2  # under seq 0 and seq 1
    assert f"token {rec.token} seq 1 genTime {rec.gen_time}" in text
    lines = [json.loads(x) for x in run("log", "--json").stdout.splitlines()]
    assert [bool(e.get("proof")) for e in lines] == [True, True, False]
    assert lines[0]["proof"]["token"] == rec.token


def test_token_files_are_plain_rfc3161_replies(archive_dir: Path, tsa: LoopbackTSA) -> None:
    """Anyone can check a stored token with OpenSSL and the documented message."""
    archive = make_archive(archive_dir)
    stamp = forced(archive, tsa, "ok")
    digest = hashlib.sha256(stamp.message()).hexdigest()
    done = subprocess.run(["openssl", "ts", "-verify", "-digest", digest, "-in",
                           str(archive_dir / stamp.path), "-CAfile", str(tsa.root_pem)],
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr


def test_crawl_timestamps_its_final_head(run: Cli, archive_dir: Path, server: Any,
                                        tsa: LoopbackTSA) -> None:
    result = run("crawl", server.url("/article"), "--depth", "0", "--max-pages", "1",
                 "--no-sitemaps", "--no-feeds", "--no-requisites", "--tsa", tsa.url,
                 "--json")
    assert result.exit_code == 0, result.output
    (rec,) = timestamps.all_recorded(Archive(archive_dir))
    entries = list(manifest.iter_entries(archive_dir / "manifest.jsonl"))
    assert rec.seq == [e for e in entries if "timestamps" not in e][-1]["seq"]
    assert "timestamp: seq" in result.output


def test_exports_carry_the_tokens(run: Cli, archive_dir: Path, tmp_path: Path,
                                  tsa: LoopbackTSA) -> None:
    import zipfile

    assert run("ingest", str(SEED_DOCUMENT)).exit_code == 0  # a WACZ needs a WARC
    run("timestamp", "--tsa", tsa.url)
    (rec,) = timestamps.all_recorded(Archive(archive_dir))
    name = Path(rec.token).name
    assert run("export", "wacz", str(tmp_path / "x.wacz")).exit_code == 0
    with zipfile.ZipFile(tmp_path / "x.wacz") as zf:
        assert f"archiver/timestamps_{name}" in zf.namelist()
        assert zf.read(f"archiver/timestamps_{name}") == (archive_dir / rec.token).read_bytes()
    assert run("export", "bag", str(tmp_path / "bag")).exit_code == 0
    assert (tmp_path / "bag" / "data" / rec.token).read_bytes() == \
        (archive_dir / rec.token).read_bytes()


def test_record_signer_and_seq_checks(archive_dir: Path, tsa: LoopbackTSA) -> None:
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    archive = make_archive(archive_dir)
    seq, head = timestamps.target_head(archive)
    # the event's genTime disagrees with the token's
    stamp = timestamps.Stamp(tsa.url, seq, head, 0)
    query, stamp.nonce = timestamps.build_query(stamp.message())
    stamp.reply, stamp.gen_time = tsa.reply(query), "2020-01-01T00:00:00Z"
    timestamps.store(archive, [stamp])
    assert codes(audit(archive, roots(tsa)), "error") == {"tsa-record-mismatch"}

    # a token that embeds no certificate (certReq false): the signer cannot be found
    other = make_archive(archive_dir.parent / "nocert")
    seq, head = timestamps.target_head(other)
    stamp = timestamps.Stamp(tsa.url, seq, head, 0)
    req = (TimestampRequestBuilder().data(stamp.message()).hash_algorithm(HashAlgorithm.SHA256)
           .cert_request(cert_request=False).build())
    stamp.nonce, stamp.reply = int(req.nonce or 0), tsa.reply(bytes(req.as_bytes()))
    stamp.gen_time = timestamps.iso(decode_timestamp_response(stamp.reply).tst_info.gen_time)
    timestamps.store(other, [stamp])
    assert codes(audit(other, roots(tsa)), "error") == {"tsa-signer-missing"}

    # a token recorded for a seq the chain does not have
    third = make_archive(archive_dir.parent / "noseq")
    forced(third, tsa, "ok", seq_hash=(99, "sha256:" + "ab" * 32))
    assert codes(audit(third, roots(tsa)), "error") == {"tsa-head-missing"}
