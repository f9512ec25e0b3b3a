"""What each ticket adds to the KPIs (`KpiFact`) and those contributions summed per day (`KpiDay`), kept
current as tickets change, so that a month, a year or all time of figures costs about the same (issue 18).

A ticket's facts are what the KPI report derives from its row, its event log and its stopped SLA clocks:
milliseconds to acknowledge and to resolve, reopened or moved, its channel and rating, which stopped clocks
met or breached their target. `contributions` turns them into (figure, key, amount) triples; a day's row
of `KpiDay` is the sum of its tickets' triples, per process and team. What the figures mean (which states
resolve, who acknowledges) is the engine's decision, handed here as `Rules`; a change of those rules (a
new pack version) changes `Rules.fingerprint`, and the facts are rebuilt from the tickets.

Triggers put every changed ticket in `kpi_pending` within the transaction that changed it (migration
0016), with the lowest id of the events it gained (`since`, migration 0020): no write path can forget to.
`fold` takes pending tickets, brings their facts up to date and applies the difference to the day sums:
on SQLite computed afresh (`compute`), on PostgreSQL by adding the events from `since` on to the facts
counted so far (`count_since`: what facts take from events only grows with them). The pending rows are
deleted *before* the facts are read, so a change committed meanwhile leaves its ticket pending again rather
than lost. A writer adding an event locks the ticket's pending row, and the fold skips the rows writers
hold (their tickets wait for the next fold): it neither misses an event committed after its reads nor
waits for a writer, which may be waiting for it. On PostgreSQL an advisory lock keeps folds one at a time
(two folds of one ticket would both subtract its old facts).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    BigInteger,
    Connection,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from . import settings
from .bulk import insert_rows
from .dialects import among, any_of, is_postgres
from .models import Event, KpiDay, KpiFact, KpiPending, SlaClock, Ticket
from .reports import IdSet, TicketScope, TicketTiming, seconds, seconds_since_creation, timing_aggregates, timings_query

FINGERPRINT = "kpi_facts"  # the settings key of the rules the stored facts were computed under
LAYOUT = 1  # bumped when what a fact holds changes: the facts are then rebuilt
FOLD_LOCK = 0x6B7069  # PostgreSQL advisory lock of `fold` ("kpi")
_UPSERT: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclass(frozen=True)
class Rules:
    """How the engine derives a ticket's facts: the arguments of `reports.ticket_timings`, the rating field of
    each process's form, and the desk's offset from UTC in seconds (a ticket's day is the desk's)."""

    acting_kinds: tuple[str, ...]
    ignored_actor: str
    resolving: Mapping[str, frozenset[str]]
    reopening: Mapping[str, tuple[frozenset[str], frozenset[str]]]
    rating_fields: Mapping[str, str | None]
    offset_seconds: int

    def fingerprint(self) -> str:
        described = {
            "layout": LAYOUT, "acting": sorted(self.acting_kinds), "ignored": self.ignored_actor,
            "resolving": {p: sorted(s) for p, s in self.resolving.items()},
            "reopening": {p: [sorted(s[0]), sorted(s[1])] for p, s in self.reopening.items()},
            "ratings": dict(self.rating_fields), "offset": self.offset_seconds}
        return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:32]

    def day_of(self, instant: datetime) -> date:
        return (instant.astimezone(UTC) + timedelta(seconds=self.offset_seconds)).date()

    def start_of(self, day: date) -> datetime:
        """The instant the desk's `day` begins."""
        return datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(seconds=self.offset_seconds)


class Fact(NamedTuple):
    """A `KpiFact` row."""

    ticket_id: int
    process: str
    team: str | None
    priority: str | None
    org: str | None
    channel: str
    rating: int | None
    created_at: datetime
    day: date
    ack_ms: int | None
    resolve_ms: int | None
    reopened: bool
    moved: bool
    met: str
    breached: str


Key = tuple[str, str]  # (figure, key)


def contributions(fact: Fact) -> Iterable[tuple[str, str, int]]:
    """What the ticket adds to the sums: (figure, key, amount)."""
    yield "created", "", 1
    if fact.ack_ms is not None:
        yield "acknowledged", "", 1
        yield "ack_ms", "", fact.ack_ms
    if fact.resolve_ms is not None:
        yield "resolved", "", 1
        yield "resolve_ms", "", fact.resolve_ms
        if fact.reopened:
            yield "reopened", "", 1
        elif not fact.moved:
            yield "first_contact", "", 1
    yield "channel", fact.channel, 1
    if fact.rating is not None:
        yield "rating", str(fact.rating), 1
    for figure, clocks in (("sla_met", fact.met), ("sla_breached", fact.breached)):
        for clock in clocks.split(",") if clocks else ():
            yield figure, clock_key(clock, fact.priority), 1


def clock_key(clock: str, priority: str | None) -> str:
    return f"{clock}|{priority or ''}"


def split_clock_key(key: str) -> tuple[str, str | None]:
    clock, _, priority = key.partition("|")
    return clock, priority or None


# -- keeping them current --------------------------------------------------------------------------------------

def stored_fingerprint(session: Session) -> str | None:
    return settings.value(session, FINGERPRINT)


def pending(session: Session, up_to: int | None = None) -> int:
    """How many tickets wait to be folded; counted no further than `up_to` + 1 if given (a report asks
    whether there are few, and need not count a rebuild's million)."""
    waiting = select(_PENDING.c.ticket_id)
    if up_to is not None:
        waiting = waiting.limit(up_to + 1)
    return session.connection().scalar(select(func.count()).select_from(waiting.subquery())) or 0


def lock(session: Session) -> None:
    """Wait for any other fold to end (PostgreSQL; SQLite has one writer at a time anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FOLD_LOCK})


def rebuild(session: Session, rules: Rules) -> int:
    """Forget every fact and make every ticket pending, under `rules`: the number of tickets."""
    for table in (KpiFact, KpiDay, KpiPending):
        session.execute(delete(table))
    session.execute(insert(KpiPending).from_select(["ticket_id"], select(Ticket.id)))
    settings.put(session, FINGERPRINT, rules.fingerprint())
    return pending(session)


def fold(session: Session, rules: Rules, limit: int = 1000) -> int:
    """Bring the facts of up to `limit` pending tickets up to date, and the day sums with them: how many.
    On PostgreSQL the facts counted so far add the ticket's new events (`count_since`); the tickets never
    counted, and every ticket on SQLite, are computed afresh (`compute`). Only the facts that differ are
    written (a swept breach changes the facts of few of its tickets), with Core statements on the session's
    connection."""
    connection = session.connection()
    taken = (delete(_PENDING).where(_PENDING.c.ticket_id.in_(  # but those a writer holds (PostgreSQL): left
        select(_PENDING.c.ticket_id).order_by(_PENDING.c.ticket_id).limit(limit)  # for the next fold, never
        .with_for_update(skip_locked=True).scalar_subquery()))  # waited for (a writer may wait for this fold)
        .returning(_PENDING.c.ticket_id, _PENDING.c.since))
    since: dict[int, int | None] = dict(connection.execute(taken).all())
    if not since:
        return 0
    if is_postgres(session):  # the facts counted so far and the events since; all events of the others
        old = _facts_where(connection, any_of(_FACTS.c.ticket_id, sorted(since)))
        added_to = [ticket_id for ticket_id in old if since[ticket_id] != 0]
        new = count_since(connection, rules, {ticket_id: since[ticket_id] for ticket_id in added_to}, old)
        # never counted (new tickets, a rebuild: dense runs, read as ranges), or to count again from their first
        # event (`since` 0: the requester changed, which tells whose events acknowledge)
        fresh = set(since) - set(added_to)
        if fresh:
            new.update((fact.ticket_id, fact) for fact in compute(session, IdSet.of(fresh), rules)
                       if fact.ticket_id in fresh)
    else:
        tickets = IdSet.of(since)  # a range holds tickets that were not pending too: recomputed as well
        old = _facts_where(connection, tickets.holds(_FACTS.c.ticket_id))
        new = {fact.ticket_id: fact for fact in compute(session, tickets, rules)}
    gone = [fact for ticket_id, fact in old.items() if new.get(ticket_id) != fact]
    added = [fact for ticket_id, fact in new.items() if old.get(ticket_id) != fact]
    change: Counter[tuple[date, str, str, str, str]] = Counter()
    for facts, sign in ((gone, -1), (added, 1)):
        for fact in facts:
            for figure, key, amount in contributions(fact):
                change[(fact.day, fact.process, fact.team or "", figure, key)] += sign * amount
    if gone:
        connection.execute(delete(_FACTS).where(among(connection, _FACTS.c.ticket_id,
                                                      [fact.ticket_id for fact in gone])))
    insert_rows(connection, _FACTS, [fact._asdict() for fact in added])
    _add_to_days(connection, {key: amount for key, amount in change.items() if amount})
    return len(since)


def _add_to_days(connection: Connection, change: Mapping[tuple[date, str, str, str, str], int]) -> None:
    """Add the amounts to their day rows (in key order, as every fold does), and drop rows summing to 0."""
    if not change:
        return
    statement = _UPSERT[connection.dialect.name](_DAYS)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "process", "team", "figure", "key"],
        set_={"amount": _DAYS.c.amount + statement.excluded.amount})
    names = ("day", "process", "team", "figure", "key")
    connection.execute(statement, [{**dict(zip(names, key, strict=True)), "amount": amount}
                                   for key, amount in sorted(change.items())])
    connection.execute(delete(_DAYS).where(among(connection, _DAYS.c.day, sorted({key[0] for key in change})),
                                           _DAYS.c.amount == 0))


def compute(session: Session, ids: IdSet, rules: Rules) -> list[Fact]:
    """The facts of the tickets `ids` of the rules' processes, from their rows, all their events and their
    clocks: one read of each ticket's row and events (its timings, its fields, the channel its create event
    recorded), one of its stopped clocks. The reference that `count_since` is tested against; on
    PostgreSQL, what tickets never counted get (a rebuild's batches: hashed, twice as fast as per ticket)."""
    rated = _rated(rules)
    recorded = func.max(case((Event.kind == "create", Event.data["channel"].as_string())))
    query = timings_query(session, TicketScope(tuple(rules.resolving), ids=ids), acting_kinds=rules.acting_kinds,
                          ignored_actor=rules.ignored_actor, resolving=rules.resolving, reopening=rules.reopening,
                          columns=(Ticket.process, Ticket.team, Ticket.priority, Ticket.created_at,
                                   Ticket.fields["channel"].as_string(), *(Ticket.fields[name] for name in rated)),
                          over_events=(recorded,))
    connection = session.connection()
    met, breached = _stopped_clocks(connection, ids)
    out = []
    for row in connection.execute(query).all():  # only tickets of the rules' processes with events: no report
        # counts those of a process the pack no longer has
        ticket_id, ack, resolve, reopened, moved, org, process, team, priority, created_at, channel, *more = row
        *ratings, recorded_channel = more
        out.append(Fact(ticket_id, process, team, priority, org, channel_of(_text(channel), recorded_channel),
                        _rating_of(rules, rated, process, ratings), created_at, rules.day_of(created_at),
                        _ms(seconds(ack)), _ms(seconds(resolve)), bool(reopened), bool(moved),
                        ",".join(met.get(ticket_id, ())), ",".join(breached.get(ticket_id, ()))))
    return out


NO_EVENT = 2**63 - 1  # where `count_since` reads the events of a ticket with no new event: past the last


def count_since(connection: Connection, rules: Rules, since: Mapping[int, int | None],
                counted: Mapping[int, Fact]) -> dict[int, Fact]:
    """PostgreSQL: the facts of the tickets `since` holds, each from its row, its stopped clocks, and its
    events from `since[ticket]` on (`KpiPending.since`; None: no new event) added to `counted[ticket]`, its
    facts so far: the first instants the earlier of the two, reopened and moved either's. So a fold reads
    the events a change added, not the whole log again (at a million tickets, pages long out of the cache).
    One statement, the ids and their `since` in two array parameters: each ticket's row and clocks by key,
    its new events through their index (ticket_id, id)."""
    ids = sorted(since)
    want = (func.unnest(bindparam(None, ids, type_=_IDS), bindparam(None, [since[i] for i in ids], type_=_IDS))
            .table_valued("ticket_id", "since").render_derived(name="want"))
    new_events = (select(*(fact.label(f"fact_{i}") for i, fact in enumerate(timing_aggregates(
                      acting_kinds=rules.acting_kinds, ignored_actor=rules.ignored_actor, resolving=rules.resolving,
                      reopening=rules.reopening))))
                  .where(Event.ticket_id == Ticket.id, Event.id >= func.coalesce(want.c.since, NO_EVENT))
                  .lateral("new_events"))
    names = func.string_agg(_CLOCKS.c.clock, aggregate_order_by(literal(","), _CLOCKS.c.clock))
    broken = or_(_CLOCKS.c.breached, _CLOCKS.c.status == "breached")
    stopped = (select(names.filter(~broken).label("met"), names.filter(broken).label("breached"))
               .where(_CLOCKS.c.ticket_id == Ticket.id, _CLOCKS.c.phase == "stopped").lateral("stopped"))
    field = Ticket.fields["channel"].as_string()
    created = (select(Event.data["channel"].as_string()).where(Event.ticket_id == Ticket.id, Event.kind == "create")
               .order_by(Event.id).limit(1).scalar_subquery())
    since_creation = seconds_since_creation("postgresql")
    rated = _rated(rules)
    query = (select(Ticket.id, since_creation(new_events.c.fact_0), since_creation(new_events.c.fact_1),
                    new_events.c.fact_2, new_events.c.fact_3, Ticket.process, Ticket.team, Ticket.priority, Ticket.org,
                    Ticket.created_at, field, case((func.coalesce(field, "") == "", created)),  # read if needed
                    stopped.c.met, stopped.c.breached, *(Ticket.fields[name] for name in rated))
             .select_from(want).join(Ticket, Ticket.id == want.c.ticket_id)
             .join(new_events, true()).join(stopped, true()).where(Ticket.process.in_(list(rules.resolving))))
    out = {}
    for row in connection.execute(query).all():  # not those gone, nor of a process the pack no longer has
        (ticket_id, ack, resolve, reopened, moved, process, team, priority, org, created_at, channel, recorded,
         met, breached, *ratings) = row
        before = counted[ticket_id]
        out[ticket_id] = Fact(ticket_id, process, team, priority, org, channel_of(_text(channel), recorded),
                              _rating_of(rules, rated, process, ratings), created_at, rules.day_of(created_at),
                              _earlier(before.ack_ms, _ms(seconds(ack))),
                              _earlier(before.resolve_ms, _ms(seconds(resolve))), before.reopened or bool(reopened),
                              before.moved or bool(moved), met or "", breached or "")
    return out


def _facts_where(connection: Connection, condition: Any) -> dict[int, Fact]:
    return {row[0]: Fact(*row) for row in connection.execute(select(*_FACTS_COLUMNS).where(condition)).all()}


def _stopped_clocks(connection: Connection, ids: IdSet) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """The names of each ticket's stopped clocks that met their target, and of those that breached it."""
    met: dict[int, list[str]] = {}
    breached: dict[int, list[str]] = {}
    for ticket_id, clock, status, was_breached in connection.execute(
            select(_CLOCKS.c.ticket_id, _CLOCKS.c.clock, _CLOCKS.c.status, _CLOCKS.c.breached)
            .where(ids.holds(_CLOCKS.c.ticket_id), _CLOCKS.c.phase == "stopped").order_by(_CLOCKS.c.clock)).all():
        (breached if was_breached or status == "breached" else met).setdefault(ticket_id, []).append(clock)
    return met, breached


def _rated(rules: Rules) -> list[str]:
    """The rating fields of the rules' processes, in the order their values are read."""
    return sorted({name for name in rules.rating_fields.values() if name})


def _rating_of(rules: Rules, rated: list[str], process: str, values: list[Any]) -> int | None:
    field = rules.rating_fields.get(process)
    return _rating(values[rated.index(field)]) if field else None


def _earlier(one: int | None, other: int | None) -> int | None:
    return other if one is None else one if other is None else min(one, other)


def channel_of(field_value: str | None, recorded: str | None) -> str:
    """The ticket's `channel` field when its form has one, else the channel recorded on its create event."""
    return field_value or recorded or "unknown"


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _rating(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _ms(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1000)


_FACTS, _DAYS, _PENDING, _CLOCKS = (cast(Table, model.__table__) for model in (KpiFact, KpiDay, KpiPending, SlaClock))
_FACTS_COLUMNS = tuple(_FACTS.c[name] for name in Fact._fields)
_IDS = postgresql.ARRAY(BigInteger())


# -- reading them ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FactScope:
    """The tickets of `processes` created in [start, end), held by `team` if given."""

    processes: tuple[str, ...]
    start: datetime | None = None
    end: datetime | None = None
    team: str | None = None

    def fact_conditions(self) -> list[Any]:
        out: list[Any] = [KpiFact.process.in_(self.processes)]
        if self.start is not None:
            out.append(KpiFact.created_at >= self.start)
        if self.end is not None:
            out.append(KpiFact.created_at < self.end)
        if self.team is not None:
            out.append(KpiFact.team == self.team)
        return out

    def day_conditions(self, first: date | None, last: date | None) -> list[Any]:
        out: list[Any] = [KpiDay.process.in_(self.processes)]
        if first is not None:
            out.append(KpiDay.day >= first)
        if last is not None:
            out.append(KpiDay.day <= last)
        if self.team is not None:
            out.append(KpiDay.team == self.team)
        return out


def day_sums(session: Session, scope: FactScope, first: date | None, last: date | None) -> Counter[Key]:
    """The sums of the whole days `first` to `last` (None: no bound), per (figure, key)."""
    query = (select(KpiDay.figure, KpiDay.key, func.sum(KpiDay.amount))
             .where(*scope.day_conditions(first, last)).group_by(KpiDay.figure, KpiDay.key))
    return Counter({(figure, key): int(amount) for figure, key, amount in session.execute(query)})


def created_per_day(session: Session, scope: FactScope, first: date | None, last: date | None) -> Counter[date]:
    query = (select(KpiDay.day, func.sum(KpiDay.amount))
             .where(*scope.day_conditions(first, last), KpiDay.figure == "created").group_by(KpiDay.day))
    return Counter({day: int(amount) for day, amount in session.execute(query)})


def facts_of(session: Session, scope: FactScope) -> list[Fact]:
    """The facts of the scope's tickets, one each (for part of a day)."""
    rows = session.connection().execute(select(*_FACTS_COLUMNS).where(*scope.fact_conditions()))  # plain rows: no ORM
    return [Fact(*row) for row in rows]


class OrgFact(NamedTuple):
    """What a row by organization reads of a ticket's facts."""

    org: str | None
    ack_ms: int | None
    resolve_ms: int | None
    reopened: bool
    moved: bool
    rating: int | None
    met: str
    breached: str


def org_facts_of(session: Session, scope: FactScope) -> list[OrgFact]:
    """The facts of the scope's tickets that the rows by organization add up, one each (a month of the seed's
    desk is 30,000: read on the connection, as plain rows, at a third of what the ORM's results cost)."""
    query = select(*(getattr(KpiFact, name) for name in OrgFact._fields)).where(*scope.fact_conditions())
    return [OrgFact(*row) for row in session.connection().execute(query)]


def timings_of(facts: list[OrgFact]) -> list[TicketTiming]:
    """The tickets' timings as `reports.ticket_timings` gives them (one loop without a call per fact: a
    month of the seed's desk is 30,000)."""
    return [(None if ack is None else ack / 1000, None if resolve is None else resolve / 1000, reopened, moved, org)
            for org, ack, resolve, reopened, moved, *_ in facts]


def middle(session: Session, scope: FactScope, figure: str, count: int) -> float | None:
    """The median of `ack_ms` or `resolve_ms` (`figure`) over the scope's `count` tickets that have one:
    read by walking its index in order to the middle."""
    if count <= 0:
        return None
    column = KpiFact.ack_ms if figure == "ack_ms" else KpiFact.resolve_ms
    values = [value for value in session.scalars(select(column).where(*scope.fact_conditions(), column.is_not(None))
                                  .order_by(column).offset((count - 1) // 2).limit(2 - count % 2)) if value is not None]
    return sum(values) / len(values) if values else None


class PeriodSums(NamedTuple):
    """A scope's figures: the sums per (figure, key), tickets created per desk day, the middle of each duration."""

    sums: Counter[Key]
    created_per_day: Counter[date]
    ack_middle_ms: float | None
    resolve_middle_ms: float | None


def period_sums(session: Session, scope: FactScope, rules: Rules) -> PeriodSums:
    """The scope's sums: its whole desk days from `KpiDay`, the parts of days at either end of the period from
    their tickets' facts (a period from 10:00 holds that day's tickets from 10:00 on)."""
    sums: Counter[Key] = Counter()
    per_day: Counter[date] = Counter()
    days, parts = whole_days(scope.start, scope.end, rules)
    if days is not None:
        sums.update(day_sums(session, scope, *days))
        per_day.update(created_per_day(session, scope, *days))
    for start, end in parts:
        for fact in facts_of(session, FactScope(scope.processes, start, end, scope.team)):
            per_day[fact.day] += 1
            for figure, key, amount in contributions(fact):
                sums[(figure, key)] += amount
    return PeriodSums(sums, per_day, middle(session, scope, "ack_ms", sums[("acknowledged", "")]),
                      middle(session, scope, "resolve_ms", sums[("resolved", "")]))


Days = tuple[date | None, date | None]


def whole_days(start: datetime | None, end: datetime | None,
               rules: Rules) -> tuple[Days | None, list[tuple[datetime | None, datetime | None]]]:
    """The desk days lying wholly in [start, end) (None: none; a None bound: unbounded), and the parts of
    the period outside them."""
    first = last = None
    parts: list[tuple[datetime | None, datetime | None]] = []
    if start is not None:
        first = rules.day_of(start)
        if rules.start_of(first) < start:
            first += timedelta(days=1)
    if end is not None:
        last = rules.day_of(end) - timedelta(days=1)  # `end` itself is after the period
    if first is not None and last is not None and first > last:
        return None, [(start, end)]  # within a day or two partial ones
    if first is not None and start is not None and rules.start_of(first) > start:
        parts.append((start, rules.start_of(first)))
    if last is not None and end is not None and rules.start_of(last + timedelta(days=1)) < end:
        parts.append((rules.start_of(last + timedelta(days=1)), end))
    return (first, last), parts
