"""audit on a Dask cluster (issue 15): the checks of a local run (archiver.check.fixity), files
and ranges in batches on the workers, the chain by one streaming task beside them, findings
merged back by manifest line so the report is the local one's, in the same order."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from archiver.base.cluster import Cluster, Task
from archiver.base.cluster import Progress as TaskProgress
from archiver.base.findings import Finding
from archiver.check.fixity import (
    ByLine,
    Check,
    Expected,
    chain_findings,
    merge_by_line,
    unreachable,
)
from archiver.store import manifest
from archiver.store.archive import Archive

TASK_BYTES = 256 * 1024 * 1024  # a task hashes about this much (or one larger file)...
TASK_FILES = 512  # ...or this many files, so small files do not make tiny tasks

Note = Callable[[dict[str, Any]], list[Check]]  # an entry -> its checks (AuditRun.note)
Batch = list[tuple[int, Callable[..., list[Finding]], tuple[Any, ...]]]  # (line, fn, args)


def findings_on_cluster(archive: Archive, note: Note, cluster: Cluster,
                        progress: TaskProgress | None) -> list[Finding]:
    """Every file and chain finding of the archive, checked on the cluster; `note` is called
    for each entry in manifest order, as in a local run."""
    chain = cluster.submit(Task(chain_findings, (str(archive.manifest_path),)), "audit-chain")
    by_line: ByLine = []
    for batch in cluster.map_ordered(_tasks(archive, note), progress, "audit"):
        by_line += [(number, found) for number, found in batch if found]
    return merge_by_line(cluster.result_of(chain), by_line)


def _tasks(archive: Archive, note: Note) -> Iterator[Task]:
    batch: Batch = []
    size = 0
    for line in manifest.read_lines(archive.manifest_path):
        if line.entry is None or line.torn:
            continue
        for fn, args, n in note(line.entry):
            if batch and (size + n > TASK_BYTES or len(batch) >= TASK_FILES):
                yield Task(check_batch, (str(archive.root), batch), size)
                batch, size = [], 0
            batch.append((line.number, fn, args))
            size += n
    if batch:
        yield Task(check_batch, (str(archive.root), batch), size)


def check_batch(root: str, batch: Batch) -> ByLine:
    """A worker's task: check_file or check_range for each (manifest line, function,
    arguments); reads only."""
    archive = Archive(Path(root))
    if not archive.manifest_path.is_file():  # this worker does not see the archive
        return [(number, [unreachable(_where(args), root)]) for number, _, args in batch]
    return [(number, fn(archive, *args)) for number, fn, args in batch]


def _where(args: tuple[Any, ...]) -> str:
    first = args[0]
    return first.path if isinstance(first, Expected) else str(first.get("file"))
