"""Conformance: check_warc agrees with shared/conformance/verdicts.json on every warc/ entry.

valid -> ok; invalid -> not ok; edge -> ok (warnings allowed); unsupported -> an
"unsupported-compression" finding. Never an exception, never an internal error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from archiver.check.warccheck import check_warc

SHARED = Path(
    os.environ.get("ARCHIVER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared"
)
CONFORMANCE = SHARED / "conformance"
VERDICTS = CONFORMANCE / "verdicts.json"


def _entries() -> list[tuple[str, str]]:
    if not VERDICTS.is_file():
        return []
    data = json.loads(VERDICTS.read_text(encoding="utf-8"))
    return sorted((k, v["verdict"]) for k, v in data.items() if k.startswith("warc/"))


ENTRIES = _entries()


@pytest.mark.skipif(not ENTRIES, reason=f"no conformance corpus at {CONFORMANCE}")
@pytest.mark.parametrize(("name", "verdict"), ENTRIES, ids=[e[0] for e in ENTRIES])
def test_verdict(name: str, verdict: str) -> None:
    path = CONFORMANCE / name
    if not path.is_file():
        pytest.skip(f"{name} missing from the corpus")
    report = check_warc(path, where=name)
    codes = [f.code for f in report.findings]
    errors = [f.render() for f in report.findings if f.severity == "error"]
    assert "internal-error" not in codes, errors
    if verdict == "valid" or verdict == "edge":
        assert report.ok, errors
    elif verdict == "invalid":
        assert not report.ok, f"{name}: no error found"
    elif verdict == "unsupported":
        assert "unsupported-compression" in codes
    else:
        pytest.fail(f"unknown verdict {verdict!r}")


@pytest.mark.skipif(not ENTRIES, reason=f"no conformance corpus at {CONFORMANCE}")
def test_every_finding_names_file_and_offset() -> None:
    """Spot-check the reporting contract on the whole corpus: each finding names the file,
    and every record-level finding has an offset."""
    for name, _ in ENTRIES:
        report = check_warc(CONFORMANCE / name, where=name)
        for f in report.findings:
            assert f.where == name
            if f.record_id is not None or f.field is not None:
                assert f.offset is not None, f
