"""Agents declared once (issue 24 item 8): the first entry a writer appends carries the whole
agent with its id, later ones only {"id": ...}; 0.1.0/0.2.0 manifests (the agent inline in
every entry) still audit clean; readers resolve a reference; audit names a reference to
nothing and a declaration whose id is not its content's hash. Also: the committer gives the
catalog the heads of the records it wrote instead of reading them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Cli
from http_fixture import VOV_PATH

from archiver.base import agent, schemas
from archiver.store import catalog_rows, manifest
from archiver.store.archive import Archive
from archiver.store.catalog import Catalog


def entries(root: Path) -> list[dict[str, Any]]:
    return list(manifest.iter_entries(root / "manifest.jsonl"))


def audit_codes(run: Cli) -> tuple[int, set[str]]:
    result = run("audit", "--json")
    report = json.loads(result.output)
    return result.exit_code, {f["code"] for f in report["findings"] if f["severity"] == "error"}


def rewrite(root: Path, edit: Any) -> None:
    """Rewrite every entry through `edit` and re-chain them (as a writer of that shape did)."""
    path = root / "manifest.jsonl"
    out, prev = [], manifest.GENESIS
    for entry in entries(root):
        entry = edit(dict(entry))
        entry["prev"] = prev
        entry["hash"] = manifest.entry_hash(entry)
        prev = entry["hash"]
        out.append(manifest.canonical(entry) + b"\n")
    path.write_bytes(b"".join(out))
    (root / "catalog.sqlite").unlink(missing_ok=True)  # derived: made again on next use


def test_a_new_manifest_declares_its_agent_once(run, server, archive_dir):
    for path in (VOV_PATH, "/gzip", VOV_PATH):  # three runs in one process: one writer
        assert run("capture", server.url(path)).exit_code == 0
    got = entries(archive_dir)
    assert len(got) >= 6  # three captures, three seals
    declared = [e for e in got if set(e["agent"]) != {"id"}]
    assert declared == [got[0]]
    whole = got[0]["agent"]
    assert whole["id"] == agent.identify(whole) and whole["software"] == "archiver"
    assert all(e["agent"] == {"id": whole["id"]} for e in got[1:])
    assert all(schemas.validate(e, "manifest-entry") == [] for e in got)
    assert audit_codes(run) == (0, set())
    # each later entry is lighter by the agent's description (~0.27 KB here)
    inline = {k: v for k, v in whole.items() if k != "id"}
    assert all(len(manifest.canonical({**e, "agent": inline})) - len(manifest.canonical(e))
               > 150 for e in got[1:])


def test_readers_resolve_a_reference(run, server, archive_dir):
    assert run("capture", server.url(VOV_PATH)).exit_code == 0
    assert run("capture", server.url("/gzip")).exit_code == 0
    raw = entries(archive_dir)
    assert raw[-1]["agent"] == {"id": raw[0]["agent"]["id"]}
    resolved = list(manifest.resolved_entries(archive_dir / "manifest.jsonl"))
    assert [e["agent"] for e in resolved] == [raw[0]["agent"]] * len(raw)
    logged = run.json_lines("log")
    assert [e["agent"]["operator"] for e in logged] == [raw[0]["agent"]["operator"]] * len(raw)
    text = run("log").output
    assert text.count(f"by {raw[0]['agent']['operator']}@{raw[0]['agent']['hostname']}") \
        == len(raw)
    agents = manifest.Agents()
    assert agents.resolve({"agent": {"id": "sha256:" + "1" * 64}}) is None  # not declared


def test_an_old_manifest_with_inline_agents_audits_clean_and_grows(run, server, archive_dir):
    assert run("capture", server.url(VOV_PATH)).exit_code == 0
    whole = {k: v for k, v in entries(archive_dir)[0]["agent"].items() if k != "id"}
    rewrite(archive_dir, lambda e: {**e, "agent": whole})  # the 0.2.0 shape in every entry
    old = entries(archive_dir)
    assert all(e["agent"] == whole and schemas.validate(e, "manifest-entry") == []
               for e in old)
    assert audit_codes(run) == (0, set())
    assert run("log").exit_code == 0
    # a writer after the upgrade: the earlier entries are not its declaration (they have no
    # id), and this process's memory is of a manifest since rewritten: it declares again
    assert run("capture", server.url("/gzip")).exit_code == 0
    new = entries(archive_dir)[len(old):]
    assert new[0]["agent"] == {"id": agent.identify(whole), **whole}
    assert all(e["agent"] == {"id": agent.identify(whole)} for e in new[1:])
    assert audit_codes(run) == (0, set())


def test_audit_names_an_undeclared_agent_and_a_false_id(run, server, archive_dir):
    assert run("capture", server.url(VOV_PATH)).exit_code == 0
    assert run("capture", server.url("/gzip")).exit_code == 0
    declaration = entries(archive_dir)[0]["agent"]

    rewrite(archive_dir, lambda e: {**e, "agent": {"id": declaration["id"]}})
    code, found = audit_codes(run)
    assert code == 1 and found == {"agent-undeclared"}

    lied = {**declaration, "operator": "somebody-else"}  # id kept: it no longer matches
    rewrite(archive_dir, lambda e: {**e, "agent": lied if e["seq"] == 0
                                    else {"id": declaration["id"]}})
    code, found = audit_codes(run)
    assert code == 1 and found == {"agent-id-mismatch", "agent-undeclared"}


def test_a_replaced_manifest_gets_a_new_declaration(tmp_path):
    path = tmp_path / "manifest.jsonl"
    first = manifest.append_many(path, [manifest.new_event("validation", "success"),
                                        manifest.new_event("validation", "success")])
    assert "software" in first[0]["agent"] and set(first[1]["agent"]) == {"id"}
    assert set(manifest.append(path, manifest.new_event("validation", "success"))["agent"]) \
        == {"id"}
    path.unlink()
    again = manifest.append(path, manifest.new_event("validation", "success"))
    assert again["seq"] == 0 and "software" in again["agent"]
    other = manifest.append(path, manifest.new_event("validation", "success", operator="zoe"))
    assert other["agent"]["operator"] == "zoe" and other["agent"]["id"] != again["agent"]["id"]
    assert [f.code for f in manifest.verify_chain(path)] == []


@pytest.mark.parametrize("extract", [True, False])
def test_the_committer_gives_the_catalog_its_heads(run, server, archive_dir, tmp_path,
                                                   monkeypatch, extract):
    reads: list[tuple[str, int]] = []
    real_head = catalog_rows.RecordReader.head

    def counting(self, rel, offset, length):  # type: ignore[no-untyped-def]
        if (rel, offset) not in self.known:
            reads.append((rel, offset))
        return real_head(self, rel, offset, length)

    monkeypatch.setattr(catalog_rows.RecordReader, "head", counting)
    flags = () if extract else ("--no-extract",)
    for _ in range(2):  # the second finds the payload unchanged: a revisit
        assert run("capture", server.url(VOV_PATH), *flags).exit_code == 0
    assert reads == []  # no record read back from the WARC for the catalog
    archive = Archive(archive_dir)
    with Catalog.open(archive) as cat:
        incremental = cat.dump()
        kinds = [c["record_type"] for c in cat.captures_for(server.url(VOV_PATH))]
    assert kinds == ["response", "revisit"]
    with Catalog.recreate(archive) as cat:
        cat.rebuild()
        assert cat.dump() == incremental  # the same rows as read from the stored bytes
