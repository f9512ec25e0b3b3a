"""SLA clocks as people and expressions see them now: stored figures brought up to an instant (SPEC 6).

Nothing here is stored: a running clock's elapsed time is counted on its calendar from its last step to
`now`, so a view or an expression between two worker sweeps is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from itsm.interpreter import model as m
from itsm.sla import working_calendar

from .snapshot import ClockRow


def clock_views(clocks: Mapping[str, ClockRow], calendars: Mapping[str, m.Calendar], now: datetime,
                zone: tzinfo, worked: dict[tuple[str, datetime], float] | None = None) -> dict[str, dict[str, Any]]:
    """SPEC 6 per clock: status, target_seconds, elapsed_seconds, deadline, breached, percent, started_at,
    stopped_at; running clocks are brought up to `now` for display (nothing is stored). `worked`: working
    seconds already counted to `now` (`Work.worked`, which the guards' `sla.*` names may have filled)."""
    shown: dict[datetime, str] = {}  # a ticket's clocks mostly share their instants: format each once
    if worked is None:  # and their running_since, on the same calendar
        worked = {}

    def iso(value: datetime | None) -> str | None:
        if value is None:
            return None
        text = shown.get(value)
        if text is None:
            text = shown[value] = value.astimezone(zone).isoformat()
        return text

    views = {}
    for name, row in clocks.items():
        status, elapsed, breached = live(row, now, calendars, worked)
        target = row.target_seconds
        views[name] = {
            "status": status,
            "target_seconds": target,
            "elapsed_seconds": round(elapsed, 3),
            "deadline": iso(row.deadline) if row.phase == "running" else None,
            "breached": breached,
            "percent": round(100.0 * elapsed / target, 2) if target else None,
            "started_at": iso(row.started_at),
            "stopped_at": iso(row.stopped_at),
        }
    return views


def clock_names(clocks: Mapping[str, ClockRow], calendars: Mapping[str, m.Calendar], now: datetime,
                worked: dict[tuple[str, datetime], float]) -> dict[str, dict[str, Any]]:
    """`sla.CLOCK.status|percent` for expressions (SPEC 5), as the API would show them at `now`: a running
    clock past its deadline is `breached`, and its percent counts the time since its last step (the stored
    figures are those of the ticket's last change)."""
    names = {}
    for name, row in clocks.items():
        status, elapsed, _ = live(row, now, calendars, worked)
        target = row.target_seconds
        names[name] = {"status": status, "percent": 100.0 * elapsed / target if target else None}
    return names


def live(row: ClockRow, now: datetime, calendars: Mapping[str, m.Calendar],
         worked: dict[tuple[str, datetime], float]) -> tuple[str, float, bool]:
    """(status, elapsed seconds, breached) of a clock row brought up to `now`; nothing is stored."""
    phase, elapsed, deadline, since = row.phase, row.elapsed_seconds, row.deadline, row.running_since
    running = phase == "running"
    calendar = row.calendar
    if running and since is not None and since < now and calendar is not None and calendar in calendars:
        key = (calendar, since)
        extra = worked.get(key)
        if extra is None:
            extra = worked[key] = working_calendar(calendars[calendar]).between(since, now)
        elapsed += extra
    breached = row.breached or (running and deadline is not None and now > deadline)
    return ("breached" if breached and (running or phase == "paused") else row.status), elapsed, breached
