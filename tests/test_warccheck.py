"""Unit tests for archiver.check.warccheck on the samples written by
tests/data/warcs/make_samples.py (each with one known defect) and on small WARCs built inline
for single field rules."""

from __future__ import annotations

import importlib.util
import zlib
from pathlib import Path

import pytest

from archiver.base.errors import UnreadableInputError
from archiver.base.findings import Finding
from archiver.check.warccheck import WarcReport, check_paths, check_warc

SAMPLES = Path(__file__).resolve().parent / "data" / "warcs"
RID1 = "<urn:uuid:00000000-0000-4000-8000-000000000001>"


def _load_maker():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_samples", SAMPLES / "make_samples.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


make_samples = _load_maker()


def codes(report: WarcReport, severity: str | None = None) -> list[str]:
    return [f.code for f in report.findings if severity is None or f.severity == severity]


def only(report: WarcReport, code: str) -> Finding:
    found = [f for f in report.findings if f.code == code]
    assert len(found) == 1, report.findings
    return found[0]


def write(tmp_path: Path, data: bytes, name: str = "t.warc") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _members(data: bytes) -> list[bytes]:
    """Inflated gzip members (zlib versions may deflate differently; the content may not)."""
    out = []
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data))
        data = d.unused_data
    return out


def test_samples_are_reproducible(tmp_path: Path) -> None:
    """The committed samples are what make_samples.py writes (same members, same bytes)."""
    for path in make_samples.build(tmp_path):
        new, old = path.read_bytes(), (SAMPLES / path.name).read_bytes()
        if path.name.endswith(".gz"):
            assert _members(new) == _members(old), path.name  # a cut last member inflates part
        else:
            assert new == old, path.name


def test_valid_warc_1_1_with_sha256_and_sha512() -> None:
    r = check_warc(SAMPLES / "ok-1.1-sha256.warc.gz")
    assert r.ok, r.findings
    assert (r.format, r.compression, r.records) == ("warc/1.1", "gzip-per-record", 3)
    assert r.digests["block"] == {"passed": 2, "failed": 0, "not-checked": 1}
    assert r.digests["payload"] == {"passed": 2, "failed": 0, "not-checked": 1}
    assert codes(r) == []


def test_chunked_payload_digest_over_dechunked_entity_passes_silently() -> None:
    r = check_warc(SAMPLES / "chunked-ok.warc")
    assert r.ok and codes(r) == []
    assert r.digests["payload"]["passed"] == 1


def test_chunked_payload_digest_over_wire_bytes_is_a_warning() -> None:
    r = check_warc(SAMPLES / "chunked-raw-digest.warc")
    assert r.ok
    f = only(r, "payload-digest-over-chunked")
    assert (f.severity, f.record_id, f.field) == ("warning", RID1, "WARC-Payload-Digest")
    assert f.offset == len(make_samples.warcinfo(0))


def test_flipped_payload_byte_fails_both_digests_at_the_member_offset() -> None:
    r = check_warc(SAMPLES / "flipped-byte.warc.gz")
    assert not r.ok
    assert sorted(codes(r, "error")) == ["block-digest-mismatch", "payload-digest-mismatch"]
    member2 = len(make_samples.gz(make_samples.warcinfo(0)))
    for f in r.findings:
        assert (f.offset, f.record_id) == (member2, RID1)
        assert "uncompressed_offset" not in f.details  # the record starts its member
    assert only(r, "block-digest-mismatch").field == "WARC-Block-Digest"
    assert r.digests["block"]["failed"] == 1 and r.digests["payload"]["failed"] == 1


def test_truncated_gzip_member_is_reported_twice_over() -> None:
    r = check_warc(SAMPLES / "truncated-member.warc.gz")
    assert not r.ok
    trunc = only(r, "truncated-record")
    assert trunc.field == "Content-Length"
    assert trunc.details["present"] < trunc.details["declared"]
    assert trunc.record_id == "<urn:uuid:00000000-0000-4000-8000-000000000002>"
    gzt = only(r, "gzip-truncated")
    assert gzt.offset == trunc.offset  # both point at the last member


def test_duplicate_record_ids_name_both_offsets() -> None:
    r = check_warc(SAMPLES / "duplicate-ids.warc")
    f = only(r, "duplicate-record-id")
    first = len(make_samples.warcinfo(0))
    assert f.offset == first + len(make_samples.response(1))
    assert f.details["first_offset"] == first
    assert (f.record_id, f.field) == (RID1, "WARC-Record-ID")


def test_folded_header_lines_are_unfolded_and_legal() -> None:
    r = check_warc(SAMPLES / "folded-headers.warc")
    assert r.ok and codes(r) == [], r.findings
    assert r.digests["block"]["passed"] == 1  # Content-Length was read from a folded line


def test_single_gzip_member_is_readable_but_not_per_record() -> None:
    r = check_warc(SAMPLES / "single-member.warc.gz")
    assert r.records == 3 and r.compression == "gzip-single-member"
    assert codes(r, "error") == ["gzip-not-per-record"]
    assert r.digests["block"]["passed"] == 2  # every record was still checked


def test_missing_crlf_terminator() -> None:
    r = check_warc(SAMPLES / "missing-crlf.warc")
    f = only(r, "missing-record-terminator")
    assert (f.offset, f.field) == (0, "Content-Length")
    assert f.details["found"] == "WARC"
    assert r.records == 2  # the next record is still read


# -- field rules, on WARCs built inline --------------------------------------------------------


def _rec(fields: str, block: bytes = b"x", version: str = "WARC/1.0") -> bytes:
    head = f"{version}\r\n{fields}Content-Length: {len(block)}\r\n\r\n".encode()
    return head + block + b"\r\n\r\n"


BASE = (f"WARC-Type: resource\r\nWARC-Record-ID: {RID1}\r\nWARC-Date: 2025-01-01T00:00:00Z\r\n"
        "WARC-Target-URI: http://a.example/\r\nContent-Type: text/plain\r\n")


@pytest.mark.parametrize(
    ("fields", "code", "field", "severity"),
    [
        (BASE + "WARC-Date: 2025-01-01T00:00:00Z\r\n", "duplicate-field", "WARC-Date", "error"),
        (BASE + "WARC-Truncated:\r\n", "empty-field", "WARC-Truncated", "error"),
        (BASE.replace("http://a.example/", "<http://a.example/>"), "angle-bracketed-uri",
         "WARC-Target-URI", "error"),
        (BASE.replace("http://a.example/", "http://a.example/a b"), "uri-contains-space",
         "WARC-Target-URI", "warning"),
        (BASE.replace("00:00:00Z", "00:00:00z"), "non-canonical-case", "WARC-Date", "warning"),
        (BASE.replace("2025-01-01T00:00:00Z", "Jan 1 2025"), "invalid-field", "WARC-Date",
         "error"),
        (BASE.replace(RID1, "urn:uuid:1"), "invalid-field", "WARC-Record-ID", "error"),
        (BASE.replace("resource", "monkeys"), "unknown-record-type", "WARC-Type", "warning"),
        (BASE.replace("WARC-Target-URI: http://a.example/\r\n", ""), "missing-field",
         "WARC-Target-URI", "error"),
        (BASE + "WARC-Segment-Number: 2\r\n", "segment-number", "WARC-Segment-Number", "error"),
        (BASE + "WARC-IP-Address: 1.2.3\r\n", "invalid-field", "WARC-IP-Address", "error"),
        (BASE + "WARC-Block-Digest: md4:AAAA\r\n", "unknown-digest-algorithm",
         "WARC-Block-Digest", "warning"),
    ],
)
def test_field_rules(tmp_path: Path, fields: str, code: str, field: str, severity: str) -> None:
    r = check_warc(write(tmp_path, _rec(fields)))
    hits = [f for f in r.findings if f.code == code and f.field == field]
    assert hits, r.findings
    assert hits[0].severity == severity
    assert hits[0].offset == 0


def test_repeatable_concurrent_to_is_fine(tmp_path: Path) -> None:
    extra = "".join(f"WARC-Concurrent-To: <urn:uuid:{i}>\r\n" for i in range(3))
    r = check_warc(write(tmp_path, _rec(BASE + extra)))
    assert r.ok and codes(r) == [], r.findings


def test_revisit_needs_profile_and_continuation_needs_segments(tmp_path: Path) -> None:
    revisit = BASE.replace("resource", "revisit")
    cont = BASE.replace("resource", "continuation").replace(RID1, "<urn:uuid:2>")
    r = check_warc(write(tmp_path, _rec(revisit) + _rec(cont)))
    missing = {(f.offset, f.field) for f in r.findings if f.code == "missing-field"}
    second = len(_rec(revisit))
    assert (0, "WARC-Profile") in missing
    assert {(second, "WARC-Segment-Origin-ID"), (second, "WARC-Segment-Number")} <= missing


def test_bare_lf_and_crcrlf_line_endings(tmp_path: Path) -> None:
    lf = _rec(BASE).replace(b"\r\n", b"\n", 3)
    r = check_warc(write(tmp_path, lf))
    assert "bad-line-ending" in codes(r, "error")
    crcr = _rec(BASE).replace(b"\r\n", b"\r\r\n")
    assert "bad-line-ending" in codes(check_warc(write(tmp_path, crcr, "b.warc")), "error")


def test_version_grading(tmp_path: Path) -> None:
    old = check_warc(write(tmp_path, _rec(BASE, version="WARC/0.17")))
    assert old.ok and old.format == "warc/0.17" and codes(old) == ["legacy-version"]
    lower = check_warc(write(tmp_path, _rec(BASE, version="warc/1.0"), "l.warc"))
    assert lower.ok and codes(lower) == ["non-canonical-case"]
    bad = check_warc(write(tmp_path, _rec(BASE, version="WARC/2.5"), "b.warc"))
    assert codes(bad, "error") == ["unknown-version"]


def test_trailing_garbage_after_last_record(tmp_path: Path) -> None:
    data = _rec(BASE) + b"The monkeys are a coming!\r\n"
    f = only(check_warc(write(tmp_path, data)), "trailing-garbage")
    assert (f.severity, f.offset, f.details["bytes"]) == ("error", len(_rec(BASE)), 27)


def test_gzip_record_spanning_members(tmp_path: Path) -> None:
    rec = _rec(BASE, b"y" * 100)
    data = zlib.compress(rec[:60], wbits=31) + zlib.compress(rec[60:], wbits=31)
    r = check_warc(write(tmp_path, data, "s.warc.gz"))
    assert r.compression == "gzip-misaligned"
    assert codes(r, "error") == ["gzip-member-boundary"]


def test_gzip_garbage_after_members(tmp_path: Path) -> None:
    data = zlib.compress(_rec(BASE), wbits=31) + b"\x00junk"
    f = only(check_warc(write(tmp_path, data, "g.warc.gz")), "trailing-garbage")
    assert f.offset == len(data) - 5


def test_unsupported_compression_and_not_a_warc(tmp_path: Path) -> None:
    lz4 = check_warc(write(tmp_path, b"\x04\x22\x4d\x18rest", "x.warc.lz4"))
    assert lz4.compression == "unsupported:lz4" and codes(lz4) == ["unsupported-compression"]
    html = check_warc(write(tmp_path, b"<html></html>\n", "x.warc"))
    assert codes(html, "error") == ["not-a-warc"] and html.format == "unknown"


def test_arc_file_is_reported_as_arc(tmp_path: Path) -> None:
    fd = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    body = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"
    data = (b"filedesc://t.arc 0.0.0.0 20250101000000 text/plain %d\n" % len(fd) + fd + b"\n"
            + b"http://a.example/ 1.2.3.4 20250101000000 text/html %d\n" % len(body) + body
            + b"\n")
    r = check_warc(write(tmp_path, data, "t.arc"))
    assert r.ok and (r.format, r.records) == ("arc", 2), r.findings
    broken = data.replace(b"1.2.3.4", b"a.b.c.d")
    f = only(check_warc(write(tmp_path, broken, "b.arc")), "invalid-field")
    assert (f.field, f.record_id) == ("IP-address", "http://a.example/")


def test_internal_failure_becomes_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    import archiver.check.warccheck.warc as warc

    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(warc, "check_fields", boom)
    r = check_warc(SAMPLES / "chunked-ok.warc")
    assert codes(r) == ["internal-error"] and not r.ok


def test_unreadable_file_raises(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInputError):
        check_warc(tmp_path / "absent.warc")


def test_check_paths_walks_folders_in_order_and_in_parallel(tmp_path: Path) -> None:
    serial = [(Path(r.path).name, r.ok) for r in check_paths([SAMPLES])]
    names = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".warc", ".gz"))
    assert [n for n, _ in serial] == names
    parallel = [(Path(r.path).name, r.ok) for r in check_paths([SAMPLES], jobs=2)]
    assert parallel == serial
    missing = list(check_paths([tmp_path / "nope.warc"]))
    assert codes(missing[0]) == ["unreadable"]
