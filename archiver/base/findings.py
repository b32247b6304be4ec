"""Findings: what checkers (validate, audit) report. Checkers collect every finding, never stop
at the first, and the CLI renders them as text or JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One problem (or note) found by a checker.

    `code` is a stable machine name (e.g. "checksum-mismatch", "missing-field"); `where` names
    the file (relative path where possible) and, for WARCs, `offset`/`record_id`/`field`.
    """

    severity: Severity
    code: str
    where: str
    message: str
    offset: int | None = None
    record_id: str | None = None
    field: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}

    def render(self) -> str:
        loc = self.where
        if self.offset is not None:
            loc += f" @{self.offset}"
        if self.record_id:
            loc += f" {self.record_id}"
        if self.field:
            loc += f" [{self.field}]"
        return f"{self.severity.upper()}: {loc}: {self.message}"


def count(findings: list[Finding], severity: Severity) -> int:
    return sum(1 for f in findings if f.severity == severity)


@dataclass
class Report:
    """What every checker returns: its findings (all of them), verdicts derived from them."""

    findings: list[Finding] = dataclasses.field(default_factory=list)

    @property
    def errors(self) -> int:
        return count(self.findings, "error")

    @property
    def warnings(self) -> int:
        return count(self.findings, "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0
