"""vov.vn (Đài Tiếng nói Việt Nam) article pages: the current Drupal template and the
pre-2021 one.

Selectors follow what public scrapers of the site use, each with fallbacks; JSON-LD and
OpenGraph are used when present but never required. The article id is the post number of
`post(\\d+)\\.vov`, so every capture of one story gets the same id. Publisher and the
default language are profile facts (vov.vn is VOV's Vietnamese-language site) and their
evidence says so.
"""

from __future__ import annotations

import re

from archiver.extract.fields import Fields, Page, host_of
from archiver.extract.generic import Selectors, run
from archiver.extract.structured import link_href

NAME = "vov"
HOSTS = frozenset({"vov.vn", "www.vov.vn", "m.vov.vn"})
PUBLISHER = {"name": "VOV", "domain": "vov.vn"}
POST_ID = re.compile(r"post(\d+)\.vov")
BYLINES = ("div.article-author a", "div.article-author", "p.article__author.cms-author",
           "p.article__author", ".cms-author")

SELECTORS = Selectors(
    name=NAME,
    title=("h1.article-title", "h1.article__title", "h1.cms-title", "ld:headline",
           "meta:og:title"),
    lead=("div.article-summary", "div.article__sapo", ".sapo", "ld:description",
          "meta:og:description", "meta:description"),
    body=("div.row.article-content div.text-long", "div.article-content div.text-long",
          "div.text-long", ".detail--normal", "div.cms-body"),
    paragraphs=("p", "h2", "h3", "h4"),
    not_body=("figure", "figcaption", "table.image", ".caption", *BYLINES,
              "div.article-summary", "div.article__sapo"),
    boxes=(".field-related-article", ".related-news", ".box-related", ".article-related",
           ".article__related"),
    images=("figure.gallery-embed img", "figure img", "table.image img"),
    captions=("figcaption", ".caption", "td.caption", ".image-caption"),
    byline=(*BYLINES, "ld:author"),
    published=("ld:datePublished", "meta:article:published_time",
               "div.article-date div.col-md-4", "div.article-date", ".article__meta time",
               ".cms-date", "time[datetime]"),
    modified=("ld:dateModified", "meta:article:modified_time", "meta:og:updated_time"),
    section=("li.breadcrumb-item-first a", "meta:article:section", "ld:articleSection",
             ".article__breadcrumb a", "ol.breadcrumb li a"),
    tags=("meta:article:tag", "ld:keywords", "div.article-tag a", ".article__tag a",
          ".tags a"),
    lead_prefix=re.compile(r"^VOV\.VN\s*[-–—:]\s*"),
    # A staff news brief can be one short paragraph; the template itself says "article".
    min_body_chars=20,
)


def matches(url: str) -> bool:
    return host_of(url) in HOSTS


def declared_url(page: Page) -> str | None:
    """The page's own canonical URL (link rel=canonical, else og:url), unresolved."""
    return link_href(page.root, "canonical") or page.structured.first("og:url")


def post_id(url: str | None) -> str | None:
    match = POST_ID.search(url or "")
    return f"vov-{match.group(1)}" if match else None


def set_identity(fields: Fields, url_how: str, host_how: str = "URL host is vov.vn") -> None:
    """Id, publisher and default language: shared with transcripts of vov.vn stories."""
    article_id = post_id(fields.url)
    if article_id:
        fields.put("id", article_id, f"{url_how}: post number of post(\\d+)\\.vov")
    fields.publisher = dict(PUBLISHER)
    fields.evidence["publisher"] = f"profile vov: {host_how}"
    if fields.missing("language"):
        fields.put("language", "vi", "profile vov default: vov.vn publishes in Vietnamese")


def extract(page: Page) -> Fields | str:
    """The article, or the reason the page is not one (listing and section pages)."""
    fields = Fields(profile=NAME, url=page.url)
    fields.evidence["url"] = "WARC-Target-URI"
    reason = run(SELECTORS, page, fields)
    if reason:
        hint = "" if post_id(page.url) else " (vov.vn page without a post number: listing?)"
        return reason + hint
    host_how = "URL host is vov.vn" if matches(page.url) else \
        "page's canonical URL host is vov.vn (copy served from another host)"
    set_identity(fields, "URL", host_how)
    if fields.missing("id") and fields.canonical_url:
        article_id = post_id(fields.canonical_url)
        fields.put("id", article_id, "canonical URL: post number of post(\\d+)\\.vov")
    return fields
