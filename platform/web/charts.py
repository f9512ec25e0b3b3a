"""Charts as inline SVG for server-rendered pages (SPEC 13: usable without JavaScript).

Pure functions from labels and numbers to `markupsafe.Markup`: no I/O, no Flask. Every chart is an
`<svg role="img">` named by its `<title>` and described by a `<desc>` that lists the data in words, so a
screen reader gets the figures rather than the shapes; every text is escaped. The words a chart adds itself
("No data", "n/a") are parameters, so pages pass them in the reader's language. Colours come from
`currentColor` and CSS classes (`chart-bar`, `chart-label`, `chart-value`), so pages style them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

Number = int | float | None
Data = Mapping[str, Number] | Sequence[tuple[str, Number]]

FONT = 12  # px; labels are sized from it, roughly 0.6 em per character
CHAR = FONT * 0.6


@dataclass(frozen=True)
class _Bar:
    label: str
    value: Number
    shown: str  # the value as written on the chart

    @property
    def size(self) -> float:
        return max(float(self.value or 0), 0.0)


def format_number(value: Number, unit: str = "", missing: str = "n/a") -> str:
    """12, 12.5, 66.67 (at most two decimals, no trailing zeros); `missing` for a missing value."""
    if value is None:
        return missing
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{text}{unit}"


def bar_chart(title: str, data: Data, *, unit: str = "", width: int = 480, height: int = 240,
              chart_id: str | None = None, no_data: str = "No data", missing: str = "n/a",
              links: Mapping[str, str] | None = None) -> Markup:
    """Vertical bars, one per label, each with its value above it and its label below; a label in `links`
    makes its bar a link (the dashboard's drill-through to the queue)."""
    bars = _bars(data, unit, missing)
    if not bars:
        return _empty(title, width, chart_id, no_data)
    return _columns(title, bars, unit, width, height, chart_id, fill=0.7, share=None, links=links)


def horizontal_bars(title: str, data: Data, *, unit: str = "", width: int = 480, bar_height: int = 22,
                    chart_id: str | None = None, no_data: str = "No data", missing: str = "n/a",
                    links: Mapping[str, str] | None = None) -> Markup:
    """One row per label: the label on the left, the bar, and the value at the bar's end; a label in `links`
    makes its row a link."""
    bars = _bars(data, unit, missing)
    if not bars:
        return _empty(title, width, chart_id, no_data)
    label_width = min(max(len(b.label) for b in bars) * CHAR + 8, width * 0.4)
    value_width = max(len(b.shown) for b in bars) * CHAR + 8
    plot = max(width - label_width - value_width, 10)
    scale = plot / _largest(bars)
    gap = bar_height * 0.3
    height = int(len(bars) * (bar_height + gap) + gap)
    parts = []
    for i, bar in enumerate(bars):
        y = gap + i * (bar_height + gap)
        middle = y + bar_height / 2 + FONT * 0.35
        size = bar.size * scale
        parts.append(_linked(links, bar, [
            _text(label_width - 6, middle, _fit(bar.label, label_width), "chart-label", "end"),
            _rect(label_width, y, size, bar_height, bar),
            _text(label_width + size + 4, middle, bar.shown, "chart-value", "start")]))
    parts.append(_line(label_width, 0, label_width, height))
    return _svg(title, bars, unit, width, height, parts, chart_id)


def histogram(title: str, bins: Data, *, width: int = 480, height: int = 200,
              chart_id: str | None = None, no_data: str = "No data", missing: str = "n/a") -> Markup:
    """A distribution: adjacent columns, one per bin in the given order (e.g. ratings 1-5 or age
    buckets), each with its count and its share of the total."""
    bars = _bars(bins, "", missing)
    if not bars:
        return _empty(title, width, chart_id, no_data)
    return _columns(title, bars, "", width, height, chart_id, fill=1.0, share=sum(b.size for b in bars))


def _columns(title: str, bars: list[_Bar], unit: str, width: int, height: int, chart_id: str | None, *,
             fill: float, share: float | None, links: Mapping[str, str] | None = None) -> Markup:
    """Vertical columns on a baseline, each `fill` of its slot wide, its value above (with its share of
    `share`, when given) and its label below."""
    top, bottom, side = FONT * 2, FONT * 2.5, 4
    plot = height - top - bottom
    slot = (width - 2 * side) / len(bars)
    scale = plot / _largest(bars)
    parts = []
    for i, bar in enumerate(bars):
        x = side + i * slot + slot * (1 - fill) / 2
        size = bar.size * scale
        y = top + plot - size
        centre = x + slot * fill / 2
        extra = f" ({100 * bar.size / share:.0f}%)" if share else ""
        parts.append(_linked(links, bar, [
            _rect(x, y, slot * fill, size, bar, extra=extra),
            _text(centre, y - 4, bar.shown + extra, "chart-value", "middle"),
            _text(centre, height - bottom + FONT * 1.4, _fit(bar.label, slot), "chart-label", "middle")]))
    parts.append(_line(side, top + plot, width - side, top + plot))
    return _svg(title, bars, unit, width, height, parts, chart_id)


def _bars(data: Data, unit: str, missing: str) -> list[_Bar]:
    items: Iterable[tuple[str, Number]] = data.items() if isinstance(data, Mapping) else data
    return [_Bar(str(label), value, format_number(value, unit, missing)) for label, value in items]


def _linked(links: Mapping[str, str] | None, bar: _Bar, parts: list[str]) -> str:
    """A bar's shapes, inside a link when `links` has one for its label (keyboard-focusable, named)."""
    url = (links or {}).get(bar.label)
    if not url:
        return "".join(parts)
    return (f'<a class="chart-link" href="{escape(url)}" aria-label="{escape(f"{bar.label}: {bar.shown}")}">'
            + "".join(parts) + "</a>")


def _largest(bars: list[_Bar]) -> float:
    return max((b.size for b in bars), default=0.0) or 1.0


def _fit(label: str, room: float) -> str:
    """Cut a label that would not fit its room (the full text stays in the bar's tooltip and the desc)."""
    most = max(int(room / CHAR), 2)
    return label if len(label) <= most else label[: most - 1] + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _rect(x: float, y: float, w: float, h: float, bar: _Bar, extra: str = "") -> str:
    tip = escape(f"{bar.label}: {bar.shown}{extra}")
    return (f'<rect class="chart-bar" x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" '
            f'fill="currentColor" fill-opacity="0.7" stroke="currentColor" stroke-width="0.5">'
            f"<title>{tip}</title></rect>")


def _text(x: float, y: float, text: str, css: str, anchor: str) -> str:
    return (f'<text class="{css}" x="{_num(x)}" y="{_num(y)}" text-anchor="{anchor}" font-size="{FONT}" '
            f'fill="currentColor">{escape(text)}</text>')


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return (f'<line x1="{_num(x1)}" y1="{_num(y1)}" x2="{_num(x2)}" y2="{_num(y2)}" stroke="currentColor" '
            f'stroke-width="1"/>')


def _identifier(title: str, chart_id: str | None) -> str:
    if chart_id:
        return "".join(c if c.isalnum() or c in "-_" else "-" for c in chart_id)
    return "chart-" + hashlib.sha1(title.encode()).hexdigest()[:10]


def _svg(title: str, bars: list[_Bar], unit: str, width: int, height: float, parts: list[str],
         chart_id: str | None) -> Markup:
    ident = _identifier(title, chart_id)
    desc = "; ".join(f"{b.label}: {b.shown}" for b in bars)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" width="{width}" height="{_num(height)}" '
        f'viewBox="0 0 {width} {_num(height)}" aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(desc)}</desc>'
        + "".join(parts) + "</svg>")


def _empty(title: str, width: int, chart_id: str | None, no_data: str) -> Markup:
    ident = _identifier(title, chart_id)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart chart-empty" width="{width}" height="40" '
        f'viewBox="0 0 {width} 40" aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title><desc id="{ident}-desc">{escape(no_data)}</desc>'
        f'<text x="{width // 2}" y="24" text-anchor="middle" font-size="{FONT}" fill="currentColor">{escape(no_data)}'
        "</text></svg>")
