"""Article extraction in worker processes, so it overlaps fetching and writing.

Extraction is CPU-bound Python (lxml, trafilatura, schema checks): in the capturing process
it would hold the GIL the fetch threads and the committer need. A process pool runs it on
every core instead. The pool uses the `forkserver` start method: forking a process that
already runs threads (fetchers, the committer's timer) can copy a held lock into the child;
the fork server is started before any of them, with the extractors imported once.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from archiver.pipeline.commit import ArticleOutcome, derive_article
from archiver.store.warc import StoredRecord

PRELOAD = ["archiver.pipeline.commit"]  # imports extract, schemas: ~1 s paid once per server


MIN_PAGES_FOR_PROCESSES = 8  # below this, starting the processes costs more than they save


def default_processes(pages: int) -> int:
    """One extraction process per core for a run big enough to repay their start-up."""
    return 0 if pages < MIN_PAGES_FOR_PROCESSES else (os.cpu_count() or 1)


class Extractors:
    """Extraction in `processes` worker processes; with 0, in the calling thread."""

    def __init__(self, processes: int) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if processes > 0:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            self.pool = ProcessPoolExecutor(max_workers=processes, mp_context=context)

    def derive(self, record: StoredRecord, warc_relpath: str) -> ArticleOutcome:
        """Extract and validate the article of one stored record (blocks the caller)."""
        if self.pool is None:
            return derive_article(record, warc_relpath)
        return self.pool.submit(derive_article, record, warc_relpath).result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
