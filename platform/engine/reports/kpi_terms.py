"""What the KPIs count (issue 7): which tickets a report is about, which states resolve or reopen, which
field rates, and how counts become figures (durations, SLA outcomes, percentages). Shared by the report
(`kpis`) and its rows by organization (`kpis_by_org`); docs/decisions.md defines every figure."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsm.interpreter import model as m
from itsm.store.reports import ClockCount, TicketScope
from itsm.store.visibility import Viewer

AGENT_EVENTS = ("create", "transition", "update", "comment")  # what counts as an agent acting on a ticket
RATINGS = (1, 2, 3, 4, 5)
UNCOUNTED_CLOCKS = ("not_started", "cancelled")  # phases of clocks that neither met nor breached a target
NONE = "none"  # the key of tickets without a team or priority


@dataclass(frozen=True)
class KpiScope:
    """Which tickets the figures are about: created in [start, end), of these processes, held by `team`,
    reported from `org`'s subtree, that `viewer` may see (SPEC 14: a scoped team's agents count their
    organizations' tickets only); `group_by`: the figures also per organization under `org`."""

    processes: tuple[m.ProcessSpec, ...]
    start: datetime | None = None
    end: datetime | None = None
    team: str | None = None
    process: str | None = None  # the `process` filter as given (None: every process in `processes`)
    org: str | None = None
    group_by: str | None = None
    viewer: Viewer | None = None

    def tickets(self) -> TicketScope:
        """The same tickets, as the store selects them (but `org`, which `stored.for_org` adds)."""
        return TicketScope(tuple(p.id for p in self.processes), self.start, self.end, self.team,
                           viewer=self.viewer)


def resolution_states(process: m.ProcessSpec) -> frozenset[str]:
    """States that mean "resolved": one named `resolved`, and every final state except a cancel state
    (`cancelled`, `withdrawn`, `rejected`...: `StateSpec.cancels`): incident -> resolved, closed; review ->
    completed."""
    return frozenset(s.id for s in process.states if s.id == "resolved" or (s.final and not s.cancels))


def work_states(process: m.ProcessSpec) -> frozenset[str]:
    """Open states that are not resolutions: entering one from a resolution is a reopen."""
    return frozenset(s.id for s in process.states if not s.final) - resolution_states(process)


def rating_field(form: m.FormSpec) -> str | None:
    """The satisfaction rating of a form: its first field of type `rating` (`satisfaction` by default)."""
    return next((f.id for f in form.fields if f.type == "rating"), None)


# -- from counts to figures ------------------------------------------------------------------------------------

def durations(seconds: Iterable[float]) -> dict[str, Any]:
    values = sorted(round(value * 1000) for value in seconds)
    return durations_of(len(values), sum(values), statistics.median(values) if values else None)


def durations_of(count: int, total_ms: int, middle_ms: float | None) -> dict[str, Any]:
    """A duration's figures from its count, its sum and its median in milliseconds."""
    if not count or middle_ms is None:
        return {"count": 0, "mean_seconds": None, "median_seconds": None}
    return {"count": count, "mean_seconds": round(total_ms / count / 1000, 3),
            "median_seconds": round(middle_ms / 1000, 3)}


def clock_outcomes(count: ClockCount) -> dict[str, int]:
    """How many of the counted clocks `breached`, `met` or are `running`: a running clock past its deadline
    has breached even before the worker noticed (as the API shows it)."""
    if count.breached or count.status == "breached":
        return {"breached": count.clocks}
    if count.phase == "running":
        return {"breached": count.overdue, "running": count.clocks - count.overdue}
    return {"met" if count.phase == "stopped" else "running": count.clocks}


def percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
