"""ingest_paths: walk files and folders and hand each file to its ingester (a document, or a
WARC/ARC made elsewhere), then bring index.cdxj up to date."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from archiver.ingest.documents import ingest_document
from archiver.ingest.foreign import ingest_warc
from archiver.ingest.outcome import Ingested, IngestOutcome
from archiver.pipeline.commit import index_warcs
from archiver.store.archive import Archive
from archiver.store.recovery import recover
from archiver.store.warc import WARC_SUFFIXES


def iter_inputs(paths: list[Path]) -> Iterator[tuple[Path, bool]]:
    """(file, named explicitly) for each path; folders are walked in sorted order."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if not name.startswith("."):
                        yield Path(dirpath) / name, False
        else:
            yield path, True


def is_warc_path(path: Path) -> bool:
    return path.name.lower().endswith(WARC_SUFFIXES)


def ingest_paths(archive: Archive, paths: list[Path], url: str | None = None,
                 accept_invalid: bool = False, operator: str | None = None,
                 on_done: Callable[[IngestOutcome], None] | None = None,
                 on_warning: Callable[[str], None] | None = None) -> list[IngestOutcome]:
    """Ingest files and folders (documents and foreign WARCs), then bring index.cdxj up to
    date. `on_done` sees each outcome as it happens; `on_warning` gets non-fatal problems."""
    # A capture killed earlier left an .open WARC: every writer cuts what it never
    # committed (and records the cut) before writing, as capture and crawl do.
    for action in recover(archive, operator):
        if on_warning:
            on_warning(f"recovered after an earlier crash: {action}")
    seen = Ingested(archive)  # one manifest scan for the whole run
    outcomes = []
    for path, explicit in iter_inputs(paths):
        if is_warc_path(path):
            outcome = ingest_warc(archive, path, accept_invalid, operator, seen)
        else:
            outcome = ingest_document(archive, path, url, operator, explicit, seen)
        outcomes.append(outcome)
        if on_done:
            on_done(outcome)
    warning = index_warcs(archive, *[o.warc for o in outcomes
                                     if o.warc and o.status == "ingested"])
    if warning and on_warning:
        on_warning(warning)
    return outcomes
