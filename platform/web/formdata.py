"""Between HTML forms and typed field values: parsing what a browser posts, showing what a ticket holds.

A browser posts strings. Each field type of SPEC 4 maps to one input control and one parser; a value that
does not parse becomes a problem shown next to its field (the same shape as the engine's 422 details),
and the engine then checks everything else exactly as it does for the JSON API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext

from itsm.interpreter import model as m

from .i18n import text
from .times import format_moment

INPUT_TYPES = {"string": "text", "email": "email", "url": "url", "user": "text", "group": "text",
               "integer": "number", "number": "number", "date": "date", "datetime": "datetime-local"}


def parse_form(fields: Iterable[m.FieldSpec], form: Mapping[str, str], lists: Mapping[str, list[str]],
               zone: ZoneInfo, current: Mapping[str, Any] | None = None
               ) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Typed values for `fields` from a posted form, and the problems of values that do not parse.

    An empty input is "no value": omitted when the ticket has none (or on create), null when it clears one.
    """
    values: dict[str, Any] = {}
    problems: list[dict[str, str]] = []
    current = current or {}
    for spec in fields:
        if spec.type == "boolean":
            if f"{spec.id}__present" in form or spec.id in form:
                values[spec.id] = form.get(spec.id) in ("on", "true", "1", "yes")
            continue
        if spec.type == "multichoice":
            if f"{spec.id}__present" in form or spec.id in lists:
                chosen = [v for v in lists.get(spec.id, []) if v]
                if chosen or current.get(spec.id):
                    values[spec.id] = chosen
            continue
        raw = form.get(spec.id)
        if raw is None:
            continue
        text = raw.strip() if spec.type != "text" else raw.replace("\r\n", "\n")
        if not text.strip():
            if current.get(spec.id) not in (None, "", []):
                values[spec.id] = None
            continue
        try:
            values[spec.id] = _parse(spec, text, zone)
        except ValueError as exc:
            problems.append({"field": spec.id, "message": str(exc)})
    return values, problems


def _parse(spec: m.FieldSpec, text: str, zone: ZoneInfo) -> Any:
    kind = spec.type
    if kind in ("integer", "rating"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(gettext("enter a whole number")) from None
    if kind == "number":
        try:
            return float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise ValueError(gettext("enter a number")) from None
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            raise ValueError(gettext("enter a date (YYYY-MM-DD)")) from None
    if kind == "datetime":
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(gettext("enter a date and time")) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return moment.isoformat()
    return text


def input_value(spec: m.FieldSpec, value: Any, zone: ZoneInfo) -> str:
    """What an input control shows for a stored value."""
    if value is None:
        return ""
    if spec.type == "datetime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            return value
    return str(value)


def display(spec: m.FieldSpec | None, value: Any, zone: ZoneInfo) -> str:
    """A stored value as people read it: choice labels, yes/no, labelled local times, stars."""
    if value is None or value == "" or value == []:
        return "—"
    if spec is None:
        return str(value)
    labels = {c.value: text(c.label) for c in spec.choices}
    if spec.type == "boolean":
        return gettext("Yes") if value else gettext("No")
    if spec.type == "choice":
        return labels.get(str(value), str(value))
    if spec.type == "multichoice" and isinstance(value, list):
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    if spec.type == "rating" and isinstance(value, int):
        return "★" * value + "☆" * max(0, 5 - value) + f" ({value}/5)"
    if spec.type == "datetime" and isinstance(value, str):
        try:
            return format_moment(datetime.fromisoformat(value), zone)
        except ValueError:
            return value
    return str(value)
