"""audit on a Dask cluster (issue 15): the checks of a local run (archiver.check.fixity), files
and ranges in batches on the workers, the chain by one streaming task beside them, findings
merged back by manifest line so the report is the local one's, in the same order."""

from __future__ import annotations

from archiver.base.cluster import Cluster, Task
from archiver.base.cluster import Progress as TaskProgress
from archiver.base.findings import Finding
from archiver.check.fixity import (
    ByLine,
    Note,
    batches,
    chain_and_catalog,
    check_batch,
    merge_by_line,
)
from archiver.store.archive import Archive

TASK_BYTES = 256 * 1024 * 1024  # a task hashes about this much (or one larger file)...
TASK_FILES = 512  # ...or this many files, so small files do not make tiny tasks


def findings_on_cluster(archive: Archive, note: Note, cluster: Cluster,
                        progress: TaskProgress | None) -> tuple[list[Finding], list[Finding]]:
    """Every file and chain finding of the archive, and the catalog's, checked on the
    cluster; `note` is called for each entry in manifest order, as in a local run."""
    chain = cluster.submit(Task(chain_and_catalog, (str(archive.root),)), "audit-chain")
    tasks = (Task(check_batch, (str(archive.root), batch), size)
             for batch, size, _ in batches(archive, note, TASK_BYTES, TASK_FILES))
    by_line: ByLine = []
    for found in cluster.map_ordered(tasks, progress, "audit"):
        by_line += found
    chain_by_line, catalog_findings = cluster.result_of(chain)
    return merge_by_line(chain_by_line, by_line), catalog_findings
