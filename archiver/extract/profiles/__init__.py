"""Site profiles: which extractor handles which page.

HTML pages go to the first profile whose `matches(url)` is true, else to the generic
profile; `text/plain` documents go to the transcript profile.
"""

from __future__ import annotations

from archiver.extract.fields import Fields, Page
from archiver.extract.generic import GENERIC, generic_publisher, run
from archiver.extract.profiles import vov


def extract_html(page: Page) -> Fields | str:
    """The article from an HTML page, or the reason it is not one."""
    if vov.matches(page.url):
        return vov.extract(page)
    fields = Fields(profile=GENERIC.name, url=page.url)
    fields.evidence["url"] = "WARC-Target-URI"
    reason = run(GENERIC, page, fields)
    if reason:
        return reason
    generic_publisher(page, fields)
    return fields
