"""Aggregates over stored tickets, their events and their SLA clocks, for the KPI report (`GET /api/kpis`).

Counts are SQL aggregates (GROUP BY over a scope's tickets); per-ticket timings come back as seconds, the
date arithmetic done by the database (SQLite: julianday, PostgreSQL: epoch). What a figure means (which
states resolve, what acknowledges, when a clock has breached, how tickets age into buckets) is the
engine's decision (`itsm.engine.reports.kpis`): it passes states, kinds and bounds as plain values here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, extract, false, func, or_, select
from sqlalchemy.orm import Session

from .models import Event, SlaClock, Ticket
from .visibility import Viewer, sees


@dataclass(frozen=True)
class TicketScope:
    """The tickets of `processes` created in [start, end) (an open end: no bound), held by `team` if given,
    reported from an organization among `org_ids` (a SELECT of ids: `orgs.subtree_ids`) if given, that
    `viewer` may see (None: every ticket; SPEC 14: a province desk's figures are its province's)."""

    processes: tuple[str, ...]
    start: datetime | None = None
    end: datetime | None = None
    team: str | None = None
    org_ids: Any = None
    viewer: Viewer | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = [self.process_column().in_(self.processes)]
        if self.viewer is not None:
            out.append(sees(self.viewer))
        if self.start is not None:
            out.append(Ticket.created_at >= self.start)
        if self.end is not None:
            out.append(Ticket.created_at < self.end)
        if self.team is not None:
            out.append(Ticket.team == self.team)
        if self.org_ids is not None:
            out.append(Ticket.org.in_(self.org_ids))
        return out

    def process_column(self) -> Any:
        """The process column to compare. With an organization, its subtree's index (`tickets.org`) is what
        narrows the tickets down: the process is then compared as an expression (`process || ''`), which
        SQLite's planner, having no statistics, would otherwise prefer as an index, reading every ticket of
        the process (a unit's report among 20,000 tickets: ~50 ms instead of ~280 ms)."""
        return Ticket.process if self.org_ids is None else Ticket.process + ""


# One ticket's facts from its event log: seconds from creation to the first acknowledging event and to the
# first resolving transition (None: none yet), whether it was reopened, whether it changed team; and the
# organization it was reported from. A plain tuple: a report makes one per ticket.
TicketTiming = tuple[float | None, float | None, bool, bool, str | None]


class ClockCount(NamedTuple):
    """How many clocks of one name, on tickets of one priority, are in one phase, status and breach flag;
    `overdue` of them had a deadline before the report's instant."""

    clock: str
    priority: str | None
    phase: str
    status: str
    breached: bool
    clocks: int
    overdue: int
    org: str | None = None  # the tickets' organization, when counted by organization


def ticket_timings(session: Session, scope: TicketScope, *, acting_kinds: Collection[str], ignored_actor: str,
                   resolving: Mapping[str, Collection[str]],
                   reopening: Mapping[str, tuple[Collection[str], Collection[str]]]) -> list[TicketTiming]:
    """One pass over the scope's events, one `TicketTiming` per ticket (with at least one event).

    Acknowledging: an event of `acting_kinds` by anyone but the requester and `ignored_actor`. Resolving: a
    transition into one of `resolving[process]`. Reopening: a transition from a state of
    `reopening[process][0]` into one of `reopening[process][1]`. Moved: a team change after the create."""
    acknowledge = and_(Event.kind.in_(list(acting_kinds)), Event.actor != Ticket.requester,
                       Event.actor != ignored_actor)
    resolve = and_(Event.kind == "transition", _per_process(
        resolving, lambda states: Event.to_state.in_(sorted(states))))
    reopen = and_(Event.kind == "transition", _per_process(
        reopening, lambda states: and_(Event.from_state.in_(sorted(states[0])),
                                       Event.to_state.in_(sorted(states[1])))))
    moved = and_(Event.kind != "create", Event.changes["team"].as_string().is_not(None))
    since = _seconds_since_creation(session.get_bind().dialect.name)
    query = (select(since(func.min(case((acknowledge, Event.at)))), since(func.min(case((resolve, Event.at)))),
                    func.max(case((reopen, 1), else_=0)), func.max(case((moved, 1), else_=0)), Ticket.org)
             .select_from(Ticket).join(Event, Event.ticket_id == Ticket.id).where(*scope.conditions())
             .group_by(Ticket.id, Ticket.created_at, Ticket.org))
    return [(_seconds(ack), _seconds(res), bool(again), bool(other), org)
            for ack, res, again, other, org in session.execute(query)]


def clock_counts(session: Session, scope: TicketScope, now: datetime, skip_phases: Collection[str] = (),
                 by_org: bool = False) -> list[ClockCount]:
    """The scope's SLA clocks (but those in `skip_phases`) counted per name, ticket priority, phase, status
    and breach flag (and the tickets' organization when `by_org`), each count with how many of its clocks had
    a deadline before `now`."""
    columns: list[Any] = [SlaClock.clock, Ticket.priority, SlaClock.phase, SlaClock.status, SlaClock.breached]
    if by_org:
        columns.append(Ticket.org)
    query = (select(*columns, func.count(), func.count(case((SlaClock.deadline < now, 1))))
             .select_from(Ticket).join(SlaClock, SlaClock.ticket_id == Ticket.id)
             .where(*scope.conditions(), SlaClock.phase.not_in(list(skip_phases))).group_by(*columns))
    out = []
    for row in session.execute(query):
        values = tuple(row)
        clock, priority, phase, status, breached = values[:5]
        out.append(ClockCount(clock, priority, phase, status, bool(breached), values[-2], values[-1],
                              values[5] if by_org else None))
    return out


def org_ticket_counts(session: Session, scope: TicketScope) -> list[tuple[str | None, bool, int]]:
    """(organization, is_open, count) over the scope's tickets."""
    return [(org, bool(is_open), count)
            for org, is_open, count in _grouped(session, Ticket.org, Ticket.is_open, where=scope.conditions())]


def org_rating_counts(session: Session, scope: TicketScope, process: str,
                      field: str) -> list[tuple[str | None, Any, int]]:
    """(organization, rating, count) for the scope's tickets of `process` whose field `field` holds an integer."""
    value = Ticket.fields[field].as_integer()
    rows = _grouped(session, Ticket.org, value,
                    where=[*scope.conditions(), scope.process_column() == process, value.is_not(None)])
    return [(org, rating, count) for org, rating, count in rows]


def backlog_counts(session: Session, scope: TicketScope, age_bounds: Sequence[tuple[str, datetime]],
                   oldest: str) -> list[tuple[bool, str | None, str | None, str, int]]:
    """(is_open, team, priority, age, count) over the scope's tickets: the age is the name of the first of
    `age_bounds` whose instant is before the ticket's creation, else `oldest`."""
    age = case(*((Ticket.created_at > since, name) for name, since in age_bounds), else_=oldest)
    return [(bool(is_open), team, priority, bucket, count) for is_open, team, priority, bucket, count
            in _grouped(session, Ticket.is_open, Ticket.team, Ticket.priority, age, where=scope.conditions())]


def rating_counts(session: Session, scope: TicketScope, process: str, field: str) -> list[tuple[Any, int]]:
    """(rating, count) for the scope's tickets of `process` whose field `field` holds an integer."""
    value = Ticket.fields[field].as_integer()
    rows = _grouped(session, value, where=[*scope.conditions(), scope.process_column() == process, value.is_not(None)])
    return [(rating, count) for rating, count in rows]


def channel_counts(session: Session, scope: TicketScope) -> list[tuple[str | None, str | None, int]]:
    """(the `channel` field, the channel its create event recorded, count) over the scope's tickets."""
    rows = _grouped(session, Ticket.fields["channel"].as_string(), Event.data["channel"].as_string(),
                    where=scope.conditions(), join=(Event, and_(Event.ticket_id == Ticket.id, Event.kind == "create")))
    return [(field_value, recorded, count) for field_value, recorded, count in rows]


def _per_process(states: Mapping[str, Any], condition: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """`condition(states[process])` for the tickets of each process (their states differ)."""
    return or_(false(), *(and_(Ticket.process == process, condition(value)) for process, value in states.items()))


def _seconds_since_creation(dialect: str) -> Callable[[Any], Any]:
    """SQL for the seconds from the ticket's creation to an instant (no datetimes to parse in Python)."""
    if dialect == "sqlite":
        return lambda instant: (func.julianday(instant) - func.julianday(Ticket.created_at)) * 86400.0
    return lambda instant: extract("epoch", instant) - extract("epoch", Ticket.created_at)


def _seconds(value: Any) -> float | None:
    return round(float(value), 3) if value is not None else None


def _grouped(session: Session, *columns: Any, where: list[ColumnElement[bool]],
             join: Any = None) -> list[tuple[Any, ...]]:
    """Counts per value of `columns`, grouped on a subquery's columns (expressions with bound parameters
    cannot be repeated in PostgreSQL's GROUP BY)."""
    inner = select(*(c.label(f"k{i}") for i, c in enumerate(columns))).select_from(Ticket)
    if join is not None:
        inner = inner.join(*join)
    inner = inner.where(*where)
    sub = inner.subquery()
    keys = [sub.c[f"k{i}"] for i in range(len(columns))]
    return [tuple(row) for row in session.execute(select(*keys, func.count()).group_by(*keys))]
