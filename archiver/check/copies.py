"""Copies of the archive: which files a manifest head names and how to tell a good copy of
each, the replicas this archive knows (`replicas.json`), and whether a copy's manifest is a
prefix of ours or a fork.

Our manifest is the truth for every copy (DESIGN.md, Evidence): a copy is good for a file
only when its bytes have the sha256 *our* manifest names, whatever the copy's own manifest
claims, and a copy whose chain differs from ours at some seq is a fork, never merged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.base.errors import UsageError
from archiver.check.fixity import valid_file_claim
from archiver.store import manifest
from archiver.store.archive import Archive
from archiver.store.destinations import Destination, Digest, Folder, open_destination
from archiver.store.rolling import OPEN_SUFFIX

REGISTRY = "replicas.json"
LINEAGE_CHUNK = 1 << 20
SEAL_EVENT = "message digest calculation"


@dataclass
class Wanted:
    """One file a manifest head names: a whole file (sha256, size) or a rolling WARC, whose
    captures' ranges are known from their entries and whose whole digest from its seal."""

    path: str
    seq: int  # the first entry naming it
    sha256: str | None = None
    size: int = 0
    sealed_seq: int | None = None  # rolling WARCs: the seal's seq (None while open)
    ranges: list[tuple[int, int, str, int]] = field(default_factory=list)  # off, len, sha, seq

    @property
    def rolling(self) -> bool:
        return bool(self.ranges)

    def whole_at(self, head: int) -> bool:
        """At manifest head `head`, is this file known by its whole digest?"""
        if self.sha256 is None:
            return False
        return not self.rolling or (self.sealed_seq is not None and self.sealed_seq <= head)

    def end(self, head: int) -> int:
        """Bytes committed at `head` (the whole size once sealed)."""
        if self.whole_at(head):
            return self.size
        return max((o + n for o, n, _, s in self.ranges if s <= head), default=0)

    def spans(self, head: int) -> list[tuple[int, int]]:
        return [(o, n) for o, n, _, s in self.ranges if s <= head]

    def good(self, found: Digest | None, head: int) -> bool:
        """Do these bytes (read with `spans(head)` asked for) hold what the manifest names?"""
        if found is None:
            return False
        if self.whole_at(head):
            return found.sha256 == self.sha256 and found.size == self.size
        wanted = [sha for _, _, sha, s in sorted(self.ranges) if s <= head]
        return list(found.ranges) == wanted

    def names(self) -> tuple[str, ...]:
        """Where a copy may hold it: a rolling WARC under its final name or still `.open`."""
        return (self.path, self.path + OPEN_SUFFIX) if self.rolling else (self.path,)


@dataclass
class Snapshot:
    """The manifest read up to a fixed length: its head and the files it names."""

    length: int
    sha256: str  # of those bytes
    head_seq: int
    head_hash: str
    wanted: dict[str, Wanted]
    lines: int = 0

    def in_order(self) -> list[Wanted]:
        """Whole files (sealed WARCs, articles) first by seq, then the open WARCs."""
        whole = [w for w in self.wanted.values() if w.whole_at(self.head_seq)]
        rest = [w for w in self.wanted.values() if not w.whole_at(self.head_seq)]
        return sorted(whole, key=lambda w: w.seq) + sorted(rest, key=lambda w: w.seq)


def read_snapshot(archive: Archive, length: int | None = None,
                  each: Callable[[dict[str, Any], int], None] | None = None) -> Snapshot:
    """Our manifest up to `length` bytes (its current size: complete lines only, since
    appends are whole lines), with the files it names."""
    path = archive.manifest_path
    if length is None:
        length = path.stat().st_size
    wanted: dict[str, Wanted] = {}
    h = hashlib.sha256()
    head_seq, head_hash, read, lines = -1, manifest.GENESIS, 0, 0
    with open(path, "rb") as f:
        while read < length:
            raw = f.readline(length - read)
            if not raw.endswith(b"\n"):
                break  # a torn tail is audit's and repair's business; not copied
            read += len(raw)
            lines += 1
            h.update(raw)
            entry = manifest.parse_entry(raw)
            if entry is None:
                continue
            seq = entry.get("seq")
            seq = seq if isinstance(seq, int) else head_seq + 1
            head_seq, head_hash = seq, str(entry.get("hash"))
            _note(entry, seq, wanted)
            if each is not None:  # a caller's look at the same pass (rolling fixity)
                each(entry, seq)
    return Snapshot(read, h.hexdigest(), head_seq, head_hash, wanted, lines)


def _note(entry: dict[str, Any], seq: int, wanted: dict[str, Wanted]) -> None:
    for rng in entry.get("ranges") or []:
        if isinstance(rng, dict) and isinstance(rng.get("file"), str):
            w = wanted.setdefault(rng["file"], Wanted(rng["file"], seq))
            w.ranges.append((int(rng["offset"]), int(rng["length"]), str(rng["sha256"]), seq))
    for claim in entry.get("files") or []:
        if not valid_file_claim(claim):
            continue
        w = wanted.setdefault(claim["path"], Wanted(claim["path"], seq))
        if w.sha256 is None:  # the first claim holds; audit reports conflicting ones
            w.sha256, w.size = claim["sha256"], claim["size"]
            if entry.get("event") == SEAL_EVENT:
                w.sealed_seq = seq


def check_at(dest: Destination, w: Wanted, head: int) -> tuple[str | None, Digest | None]:
    """(the name it was found under, its digest) of `w` at a copy at manifest head `head`;
    (None, None) when missing. Reads the file once, whole digest and ranges together."""
    for name in w.names():
        found = dest.digest(name, w.spans(head) if not w.whole_at(head) else None,
                            limit=None if w.whole_at(head) else w.end(head))
        if found is not None:
            return name, found
    return None, None


# ---------------------------------------------------------------- comparing manifests

@dataclass
class Lineage:
    """How a copy's manifest relates to ours."""

    state: str  # "prefix" (same or behind), "fork", "ahead" (longer than ours), "none"
    head_seq: int = -1  # the copy's
    fork_seq: int | None = None  # the first seq where the chains differ
    lines: int = 0

    def describe(self, ours: int) -> str:
        if self.state == "none":
            return "no manifest (an empty copy)"
        if self.state == "fork":
            return (f"FORK: its manifest differs from ours at seq {self.fork_seq}; "
                    "never merged, never used as truth")
        if self.state == "ahead":
            return (f"its manifest is longer than ours (head seq {self.head_seq}, ours "
                    f"{ours}): a fork or an archive that lost entries")
        behind = ours - self.head_seq
        if behind == 0:
            return "up to date"
        return f"{behind} entries behind (head seq {self.head_seq})"


def lineage(ours: Path, length: int, dest: Destination) -> Lineage:
    """Compare the copy's manifest with the first `length` bytes of ours (whole lines).

    Streamed, 1 MiB at a time from each side, compared as bytes (a manifest of a 100 TB
    archive is large; a copy that is a prefix is the common case and costs a memcmp): only
    the line where they first differ, and the last line of theirs (its head), are parsed."""
    try:
        theirs = dest.open_read("manifest.jsonl")
    except FileNotFoundError:
        return Lineage("none")
    with theirs, open(ours, "rb") as mine:
        return _compare(mine, length, theirs)


def _compare(mine: Any, length: int, theirs: Any) -> Lineage:
    lines = 0  # newlines of theirs before `tail`
    tail = b""  # their bytes after their last newline so far (a line being read)
    last = b""  # their last complete line
    left = length
    while True:
        chunk = theirs.read(LINEAGE_CHUNK)
        if not chunk:
            break
        ours = mine.read(min(len(chunk), left)) if left > 0 else b""
        left -= len(ours)
        if ours != chunk:  # a byte differs, or ours ended: find their line there
            at = next((i for i, (a, b) in enumerate(zip(ours, chunk, strict=False))
                       if a != b), len(ours))
            return _differ(theirs, lines, tail, last, chunk, at, forked=at < len(ours))
        lines, tail, last = _advance(lines, tail, last, chunk)
    if tail:  # their last line has no newline (torn): it differs from ours at that line
        return Lineage("fork", _seq(last, lines - 1) if lines else -1, _seq(tail, lines),
                       lines + 1)
    return Lineage("prefix", _seq(last, lines - 1) if lines else -1, None, lines)


def _advance(lines: int, tail: bytes, last: bytes, chunk: bytes) -> tuple[int, bytes, bytes]:
    """(newlines, tail, last complete line) after reading `chunk` of their manifest."""
    end = chunk.rfind(b"\n")
    if end < 0:
        return lines, tail + chunk, last
    before = chunk.rfind(b"\n", 0, end)
    last = tail + chunk[:end + 1] if before < 0 else chunk[before + 1:end + 1]
    return lines + chunk.count(b"\n"), chunk[end + 1:], last


def _differ(theirs: Any, lines: int, tail: bytes, last: bytes, chunk: bytes, at: int,
            forked: bool) -> Lineage:
    """Their manifest differs from ours at byte `at` of `chunk` (or goes on past our end):
    a fork at the line holding that byte, or "ahead"; read on to count their lines."""
    buf = tail + chunk
    at += len(tail)
    start = buf.rfind(b"\n", 0, at) + 1  # where their differing (or first extra) line starts
    index = lines + buf.count(b"\n", 0, start)
    if start:
        prev = buf.rfind(b"\n", 0, start - 1) + 1
        last = buf[prev:start]
    head = _seq(last, index - 1) if index else -1
    line = buf[start:]
    while b"\n" not in line:
        more = theirs.read(LINEAGE_CHUNK)
        if not more:
            break
        line += more
    cut = line.find(b"\n")
    rest = line[cut + 1:] if cut >= 0 else b""
    first = line[:cut + 1] if cut >= 0 else line
    total, tail, final = _advance(index + (1 if cut >= 0 else 0), b"", first, rest)
    while chunk := theirs.read(LINEAGE_CHUNK):
        total, tail, final = _advance(total, tail, final, chunk)
    count = total + (1 if tail or cut < 0 else 0)
    if forked:
        return Lineage("fork", head, _seq(first, index), count)
    # ours ended on a line boundary and theirs goes on: the head is their last line's
    return Lineage("ahead", _seq(tail or final, count - 1), None, count)


def _seq(line: bytes, index: int) -> int:
    try:
        seq = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        return index
    return seq if isinstance(seq, int) else index


# ---------------------------------------------------------------- the replicas we know

@dataclass
class Replica:
    name: str
    url: str
    key: str | None = None
    last: dict[str, Any] = field(default_factory=dict)  # head, at, files, bytes
    seen: dict[str, list[int]] = field(default_factory=dict)  # name -> [size, mtime] verified
    known_hosts: str | None = None  # sftp: the known_hosts file its host key was checked in
    accept_new: bool = False  # this run only: record a first-seen host key (never saved)

    def to_dict(self) -> dict[str, Any]:
        doc = {"url": self.url, "key": self.key, "last": self.last, "seen": self.seen}
        if self.known_hosts:
            doc["known_hosts"] = self.known_hosts
        return doc


def load_replicas(archive: Archive) -> dict[str, Replica]:
    path = archive.root / REGISTRY
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes())
        return {name: Replica(name, r["url"], r.get("key"), r.get("last") or {},
                              r.get("seen") or {}, r.get("known_hosts"))
                for name, r in (data.get("replicas") or {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path}: not a replicas file ({exc})") from exc


def save_replicas(archive: Archive, replicas: dict[str, Replica]) -> None:
    doc = {"replicas": {n: r.to_dict() for n, r in sorted(replicas.items())}}
    # No indent: json's C encoder only runs without one, and `seen` has a line per file.
    archive.write_bytes(REGISTRY, json.dumps(doc, sort_keys=True).encode() + b"\n")


def resolve_replica(archive: Archive, name: str) -> Replica:
    """A known replica by name; a folder path or sftp URL not yet known is taken as is
    (a copy on read-only media can be audited without ever replicating to it)."""
    known = load_replicas(archive)
    if name in known:
        return known[name]
    if "://" in name or Path(name).is_dir():
        return Replica(name, name)
    names = ", ".join(sorted(known)) or "none yet (`archiver replicate DEST --name NAME`)"
    raise UsageError(f"{name}: no such replica (known: {names})")


def connect(replica: Replica) -> Destination:
    return open_destination(replica.url, replica.key, replica.known_hosts, replica.accept_new)


def local(archive: Archive) -> Folder:
    """The archive itself, read and written through the same interface as its copies."""
    return Folder(archive.root)
