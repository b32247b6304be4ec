"""Reading WARCs back in tests, with warcio (the reference reader), independent of our code."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator


@dataclass
class Rec:
    type: str
    headers: dict[str, str]
    http_status: int | None
    http_headers: dict[str, str]
    raw_payload: bytes  # after the HTTP headers, as stored (chunking, gzip kept)

    @property
    def id(self) -> str:
        return self.headers["WARC-Record-ID"]


def read_warc(path: Path) -> list[Rec]:
    out = []
    with open(path, "rb") as f:
        for r in ArchiveIterator(f):
            status = int(r.http_headers.get_statuscode()) if (
                r.http_headers is not None and r.rec_type == "response") else None
            http = {k.lower(): v for k, v in r.http_headers.headers} if (
                r.http_headers is not None and r.rec_type in ("response", "request")) else {}
            out.append(Rec(r.rec_type, dict(r.rec_headers.headers), status, http,
                           r.raw_stream.read()))
    return out


def warcio_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                          capture_output=True, text=True, check=False)


def warc_files(archive: Path) -> list[Path]:
    return sorted((archive / "warcs").rglob("*.warc.gz"))
