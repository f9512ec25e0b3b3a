"""How the pages label times and write CSV (SPEC 15): the offset label, the formatted instant in a zone, and the
CSV text with its byte-order mark; pure functions (the message pattern falls back to English without an app)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itsm.web.exports import BOM, csv_text, text_cell
from itsm.web.times import format_moment, zone_label

TWO_UTC = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(("zone", "when", "label"), [
    ("Asia/Shanghai", TWO_UTC, "UTC+8"), ("UTC", TWO_UTC, "UTC"), ("Europe/Berlin", TWO_UTC, "UTC+1"),
    ("Europe/Berlin", datetime(2026, 7, 1, tzinfo=UTC), "UTC+2"),  # summer time: the offset of that instant
    ("America/New_York", TWO_UTC, "UTC-5"), ("Asia/Kolkata", TWO_UTC, "UTC+5:30"),
    ("Asia/Kathmandu", TWO_UTC, "UTC+5:45"), ("America/St_Johns", TWO_UTC, "UTC-3:30"),
])
def test_the_label_is_the_offset_at_that_instant(zone: str, when: datetime, label: str) -> None:
    assert zone_label(when.astimezone(ZoneInfo(zone))) == label


def test_an_instant_reads_in_the_zone_with_its_label() -> None:
    assert format_moment(TWO_UTC, ZoneInfo("Asia/Shanghai")) == "2026-12-06 10:00 (UTC+8)"
    assert format_moment(TWO_UTC, ZoneInfo("UTC")) == "2026-12-06 02:00 (UTC)"
    assert format_moment(TWO_UTC, ZoneInfo("Asia/Shanghai"), short=True) == "12-06 10:00 (UTC+8)"
    assert format_moment(datetime(2026, 12, 6, 2, 0), ZoneInfo("Asia/Shanghai")) == "2026-12-06 10:00 (UTC+8)"  # UTC
    written_in_berlin = datetime.fromisoformat("2026-12-06T03:00:00+01:00")  # as the API writes it
    assert format_moment(written_in_berlin, ZoneInfo("Asia/Shanghai")) == "2026-12-06 10:00 (UTC+8)"


def test_csv_text_starts_with_the_byte_order_mark_and_round_trips_chinese() -> None:
    rows = [("打印机损坏，无法打印", "三楼, \"东\" 区", 3), ("工单", None, "2026-12-06T10:00:00+08:00")]
    data = csv_text(("标题", "位置", "数量"), rows).encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf") and data.count(BOM.encode()) == 1
    read = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert read == [["标题", "位置", "数量"], ["打印机损坏，无法打印", "三楼, \"东\" 区", "3"],
                    ["工单", "", "2026-12-06T10:00:00+08:00"]]


@given(st.lists(st.lists(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00\r"),
                                 max_size=20), min_size=1, max_size=4), max_size=5))
def test_any_text_round_trips_through_utf_8_sig(rows: list[list[str]]) -> None:
    header = ["a"] * max((len(row) for row in rows), default=1)
    text = csv_text(header, rows)
    assert list(csv.reader(io.StringIO(text.encode("utf-8").decode("utf-8-sig"), newline=""))) == [header, *rows]


def test_cells_that_would_run_as_formulas_are_quoted_as_text() -> None:
    assert text_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and text_cell("-1") == "'-1"
    assert text_cell("channel=微信") == "channel=微信" and text_cell("") == ""
