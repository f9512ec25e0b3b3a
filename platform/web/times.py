"""Times on the pages in the reader's time zone, always labelled (SPEC 15).

One filter formats every instant a page shows: `{{ ticket.created_at|local_time }}` gives
`2026-12-06 10:00 (UTC+8)`, in Chinese `2026-12-06 10:00（UTC+8）`. The zone is the signed-in user's
`timezone`, else the pack's, else UTC (`itsm.engine.people.timezones.zone_for`). The label is the offset
from UTC at that instant (docs/decisions.md, "Times on the pages"): short enough for a queue row, exact across
daylight saving time, and read the same in every language. The API keeps ISO 8601 with offsets (SPEC 10).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, g
from flask_babel import gettext

from itsm.engine import EngineError
from itsm.engine.people.timezones import zone_for
from itsm.engine.runtime.wording import zone_label

from .extension import current_engine

MISSING = "—"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals.update(viewer_zone=viewer_zone, zone_label=zone_label)


def viewer_zone() -> ZoneInfo:
    """The zone this request's pages show times in (worked out once per request)."""
    zone = g.get("viewer_zone")
    if zone is None:
        zone = g.viewer_zone = zone_for(_user_timezone(), pack_timezone())
    return zone


def _user_timezone() -> str | None:
    from .security import page_actor

    try:
        if page_actor() is None:
            return None
    except EngineError:  # nothing published yet
        return None
    return g.get("page_timezone")


def pack_timezone() -> str | None:
    """The active pack's `timezone`, or None before anything is published."""
    try:
        return current_engine().definitions.active().pack.timezone
    except EngineError:
        return None


def format_moment(moment: datetime, zone: ZoneInfo, short: bool = False) -> str:
    """`moment` in `zone` with its label; `short` leaves out the year (queue rows)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the store's times are UTC
    local = moment.astimezone(zone)
    text = local.strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M")
    return gettext("%(time)s (%(zone)s)", time=text, zone=zone_label(local))


def local_time(value: Any, short: bool = False) -> str:
    """The filter: an instant (a datetime, or ISO 8601 text as the engine gives it) in the reader's zone,
    labelled; nothing is `—`, and text that is no instant is shown as it is."""
    if value is None or value == "":
        return MISSING
    moment = value
    if isinstance(value, str):
        try:
            date.fromisoformat(value)
            return value  # a day, not an instant
        except ValueError:
            pass
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(moment, datetime):  # a date (a holiday, a date field) is no instant: no zone to show
        return str(value)
    return format_moment(moment, viewer_zone(), short)
