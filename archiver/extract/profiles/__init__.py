"""Site profiles: which extractor handles which page.

HTML pages go to the first profile whose `matches(url)` is true for the record's URL or
for the URL the page declares as its own (canonical link / og:url: a vov.vn page saved or
served elsewhere is still a vov.vn page), else to the generic profile; `text/plain`
documents go to the transcript profile.
"""

from __future__ import annotations

from archiver.extract.fields import Fields, Page
from archiver.extract.generic import GENERIC, generic_publisher, run
from archiver.extract.profiles import vov


def extract_html(page: Page) -> Fields | str:
    """The article from an HTML page, or the reason it is not one."""
    declared = vov.declared_url(page)
    if vov.matches(page.url) or (declared and vov.matches(declared)):
        return vov.extract(page)
    fields = Fields(profile=GENERIC.name, url=page.url)
    fields.evidence["url"] = "WARC-Target-URI"
    reason = run(GENERIC, page, fields)
    if reason:
        return reason
    generic_publisher(page, fields)
    return fields
