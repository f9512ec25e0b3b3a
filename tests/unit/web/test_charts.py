"""Inline SVG charts: well-formed, accessible (role, title, desc), escaped, and drawn to scale."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from markupsafe import Markup

from itsm.web.charts import bar_chart, format_number, histogram, horizontal_bars

SVG = "{http://www.w3.org/2000/svg}"
CHARTS = [bar_chart, horizontal_bars, histogram]


def parse(markup: Markup) -> ET.Element:
    return ET.fromstring(str(markup))


def rects(root: ET.Element) -> list[ET.Element]:
    return root.findall(f"{SVG}rect")


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.findall(f"{SVG}text")]


@pytest.mark.parametrize("chart", CHARTS)
def test_every_chart_is_an_accessible_image(chart: object) -> None:
    markup = chart("Open tickets by team", {"service_desk": 3, "network_ops": 1})  # type: ignore[operator]
    assert isinstance(markup, Markup)
    root = parse(markup)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Open tickets by team"
    assert desc is not None and desc.text == "service_desk: 3; network_ops: 1"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert len(rects(root)) == 2
    assert all(r.find(f"{SVG}title") is not None for r in rects(root))  # a tooltip per bar


@pytest.mark.parametrize("chart", CHARTS)
def test_all_text_is_escaped(chart: object) -> None:
    evil = '<script>alert("x")</script> & co'
    markup = chart(evil, [(evil, 1), ("b&b", 2)], chart_id='x" onload="y')  # type: ignore[operator]
    assert "<script>" not in markup and 'onload="y"' not in markup
    root = parse(markup)  # still well-formed XML
    assert root.find(f"{SVG}title").text == evil  # type: ignore[union-attr]
    assert root.get("aria-labelledby") == "x--onload--y-title x--onload--y-desc"


@pytest.mark.parametrize("chart", CHARTS)
def test_no_data_says_so(chart: object) -> None:
    root = parse(chart("Nothing", {}))  # type: ignore[operator]
    assert rects(root) == [] and texts(root) == ["No data"]
    assert root.find(f"{SVG}desc").text == "No data"  # type: ignore[union-attr]


def test_bar_chart_draws_to_scale_with_values_and_labels() -> None:
    root = parse(bar_chart("Mean time to resolve", [("P1", 3600.0), ("P2", 1800), ("P3", None)], unit=" s"))
    heights = [float(r.get("height") or 0) for r in rects(root)]
    assert heights[0] == pytest.approx(2 * heights[1]) and heights[2] == 0
    assert texts(root) == ["3,600 s", "P1", "1,800 s", "P2", "n/a", "P3"]


def test_horizontal_bars_grow_with_the_number_of_rows() -> None:
    small = parse(horizontal_bars("Channels", {"portal": 10}))
    large = parse(horizontal_bars("Channels", {"portal": 10, "email": 5, "monitoring": 0}))
    assert float(large.get("height") or 0) > float(small.get("height") or 0)
    widths = [float(r.get("width") or 0) for r in rects(large)]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0
    assert texts(large)[:2] == ["portal", "10"]


def test_histogram_columns_touch_and_show_shares() -> None:
    root = parse(histogram("Satisfaction", {"1": 0, "2": 0, "3": 1, "4": 0, "5": 3}))
    columns = rects(root)
    assert len(columns) == 5
    for left, right in zip(columns, columns[1:], strict=False):
        assert float(left.get("x") or 0) + float(left.get("width") or 0) == pytest.approx(float(right.get("x") or 0))
    assert "1 (25%)" in texts(root) and "3 (75%)" in texts(root)


def test_long_labels_are_cut_but_kept_whole_in_the_description() -> None:
    label = "a very long team name that cannot fit under one narrow bar"
    root = parse(bar_chart("Teams", [(label, 1)] + [(str(i), 1) for i in range(11)], width=240))
    assert any(t.endswith("…") for t in texts(root))
    assert label in (root.find(f"{SVG}desc").text or "")  # type: ignore[union-attr]


def test_chart_ids_are_stable_and_distinct_per_title() -> None:
    one, again, other = (parse(bar_chart(t, {"a": 1})) for t in ("Backlog", "Backlog", "Reopen rate"))
    assert one.get("aria-labelledby") == again.get("aria-labelledby") != other.get("aria-labelledby")


def test_format_number() -> None:
    assert format_number(12) == "12" and format_number(12.5) == "12.5" and format_number(66.666) == "66.67"
    assert format_number(1234567) == "1,234,567" and format_number(None) == "n/a"
    assert format_number(4.0, "%") == "4%"


@pytest.mark.parametrize("chart", CHARTS)
def test_the_words_a_chart_adds_come_in_the_pages_language_and_escaped(chart: object) -> None:
    empty = parse(chart("每月工单", {}, no_data="暂无<数据>"))  # type: ignore[operator]
    assert texts(empty) == ["暂无<数据>"] and empty.find(f"{SVG}desc").text == "暂无<数据>"  # type: ignore[union-attr]
    missing = parse(chart("达标率", {"P1": None, "P2": 2}, missing="无"))  # type: ignore[operator]
    assert "无" in " ".join(texts(missing)) and "n/a" not in " ".join(texts(missing))
