"""ingest of WARC/ARC files made by other tools (wget, Heritrix, Browsertrix, ...).

Validate first; refuse files with errors unless the operator accepts them (then the findings
travel in the manifest). The file is copied verbatim, never rewritten; articles derived from
its records get their conversion records in a companion WARC of ours.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archiver.base.errors import UnreadableInputError, UsageError
from archiver.base.findings import Finding
from archiver.ingest.outcome import Ingested, IngestOutcome, check_regular_file
from archiver.pipeline.commit import (
    ArticleOutcome,
    derive_article,
    record_event,
    store_article,
    store_warc,
    write_conversion,
)
from archiver.pipeline.sources import iter_sources
from archiver.store.archive import Archive, FileInfo, new_capture_id
from archiver.store.warc import RecordRef, StoredRecord, WarcFileWriter

COPY_CHUNK = 1024 * 1024
# Defects of well-known tools that every reader repairs the same way and that leave the
# content intact: they are recorded in the manifest but do not block ingest. (wget 1.19 to
# 1.21 wrap WARC-Target-URI in angle brackets; `validate` still reports it as an error.)
TOLERATED_ON_INGEST = frozenset({"angle-bracketed-uri"})
MAX_FINDINGS_IN_MANIFEST = 200
RECORD_ID = re.compile(r"^<urn:[^>]+>$")  # ARC records converted on the fly have none


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")
    return cleaned[-120:] or "file.warc"


def _copy_verbatim(archive: Archive, source: Path, rel: str) -> FileInfo:
    h = hashlib.sha256()
    size = 0
    try:
        with open(source, "rb") as src, archive.atomic_file(rel) as dst:
            while chunk := src.read(COPY_CHUNK):
                h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
    except OSError as exc:
        raise UnreadableInputError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    info = archive.file_info(rel)
    if info.sha256 != h.hexdigest():  # the copy on disk is not what we read: never keep it
        raise UnreadableInputError(f"{source}: changed while being copied")
    return info


def ingest_warc(archive: Archive, path: Path, accept_invalid: bool = False,
                operator: str | None = None, seen: Ingested | None = None) -> IngestOutcome:
    """Ingest one foreign WARC/ARC; never raises for bad input (the outcome says why)."""
    from archiver.check.warccheck import check_warc

    shown = str(path)
    try:
        check_regular_file(path)
        report = check_warc(path, where=path.name)
    except (UsageError, UnreadableInputError) as exc:
        return IngestOutcome(shown, "failed", reason=str(exc).removeprefix(f"{path}: "))
    errors = [f for f in report.findings
              if f.severity == "error" and f.code not in TOLERATED_ON_INGEST]
    if errors and not accept_invalid:
        return IngestOutcome(shown, "failed", reason=(
            f"refused: {len(errors)} validation errors (first: {errors[0].render()}); "
            "check with `archiver validate`, or ingest anyway with --accept-invalid"))
    archive.ensure()
    from archiver.store.archive import hash_file

    sha, _ = hash_file(path)
    seen = seen or Ingested(archive)
    earlier = seen.find(sha)
    if earlier is not None:
        return IngestOutcome(shown, "already-ingested",
                             reason=f"same bytes already ingested (manifest seq {earlier})",
                             seq=earlier)
    outcome, entry = _store(archive, path, report.findings, operator)
    seen.note(entry)
    return outcome


def _store(archive: Archive, path: Path, findings: list[Finding],
           operator: str | None) -> tuple[IngestOutcome, dict[str, Any]]:
    when = datetime.now(UTC)
    rel = archive.warc_relpath(new_capture_id(when), when).removesuffix(".warc.gz")
    rel += "-" + safe_name(path.name)
    copied = _copy_verbatim(archive, path, rel)
    derived = _derive_all(archive, rel, findings)
    stored = [(rec, out) for rec, out in derived if out.status == "stored"]
    files = [copied]
    records: list[dict[str, object]] = [
        {"id": rec.record_id, "type": rec.rec_type, "file": rel, "uri": rec.target_uri,
         "offset": rec.offset} for rec, _ in stored if RECORD_ID.match(rec.record_id)]
    if stored:
        unit = store_warc(archive, when, operator, f"articles derived from {path.name}",
                          lambda w: _write_conversions(w, stored, when), derive=False)
        files.append(unit.warc)
        records += unit.manifest_fields()["records"]
        for _, out in stored:
            info = store_article(archive, out)
            assert info is not None  # only stored articles are in `stored`
            files.append(info)
    invalid = [out for _, out in derived if out.status == "invalid"]
    detail = (f"foreign WARC copied verbatim; {len(stored)} articles, "
              f"{len(invalid)} invalid, {len(findings)} validation findings")
    entry = record_event(
        archive, "ingestion", "failure" if invalid else "success", detail, operator,
        source={"url": path.absolute().as_uri(), "final_url": None, "status": None,
                "file": {"name": path.name, "sha256": copied.sha256, "size": copied.size}},
        files=[f.to_dict() for f in files], records=records,
        articles=[out.manifest_entry() for _, out in stored],
        findings=[f.to_dict() for f in findings[:MAX_FINDINGS_IN_MANIFEST]],
    )
    first_article = stored[0][1] if stored else (invalid[0] if invalid else None)
    outcome = IngestOutcome(str(path), "ingested", warc=rel,
                            record_ids=[str(r["id"]) for r in records], article=first_article,
                            reason=detail, seq=entry["seq"])
    return outcome, entry


def _derive_all(archive: Archive, rel: str,
                findings: list[Finding]) -> list[tuple[StoredRecord, ArticleOutcome]]:
    """Articles from every readable source record; a file that stops parsing keeps what came
    before (it was accepted invalid) and says where it stopped."""
    derived: list[tuple[StoredRecord, ArticleOutcome]] = []
    try:
        for rec in iter_sources(archive.resolve(rel)):
            derived.append((rec, derive_article(rec, rel)))
    except Exception as exc:  # warcio gives up on malformed records in many ways
        findings.append(Finding("warning", "extraction-stopped", rel,
                                f"records after the {len(derived)} read could not be parsed "
                                f"for extraction: {type(exc).__name__}: {exc}"))
    return derived


def _write_conversions(writer: WarcFileWriter, stored: list[tuple[StoredRecord, ArticleOutcome]],
                       when: datetime) -> RecordRef | None:
    for record, outcome in stored:
        write_conversion(writer, outcome, record.target_uri, record.record_id, when)
    return None
