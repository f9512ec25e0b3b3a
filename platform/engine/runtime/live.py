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


class LocalTimes(dict[datetime, str]):
    """Instants as ISO 8601 text in one time zone, each formatted once: a ticket's clocks and its own columns
    share most of their instants (created = the clocks' start, the last change = a clock's stop)."""

    __slots__ = ("zone",)

    def __init__(self, zone: tzinfo):
        super().__init__()
        self.zone = zone

    def __missing__(self, value: datetime) -> str:
        text = self[value] = value.astimezone(self.zone).isoformat()
        return text


def clock_views(clocks: Mapping[str, ClockRow], calendars: Mapping[str, m.Calendar], now: datetime,
                zone: tzinfo, worked: dict[tuple[str, datetime], float] | None = None,
                times: LocalTimes | None = None) -> dict[str, dict[str, Any]]:
    """SPEC 6 per clock: status, target_seconds, elapsed_seconds, deadline, breached, percent, started_at,
    stopped_at; running clocks are brought up to `now` for display (nothing is stored). `worked`: working
    seconds already counted to `now` (`Work.worked`, which the guards' `sla.*` names may have filled);
    `times`: the texts of instants in `zone` formatted so far."""
    if worked is None:  # running clocks mostly share their running_since, on the same calendar
        worked = {}
    if times is None:
        times = LocalTimes(zone)
    views = {}
    for name, row in clocks.items():
        status, elapsed, breached = live(row, now, calendars, worked)
        target = row.target_seconds
        deadline, started, stopped = row.deadline, row.started_at, row.stopped_at
        views[name] = {
            "status": status,
            "target_seconds": target,
            "elapsed_seconds": round(elapsed, 3),
            "deadline": times[deadline] if deadline is not None and row.phase == "running" else None,
            "breached": breached,
            "percent": round(100.0 * elapsed / target, 2) if target else None,
            "started_at": times[started] if started is not None else None,
            "stopped_at": times[stopped] if stopped is not None else None,
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
