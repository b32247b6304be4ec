"""Chaining events onto the manifest, then bringing catalog.sqlite along: the one way every
command (capture, ingest, audit, replicate, heal) records what it did.

Here in store, below the pipeline, so that commands which extract nothing (fixity, replicate,
heal) record events without importing the pipeline's extractors (~0.4 s of start-up).
"""

from __future__ import annotations

import logging
from typing import Any

from archiver.store import manifest
from archiver.store.archive import Archive


def record_event(archive: Archive, event: str, outcome: str, detail: str,
                 operator: str | None, **fields: Any) -> dict[str, Any]:
    event_body = manifest.new_event(event, outcome, detail, operator=operator, **fields)
    entry = manifest.appender_for(archive.manifest_path).append(event_body)
    update_catalog(archive, [entry])
    return entry


def record_events(archive: Archive, events: list[dict[str, Any]],
                  heads: dict[tuple[str, int], Any] | None = None,
                  docs: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Several event bodies chained in one append (one write, one fsync): a group commit.
    The catalog follows, after the manifest (the manifest is the commit point); `heads` and
    `docs`: what the writer knows of its records and articles (catalog.Catalog.apply)."""
    entries = manifest.append_many(archive.manifest_path, events) if events else []
    update_catalog(archive, entries, heads, docs)
    return entries


def update_catalog(archive: Archive, entries: list[dict[str, Any]],
                   heads: dict[tuple[str, int], Any] | None = None,
                   docs: dict[str, dict[str, Any]] | None = None) -> None:
    """Keep catalog.sqlite current after a manifest append. It is derived data (the next
    open catches up, `archiver index --rebuild` remakes it), so a failure here is logged,
    never a failed capture."""
    from archiver.store import catalog

    try:
        catalog.update(archive, entries, heads, docs)
    except Exception as exc:
        logging.getLogger("archiver").warning(
            "catalog.sqlite not updated (%s: %s); it catches up on next use",
            type(exc).__name__, exc)
