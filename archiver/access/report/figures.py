"""The numbers behind every chart of the report, from the catalog (captures, article
snapshots, files) and one pass over the manifest (`chain`). Each chart is a `Figure`: its
x values and one or more named series, a title and the sentence printed under it; `--json`
prints exactly these, so they can be checked against `ls`, `search` and `export`.

Only articles' latest snapshots count in the per-article charts (sections, sources, authors,
publication months), as `archiver ls` and `search` count them; every capture record counts
in the per-capture charts.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from archiver.access.report.chain import Chain
from archiver.access.snapshots import publication_date

TOP = 15  # bars in a "top" chart; the rest are summed as "other"
TOP_MIMES = 6
DAYS_FOR_DAILY = 62  # a longer capture span is drawn per month
LAG_BUCKETS = (("same day", 1), ("1–7 days", 7), ("7–30 days", 30), ("30–365 days", 365),
               ("over a year", None))
AGE_BUCKETS = (("under a day", 1), ("1–7 days", 7), ("7–30 days", 30), ("30–90 days", 90),
               ("90–365 days", 365), ("over a year", None))


@dataclass
class Figure:
    """One chart's data. kind: bar | barh (horizontal, ranked) | stacked | grouped | line."""

    name: str
    title: str
    kind: str
    x: list[str]
    series: dict[str, list[int]]
    sentence: str = ""
    x_label: str = ""
    y_label: str = ""

    @property
    def marks(self) -> int:
        """How many bars or points the chart draws (zeros in a stacked chart included)."""
        return len(self.x) * len(self.series)

    def to_dict(self) -> dict[str, Any]:
        return {"figure": self.name, "title": self.title, "kind": self.kind, "x": self.x,
                "series": self.series, "sentence": self.sentence, "x_label": self.x_label,
                "y_label": self.y_label}

    def rows(self) -> list[list[Any]]:
        """The table: header, then one row per x value."""
        header: list[Any] = [self.x_label or "x", *self.series]
        return [header] + [[x, *(s[i] for s in self.series.values())]
                           for i, x in enumerate(self.x)]


@dataclass
class Figures:
    overview: list[Figure] = field(default_factory=list)
    health: list[Figure] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)

    def all(self) -> list[Figure]:
        return self.overview + self.health


def compute(conn: Any, latest: list[dict[str, Any]], first_capture: dict[str, str],
            chain: Chain, now: datetime) -> Figures:
    """Every figure. `latest`: each article's latest snapshot row; `first_capture`: each
    article's earliest captured_at."""
    out = Figures()
    groups = capture_groups(conn)
    days = sorted({g.hour[:10] for g in groups})
    daily = _span_days(days) <= DAYS_FOR_DAILY
    period_name = "day" if daily else "month"

    def period(hour: str) -> str:
        return hour[:10] if daily else hour[:7]

    periods = sorted({period(g.hour) for g in groups})
    first, last = conn.execute("SELECT min(timestamp), max(timestamp) FROM captures"
                               ).fetchone()
    out.totals = {"captures": sum(g.n for g in groups), "articles": len(latest),
                  "snapshots": conn.execute("SELECT count(*) FROM articles").fetchone()[0],
                  "period": period_name, "first_capture": first, "last_capture": last}
    hosts: Counter[str] = Counter()
    for g in groups:
        hosts[g.host] += g.n
    out.overview += [
        _per_day(groups), _per_hour(groups),
        _status_classes(groups, periods, period, period_name),
        _mimes(groups, periods, period, period_name),
        _revisits(groups, periods, period, period_name),
        _top("top_hosts", "Top hosts", "host", hosts, "captures"),
        _top("top_sections", "Top sections", "section",
             Counter(r["section"] for r in latest if r["section"]), "articles"),
        _top("top_sources", "Top sources", "source",
             Counter(r["source"] for r in latest if r["source"]), "articles"),
        _top("top_authors", "Top authors", "author", _authors(latest), "articles"),
        *_publication(latest, first_capture),
        *_warc_bytes(conn, chain),
    ]
    out.health.append(fixity_coverage(conn, chain, now))
    if chain.replicas:
        out.health.append(copies_per_file(conn, chain))
    return out


@dataclass(frozen=True)
class Group:
    """Capture records alike in hour, record type, status, MIME type and host: `n` of
    them. SQLite groups them, so memory follows the number of groups, not of records."""

    hour: str  # YYYY-MM-DDTHH of the WARC-Date
    record_type: str
    status: int | None
    mime: str
    host: str
    n: int


def capture_groups(conn: Any) -> list[Group]:
    conn.create_function("report_host", 1, _host, deterministic=True)
    conn.create_function("report_mime", 1, _mime, deterministic=True)
    return [Group(str(h), str(t), s, str(m), str(host), int(n)) for h, t, s, m, host, n in
            conn.execute("SELECT substr(timestamp, 1, 13), record_type, status, "
                         "report_mime(mime), report_host(url), count(*) FROM captures "
                         "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5")]


def _host(url: Any) -> str:
    try:
        return urlsplit(str(url)).hostname or "-"
    except ValueError:
        return "-"


def _span_days(days: list[str]) -> int:
    if len(days) < 2:
        return len(days)
    first, last = (datetime.fromisoformat(d) for d in (days[0], days[-1]))
    return (last - first).days + 1


def _per_day(groups: list[Group]) -> Figure:
    counts: Counter[str] = Counter()
    for g in groups:
        counts[g.hour[:10]] += g.n
    total = sum(counts.values())
    x = sorted(counts)
    busiest = max(x, key=lambda d: (counts[d], d)) if x else None
    sentence = (f"{_plural(total, 'capture')} on {_plural(len(x), 'day')}; the busiest day "
                f"was {busiest} with {counts[busiest]:,}." if busiest else "No captures yet.")
    return Figure("captures_per_day", "Captures per day", "bar", x,
                  {"captures": [counts[d] for d in x]}, sentence, "day (UTC)", "captures")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _per_hour(groups: list[Group]) -> Figure:
    counts: Counter[int] = Counter()
    for g in groups:
        if g.hour[11:13].isdigit():
            counts[int(g.hour[11:13])] += g.n
    x = [f"{h:02d}" for h in range(24)]
    values = [counts[h] for h in range(24)]
    peak = max(range(24), key=lambda h: (values[h], -h))
    sentence = (f"Captures by hour of day (UTC); most at {peak:02d}:00–{peak:02d}:59 "
                f"({values[peak]:,})." if groups else "No captures yet.")
    return Figure("captures_per_hour", "Captures per hour of day", "bar", x,
                  {"captures": values}, sentence, "hour (UTC)", "captures")


def status_class(record_type: str, status: Any) -> str:
    if record_type == "resource":
        return "resource (no HTTP)"
    if record_type == "revisit" and status is None:
        return "revisit"
    if not isinstance(status, int):
        return "unknown"
    return f"{status // 100}xx"


def _status_classes(groups: list[Group], periods: list[str], period: Any,
                    period_name: str) -> Figure:
    table: dict[str, Counter[str]] = {}
    for g in groups:
        table.setdefault(status_class(g.record_type, g.status), Counter())[period(g.hour)] += g.n
    series = {k: [table[k][p] for p in periods] for k in sorted(table)}
    total = Counter({k: sum(v) for k, v in series.items()})
    parts = ", ".join(f"{k}: {n:,}" for k, n in total.most_common())
    return Figure("status_classes", f"HTTP status classes per {period_name}", "stacked",
                  periods, series, f"Captures by HTTP status class: {parts}." if parts
                  else "No captures yet.", period_name, "captures")


def _mimes(groups: list[Group], periods: list[str], period: Any,
           period_name: str) -> Figure:
    overall: Counter[str] = Counter()
    for g in groups:
        overall[g.mime] += g.n
    top = [m for m, _ in sorted(overall.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_MIMES]]
    table: dict[str, Counter[str]] = {}
    for g in groups:
        key = g.mime if g.mime in top else "other"
        table.setdefault(key, Counter())[period(g.hour)] += g.n
    series = {k: [table[k][p] for p in periods] for k in [*top, "other"] if k in table}
    lead = ", ".join(f"{m} ({overall[m]:,})" for m in top[:3])
    return Figure("mime_types", f"MIME types per {period_name}", "stacked", periods, series,
                  f"The most captured types: {lead}." if lead else "No captures yet.",
                  period_name, "captures")


def _mime(value: Any) -> str:
    return str(value).split(";")[0].strip().lower() if value else "none"


def _revisits(groups: list[Group], periods: list[str], period: Any,
              period_name: str) -> Figure:
    new: Counter[str] = Counter()
    revisit: Counter[str] = Counter()
    for g in groups:
        (revisit if g.record_type == "revisit" else new)[period(g.hour)] += g.n
    total_new, total_revisit = sum(new.values()), sum(revisit.values())
    share = f"{100 * total_revisit / (total_new + total_revisit):.1f}" if groups else "0"
    return Figure("revisits", f"New payloads and revisits per {period_name}", "stacked",
                  periods, {"new payload": [new[p] for p in periods],
                            "revisit": [revisit[p] for p in periods]},
                  f"{total_new:,} captures stored a new payload and {total_revisit:,} were "
                  f"revisits of an unchanged one ({share}% revisits).", period_name, "captures")


def _top(name: str, title: str, what: str, counts: Counter[str], unit: str) -> Figure:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown, rest = ranked[:TOP], ranked[TOP:]
    x = [str(k) for k, _ in shown]
    values = [v for _, v in shown]
    if rest:
        x.append(f"{len(rest)} others")
        values.append(sum(v for _, v in rest))
    sentence = (f"{_plural(len(counts), what)} in all; the first is {x[0]} with "
                f"{values[0]:,} {unit}." if x else f"No {what} is recorded.")
    return Figure(name, title, "barh", x, {unit: values}, sentence, what, unit)


def _authors(latest: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in latest:
        try:
            names = json.loads(row["authors"]) if row["authors"] else []
        except ValueError:
            names = []
        for name in names if isinstance(names, list) else []:
            counts[str(name)] += 1
    return counts


def _publication(latest: list[dict[str, Any]], first_capture: dict[str, str]
                 ) -> list[Figure]:
    published: Counter[str] = Counter()
    captured: Counter[str] = Counter()
    lags: Counter[str] = Counter()
    undated = 0
    for row in latest:
        when = first_capture.get(row["id"]) or row["captured_at"] or ""
        if when:
            captured[when[:7]] += 1
        date = publication_date({"published_at": row["published_at"]})
        if date is None:
            undated += 1
            continue
        published[date[:7]] += 1
        lags[_lag_bucket(date, when)] += 1
    months = sorted(set(published) | set(captured))
    figure = Figure(
        "publication_vs_capture", "Articles per publication month and capture month",
        "grouped", months, {"published": [published[m] for m in months],
                            "captured": [captured[m] for m in months]},
        f"{len(latest) - undated:,} articles state a publication date and {undated:,} do not "
        "(undated articles count only by capture month).", "month", "articles")
    names = [b for b, _ in LAG_BUCKETS] + ["undated"]
    lag = Figure("publish_to_capture_lag", "Time from publication to first capture", "bar",
                 names, {"articles": [lags[b] for b in names[:-1]] + [undated]},
                 _lag_sentence(lags, undated), "lag", "articles")
    return [figure, lag]


def _lag_bucket(published: str, captured: str) -> str:
    try:
        p = datetime.fromisoformat(published.replace("Z", "+00:00"))
        c = datetime.fromisoformat(captured.replace("Z", "+00:00"))
        if p.tzinfo is None:
            p = p.replace(tzinfo=UTC)
        days = (c - p).total_seconds() / 86400
    except ValueError:
        return "over a year"
    for name, limit in LAG_BUCKETS:
        if limit is None or days < limit:
            return name
    return LAG_BUCKETS[-1][0]


def _lag_sentence(lags: Counter[str], undated: int) -> str:
    dated = sum(lags.values())
    if not dated:
        return f"No article states a publication date ({undated:,} undated)."
    fast = lags["same day"]
    return (f"{fast:,} of {dated:,} dated articles ({100 * fast / dated:.0f}%) were first "
            "captured within a day of publication.")


def _warc_bytes(conn: Any, chain: Chain) -> list[Figure]:
    per_month: Counter[str] = Counter()
    for path, size, seq in conn.execute(
            "SELECT path, size, seq FROM files WHERE path LIKE 'warcs/%'"):
        per_month[_month(chain.at(int(seq)), str(path))] += int(size or 0)
    months = sorted(per_month)
    values = [per_month[m] for m in months]
    running, growth = 0, []
    for v in values:
        running += v
        growth.append(running)
    total = running
    return [
        Figure("warc_bytes_per_month", "WARC bytes per month", "bar", months,
               {"bytes": values}, f"{total:,} bytes of WARC in {len(months)} months.",
               "month", "bytes"),
        Figure("growth", "Archive growth (WARC bytes, cumulative)", "line", months,
               {"bytes": growth}, f"The archive's WARC files reached {total:,} bytes"
               + (f" by {months[-1]}." if months else "."), "month", "bytes"),
    ]


def _month(at: str | None, path: str) -> str:
    if at:
        return at[:7]
    parts = path.split("/")  # warcs/YYYY/MM/...
    return f"{parts[1]}-{parts[2]}" if len(parts) > 3 else "unknown"


def fixity_coverage(conn: Any, chain: Chain, now: datetime) -> Figure:
    """Files by time since their sha256 was last confirmed: by a recorded audit that found
    them right, else only when it was first computed (the file was stored or sealed)."""
    audits = [a for a in chain.audits if a["status"] == "success" or a["failed"]]
    audited: Counter[str] = Counter()
    stored_only: Counter[str] = Counter()
    for path, seq in conn.execute("SELECT path, seq FROM files"):
        verified = None
        for audit in reversed(audits):
            if audit["seq"] > seq and path not in audit["failed"]:
                verified = audit["at"]
                break
        if verified is not None:
            audited[_age_bucket(verified, now)] += 1
        else:
            stored_only[_age_bucket(chain.at(int(seq)) or "", now)] += 1
    names = [b for b, _ in AGE_BUCKETS]
    total_audited, total = sum(audited.values()), sum(audited.values()) + sum(stored_only.values())
    sentence = (f"{total_audited:,} of {total:,} files were confirmed by a recorded audit; "
                "the others only when they were stored." if total else "No files yet.")
    return Figure("fixity_coverage", "Files by time since their digest was last confirmed",
                  "stacked", names, {"by a recorded audit": [audited[n] for n in names],
                                     "when stored only": [stored_only[n] for n in names]},
                  sentence, "since last confirmed", "files")


def _age_bucket(at: str, now: datetime) -> str:
    try:
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        days = (now - when).total_seconds() / 86400
    except ValueError:
        return AGE_BUCKETS[-1][0]
    for name, limit in AGE_BUCKETS:
        if limit is None or days < limit:
            return name
    return AGE_BUCKETS[-1][0]


def copies_per_file(conn: Any, chain: Chain) -> Figure:
    """Files by how many replicas hold a good copy: a replica holds the files named up to
    the highest head a successful replication copied there (replicate verifies each file's
    sha256 at the destination before it counts it)."""
    heads = [h for h in chain.replicas.values() if h is not None]
    counts: Counter[int] = Counter()
    for (seq,) in conn.execute("SELECT seq FROM files"):
        counts[sum(1 for h in heads if h >= seq)] += 1
    x = list(range(len(chain.replicas) + 1))
    values = [counts[n] for n in x]
    none = counts[0]
    total = sum(values)
    return Figure("copies_per_file", "Files by number of good copies elsewhere", "bar",
                  [str(n) for n in x], {"files": values},
                  f"{total - none:,} of {total:,} files have at least one verified copy on "
                  f"{_plural(len(chain.replicas), 'replica')}; {none:,} have none yet.",
                  "copies", "files")
