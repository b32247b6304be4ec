"""`archiver extract`: records whose article is current are not re-derived; --force does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from http_fixture import VOV_PATH

from archiver import extract
from archiver.pipeline import rederive as rederive_module
from archiver.store import manifest
from archiver.store.archive import Archive


@pytest.fixture
def captured(run, server, archive_dir) -> Path:
    assert run("capture", server.url(VOV_PATH)).exit_code == 0
    server.shutdown()  # offline from here on
    return archive_dir


@pytest.fixture
def derivations(monkeypatch) -> list[str]:
    """Record ids actually re-derived (the real extractor still runs)."""
    calls: list[str] = []
    real = rederive_module.derive_article

    def counting(record, rel):  # type: ignore[no-untyped-def]
        calls.append(record.record_id)
        return real(record, rel)

    monkeypatch.setattr(rederive_module, "derive_article", counting)
    return calls


def articles(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted((root / "articles").rglob("*.json"))}


def entries(root: Path) -> int:
    return len(list(manifest.iter_entries(root / "manifest.jsonl")))


def test_a_current_article_is_not_rederived_unless_forced(run, captured, derivations):
    before = articles(captured)
    recorded = entries(captured)
    result = run("extract", "--all", "--json")
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.output.splitlines()]
    assert line["status"] == "unchanged" and line["article"]["id"] == "vov-1064050"
    assert derivations == []
    forced = run("extract", "--all", "--force")
    assert forced.exit_code == 0, forced.output
    assert "1 unchanged" in forced.output and len(derivations) == 1
    assert articles(captured) == before
    assert entries(captured) == recorded  # nothing changed, nothing recorded


def test_a_newer_extractor_version_rederives(captured, derivations, monkeypatch):
    monkeypatch.setattr(extract, "EXTRACTOR_VERSION", "99.0.0")
    [out] = rederive_module.rederive(Archive(captured), [])
    assert len(derivations) == 1 and out.status == "changed"  # the version is in the file


def test_a_damaged_or_lost_article_is_rederived(run, captured, derivations):
    [path] = articles(captured)
    original = path.read_bytes()
    path.unlink()
    result = run("extract", "vov-1064050")
    assert result.exit_code == 0 and result.output.startswith("new")
    assert path.read_bytes() == original and len(derivations) == 1
    path.write_bytes(original.replace(b"vov", b"VOV", 1))
    result = run("extract", "--all")
    assert result.exit_code == 0 and result.output.startswith("changed")
    assert len(derivations) == 2  # its sha256 no longer matched the manifest


def test_records_in_a_warc_still_open_are_found(run, captured):
    # A rolling WARC is `<name>.open` until sealed; the manifest names it by its final name.
    [warc] = sorted((captured / "warcs").rglob("*.warc.gz"))
    warc.rename(warc.with_name(warc.name + ".open"))
    result = run("extract", "--all", "--force", "--json")
    assert result.exit_code == 0, result.output
    [line] = [json.loads(x) for x in result.output.splitlines()]
    assert line["status"] == "unchanged" and line["id"] == "vov-1064050"
