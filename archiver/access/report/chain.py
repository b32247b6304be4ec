"""One pass over manifest.jsonl: what the report needs from the provenance events that the
catalog does not hold (the catalog keeps captures, articles and files, not audits, crawls,
copies or proofs).

Events are read generically, by their `event` type: types this version does not know (a
replication or time-stamp event written by a newer archiver) are counted and listed, never
an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.store import manifest

# Events that make or check a copy of the archive elsewhere (PREMIS `replication`; a file
# restored from a copy is a `replacement`).
COPY_EVENTS = ("replication", "replacement")
# Events that prove the chain head to a third party, matched by a word in their type.
PROOF_WORDS = ("timestamp", "time-stamp", "checkpoint", "cosign", "signature", "witness")


@dataclass(frozen=True, slots=True)
class Event:
    """One manifest entry, as the report lists it (one per entry is kept: slots)."""

    seq: int
    at: str
    event: str
    status: str
    detail: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "event": self.event, "status": self.status,
                "detail": self.detail, "hash": self.hash}


@dataclass
class CrawlRun:
    """A crawl, from its start and end events and the captures that name it."""

    crawl_id: str
    started: str | None = None
    ended: str | None = None
    end_status: str | None = None
    seeds: list[str] = field(default_factory=list)
    pages: int = 0  # capture events of the crawl that succeeded
    failures: int = 0  # capture events of the crawl that did not
    articles: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"crawl_id": self.crawl_id, "started": self.started, "ended": self.ended,
                "end_status": self.end_status, "seeds": self.seeds, "pages": self.pages,
                "failures": self.failures, "articles": self.articles}


@dataclass
class Chain:
    """What the pass gathered."""

    events: dict[int, Event] = field(default_factory=dict)  # by seq
    types: Counter[str] = field(default_factory=Counter)
    by_article: dict[str, list[int]] = field(default_factory=dict)  # article id -> seqs
    audits: list[dict[str, Any]] = field(default_factory=list)  # fixity check entries
    copies: list[Event] = field(default_factory=list)
    # replica name -> the highest head seq a successful replication copied there
    replicas: dict[str, int | None] = field(default_factory=dict)
    proofs: list[Event] = field(default_factory=list)
    crawls: dict[str, CrawlRun] = field(default_factory=dict)
    # RFC 3161 tokens an event describes (`timestamps`: seq, tsa, gen_time), per TSA
    tsas: dict[str, dict[str, Any]] = field(default_factory=dict)
    unreadable_lines: int = 0

    @property
    def empty(self) -> bool:
        return not self.events

    def at(self, seq: int) -> str | None:
        event = self.events.get(seq)
        return event.at if event else None


def read(manifest_path: Path, progress: Callable[[int], None] | None = None) -> Chain:
    """Read the manifest once (a missing manifest is an empty chain)."""
    chain = Chain()
    if not manifest_path.is_file():
        return chain
    for line in manifest.read_lines(manifest_path):
        if progress is not None:
            progress(len(line.raw))
        entry = line.entry
        if entry is not None and isinstance(entry.get("seq"), int):
            _add(chain, entry)
        else:
            chain.unreadable_lines += 1  # a torn tail or a non-object; audit reports it
    return chain


def _add(chain: Chain, entry: dict[str, Any]) -> None:
    seq = int(entry["seq"])
    outcome = entry.get("outcome") or {}
    kind = str(entry.get("event") or "")
    event = Event(seq, str(entry.get("at") or ""), kind, str(outcome.get("status") or ""),
                  str(outcome.get("detail") or "")[:300], str(entry.get("hash") or ""))
    chain.events[seq] = event
    chain.types[kind] += 1
    ids = {str(a["id"]) for a in entry.get("articles") or [] if a.get("id")}
    revisit = entry.get("revisit") or {}
    if isinstance(revisit.get("article"), str):  # articles/<id>/<snapshot>.json
        parts = revisit["article"].split("/")
        if len(parts) >= 3:
            ids.add(parts[1])
    for article_id in ids:
        chain.by_article.setdefault(article_id, []).append(seq)
    if kind == "fixity check":
        chain.audits.append({"seq": seq, "at": event.at, "status": event.status,
                             "detail": event.detail, "summary": entry.get("summary") or {},
                             "failed": sorted(_failed_paths(entry))})
    elif kind in COPY_EVENTS:
        chain.copies.append(event)
        _copy_event(chain, entry, event)
    elif any(word in kind for word in PROOF_WORDS):
        chain.proofs.append(event)
    elif kind == "crawl":
        _crawl_event(chain, entry, event)
    for token in entry.get("timestamps") or []:
        if isinstance(token, dict):
            _token(chain, token)
    discovery = entry.get("discovery") or {}
    crawl_id = discovery.get("crawl") if isinstance(discovery, dict) else None
    if kind == "capture" and crawl_id:
        run = chain.crawls.setdefault(str(crawl_id), CrawlRun(str(crawl_id)))
        if event.status == "success":
            run.pages += 1
        else:
            run.failures += 1
        run.articles += len(entry.get("articles") or [])


def _crawl_event(chain: Chain, entry: dict[str, Any], event: Event) -> None:
    details = entry.get("details") or {}
    crawl_id = str(details.get("crawl_id") or "")
    if not crawl_id:
        return
    run = chain.crawls.setdefault(crawl_id, CrawlRun(crawl_id))
    phase = details.get("phase")
    if phase in ("start", "resume") and run.started is None:
        run.started = event.at
        run.seeds = [str(s) for s in details.get("seeds") or []]
    elif phase == "end":
        run.ended = event.at
        run.end_status = event.detail or event.status


def _token(chain: Chain, token: dict[str, Any]) -> None:
    name = str(token.get("tsa") or token.get("tsa_subject") or "unknown TSA")
    seen = chain.tsas.setdefault(name, {"tokens": 0, "last_seq": None, "last_gen_time": None})
    seen["tokens"] += 1
    if isinstance(token.get("seq"), int):
        seen["last_seq"] = max(seen["last_seq"] or 0, token["seq"])
    if isinstance(token.get("gen_time"), str):
        seen["last_gen_time"] = max(seen["last_gen_time"] or "", token["gen_time"])


def _copy_event(chain: Chain, entry: dict[str, Any], event: Event) -> None:
    """A replication names its replica and the head it copied there (`details.replica`,
    `details.head_seq`): that replica then holds every file named up to that seq."""
    details = entry.get("details") or {}
    name = details.get("replica") if isinstance(details, dict) else None
    if event.event != "replication" or not isinstance(name, str):
        return
    head = details.get("head_seq")
    known = chain.replicas.get(name)
    if event.status == "success" and isinstance(head, int):
        chain.replicas[name] = head if known is None else max(known, head)
    else:
        chain.replicas.setdefault(name, None)


def _failed_paths(entry: dict[str, Any]) -> set[str]:
    """Files an audit found wrong (its error findings name them)."""
    out = set()
    for finding in entry.get("findings") or []:
        if isinstance(finding, dict) and finding.get("severity") == "error":
            where = finding.get("where") or finding.get("path")
            if isinstance(where, str):
                out.add(where.split(":")[0])
    return out
