"""Vietnamese visible dates and machine dates -> RFC 3339 (archiver.extract.dates)."""

from __future__ import annotations

import pytest

from archiver.extract.dates import parse_iso, parse_vietnamese


@pytest.mark.parametrize(("text", "want"), [
    ("Thứ Năm, 11:20, 07/12/2023 |", "2023-12-07T11:20:00+07:00"),
    ("Thứ Ba, 22:35, 26/08/2025 |", "2025-08-26T22:35:00+07:00"),
    ("Chủ Nhật, 07:05, 01/01/2023", "2023-01-01T07:05:00+07:00"),
    ("07/12/2023 11:20 GMT+7", "2023-12-07T11:20:00+07:00"),
    ("7/12/2023 | 09:05", "2023-12-07T09:05:00+07:00"),
    ("07-12-2023 11:20:30", "2023-12-07T11:20:30+07:00"),
    ("Cập nhật: 11h20 ngày 7 tháng 12 năm 2023", "2023-12-07T11:20:00+07:00"),
    ("Thứ Năm, 07/12/2023", "2023-12-07T00:00:00+07:00"),
    ("06/12/2023 21:20 GMT+0", "2023-12-06T21:20:00+00:00"),
    ("2023-12-07T11:20:00+07:00", "2023-12-07T11:20:00+07:00"),
])
def test_visible_dates(text: str, want: str) -> None:
    assert parse_vietnamese(text) == want


@pytest.mark.parametrize(("text", "want"), [
    ("2023-12-07T11:20:00+07:00", "2023-12-07T11:20:00+07:00"),
    ("2023-12-07T11:20:00", "2023-12-07T11:20:00+07:00"),      # no offset: Vietnam time
    ("2023-12-07T04:20:00Z", "2023-12-07T04:20:00+00:00"),
    ("2023-12-07T11:20:00.250+0700", "2023-12-07T11:20:00.250000+07:00"),
    ("2023-12-07", "2023-12-07T00:00:00+07:00"),
    ("2023-12-07 11:20", "2023-12-07T11:20:00+07:00"),
])
def test_machine_dates(text: str, want: str) -> None:
    assert parse_iso(text) == want


@pytest.mark.parametrize("text", [None, "", "hôm qua", "31/02/2023", "2023-13-01T00:00:00",
                                  "07/12/2023 25:61", "07/12/2023 GMT+99", "12345"])
def test_not_dates(text: str | None) -> None:
    assert parse_vietnamese(text) is None
