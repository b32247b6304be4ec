"""Many files: expand folders, then validate serially or over a process pool (checking is
CPU-bound inflate + hashing, so threads would not scale past the GIL-held parsing)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from archiver.base.errors import UnreadableInputError
from archiver.base.findings import Finding
from archiver.check.warccheck.report import WarcReport

SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def expand(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files as given; folders walked recursively for WARC/ARC names, sorted for stable output."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = [
                str(f) for f in path.rglob("*")
                if f.is_file() and f.name.lower().endswith(SUFFIXES)
            ]
            out.extend(sorted(found))
        else:
            out.append(os.fspath(p))
    return out


def check_one(path: str, window: tuple[int, int] | None = None) -> WarcReport:
    """check_warc, with a file that cannot be read as a finding (a batch goes on)."""
    from archiver.check.warccheck import check_warc

    try:
        return check_warc(path, window=window)
    except UnreadableInputError as exc:
        # In a batch, one unreadable file is a finding, not the end of the run.
        finding = Finding("error", "unreadable", path, str(exc))
        return WarcReport(path=path, records=0, bytes=0, format="unknown",
                          compression="none", findings=[finding])


def check_parts(parts: list[tuple[str, tuple[int, int] | None]]) -> list[WarcReport]:
    """check_one for each (file, byte range or None): one task of a distributed validate."""
    return [check_one(path, window) for path, window in parts]


def iter_reports(paths: Iterable[str | os.PathLike[str]], *, jobs: int = 1) -> Iterator[WarcReport]:
    files = expand(paths)
    if jobs <= 1 or len(files) <= 1:
        for f in files:
            yield check_one(f)
        return
    from concurrent.futures import ProcessPoolExecutor  # here: one file needs no pool

    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(check_one, files)
