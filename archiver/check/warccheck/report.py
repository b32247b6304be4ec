"""The report object and the collector the parsers write findings into."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archiver.base.findings import Finding, Severity

# A pathological file (a million broken records) must not make the report unbounded: after
# this many findings of one code, further ones are only counted.
MAX_PER_CODE = 200

DIGEST_OUTCOMES = ("passed", "failed", "not-checked")


def empty_tally() -> dict[str, dict[str, int]]:
    return {kind: dict.fromkeys(DIGEST_OUTCOMES, 0) for kind in ("block", "payload")}


@dataclass
class WarcReport:
    path: str
    records: int
    bytes: int
    format: str
    compression: str
    findings: list[Finding]
    # digests["block"|"payload"]["passed"|"failed"|"not-checked"] = number of records
    digests: dict[str, dict[str, int]] = field(default_factory=empty_tally)
    # for merging byte ranges of one file (archiver.check.ranges); empty for whole files
    tail: int = 0  # uncompressed bytes after the last record's end
    ids: set[str] = field(default_factory=set)  # record id keys, to find duplicates across
    # for checking revisits against their targets across files (archiver.check.revisits):
    # record id -> WARC-Payload-Digest of each response/resource record, and each revisit
    payloads: dict[str, str | None] = field(default_factory=dict)
    revisits: list[Revisit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "records": self.records,
            "bytes": self.bytes,
            "format": self.format,
            "compression": self.compression,
            "digests": self.digests,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class Revisit:
    """A revisit record as validate needs it: where, its id, what it refers to, its digest."""

    offset: int
    record_id: str
    refers_to: str | None
    payload_digest: str | None


@dataclass
class Collector:
    """Gathers findings for one file; every finding names the file via `where`."""

    where: str
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    digests: dict[str, dict[str, int]] = field(default_factory=empty_tally)
    payloads: dict[str, str | None] = field(default_factory=dict)
    revisits: list[Revisit] = field(default_factory=list)

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        *,
        offset: int | None = None,
        record_id: str | None = None,
        field: str | None = None,
        **details: Any,
    ) -> None:
        n = self.counts.get(code, 0) + 1
        self.counts[code] = n
        if n > MAX_PER_CODE:
            return
        self.findings.append(
            Finding(severity, code, self.where, message, offset, record_id, field, details)
        )

    def digest(self, kind: str, outcome: str) -> None:
        self.digests[kind][outcome] += 1

    def finish(self) -> None:
        """Append the 'N more' notes for capped codes and the digest summary."""
        for code, n in self.counts.items():
            if n > MAX_PER_CODE:
                self.findings.append(
                    Finding(
                        "info",
                        "findings-capped",
                        self.where,
                        f"{n - MAX_PER_CODE} more '{code}' findings not listed",
                        details={"code": code, "total": n},
                    )
                )
