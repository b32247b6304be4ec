"""The provenance manifest: append-only, hash-chained JSON Lines of PREMIS events.

Each line is one event in canonical JSON (sorted keys, no spaces, UTF-8). `hash` is sha256
over the canonical JSON of the entry without `hash`; `prev` is the previous line's `hash`, so
editing, deleting or reordering any line breaks the chain at that point.

Appends hold an exclusive lock across read-last-entry, write and fsync, so concurrent
archiver processes keep one chain. The line goes out in a single write() on an O_APPEND
descriptor: a killed process leaves the whole line or none of it; only power loss can tear
it, and then `repair` truncates the torn tail (never a whole entry).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archiver.base import agent
from archiver.base.errors import ManifestError
from archiver.base.findings import Finding
from archiver.store.archive import Archive, append_durably

if TYPE_CHECKING:
    from filelock import FileLock

GENESIS = "sha256:" + "0" * 64
SCHEMA = "manifest-entry"
TAIL_READ = 64 * 1024


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return "sha256:" + hashlib.sha256(canonical(body)).hexdigest()


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def lock_for(path: Path) -> FileLock:
    from filelock import FileLock  # ~10 ms; only writers lock, and audit starts faster

    return FileLock(str(path) + ".lock")


def lock_for_reading(archive: Archive) -> AbstractContextManager[object]:
    """lock_for the manifest, for a reader that needs it to hold still (nothing appended
    midway); none on an archive this process cannot write (read-only media, an immutable
    copy): no writer of ours can append there, and the lock file cannot be opened."""
    if archive.read_only():
        return nullcontext()
    return lock_for(archive.manifest_path)


def new_event(event: str, outcome: str, detail: str = "", *, operator: str | None = None,
              **fields: Any) -> dict[str, Any]:
    """An event body (no seq/prev/hash yet); `fields` are event-specific (source, files, ...)."""
    body: dict[str, Any] = {
        "event": event,
        "at": now_rfc3339(),
        "agent": agent.describe(operator),
        "outcome": {"status": outcome, "detail": detail},
    }
    body.update({k: v for k, v in fields.items() if v is not None})
    return body


def append(manifest: Path, event: dict[str, Any]) -> dict[str, Any]:
    """Chain `event` onto the manifest and return the full entry as written."""
    return append_many(manifest, [event])[0]


def append_many(manifest: Path, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chain several events with one lock, one write() and one fsync (a group commit).
    Every entry is validated first: an invalid one fails the whole call, nothing written."""
    manifest.parent.mkdir(parents=True, exist_ok=True)
    with lock_for(manifest):
        last = read_last(manifest)
        declared = _declarations.still_there(manifest)
        offset = manifest.stat().st_size if last is not None else 0
        entries: list[dict[str, Any]] = []
        lines: list[bytes] = []
        new_declarations: list[tuple[str, int, dict[str, Any]]] = []
        for event in events:
            entry = dict(event)
            if agent.is_inline(entry.get("agent")):
                agent_id = agent.identify(entry["agent"])
                if agent_id in declared:
                    entry["agent"] = {"id": agent_id}
                else:
                    entry["agent"] = {"id": agent_id, **entry["agent"]}
                    new_declarations.append((agent_id, offset + sum(len(b) for b in lines), entry))
                    declared.add(agent_id)
            entry["seq"] = 0 if last is None else last["seq"] + 1
            entry["prev"] = GENESIS if last is None else last["hash"]
            entry["hash"] = entry_hash(entry)
            errors = _schemas().validate(entry, SCHEMA)
            if errors:
                pointer, message = errors[0]
                raise ManifestError(f"refusing to append an invalid manifest entry: "
                                    f"{pointer}: {message}")
            entries.append(entry)
            lines.append(canonical(entry) + b"\n")
            last = entry
        append_durably(manifest, b"".join(lines))
        for agent_id, at, entry in new_declarations:
            _declarations.remember(manifest, agent_id, at, entry["hash"])
    return entries


class _Declarations:
    """Which agents this process has declared in which manifest, and where: the line's
    offset and hash, checked again (one small read) before each append, so a manifest cut,
    replaced or rewritten since gets its agent declared again rather than a dangling
    reference. Another process's declarations are not looked for: each writer declares its
    own agent once (one ~0.4 KB line per run, where every entry used to carry it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._where: dict[Path, dict[str, tuple[int, int, str]]] = {}  # id -> inode, offset, hash

    def still_there(self, manifest: Path) -> set[str]:
        with self._lock:
            known = dict(self._where.get(manifest.absolute(), {}))
        if not known:
            return set()
        try:
            inode = manifest.stat().st_ino
            with open(manifest, "rb") as f:
                found = set()
                for agent_id, (ino, offset, entry_hash) in known.items():
                    f.seek(offset)
                    if ino == inode and _line_hash(f.readline()) == entry_hash:
                        found.add(agent_id)
                return found
        except OSError:
            return set()

    def remember(self, manifest: Path, agent_id: str, offset: int, entry_hash: str) -> None:
        inode = manifest.stat().st_ino
        with self._lock:
            self._where.setdefault(manifest.absolute(), {})[agent_id] = \
                (inode, offset, entry_hash)


def parse_entry(raw: bytes) -> dict[str, Any] | None:
    """One manifest line's entry; None for a line that is not a JSON object."""
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def _line_hash(raw: bytes) -> str | None:
    entry = parse_entry(raw)
    return entry.get("hash") if entry is not None else None


_declarations = _Declarations()


class Agents:
    """Reads agents as the manifest gives them, entry by entry in order: the 0.1/0.2 inline
    description as it is, a declaration (description with its `id`) remembered, a reference
    ({"id": ...}) resolved to the declaration before it."""

    def __init__(self) -> None:
        self.declared: dict[str, dict[str, Any]] = {}

    def resolve(self, entry: dict[str, Any]) -> dict[str, Any] | None:
        """The entry's whole agent description (with `id` when it has one); None when it
        refers to an agent no earlier entry declared."""
        value = entry.get("agent")
        if not isinstance(value, dict):
            return None
        if agent.is_reference(value):
            return self.declared.get(str(value["id"]))
        if "id" in value and agent.identify(value) == value["id"]:
            self.declared.setdefault(str(value["id"]), value)
        return value

    def check(self, entry: dict[str, Any], loc: str) -> list[Finding]:
        """Findings for an entry's agent: a declaration whose id is not its content's hash,
        a reference to no earlier declaration."""
        value = entry.get("agent")
        if not isinstance(value, dict) or "id" not in value:
            return []  # the inline form; the schema checks its shape
        seq = entry.get("seq")
        if agent.is_reference(value):
            if str(value["id"]) not in self.declared:
                return [Finding("error", "agent-undeclared", loc,
                                f"seq {seq}: agent {value['id']} is declared by no earlier "
                                "entry", details={"agent": value["id"]})]
            return []
        actual = agent.identify(value)
        if actual != value["id"]:
            return [Finding("error", "agent-id-mismatch", loc,
                            f"seq {seq}: agent declared as {value['id']} but its description "
                            f"hashes to {actual}",
                            details={"expected": value["id"], "actual": actual})]
        self.declared.setdefault(actual, value)
        return []


def resolved_entries(manifest: Path) -> Iterator[dict[str, Any]]:
    """iter_entries with each entry's agent given whole (a reference resolved; left as it is
    when it resolves to nothing), for readers that show who did what."""
    agents = Agents()
    for entry in iter_entries(manifest):
        whole = agents.resolve(entry)
        yield {**entry, "agent": whole} if whole is not None else entry


class GroupAppender:
    """Appends from many threads of one process, batched: while one thread writes and
    fsyncs, the others queue up, and the next writer commits them all at once. With fsync
    at ~3 ms, this is what lets parallel capture go faster than ~300 entries a second."""

    def __init__(self, manifest: Path) -> None:
        self.manifest = manifest
        self._queue: list[_Pending] = []
        self._queue_lock = threading.Lock()
        self._writer_lock = threading.Lock()

    def append(self, event: dict[str, Any]) -> dict[str, Any]:
        pending = _Pending(event)
        with self._queue_lock:
            self._queue.append(pending)
        with self._writer_lock:
            if not pending.done:
                with self._queue_lock:
                    batch, self._queue = self._queue, []
                self._commit(batch)
        if pending.error is not None:
            raise pending.error
        assert pending.entry is not None
        return pending.entry

    def _commit(self, batch: list[_Pending]) -> None:
        entries: Sequence[dict[str, Any] | None]  # None: that event was refused
        try:
            entries = append_many(self.manifest, [p.event for p in batch])
        except ManifestError:
            entries = self._one_by_one(batch)  # find the bad one; commit the rest
        except Exception as exc:  # disk full, I/O error: every waiter must hear of it
            for p in batch:
                p.error, p.done = exc, True
            return
        for p, entry in zip(batch, entries, strict=True):
            p.entry, p.done = entry, True

    def _one_by_one(self, batch: list[_Pending]) -> list[dict[str, Any] | None]:
        results: list[dict[str, Any] | None] = []
        for p in batch:
            try:
                results.append(append(self.manifest, p.event))
            except ManifestError as exc:
                p.error = exc
                results.append(None)
        return results


@dataclass
class _Pending:
    event: dict[str, Any]
    entry: dict[str, Any] | None = None
    error: Exception | None = None
    done: bool = False


_appenders: dict[Path, GroupAppender] = {}
_appenders_lock = threading.Lock()


def appender_for(manifest: Path) -> GroupAppender:
    """The process's one GroupAppender for this manifest (batches need a shared queue)."""
    key = manifest.absolute()
    with _appenders_lock:
        if key not in _appenders:
            _appenders[key] = GroupAppender(key)
        return _appenders[key]


def read_last(manifest: Path) -> dict[str, Any] | None:
    """The last entry, reading only the file's tail. A torn tail is refused, not built on."""
    try:
        size = manifest.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(manifest, "rb") as f:
        start = max(0, size - TAIL_READ)
        while True:
            f.seek(start)
            tail = f.read(size - start)
            if not tail.endswith(b"\n"):
                raise ManifestError(
                    f"{manifest}: the last line is incomplete (a torn write); "
                    "run `archiver audit` and then `archiver repair`")
            cut = tail.rfind(b"\n", 0, len(tail) - 1)
            if cut >= 0 or start == 0:
                break
            start = max(0, start - TAIL_READ)
        line = tail[cut + 1:]
    try:
        entry: dict[str, Any] = json.loads(line)
    except ValueError as exc:
        raise ManifestError(f"{manifest}: the last line is not valid JSON") from exc
    return entry


@dataclass
class Line:
    """One manifest line as read: its number (1-based), bytes, and parsed entry if any."""

    number: int
    raw: bytes
    entry: dict[str, Any] | None
    torn: bool = False  # the final line, without its newline


def read_lines(manifest: Path) -> Iterator[Line]:
    with open(manifest, "rb") as f:
        for number, raw in enumerate(f, start=1):
            yield Line(number, raw, parse_entry(raw), not raw.endswith(b"\n"))


def iter_entries(manifest: Path) -> Iterator[dict[str, Any]]:
    """Entries that parse; for checking use `verify_chain`."""
    if not manifest.exists():
        return
    for line in read_lines(manifest):
        if line.entry is not None and not line.torn:
            yield line.entry


def verify_chain(manifest: Path, where: str = "manifest.jsonl") -> Iterator[Finding]:
    """Every chain problem: unparseable or torn lines, seq gaps, broken links, edited entries,
    entries that fail the schema."""
    verifier = ChainVerifier(where)
    for line in read_lines(manifest):
        yield from verifier.check(line)


class ChainVerifier:
    """Checks lines in order, one at a time, so a caller can verify the chain in the same
    pass that reads the entries for other purposes (audit reads the manifest once)."""

    def __init__(self, where: str = "manifest.jsonl") -> None:
        self.where = where
        self.expected_seq, self.prev_hash = 0, GENESIS
        self.agents = Agents()

    def check(self, line: Line) -> list[Finding]:
        loc = f"{self.where}:{line.number}"
        if line.torn:
            return [Finding("error", "torn-line", loc,
                            "last line is incomplete (torn write); `archiver repair` can "
                            "remove it")]
        entry = line.entry
        if entry is None:
            return [Finding("error", "unparseable-line", loc, "line is not a JSON object")]
        found = list(_check_entry(entry, loc, self.expected_seq, self.prev_hash))
        found += self.agents.check(entry, loc)
        seq = entry.get("seq")
        self.expected_seq = (seq + 1) if isinstance(seq, int) else self.expected_seq + 1
        if isinstance(entry.get("hash"), str):
            self.prev_hash = entry["hash"]
        return found


def _check_entry(entry: dict[str, Any], loc: str, expected_seq: int,
                 prev_hash: str) -> Iterator[Finding]:
    seq = entry.get("seq")
    if seq != expected_seq:
        yield Finding("error", "seq-out-of-order", loc,
                      f"seq {seq} where {expected_seq} was expected "
                      "(an entry was removed, added or moved)",
                      details={"expected": expected_seq, "actual": seq})
    if entry.get("prev") != prev_hash:
        yield Finding("error", "broken-link", loc,
                      f"broken link at seq {seq}: prev does not match the previous entry's hash",
                      details={"expected": prev_hash, "actual": entry.get("prev")})
    actual = entry_hash(entry)
    if entry.get("hash") != actual:
        yield Finding("error", "edited-entry", loc,
                      f"edited entry at seq {seq}: its hash does not match its content",
                      details={"expected": entry.get("hash"), "actual": actual})
    for pointer, message in _schemas().validate(entry, SCHEMA):
        yield Finding("error", "invalid-entry", loc, f"seq {seq}: {pointer or '/'}: {message}")


def _schemas() -> Any:
    """The schema module, imported on first use: reading the manifest (audit's main pass,
    the catalog, the views) needs no jsonschema, which costs ~60 ms of start-up."""
    from archiver.base import schemas

    return schemas


def torn_tail_size(manifest: Path) -> int:
    """Bytes after the last newline (0 when the file ends cleanly)."""
    size = manifest.stat().st_size
    if size == 0:
        return 0
    with open(manifest, "rb") as f:
        start = max(0, size - TAIL_READ)
        while True:
            f.seek(start)
            tail = f.read(size - start)
            cut = tail.rfind(b"\n")
            if cut >= 0:
                return len(tail) - cut - 1
            if start == 0:
                return size
            start = max(0, start - TAIL_READ)
