"""The provenance summary of a browser capture: one HTML page a person can read in any
browser, stored as the capture's last attachment (after Scoop's provenance-summary.html).

It states what the records already prove, in one place: URL, time, addresses, software and
the executable's digest, viewport and user agent, each step with its time and outcome,
refused requests, certificates, and the digest of every record written before it. Its own
manifest seq cannot be in it: the manifest entry names this record's sha256, so the seq is
only known after the record is fixed; `archiver show` gives it.
"""

from __future__ import annotations

from html import escape
from typing import Any


def _table(rows: list[list[Any]], head: list[str]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render(facts: dict[str, Any]) -> bytes:
    """`facts`: url, final_url, captured_at, ips, software, browser, viewport, user_agent,
    steps, partial, blocked, tls, records (id, type, uri, digest)."""
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>Provenance of {escape(facts['url'])}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;font-size:90%;text-align:left}</style>",
        "</head><body>",
        f"<h1>Provenance summary</h1><p>Captured <b>{escape(facts['url'])}</b>",
    ]
    if facts.get("final_url") and facts["final_url"] != facts["url"]:
        parts.append(f" (final URL {escape(facts['final_url'])})")
    parts.append(f" at {escape(facts['captured_at'])}.</p>")
    if facts.get("partial"):
        parts.append("<p><b>PARTIAL</b>: timed out: " + escape(", ".join(facts["partial"]))
                     + "</p>")
    browser = facts.get("browser", {})
    exe = browser.get("executable", {})
    parts.append(_table([
        ["page IP addresses", ", ".join(facts.get("ips", []))],
        ["software", facts.get("software", "")],
        ["Playwright", browser.get("playwright", "")],
        ["Chromium", browser.get("chromium", "")],
        ["executable", f"{exe.get('path', '')} sha256 {exe.get('sha256', '')}"],
        ["browser binary", f"{exe.get('binary', '')} sha256 {exe.get('binary_sha256', '')}"],
        ["viewport", facts.get("viewport", "")],
        ["user agent", facts.get("user_agent", "")],
        ["manifest seq", "in the capture entry naming this record (archiver show)"],
    ], ["fact", "value"]))
    parts.append("<h2>Steps</h2>")
    parts.append(_table([[s["name"], s.get("started_at", ""), s.get("seconds", ""),
                          s["outcome"], s.get("detail", "")] for s in facts.get("steps", [])],
                        ["step", "started", "seconds", "outcome", "detail"]))
    parts.append("<h2>Requests refused</h2>")
    parts.append(_table([[b["url"], b.get("by", ""), b["reason"]]
                         for b in facts.get("blocked", [])],
                        ["URL", "asked by", "why"]))
    parts.append("<h2>TLS</h2>")
    rows = []
    for origin in facts.get("tls", []):
        for cert in origin["certificates"]:
            rows.append([f"{origin['host']}:{origin['port']}", origin["version"],
                         origin["cipher"], origin["validation"], cert["subject"],
                         cert["issuer"], cert["not_before"], cert["not_after"]])
    parts.append(_table(rows, ["origin", "protocol", "cipher", "validation", "subject",
                               "issuer", "not before", "not after"]))
    parts.append("<h2>Records</h2>")
    parts.append(_table([[r["type"], r["uri"], r["id"], r["digest"]]
                         for r in facts.get("records", [])],
                        ["type", "URI", "record id", "digest"]))
    parts.append("</body></html>\n")
    return "".join(parts).encode("utf-8")
