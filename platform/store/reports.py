"""Aggregates over stored tickets, their events and their SLA clocks, for the KPI report (`GET /api/kpis`).

Counts are SQL aggregates (GROUP BY over a scope's tickets); per-ticket timings come back as seconds, the
date arithmetic done by the database (SQLite: julianday, PostgreSQL: epoch). What a figure means (which
states resolve, what acknowledges, when a clock has breached, how tickets age into buckets) is the
engine's decision (`itsm.engine.reports.kpis`): it passes states, kinds and bounds as plain values here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, and_, case, extract, false, func, or_, select, text, true
from sqlalchemy.orm import Session

from . import orgs
from .models import OPEN_CLOCKS, Event, Organization, SlaClock, Ticket
from .visibility import Viewer, sees


@dataclass(frozen=True)
class IdSet:
    """Some tickets by id: those listed, or every one from `low` to `high` (a dense run of ids, read as one
    range of each index rather than an index look-up per ticket)."""

    ids: tuple[int, ...] = ()
    low: int | None = None
    high: int | None = None

    @classmethod
    def of(cls, ids: Collection[int]) -> IdSet:
        """`ids` as a range when they fill at least half of it."""
        ordered = tuple(sorted(ids))
        if ordered and ordered[-1] - ordered[0] < 2 * len(ordered):
            return cls(low=ordered[0], high=ordered[-1])
        return cls(ordered)

    def holds(self, column: Any) -> ColumnElement[bool]:
        return column.between(self.low, self.high) if self.low is not None else column.in_(self.ids)


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
    org_index: bool = True  # whether the organizations' index should narrow the tickets down (`for_org`)
    ids: IdSet | None = None  # only these tickets (`kpi_facts` bringing them up to date)
    open_only: bool = False  # only the open tickets

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
            out.append((Ticket.org if self.org_index else Ticket.org + "").in_(self.org_ids))
        if self.ids is not None:
            out.append(self.ids.holds(Ticket.id))
        if self.open_only:
            out.append(Ticket.is_open.is_(True))
        return out

    def process_column(self) -> Any:
        """The process column to compare: as an expression (`process || ''`) when the organization's index is
        to narrow the tickets down, since SQLite's planner, having no statistics, would otherwise prefer the
        process's index and read every ticket of the process."""
        return Ticket.process + "" if self.org_ids is not None and self.org_index else Ticket.process


def for_org(session: Session, scope: TicketScope, org_id: str) -> TicketScope:
    """`scope` narrowed to the tickets reported from `org_id`'s subtree. A small subtree (a unit, a county)
    is read through the index on `tickets.org` (a unit's report among 20,000 tickets: ~50 ms instead of
    ~280 ms); a large one (a province: most of the desk) by reading the tickets in order, which costs half
    of looking up each of its thousands of organizations in that index."""
    ids = orgs.subtree_ids(session, org_id)
    size = session.scalar(select(func.count()).select_from(ids.subquery())) or 0
    return replace(scope, org_ids=ids, org_index=size * 10 <= orgs.count(session))


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
    org: str | None = None  # the breakdown's row (`org_clock_counts`), or the tickets' (`open_clocks_by_org`)


def ticket_timings(session: Session, scope: TicketScope, *, acting_kinds: Collection[str], ignored_actor: str,
                   resolving: Mapping[str, Collection[str]],
                   reopening: Mapping[str, tuple[Collection[str], Collection[str]]]) -> list[TicketTiming]:
    """One pass over the scope's events, one `TicketTiming` per ticket (with at least one event).

    Acknowledging: an event of `acting_kinds` by anyone but the requester and `ignored_actor`. Resolving: a
    transition into one of `resolving[process]`. Reopening: a transition from a state of
    `reopening[process][0]` into one of `reopening[process][1]`. Moved: a team change after the create."""
    return [timing for _, timing in timings_by_ticket(session, scope, acting_kinds=acting_kinds,
                                                      ignored_actor=ignored_actor, resolving=resolving,
                                                      reopening=reopening)]


def timings_by_ticket(session: Session, scope: TicketScope, *, acting_kinds: Collection[str], ignored_actor: str,
                      resolving: Mapping[str, Collection[str]],
                      reopening: Mapping[str, tuple[Collection[str], Collection[str]]]
                      ) -> list[tuple[int, TicketTiming]]:
    """`ticket_timings` with each ticket's id."""
    query = timings_query(session, scope, acting_kinds=acting_kinds, ignored_actor=ignored_actor,
                          resolving=resolving, reopening=reopening)
    return [(ticket_id, (seconds(ack), seconds(res), bool(again), bool(other), org))
            for ticket_id, ack, res, again, other, org in session.execute(query)]


def timings_query(session: Session, scope: TicketScope, *, acting_kinds: Collection[str], ignored_actor: str,
                  resolving: Mapping[str, Collection[str]],
                  reopening: Mapping[str, tuple[Collection[str], Collection[str]]],
                  columns: Sequence[Any] = (), over_events: Sequence[Any] = ()) -> Select[Any]:
    """The statement of `timings_by_ticket`: (id, seconds to acknowledge, seconds to resolve, reopened,
    moved, org) per ticket, then the ticket's `columns` and the aggregates `over_events` of its events (so
    that `kpi_facts` reads a ticket's row and events once, not once for each thing it takes from them)."""
    since = seconds_since_creation(session.get_bind().dialect.name)
    facts = (*timing_aggregates(acting_kinds=acting_kinds, ignored_actor=ignored_actor, resolving=resolving,
                                reopening=reopening), *over_events)
    if _per_ticket(session, scope):  # each ticket's events through their index, not a hash of every event
        per_ticket = (select(*(fact.label(f"fact_{i}") for i, fact in enumerate(facts)), func.count().label("events"))
                      .where(Event.ticket_id == Ticket.id).lateral("per_ticket"))
        ack, res, again, other, *more = (per_ticket.c[f"fact_{i}"] for i in range(len(facts)))
        return (select(Ticket.id, since(ack), since(res), again, other, Ticket.org, *columns, *more)
                .select_from(Ticket).join(per_ticket, true()).where(*scope.conditions(), per_ticket.c.events > 0))
    own = [scope.ids.holds(Event.ticket_id)] if scope.ids is not None else []  # their events by the index
    return (select(Ticket.id, since(facts[0]), since(facts[1]), facts[2], facts[3], Ticket.org, *columns,
                   *facts[4:])
            .select_from(Ticket).join(Event, Event.ticket_id == Ticket.id).where(*scope.conditions(), *own)
            .group_by(Ticket.id, Ticket.created_at, Ticket.org))


def timing_aggregates(*, acting_kinds: Collection[str], ignored_actor: str, resolving: Mapping[str, Collection[str]],
                      reopening: Mapping[str, tuple[Collection[str], Collection[str]]]) -> tuple[Any, Any, Any, Any]:
    """A `TicketTiming`'s aggregates over the events of a ticket (`Event` beside its `Ticket` row): the first
    acknowledging instant, the first resolving instant, 1 if it was reopened and 1 if it moved (else 0).
    Each only grows with more events (a minimum, a maximum): `kpi_facts` adds a ticket's new events to what
    its older ones gave."""
    acknowledge = and_(Event.kind.in_(list(acting_kinds)), Event.actor != Ticket.requester,
                       Event.actor != ignored_actor)
    resolve = and_(Event.kind == "transition", _per_process(
        resolving, lambda states: Event.to_state.in_(sorted(states))))
    reopen = and_(Event.kind == "transition", _per_process(
        reopening, lambda states: and_(Event.from_state.in_(sorted(states[0])),
                                       Event.to_state.in_(sorted(states[1])))))
    moved = and_(Event.kind != "create", Event.changes["team"].as_string().is_not(None))
    return (func.min(case((acknowledge, Event.at))), func.min(case((resolve, Event.at))),
            func.max(case((reopen, 1), else_=0)), func.max(case((moved, 1), else_=0)))


def clock_counts(session: Session, scope: TicketScope, now: datetime, skip_phases: Collection[str] = (),
                 only_open: bool = False) -> list[ClockCount]:
    """The scope's SLA clocks (but those in `skip_phases`; only the running and paused ones if `only_open`,
    read through their partial index) counted per name, ticket priority, phase, status and breach flag,
    each count with how many of its clocks had a deadline before `now`."""
    counted = and_(SlaClock.ticket_id == Ticket.id, SlaClock.phase.not_in(list(skip_phases)))
    query: Any
    if only_open:
        query = _open_clock_counts(session, scope, now)
    elif _per_ticket(session, scope):  # each ticket's clocks through their index (OFFSET 0:
        # not folded back into a join that reads every clock ever)
        own = (select(SlaClock.clock, SlaClock.phase, SlaClock.status, SlaClock.breached, SlaClock.deadline)
               .where(counted).offset(0).lateral("own_clocks"))
        columns: tuple[Any, ...] = (own.c.clock, Ticket.priority, own.c.phase, own.c.status, own.c.breached)
        query = (select(*columns, func.count(), func.count(case((own.c.deadline < now, 1))))
                 .select_from(Ticket).join(own, true()).where(*scope.conditions()).group_by(*columns))
    else:
        columns = (SlaClock.clock, Ticket.priority, SlaClock.phase, SlaClock.status, SlaClock.breached)
        query = (select(*columns, func.count(), func.count(case((SlaClock.deadline < now, 1))))
                 .select_from(Ticket).join(SlaClock, counted).where(*scope.conditions()).group_by(*columns))
    return [ClockCount(clock, priority, phase, status, bool(breached), clocks, overdue)
            for clock, priority, phase, status, breached, clocks, overdue in session.execute(query)]


def open_clocks_by_org(session: Session, scope: TicketScope, now: datetime) -> list[ClockCount]:
    """`clock_counts(only_open=True)` with the organization of the clocks' tickets in `org` (the tickets' own,
    not a breakdown's child key): one read of the open clocks for both the report's counts by priority and
    its rows by organization (`ClockCount`s added up by `regroup`), where each read looks up every open
    clock's ticket (9,000 at the seed's desk: about 80 ms each)."""
    query = _open_clock_counts(session, scope, now, Ticket.org)
    return [ClockCount(clock, priority, phase, status, bool(breached), count, overdue, org)
            for clock, priority, phase, status, breached, org, count, overdue in session.execute(query)]


def _open_clock_counts(session: Session, scope: TicketScope, now: datetime, *by: Any) -> Select[Any]:
    """The open clocks of the scope's tickets counted per name, priority, phase, status, breach flag and
    the tickets' columns `by`, with how many are past their deadline at `now`."""
    clocks, ticket = _open_clocks_and_their_tickets(session, scope, Ticket.priority, *by)
    columns = (clocks.c.clock, ticket.c.priority, clocks.c.phase, clocks.c.status, clocks.c.breached,
               *(ticket.c[column.key] for column in by))
    return (select(*columns, func.count(), func.count(case((clocks.c.deadline < now, 1))))
            .select_from(clocks).join(ticket, ticket.c.id == clocks.c.ticket_id).group_by(*columns))


def regroup(counts: Iterable[ClockCount], org_of: Callable[[str | None], str | None] | None = None,
            by_priority: bool = True) -> list[ClockCount]:
    """The counts added up again: each `org` replaced by `org_of(org)` (None without `org_of`), and the
    priorities together (None) unless `by_priority`."""
    total: Counter[tuple[str, str | None, str, str, bool, str | None]] = Counter()
    overdue: Counter[tuple[str, str | None, str, str, bool, str | None]] = Counter()
    for line in counts:
        key = (line.clock, line.priority if by_priority else None, line.phase, line.status, line.breached,
               org_of(line.org) if org_of is not None else None)
        total[key] += line.clocks
        overdue[key] += line.overdue
    return [ClockCount(*key[:5], count, overdue[key], key[5]) for key, count in total.items()]


def _open_clocks_and_their_tickets(session: Session, scope: TicketScope, *columns: Any) -> tuple[Any, Any]:
    """The running and paused clocks (through their partial index, whose literal condition the planner must
    see) and, to join on `id`, `columns` of their tickets in the scope. On PostgreSQL each clock's ticket is
    looked up by its key (a LATERAL): left alone, the planner reads every ticket of the period (a year: a
    third of a million) to keep the few thousand that have an open clock (100,000 tickets, a month: 400 ms
    hashed, 95 ms looked up, at load 8)."""
    clocks = (select(SlaClock.ticket_id, SlaClock.clock, SlaClock.phase, SlaClock.status, SlaClock.breached,
                     SlaClock.deadline).where(text(f"sla_clocks.{OPEN_CLOCKS}")).offset(0).subquery("open_clocks"))
    ticket: Any
    if session.get_bind().dialect.name == "postgresql":
        ticket = (select(Ticket.id, *columns).where(Ticket.id == clocks.c.ticket_id, *scope.conditions())
                  .offset(0).lateral("open_ticket"))  # OFFSET 0: not pulled up into a hash join
    else:
        ticket = select(Ticket.id, *columns).where(*scope.conditions()).subquery("open_ticket")
    return clocks, ticket


def ticket_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Ticket)) or 0


def _by_child(session: Session, parent_path: str | None) -> tuple[Any, Any]:
    """The row key of a breakdown under the organization at `parent_path` (`orgs.child_key` of the ticket's
    organization: NULL for tickets of none) and the outer join that reads the organization's path."""
    key = orgs.child_key(Organization.path, parent_path, session.get_bind().dialect.name)
    return key, (Organization, Organization.id == Ticket.org)


def org_ticket_counts(session: Session, scope: TicketScope,
                      parent_path: str | None) -> list[tuple[str | None, bool, int]]:
    """(child key, is_open, count) over the scope's tickets, by the organization directly under the one at
    `parent_path` (a root for None) that holds the ticket's organization ("" for that organization itself)."""
    key, join = _by_child(session, parent_path)
    rows = _grouped(session, key, Ticket.is_open, where=scope.conditions(), join=join, outer=True)
    return [(child, bool(is_open), count) for child, is_open, count in rows]


def org_clock_counts(session: Session, scope: TicketScope, parent_path: str | None, now: datetime,
                     skip_phases: Collection[str] = ()) -> list[ClockCount]:
    """`clock_counts` by child key (in `org`; priorities together, `priority` None): a few rows per child,
    where counting per organization would make a group of nearly every clock of 11,000 units."""
    key, join = _by_child(session, parent_path)
    columns = (SlaClock.clock, SlaClock.phase, SlaClock.status, SlaClock.breached)
    inner = (select(key.label("child"), *columns, case((SlaClock.deadline < now, 1), else_=0).label("overdue"))
             .select_from(Ticket).join(SlaClock, SlaClock.ticket_id == Ticket.id).outerjoin(*join)
             .where(*scope.conditions(), SlaClock.phase.not_in(list(skip_phases)))).subquery()
    keys = [inner.c.child, inner.c.clock, inner.c.phase, inner.c.status, inner.c.breached]
    query = select(*keys, func.count(), func.sum(inner.c.overdue)).group_by(*keys)
    out = []
    for row in session.execute(query):
        child, clock, phase, status, breached, clocks, overdue = tuple(row)
        out.append(ClockCount(clock, None, phase, status, bool(breached), clocks, int(overdue or 0), child))
    return out


def org_rating_counts(session: Session, scope: TicketScope, parent_path: str | None, process: str,
                      field: str) -> list[tuple[str | None, Any, int]]:
    """(child key, rating, count) for the scope's tickets of `process` whose field `field` holds an integer."""
    key, join = _by_child(session, parent_path)
    value = Ticket.fields[field].as_integer()
    rows = _grouped(session, key, value, join=join, outer=True,
                    where=[*scope.conditions(), scope.process_column() == process, value.is_not(None)])
    return [(child, rating, count) for child, rating, count in rows]


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
    created = and_(Event.ticket_id == Ticket.id, Event.kind == "create")
    if _per_ticket(session, scope):  # each ticket's create event through the events' index
        # OFFSET 0 keeps the planner from folding it back into a join over every event
        recorded = (select(Event.data["channel"].as_string().label("channel")).where(created).offset(0)
                    .lateral("created"))
        rows = _grouped(session, Ticket.fields["channel"].as_string(), recorded.c.channel, where=scope.conditions(),
                        join=(recorded, true()))
    else:
        rows = _grouped(session, Ticket.fields["channel"].as_string(), Event.data["channel"].as_string(),
                        where=scope.conditions(), join=(Event, created))
    return [(field_value, recorded, count) for field_value, recorded, count in rows]


def _per_ticket(session: Session, scope: TicketScope) -> bool:
    """Whether to read each ticket's events and clocks through their indexes (a LATERAL per ticket): on
    PostgreSQL, for a period holding under a tenth of the tickets. Its planner hashes every event and clock
    ever, which is right when the period holds most tickets and wrong for a month of three years (measured
    on a million tickets: a month 3.8 s -> 1.9 s per ticket; all time 20 s hashed, 30 s per ticket; a
    month of a 50,000-ticket desk 1.2 s hashed, 2.7 s per ticket)."""
    if scope.start is None or session.get_bind().dialect.name != "postgresql":
        return False
    total = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'tickets'::regclass")) or 0
    period = [Ticket.created_at >= scope.start] + ([Ticket.created_at < scope.end] if scope.end is not None else [])
    return total > 0 and (session.scalar(select(func.count()).select_from(Ticket).where(*period)) or 0) * 10 < total


def _per_process(states: Mapping[str, Any], condition: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    """`condition(states[process])` for the tickets of each process (their states differ)."""
    return or_(false(), *(and_(Ticket.process == process, condition(value)) for process, value in states.items()))


def seconds_since_creation(dialect: str) -> Callable[[Any], Any]:
    """SQL for the seconds from the ticket's creation to an instant (no datetimes to parse in Python)."""
    if dialect == "sqlite":
        return lambda instant: (func.julianday(instant) - func.julianday(Ticket.created_at)) * 86400.0
    return lambda instant: extract("epoch", instant) - extract("epoch", Ticket.created_at)


def seconds(value: Any) -> float | None:
    """A duration as the database gives it, in seconds to the millisecond."""
    return round(float(value), 3) if value is not None else None


def _grouped(session: Session, *columns: Any, where: list[ColumnElement[bool]],
             join: Any = None, outer: bool = False) -> list[tuple[Any, ...]]:
    """Counts per value of `columns`, grouped on a subquery's columns (expressions with bound parameters
    cannot be repeated in PostgreSQL's GROUP BY)."""
    inner = select(*(c.label(f"k{i}") for i, c in enumerate(columns))).select_from(Ticket)
    if join is not None:
        inner = inner.outerjoin(*join) if outer else inner.join(*join)
    inner = inner.where(*where)
    sub = inner.subquery()
    keys = [sub.c[f"k{i}"] for i in range(len(columns))]
    return [tuple(row) for row in session.execute(select(*keys, func.count()).group_by(*keys))]


def weekly_counts(session: Session, scope: TicketScope, offset_seconds: int) -> list[tuple[str, int]]:
    """Tickets created per week over the scope: (the week's Monday as YYYY-MM-DD, count), oldest first. Weeks
    are the desk's: creation times shifted by `offset_seconds` (the pack's time zone's offset from UTC) before
    the day is taken."""
    if session.get_bind().dialect.name == "sqlite":
        monday: Any = func.date(func.datetime(Ticket.created_at, f"{offset_seconds:+d} seconds"), "weekday 0",
                                "-6 days")
    else:
        shifted = Ticket.created_at + text(f"interval '{offset_seconds:d} seconds'")
        monday = func.to_char(func.date_trunc("week", shifted), "YYYY-MM-DD")
    rows = _grouped(session, monday, where=scope.conditions())
    return sorted((str(week), int(count)) for week, count in rows if week is not None)
