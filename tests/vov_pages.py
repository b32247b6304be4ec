"""SYNTHETIC vov.vn-template pages for tests and benchmarks (no real page is reproduced).

`render(spec)` writes one page in the current (Drupal) or the pre-2021 template, as public
scrapers describe them; `SPECS` are the checked-in fixtures under tests/fixtures/vov/ (the
spec is also the ground truth for per-field accuracy: `expected(spec)`); `generate(n)`
makes n varied pages for speed runs.

Regenerate the fixture files after changing a spec:  python tests/vov_pages.py --write
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import sys
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "vov"
SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_0fe3eec24f29bb98.txt"
MEDIA = "https://media.vov.vn/sites/default/files/styles/large/public/"
COMMENT = ("<!-- SYNTHETIC fixture for archiver tests: built by tests/vov_pages.py on the "
           "layout of the vov.vn article template as public scrapers describe it. No real "
           "page is reproduced; text other than the seed document is invented. -->")

SECTION_SLUGS = {"Chính trị": "chinh-tri", "Xã hội": "xa-hoi", "Thế giới": "the-gioi",
                 "Kinh tế": "kinh-te", "Văn hóa": "van-hoa", "Thể thao": "the-thao"}


@dataclass(frozen=True)
class PageSpec:
    name: str
    post: int
    slug: str
    title: str
    lead: str
    body: tuple[str, ...]
    section: str
    date_line: str                        # visible, e.g. "Thứ Năm, 11:20, 07/12/2023 |"
    published: str                        # the truth, RFC 3339
    byline: str | None = "PV/VOV.VN"      # div.article-author text; None: no byline element
    byline_links: tuple[str, ...] = ()    # several <a> inside div.article-author
    credit: str | None = None             # last body paragraph, e.g. "Theo TTXVN"
    modified: str | None = None
    tags: tuple[str, ...] = ()
    images: tuple[tuple[str, str | None], ...] = ()
    jsonld: bool = True
    opengraph: bool = True
    template: str = "current"             # "current" or "old" (pre-2021)
    nfd: bool = False                     # serve every text in Unicode NFD
    related: bool = True                  # a "Tin liên quan" box inside the content
    lead_prefix: str = "VOV.VN - "
    nbsp: bool = False                    # &nbsp; and odd spacing inside paragraphs
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"https://vov.vn/{SECTION_SLUGS[self.section]}/{self.slug}-post{self.post}.vov"


def seed_paragraphs() -> list[str]:
    return SEED.read_text(encoding="utf-8").split("\n")


def _t(spec: PageSpec, text: str) -> str:
    """HTML-escaped text, in NFD when the spec asks for it."""
    if spec.nfd:
        text = unicodedata.normalize("NFD", text)
    escaped = html.escape(text, quote=False)
    return escaped.replace(" ", "&nbsp;", 1) if spec.nbsp else escaped


def _a(spec: PageSpec, text: str) -> str:
    return html.escape(unicodedata.normalize("NFD", text) if spec.nfd else text, quote=True)


def _head(spec: PageSpec) -> list[str]:
    out = ['<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{_t(spec, spec.title)} | VOV.VN</title>",
           f'<link rel="canonical" href="{spec.url}">',
           '<link rel="stylesheet" href="/themes/vov/css/style.css">',
           "<style>.article-title{font-size:28px} p:before{content:'không phải văn bản'}</style>",
           "<script>window.dataLayer=[];var qc='<p>Quảng cáo trong script</p>';</script>"]
    if spec.opengraph:
        first_image = spec.images[0][0] if spec.images else None
        metas = [("og:type", "article"), ("og:site_name", "VOV.VN"), ("og:title", spec.title),
                 ("og:description", spec.lead), ("og:url", spec.url)]
        if first_image:
            metas.append(("og:image", first_image))
        metas += [("article:published_time", spec.published), ("article:section", spec.section)]
        if spec.modified:
            metas.append(("article:modified_time", spec.modified))
        metas += [("article:tag", tag) for tag in spec.tags]
        out += [f'<meta property="{key}" content="{_a(spec, value)}">' for key, value in metas]
        out.append(f'<meta name="description" content="{_a(spec, spec.lead)}">')
    if spec.jsonld:
        out.append('<script type="application/ld+json">' + json.dumps(_jsonld(spec),
                   ensure_ascii=False, indent=1) + "</script>")
    return out


def _jsonld(spec: PageSpec) -> dict[str, object]:
    def t(s: str) -> str:
        return unicodedata.normalize("NFD", s) if spec.nfd else s
    doc: dict[str, object] = {
        "@context": "https://schema.org", "@type": "NewsArticle",
        "mainEntityOfPage": {"@type": "WebPage", "@id": spec.url},
        "headline": t(spec.title), "description": t(spec.lead),
        "datePublished": spec.published, "articleSection": t(spec.section),
        "publisher": {"@type": "Organization", "name": "VOV.VN",
                      "logo": {"@type": "ImageObject", "url": "https://vov.vn/logo.png"}},
    }
    if spec.modified:
        doc["dateModified"] = spec.modified
    if spec.images:
        doc["image"] = [url for url, _ in spec.images]
    if spec.byline:
        doc["author"] = {"@type": "Person", "name": t(spec.byline)}
    if spec.tags:
        doc["keywords"] = ", ".join(t(tag) for tag in spec.tags)
    return {"@context": "https://schema.org", "@graph": [
        {"@type": "BreadcrumbList", "itemListElement": []}, doc]}


def _menu(spec: PageSpec) -> str:
    items = "".join(f'<li><a href="/{slug}/">{_t(spec, name)}</a></li>'
                    for name, slug in SECTION_SLUGS.items())
    return (f'<header class="site-header"><nav class="main-menu"><ul><li><a href="/">'
            f"{_t(spec, 'Trang chủ')}</a></li>{items}</ul></nav>"
            '<div class="banner-top"><a href="https://qc.example/"><img src="/qc/top.gif" '
            'alt="Quảng cáo"></a></div></header>')


def _figure(spec: PageSpec, url: str, caption: str | None) -> str:
    cap = f"<figcaption>{_t(spec, caption)}</figcaption>" if caption else ""
    if spec.template == "old":
        cap_row = f'<tr><td class="caption"><p>{_t(spec, caption)}</p></td></tr>' if caption else ""
        return (f'<table class="image center"><tbody><tr><td><img src="{url}" '
                f'alt=""></td></tr>{cap_row}</tbody></table>')
    return (f'<figure class="gallery-embed"><img class="lazy" src="data:image/gif;base64,R0lGOD'
            f'lhAQABAAAAACw=" data-src="{url}" alt="">{cap}</figure>')


def _related(spec: PageSpec) -> str:
    return ('<div class="field-related-article"><div class="related-title">'
            f"{_t(spec, 'Tin liên quan')}</div><ul>"
            f'<li><a href="/xa-hoi/tin-khac-post999001.vov">{_t(spec, "Một tin liên quan khác")}'
            f"</a><p>{_t(spec, 'Tóm tắt của tin liên quan, không thuộc bài này.')}</p></li>"
            "</ul></div>")


def _body(spec: PageSpec) -> list[str]:
    paragraphs = [f"<p>{_t(spec, text)}</p>" for text in spec.body]
    blocks = list(paragraphs)
    for index, (url, caption) in enumerate(spec.images):
        blocks.insert(min(1 + index * 2, len(blocks)), _figure(spec, url, caption))
    if spec.related and len(blocks) > 3:
        blocks.insert(len(blocks) - 2, _related(spec))
    blocks.insert(min(2, len(blocks)), '<div class="ads-inarticle"><p>Quảng cáo</p>'
                  '<script>document.write("<p>ad</p>")</script></div>')
    if spec.credit:
        blocks.append(f"<p><em>{_t(spec, spec.credit)}</em></p>")
    return blocks


def _author(spec: PageSpec) -> str:
    if spec.byline_links:
        links = " - ".join(f'<a href="/tac-gia/{i}">{_t(spec, name)}</a>'
                           for i, name in enumerate(spec.byline_links))
        return f'<div class="article-author">{links}/VOV.VN</div>'
    if spec.byline is None:
        return ""
    return f'<div class="article-author"><a href="/tac-gia/pv">{_t(spec, spec.byline)}</a></div>'


def _tags(spec: PageSpec) -> str:
    links = "".join(f'<a href="/tag/{i}">{_t(spec, tag)}</a>' for i, tag in enumerate(spec.tags))
    return f'<div class="article-tag"><span>Từ khóa:</span>{links}</div>' if spec.tags else ""


def _current(spec: PageSpec) -> list[str]:
    slug = SECTION_SLUGS[spec.section]
    return [
        '<div class="container main-content">',
        '<nav aria-label="breadcrumb"><ol class="breadcrumb">'
        f'<li class="breadcrumb-item breadcrumb-item-first"><a href="/{slug}/">'
        f"{_t(spec, spec.section)}</a></li></ol></nav>",
        '<div class="article-date"><div class="row"><div class="col-md-4">'
        f"{_t(spec, spec.date_line)}</div>"
        '<div class="col-md-8 share-toolbar"><a href="#">Chia sẻ</a></div></div></div>',
        f'<h1 class="article-title">{_t(spec, spec.title)}</h1>',
        f'<div class="article-summary">{_t(spec, spec.lead_prefix + spec.lead)}</div>',
        '<div class="row article-content"><div class="col-md-12 text-long">',
        *_body(spec),
        "</div></div>",
        _author(spec),
        _tags(spec),
        "</div>",
    ]


def _old(spec: PageSpec) -> list[str]:
    slug = SECTION_SLUGS[spec.section]
    author = (f'<p class="article__author cms-author">{_t(spec, spec.byline)}</p>'
              if spec.byline else "")
    return [
        '<div class="article">',
        f'<div class="article__breadcrumb"><a href="/{slug}/">{_t(spec, spec.section)}</a></div>',
        f'<h1 class="article__title cms-title">{_t(spec, spec.title)}</h1>',
        f'<div class="article__meta"><time>{_t(spec, spec.date_line)}</time></div>',
        f'<div class="article__sapo cms-desc">{_t(spec, spec.lead_prefix + spec.lead)}</div>',
        '<div class="article__body cms-body">',
        *_body(spec),
        author,
        "</div>",
        _tags(spec).replace("article-tag", "article__tag"),
        "</div>",
    ]


def render(spec: PageSpec) -> bytes:
    main = _current(spec) if spec.template == "current" else _old(spec)
    lines = ["<!DOCTYPE html>", COMMENT, '<html lang="vi">', "<head>", *_head(spec), "</head>",
             "<body>", _menu(spec), *main,
             '<aside class="sidebar"><div class="box-most-read"><h3>Đọc nhiều</h3><p>'
             "Tin đọc nhiều trong ngày</p></div></aside>",
             '<footer class="site-footer"><p>© Đài Tiếng nói Việt Nam (SYNTHETIC)</p></footer>',
             "</body>", "</html>", ""]
    return "\n".join(line for line in lines if line).encode("utf-8")


def render_listing() -> bytes:
    teasers = "".join(
        f'<article class="story"><h3><a href="/chinh-tri/tin-{i}-post{1070000 + i}.vov">'
        f"Tin chính trị số {i}</a></h3><p>Tóm tắt ngắn của tin số {i}.</p></article>"
        for i in range(12))
    return ("<!DOCTYPE html>\n" + COMMENT + '\n<html lang="vi"><head><meta charset="utf-8">'
            "<title>Chính trị | VOV.VN</title></head><body>"
            f'<div class="container"><h1 class="page-title">Chính trị</h1>{teasers}</div>'
            "</body></html>\n").encode("utf-8")


# --- the checked-in fixtures (and their ground truth) ----------------------------------------

_SEED = seed_paragraphs()
_IMG = MEDIA + "2023_12/hoi-nghi-tap-huan.jpg"

SPECS: tuple[PageSpec, ...] = (
    PageSpec(
        name="article-seed", post=1064050,
        slug="can-lam-cho-the-gioi-hieu-ro-hon-ve-quyen-con-nguoi-o-viet-nam",
        title="Cần làm cho thế giới hiểu rõ hơn về quyền con người ở Việt Nam",
        lead=_SEED[0], body=tuple(_SEED[1:-2]), section="Chính trị",
        date_line="Thứ Năm, 11:20, 07/12/2023 |", published="2023-12-07T11:20:00+07:00",
        modified="2023-12-07T14:05:00+07:00", byline=_SEED[-2],
        tags=("quyền con người", "thông tin đối ngoại", "Hòa Bình"),
        images=((_IMG, "Quang cảnh hội nghị tập huấn (ảnh minh họa, SYNTHETIC)"),)),
    PageSpec(
        name="compiled-th", post=1201001, slug="ha-noi-don-dot-khong-khi-lanh-moi",
        title="Hà Nội đón đợt không khí lạnh mới, nhiệt độ giảm sâu",
        lead="Từ đêm nay, không khí lạnh tăng cường khiến nhiệt độ tại Hà Nội giảm mạnh.",
        body=("Theo cơ quan khí tượng, nhiệt độ thấp nhất tại Hà Nội có thể xuống 12 độ C.",
              "Người dân được khuyến cáo giữ ấm cho trẻ nhỏ và người cao tuổi.",
              "Ở vùng núi phía Bắc có nơi rét đậm, rét hại, cần đề phòng băng giá.",
              "Các địa phương đã chủ động phương án bảo vệ gia súc và cây trồng."),
        section="Xã hội", date_line="Thứ Ba, 22:35, 26/08/2025 |",
        published="2025-08-26T22:35:00+07:00", byline="Minh Hòa/VOV.VN (t/h)", jsonld=False,
        images=((MEDIA + "2025_08/khong-khi-lanh.jpg", "Người dân ra đường trong giá rét"),
                (MEDIA + "2025_08/ban-do-nhiet-do.png", None))),
    PageSpec(
        name="two-authors", post=1202002, slug="hoi-cho-nong-san-mien-tay",
        title="Hội chợ nông sản miền Tây thu hút hàng nghìn lượt khách",
        lead="Hội chợ kéo dài 5 ngày với hơn 200 gian hàng của các tỉnh đồng bằng.",
        body=("Nhiều sản phẩm OCOP lần đầu được giới thiệu tới người tiêu dùng thành phố.",
              "Ban tổ chức cho biết doanh thu ngày đầu đạt khoảng 3 tỷ đồng.",
              "Hội chợ mở cửa từ 8 giờ sáng đến 22 giờ hằng ngày."),
        section="Kinh tế", date_line="Chủ Nhật, 09:05, 03/03/2024 |",
        published="2024-03-03T09:05:00+07:00", byline="Hà Anh - Minh Thu/VOV.VN",
        byline_links=("Hà Anh", "Minh Thu"), opengraph=False, related=False,
        tags=("hội chợ", "nông sản")),
    PageSpec(
        name="theo-ttxvn", post=1203003, slug="gia-xang-dau-dieu-chinh-ky-nay",
        title="Giá xăng dầu được điều chỉnh trong kỳ này",
        lead="Liên Bộ Công Thương - Tài chính vừa công bố giá bán lẻ xăng dầu mới.",
        body=("Giá xăng sinh học E5 RON92 giảm 210 đồng mỗi lít.",
              "Giá dầu diesel tăng nhẹ 50 đồng mỗi lít so với kỳ trước.",
              "Quỹ bình ổn giá tiếp tục không được trích lập và không chi sử dụng.",
              "Giá mới áp dụng từ 15 giờ chiều cùng ngày."),
        section="Kinh tế", date_line="Thứ Năm, 15:10, 11/04/2024 |",
        published="2024-04-11T15:10:00+07:00", byline=None, credit="Theo TTXVN"),
    PageSpec(
        name="regional", post=1204004, slug="mua-lu-gay-sat-lo-tai-son-la",
        title="Mưa lũ gây sạt lở nhiều tuyến đường tại Sơn La",
        lead="Mưa lớn kéo dài khiến nhiều tuyến đường liên xã bị chia cắt.",
        body=("Lực lượng chức năng đã  huy động máy móc khắc phục các điểm sạt lở.",
              "Chưa có thiệt hại về người, nhiều hộ dân đã được di dời đến nơi an toàn.",
              "Chính quyền địa phương tiếp tục theo dõi diễn biến thời tiết."),
        section="Xã hội", date_line="Thứ Hai, 06:45, 15/07/2024 |",
        published="2024-07-15T06:45:00+07:00", byline="PV/VOV-Tây Bắc", nbsp=True,
        related=False, images=((MEDIA + "2024_07/sat-lo.jpg", "Điểm sạt lở trên tỉnh lộ"),)),
    PageSpec(
        name="no-structured", post=1205005, slug="giai-chay-vi-tre-em-ngheo",
        title="Giải chạy vì trẻ em nghèo thu hút 5.000 vận động viên",
        lead="Giải chạy năm nay quyên góp được hơn 2 tỷ đồng cho trẻ em vùng khó khăn.",
        body=("Các vận động viên tham gia ba cự ly 5 km, 10 km và 21 km.",
              "Toàn bộ số tiền sẽ được dùng để xây điểm trường ở các tỉnh miền núi.",
              "Ban tổ chức dự kiến tổ chức giải lần tiếp theo vào mùa thu."),
        section="Thể thao", date_line="Chủ Nhật, 07:05, 01/01/2023 |",
        published="2023-01-01T07:05:00+07:00", byline="Nhóm PV/VOV.VN", jsonld=False,
        opengraph=False, lead_prefix="VOV.VN -"),
    PageSpec(
        name="nfd", post=1206006, slug="le-hoi-van-hoa-cac-dan-toc",
        title="Lễ hội văn hóa các dân tộc miền Trung khai mạc",
        lead="Lễ hội quy tụ nghệ nhân của 14 dân tộc với nhiều hoạt động đặc sắc.",
        body=("Du khách được trải nghiệm dệt thổ cẩm, làm gốm và ẩm thực truyền thống.",
              "Đêm khai mạc có chương trình nghệ thuật với sự tham gia của hơn 300 diễn viên.",
              "Lễ hội diễn ra đến hết tuần, vào cửa tự do."),
        section="Văn hóa", date_line="Thứ Sáu, 19:30, 20/09/2024 |",
        published="2024-09-20T19:30:00+07:00", modified="2024-09-21T08:00:00+07:00",
        byline="Trần Trung/VOV Miền Trung", nfd=True, tags=("lễ hội", "văn hóa dân tộc")),
    PageSpec(
        name="old-template", post=830007, slug="khanh-thanh-cau-vuot-song-hau",
        title="Khánh thành cầu vượt sông Hậu sau hai năm thi công",
        lead="Cây cầu rút ngắn thời gian di chuyển giữa hai tỉnh xuống còn 15 phút.",
        body=("Tổng vốn đầu tư của dự án khoảng 1.500 tỷ đồng.",
              "Cầu dài gần 2 km, thiết kế 4 làn xe cơ giới.",
              "Trước đây người dân phải qua phà, mất hơn một giờ mỗi lượt.",
              "Lãnh đạo tỉnh đề nghị đơn vị quản lý bảo đảm an toàn giao thông."),
        section="Xã hội", date_line="Thứ Bảy, 10:15, 12/10/2019 |",
        published="2019-10-12T10:15:00+07:00", byline="Minh Trí/VOV-ĐBSCL", template="old",
        jsonld=False, opengraph=False,
        images=((MEDIA + "2019_10/cau-song-hau.jpg", "Cầu vượt sông Hậu ngày khánh thành"),)),
)

LISTING = ("listing", "https://vov.vn/chinh-tri/")


def expected(spec: PageSpec) -> dict[str, object]:
    """Ground truth per field, from the spec alone (never from the extractor)."""
    from archiver.extract import byline  # the grammar is table-tested on its own
    credit = spec.byline or spec.credit
    parsed = byline.parse(credit) if credit else byline.empty()
    return {
        "id": f"vov-{spec.post}", "url": spec.url, "canonical_url": spec.url,
        "title": spec.title, "lead": spec.lead, "body": [" ".join(p.split()) for p in spec.body],
        "section": spec.section, "tags": sorted(spec.tags), "language": "vi",
        "published_at": spec.published,
        "modified_at": spec.modified if (spec.jsonld or spec.opengraph) else None,
        "images": [{"url": u, "caption": c} for u, c in spec.images],
        "publisher": {"name": "VOV", "domain": "vov.vn"},
        "byline.raw": credit, "byline.authors": parsed["authors"],
        "byline.source": parsed["source"], "byline.compiled": parsed["compiled"],
    }


def generate(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """n varied pages (url, bytes): templates, bylines, structured data, NFD, credits."""
    rng = random.Random(seed)
    bylines = ["PV/VOV.VN", "Minh Hòa/VOV.VN (t/h)", "Hà Anh - Minh Thu/VOV.VN",
               "Nhóm PV/VOV.VN", "PV/VOV-Tây Bắc", "Trần Trung/VOV Miền Trung", None]
    words = " ".join(_SEED).split()
    pages = []
    for i in range(n):
        base = SPECS[i % len(SPECS)]
        body = tuple(" ".join(rng.sample(words, rng.randint(30, 90))) + "."
                     for _ in range(rng.randint(4, 14)))
        author = rng.choice(bylines)
        spec = replace(base, name=f"gen-{i}", post=2_000_000 + i, body=body, byline=author,
                       byline_links=(), credit=None if author else "Theo TTXVN",
                       jsonld=rng.random() < 0.7, opengraph=rng.random() < 0.8,
                       nfd=rng.random() < 0.1, template="old" if rng.random() < 0.2 else "current")
        pages.append((spec.url, render(spec)))
    return pages


def write_fixtures() -> None:
    for spec in SPECS:
        (FIXTURES / f"{spec.name}.html").write_bytes(render(spec))
    (FIXTURES / "listing.html").write_bytes(render_listing())


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_fixtures()


def fixture_source(name: str, url: str, content_type: str = "text/html; charset=utf-8",
                   payload: bytes | None = None, status: int | None = 200):
    """A SourceRecord for a fixture file, with fixed, plausible capture fields."""
    import uuid

    from archiver.extract import SourceRecord
    data = payload if payload is not None else (FIXTURES / f"{name}.html").read_bytes()
    return SourceRecord(
        url=url, payload=data, content_type=content_type,
        warc_path="warcs/2026/11/20261127T204500Z-fixture.warc.gz",
        record_id=f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'fixture:' + name)}>",
        warc_date="2026-11-27T20:45:00.123456Z", payload_digest=digest(data), http_status=status)
