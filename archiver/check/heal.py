"""repair --from: replace files of this archive that are missing or damaged with a copy's,
only when the copy's bytes have the sha256 *our* manifest names (never the copy's own
claim: its manifest may be forged or forked). Written under a temporary name, read back,
renamed; each replacement recorded as a PREMIS `replacement` event. A good file is never
overwritten; a file no copy holds good stays reported and untouched.

An open rolling WARC (still being written) has no whole-file digest to check a copy
against and a writer may be appending to it: it is reported, never replaced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archiver.check.copies import (
    Replica,
    Wanted,
    check_at,
    connect,
    local,
    read_snapshot,
)
from archiver.store.archive import Archive
from archiver.store.destinations import Destination, Digest
from archiver.store.events import record_event
from archiver.store.rolling import OPEN_SUFFIX


@dataclass
class Mend:
    path: str
    found: str  # the sha256 found here before, or "missing"
    sha256: str  # what our manifest names
    outcome: str  # replaced, would-replace, already-good, no-good-copy, open-warc, failed
    detail: str = ""

    def render(self) -> str:
        return f"{self.outcome}: {self.path} (found {self.found[:16]}): {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "found_sha256": self.found, "sha256": self.sha256,
                "outcome": self.outcome, "detail": self.detail}


@dataclass
class HealReport:
    source: str
    mends: list[Mend] = field(default_factory=list)
    checked: int = 0

    @property
    def unmended(self) -> list[Mend]:
        return [m for m in self.mends
                if m.outcome not in ("replaced", "would-replace", "already-good")]

    def summary(self) -> str:
        done = sum(m.outcome == "replaced" for m in self.mends)
        would = sum(m.outcome == "would-replace" for m in self.mends)
        text = f"repair --from {self.source}: {self.checked} files checked, "
        text += f"{done} replaced" if not would else f"{would} would be replaced (--yes)"
        if self.unmended:
            text += f", {len(self.unmended)} NOT repaired"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "checked": self.checked,
                "mends": [m.to_dict() for m in self.mends], "ok": not self.unmended}


def repair_from(archive: Archive, replica: Replica, operator: str | None,
                yes: bool) -> HealReport:
    snap = read_snapshot(archive)
    here = local(archive)
    report = HealReport(replica.name)
    bad: list[tuple[Wanted, str]] = []
    for w in snap.in_order():
        report.checked += 1
        _, found = check_at(here, w, snap.head_seq)
        if not w.good(found, snap.head_seq):
            bad.append((w, "missing" if found is None else found.sha256))
    if not bad:
        return report
    copy = connect(replica)
    try:
        for w, before in bad:
            mend = _mend(archive, here, copy, w, before, snap.head_seq, yes)
            report.mends.append(mend)
            if mend.outcome == "replaced":
                _record(archive, replica, mend, operator)
    finally:
        copy.close()
    return report


def _mend(archive: Archive, here: Destination, copy: Destination, w: Wanted, before: str,
          head: int, yes: bool) -> Mend:
    expected = w.sha256 or ""
    if not w.whole_at(head):
        return Mend(w.path, before, expected, "open-warc",
                    "an open WARC has no whole-file digest to check a copy against; "
                    "`archiver repair --yes` seals it first")
    for name in w.names():
        found = copy.digest(name)
        if found is None:
            continue
        if not w.good(found, head):
            continue  # damaged there too: whatever its own manifest claims
        if not yes:
            return Mend(w.path, before, expected, "would-replace", f"good bytes at {name}")

        def check(d: Digest) -> bool:
            return w.good(d, head)

        def source(name: str = name) -> Any:
            return copy.open_read(name)

        # Again right before writing: never overwrite a good file (another repair, a
        # restore by hand, may have fixed it meanwhile).
        _, now = check_at(here, w, head)
        if w.good(now, head):
            return Mend(w.path, before, expected, "already-good", "good again here: untouched")
        written = here.put(w.path, source, None, check)
        if not check(written):
            return Mend(w.path, before, expected, "failed",
                        f"copied bytes read back with sha256 {written.sha256}")
        if w.rolling:
            here.remove(w.path + OPEN_SUFFIX)  # the damaged `.open` of a sealed WARC
        here.flush()  # durable before the event says it was replaced
        return Mend(w.path, before, expected, "replaced", f"from {name}")
    return Mend(w.path, before, expected, "no-good-copy",
                "the copy has no file with the sha256 our manifest names: left untouched")


def _record(archive: Archive, replica: Replica, mend: Mend, operator: str | None) -> None:
    record_event(archive, "replacement", "success",
                 f"{mend.path} replaced from copy {replica.name} (was {mend.found})", operator,
                 details={"file": mend.path, "found_sha256": mend.found,
                          "sha256": mend.sha256, "source": replica.name,
                          "source_url": replica.url})
