"""Concurrency (issue 8, section 2): 4 capture processes and 1 auditor on one archive.

200 URLs in all: every capture is in the manifest exactly once, the chain is intact, and the
auditor, auditing over and over while the captures run, never sees an error or a file under
its final name that is not whole.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO

from archiver.check import audit
from archiver.store import manifest
from archiver.store.archive import Archive

pytestmark = pytest.mark.slow

CAPTURERS = 4
URLS_EACH = 50

# Audits until the stop file appears (and once more after), checking every data file is whole.
AUDITOR = r"""
import gzip, json, os, sys, time
from pathlib import Path
from warcio.archiveiterator import ArchiveIterator
from archiver.check import audit
from archiver.store.archive import Archive

root, stop = Path(sys.argv[1]), Path(sys.argv[2])
rounds, problems, seen = 0, [], 0

def whole(path):
    if path.name.endswith(".open"):
        return  # still growing: audit checks its committed ranges (above)
    if path.name.endswith(".warc.gz"):
        data = path.read_bytes()
        gzip.decompress(data)
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                record.content_stream().read()
    else:
        json.loads(path.read_bytes())

while True:
    last = stop.exists()
    if (root / "manifest.jsonl").exists():
        report = audit.audit(Archive(root), jobs=1)
        rounds += 1
        problems += [f.render() for f in report.findings if f.severity == "error"]
        for rel, temporary in Archive(root).iter_stored_files():
            if temporary:
                continue
            try:
                whole(root / rel)
                seen += 1
            except FileNotFoundError:
                pass
            except Exception as exc:
                problems.append(f"partial file {rel}: {type(exc).__name__}: {exc}")
    if last:
        break
    time.sleep(0.05)
print(json.dumps({"rounds": rounds, "problems": problems[:50], "files_checked": seen}))
"""


def test_four_capturers_and_an_auditor_share_one_archive(server, tmp_path):
    archive = tmp_path / "archive"
    Archive(archive).ensure()
    stop = tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    urls = [[server.url(f"/article?n={w * 1000 + i}") for i in range(URLS_EACH)]
            for w in range(CAPTURERS)]
    auditor = subprocess.Popen([sys.executable, "-c", AUDITOR, str(archive), str(stop)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    capturers = [subprocess.Popen([sys.executable, "-m", "archiver", "capture", *batch,
                                   "--archive", str(archive), "--workers", "2", "-q"],
                                  cwd=REPO, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
                 for batch in urls]
    outputs = [p.communicate(timeout=240) for p in capturers]
    stop.touch()
    seen = json.loads(auditor.communicate(timeout=240)[0])

    for proc, (out, _) in zip(capturers, outputs, strict=True):
        assert proc.returncode == 0, out
    print(f"auditor: {seen['rounds']} rounds, {seen['files_checked']} file checks")
    assert seen["problems"] == []
    assert seen["rounds"] >= 2  # it really audited while the captures ran

    log = archive / "manifest.jsonl"
    assert list(manifest.verify_chain(log)) == []
    entries = list(manifest.iter_entries(log))
    assert [e["seq"] for e in entries] == list(range(CAPTURERS * (URLS_EACH + 1)))
    seals = [e for e in entries if e["event"] == "message digest calculation"]
    assert len(seals) == CAPTURERS  # each run sealed its own rolling WARC
    captured = sorted(e["source"]["url"] for e in entries if e["event"] == "capture")
    assert captured == sorted(u for batch in urls for u in batch)  # each once, none lost
    report = audit.audit(Archive(archive))
    data_findings = [f.render() for f in report.findings if f.code != "unsigned"]
    assert data_findings == []  # no orphans, no leftovers (no key here: unsigned is expected)
    assert report.files == CAPTURERS * (URLS_EACH + 1)  # an article per URL, a WARC per run
