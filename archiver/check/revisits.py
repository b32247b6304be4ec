"""Every revisit record checked against the record it refers to (WARC 1.1 section 6.7).

A revisit holds no payload of its own: replay takes it from the record named by
WARC-Refers-To. So that record must exist, must not itself be a revisit, and for the
identical-payload-digest profile it must hold the payload the revisit's digest says.

The facts come from the WARC check itself (warccheck notes each response/resource record's
payload digest and each revisit as it reads the headers), so validate needs no catalog: it
never pays for, nor writes, derived data (issue 24, item 6), and a set of lone files is
checked the same way as an archive (item 3). In an archive a target in none of its WARCs is
an error; among files given by hand it may sit in a file not given: a warning."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from archiver.base.findings import Finding, Severity
from archiver.check.warccheck.digests import digest_key
from archiver.check.warccheck.report import Revisit, WarcReport


@dataclass
class RevisitLinks:
    """What the checked files hold: payload digests by record id, and their revisits."""

    payloads: dict[str, str | None] = field(default_factory=dict)
    revisit_ids: set[str] = field(default_factory=set)
    revisits: list[tuple[str, Revisit]] = field(default_factory=list)  # (file shown, revisit)

    def add(self, shown: str, report: WarcReport) -> None:
        # ids compared without their angle brackets (WARC 1.0 writers differ on them)
        self.payloads.update((_id(k), v) for k, v in report.payloads.items())
        for revisit in report.revisits:
            self.revisit_ids.add(_id(revisit.record_id))
            self.revisits.append((shown, revisit))

    def findings(self, in_archive: bool) -> Iterator[Finding]:
        missing: Severity = "error" if in_archive else "warning"
        for file, r in self.revisits:
            where: dict[str, Any] = {"offset": r.offset, "record_id": r.record_id}
            if not r.refers_to:
                yield Finding(missing, "revisit-without-target", file,
                              "revisit record names no WARC-Refers-To record", **where)
            elif _id(r.refers_to) in self.revisit_ids:
                yield Finding("error", "revisit-of-revisit", file,
                              f"revisit refers to {r.refers_to}, itself a revisit (no payload)",
                              **where)
            elif _id(r.refers_to) not in self.payloads:
                yield Finding(missing, "revisit-target-missing", file,
                              f"revisit refers to {r.refers_to}, which is not in the archive"
                              if in_archive else
                              f"revisit refers to {r.refers_to}, which is in none of the files "
                              "given: not checked", **where)
            elif _differ(self.payloads[_id(r.refers_to)], r.payload_digest):
                yield Finding("error", "revisit-digest-mismatch", file,
                              f"revisit payload digest {r.payload_digest} but {r.refers_to} "
                              f"holds {self.payloads[_id(r.refers_to)]}", **where)


def _differ(original: str | None, revisit: str | None) -> bool:
    """The two digests name different payloads. Digests of different algorithms cannot be
    compared (only the target's payload could be hashed again): not a finding."""
    a, b = digest_key(original), digest_key(revisit)
    if a is None or b is None:
        return False
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] != b[0]:
        return False
    return a != b


def _id(record_id: str) -> str:
    return record_id.strip().removeprefix("<").removesuffix(">")
