"""Plain-text transcripts, like the seed document (seeds/000_0fe3eec24f29bb98.txt).

Layout: paragraphs one per line (blank lines ignored); the first is the lead, the rest the
body; a credit line before the URL is the byline (e.g. `PV/VOV.VN`); the last line, when it
is an http(s) URL, is the article's URL. The lines come back verbatim: only NFC and
whitespace normalisation apply, and the article records whether either changed anything.

Title: always null. A transcript has no title line, and the URL slug
(`can-lam-cho-the-gioi-hieu-ro-hon-...`) has lost its diacritics, so a title made from it
would be text the source never printed; an archive should not invent it. The slug stays
available in `url` for anyone who wants it.
"""

from __future__ import annotations

import re

from archiver.extract import byline as bylines
from archiver.extract.fields import Fields, host_of
from archiver.extract.generic import MAX_CREDIT_CHARS
from archiver.extract.profiles import vov
from archiver.extract.text import Normalizer

NAME = "transcript"
_URL_LINE = re.compile(r"^https?://\S+$")


def extract(text: str, source_url: str, norm: Normalizer) -> Fields | str:
    lines = [line for line in (norm.clean(raw) for raw in text.splitlines()) if line]
    if not lines:
        return "empty text document"
    url, url_how = source_url, "WARC-Target-URI"
    if len(lines) > 1 and _URL_LINE.match(lines[-1]):
        url, url_how = lines.pop(), "transcript: last line"
    fields = Fields(profile=NAME, url=url)
    fields.evidence["url"] = url_how
    if len(lines) > 1 and len(lines[-1]) <= MAX_CREDIT_CHARS:
        credit = bylines.parse(lines[-1])
        if bylines.is_recognised(credit):
            lines.pop()
            fields.put("byline", credit, "transcript: line before the URL")
    if len(lines) > 1:
        fields.put("lead", lines[0], "transcript: first paragraph")
        fields.put("body", lines[1:], "transcript: paragraphs after the first")
    else:
        fields.put("body", lines, "transcript: the only paragraph")
    _identity(fields, url_how)
    return fields


def _identity(fields: Fields, url_how: str) -> None:
    if vov.matches(fields.url):
        vov.set_identity(fields, f"URL ({url_how})")
        return
    domain = host_of(fields.url).removeprefix("www.") or None
    fields.publisher = {"name": None, "domain": domain}
    if domain:
        fields.evidence["publisher"] = f"domain: host of URL ({url_how})"
