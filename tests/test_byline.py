"""The byline grammar, table-tested (archiver.extract.byline)."""

from __future__ import annotations

import pytest

from archiver.extract.byline import is_recognised, parse

PV = "PV = phóng viên (staff reporter)"
TH = "t/h = tổng hợp (compiled from several sources)"

TABLE = [
    # raw, authors, source, compiled, note
    ("PV/VOV.VN", ["PV"], "VOV.VN", False, PV),
    ("Minh Hòa/VOV.VN (t/h)", ["Minh Hòa"], "VOV.VN", True, TH),
    ("Hà Anh - Minh Thu/VOV.VN", ["Hà Anh", "Minh Thu"], "VOV.VN", False, None),
    ("Hà Anh, Minh Thu/VOV.VN", ["Hà Anh", "Minh Thu"], "VOV.VN", False, None),
    ("Hà Anh-Minh Thu/VOV.VN", ["Hà Anh", "Minh Thu"], "VOV.VN", False, None),
    ("Hà Anh và Minh Thu/VOV.VN", ["Hà Anh", "Minh Thu"], "VOV.VN", False, None),
    ("Nhóm PV/VOV.VN", ["Nhóm PV"], "VOV.VN", False,
     "Nhóm PV = nhóm phóng viên (team of reporters)"),
    ("PV/VOV-Tây Bắc", ["PV"], "VOV-Tây Bắc", False,
     PV + "; VOV-Tây Bắc = VOV regional bureau or channel"),
    ("Minh Trí/VOV-ĐBSCL", ["Minh Trí"], "VOV-ĐBSCL", False,
     "VOV-ĐBSCL = VOV regional bureau or channel"),
    ("VOV-ĐBSCL", [], "VOV-ĐBSCL", False, "VOV-ĐBSCL = VOV regional bureau or channel"),
    ("Trần Trung/VOV Miền Trung", ["Trần Trung"], "VOV Miền Trung", False,
     "VOV Miền Trung = VOV regional bureau or channel"),
    ("BTV Minh Hòa/VOV.VN", ["Minh Hòa"], "VOV.VN", False, "BTV = biên tập viên (editor)"),
    ("CTV/VOV.VN", ["CTV"], "VOV.VN", False, "CTV = cộng tác viên (contributor)"),
    ("CTV Lan Anh/VOV.VN (t/h)", ["Lan Anh"], "VOV.VN", True,
     "CTV = cộng tác viên (contributor); " + TH),
    ("Theo TTXVN", [], "TTXVN", False, "republished: Theo TTXVN"),
    ("(Theo Reuters)", [], "Reuters", False, "republished: Theo Reuters"),
    ("theo TTXVN", [], "TTXVN", False, "republished: theo TTXVN"),
    ("Hồng Nhung/VOV.VN (Theo Reuters)", ["Hồng Nhung"], "VOV.VN", False, "based on: Reuters"),
    ("VOV.VN", [], "VOV.VN", False, None),
]

UNKNOWN = [
    "Bài viết hay lắm, cảm ơn các bạn đã đọc và chia sẻ",
    "PGS- TS Lê/VOV.VN",       # a hyphenated title is not two people
    "Theo TTXVN/VOV",          # "Theo ..." is a credit, not a name
    "Ảnh/VOV.VN",              # a photo credit word, not a person
    "nguồn: internet hello/x y",
    "minh hòa/VOV.VN",         # names are capitalised
    "Reuters",                 # a bare word is not known to be an outlet
    "PV/vov.vn lowercase",
    "PV",                      # a role alone names nobody and no outlet
]


@pytest.mark.parametrize(("raw", "authors", "source", "compiled", "note"), TABLE)
def test_grammar(raw: str, authors: list[str], source: str, compiled: bool,
                 note: str | None) -> None:
    assert parse(raw) == {"raw": raw, "authors": authors, "source": source,
                          "compiled": compiled, "note": note}


@pytest.mark.parametrize("raw", UNKNOWN)
def test_unknown_shapes_keep_raw_only(raw: str) -> None:
    assert parse(raw) == {"raw": raw, "authors": [], "source": None, "compiled": False,
                          "note": None}
    assert not is_recognised(parse(raw))


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_no_byline(raw: str | None) -> None:
    assert parse(raw) == {"raw": None, "authors": [], "source": None, "compiled": False,
                          "note": None}
