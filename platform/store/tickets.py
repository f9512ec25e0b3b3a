"""Ticket rows: read by number or id (locked for a change on PostgreSQL), inserted, updated under their
version (optimistic concurrency: a stale write matches no row), and the queue's page.

Rows come back as Core rows, the columns in table order (no ORM objects: the engine builds frozen
snapshots of them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Row,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.orm import Session

from .dialects import among, is_postgres
from .models import NO_PRIORITY_RANK, SlaClock, Ticket
from .visibility import Viewer, own_branches, sees

TICKETS = cast(Table, Ticket.__table__)
_BY_NUMBER = select(TICKETS).where(TICKETS.c.number == bindparam("number"))
_BY_NUMBER_LOCKED = _BY_NUMBER.with_for_update()  # PostgreSQL: waits for the ticket's writer
_BY_ID = select(TICKETS).where(TICKETS.c.id == bindparam("id"))
_INSERT = insert(TICKETS).returning(TICKETS.c.id)
# The columns to set come with the parameters (SQLAlchemy sets those it is given): one statement object,
# built and keyed for the compiled cache once, instead of a statement per change.
_UPDATE = (update(TICKETS).where(TICKETS.c.id == bindparam("_id"), TICKETS.c.version == bindparam("_version"))
           .values(version=TICKETS.c.version + 1))
SLA_FILTERS = ("breached", "at_risk", "running", "paused")
WALK = 8  # pages of tickets an open queue filtered by a DENSE clock status tests one by one (`page`)


def by_number(session: Session, number: str, lock: bool = False) -> Row[Any] | None:
    """The ticket's row (its columns in table order); `lock`: held until the transaction ends (PostgreSQL;
    SQLite has one writer at a time)."""
    query = _BY_NUMBER_LOCKED if lock and is_postgres(session) else _BY_NUMBER
    return session.connection().execute(query, {"number": number}).first()


def by_id(session: Session, ticket_id: int) -> Row[Any] | None:
    return session.connection().execute(_BY_ID, {"id": ticket_id}).first()


def by_ids_locked(session: Session, ids: Collection[int]) -> list[Row[Any]]:
    """The tickets of `ids` by id; on PostgreSQL locked, skipping those another transaction holds."""
    query = select(TICKETS).where(among(session, TICKETS.c.id, ids)).order_by(TICKETS.c.id)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.connection().execute(query).all())


def number_of(session: Session, ticket_id: int) -> str | None:
    return session.scalar(select(Ticket.number).where(Ticket.id == ticket_id))


def insert_ticket(session: Session, values: Mapping[str, Any]) -> int:
    """A new ticket (every column but the id); returns its id."""
    return int(session.connection().execute(_INSERT, dict(values)).scalar_one())


def update_ticket(session: Session, ticket_id: int, version: int, values: Mapping[str, Any]) -> bool:
    """Write `values` and bump the version if the row is still at `version`; False when it was not."""
    parameters = {name: value for name, value in values.items() if name != "version"}
    return session.connection().execute(_UPDATE, {**parameters, "_id": ticket_id, "_version": version}).rowcount == 1


def fields_after(session: Session, last_id: int, limit: int) -> Sequence[Any]:
    """(id, process, fields) of the tickets after `last_id`, by id (re-indexing in batches)."""
    return session.execute(select(Ticket.id, Ticket.process, Ticket.fields).where(Ticket.id > last_id)
                           .order_by(Ticket.id).limit(limit)).all()


def numbers_among(session: Session, numbers: Collection[str], where: ColumnElement[bool] | None) -> set[str]:
    """Those of `numbers` that tickets meeting `where` (None: any ticket) have."""
    if not numbers:
        return set()
    query = select(TICKETS.c.number).where(TICKETS.c.number.in_(list(numbers)))
    if where is not None:
        query = query.where(where)
    return set(session.scalars(query))


_RUNNING = SlaClock.phase == literal_column("'running'")
_PAUSED = SlaClock.phase == literal_column("'paused'")
# The clocks of `ix_sla_clocks_open`, in the index's very words (literals, not parameters: SQLite uses a
# partial index only for a query that repeats its condition, PostgreSQL only where a plan proves it).
_OPEN = SlaClock.phase.in_([literal_column("'running'"), literal_column("'paused'")])


def _clock_condition(status: str, now: datetime) -> ColumnElement[bool]:
    """A running or paused clock in `status` (one of SLA_FILTERS) now."""
    overdue = _RUNNING & (SlaClock.deadline < now)
    breached = SlaClock.breached.is_(True) | overdue
    return {
        "breached": breached,
        "at_risk": _RUNNING & (SlaClock.warnings_fired > 0) & ~breached,
        "running": _RUNNING & ~breached,
        "paused": _PAUSED,
    }[status]


def sla_status_condition(status: str, now: datetime) -> ColumnElement[bool]:
    """Tickets with at least one clock in `status` (one of SLA_FILTERS), as the queue shows them now: the
    ids of the running and paused clocks' tickets read from `ix_sla_clocks_open` (the few clocks that run,
    not every clock ever)."""
    return TICKETS.c.id.in_(select(SlaClock.ticket_id).where(_OPEN, _clock_condition(status, now)))


# The statuses an open queue looks for by walking its order (`page`): a breached ticket leads the urgency
# order (`sla_rank` 0), the agents' default, and stays breached until it is resolved, so breached tickets
# are many among the open ones (30% of the benchmark desks'); a warned one (`at_risk`) is a passing state of
# a few, cheaper to read as a set.
DENSE = ("breached",)


def sla_status_test(status: str, now: datetime) -> Callable[[ColumnElement[Any]], ColumnElement[bool]] | None:
    """For a status in DENSE, the test `sla_status_condition` makes, written for one ticket (its id as
    `ticket_id`): an EXISTS over that ticket's own clocks (read through their (ticket_id, clock) key).
    The OFFSET 0 keeps PostgreSQL from turning it into a join with every matching clock: it stays a test of
    each ticket read, in order, so that a walk stops after a page (`page`). None for the other statuses."""
    if status not in DENSE:
        return None
    condition = _clock_condition(status, now)

    def test(ticket_id: ColumnElement[Any]) -> ColumnElement[bool]:
        return select(literal_column("1")).where(SlaClock.ticket_id == ticket_id, _OPEN, condition).offset(0).exists()
    return test


# The queue's orders (SPEC 10 `sort=`): the columns of each key, descending or not, the ticket id last so
# that the key is unique and a page continues after the last row's key (keyset pagination). `sla_due_at`
# is null exactly when `sla_rank` is 2, so the order is the same on SQLite (nulls first) and PostgreSQL.
# Tickets are numbered and given ids as they are created: `created` orders by id.
SORT_KEYS: dict[str, tuple[tuple[str, bool], ...]] = {
    "urgency": (("sla_rank", False), ("sla_due_at", False), ("priority_rank", False), ("id", False)),
    "priority": (("priority_rank", False), ("id", False)),
    "-created": (("id", True),),
    "created": (("id", False),),
    "-updated": (("updated_at", True), ("id", True)),
}


def page(session: Session, limit: int, equal: Mapping[str, str], viewer: Viewer | None,
         sla: ColumnElement[bool] | None, after: Sequence[Any] | None,
         where: Sequence[ColumnElement[bool]] = (), sort: str = "-created", backwards: bool = False,
         open_only: bool = False, sla_test: Callable[[ColumnElement[Any]], ColumnElement[bool]] | None = None
         ) -> list[Any]:
    """Up to `limit` tickets in the order `sort` (a key of SORT_KEYS): columns equal to `equal`, visible to
    `viewer` (None: everything), with a clock in a status (`sla`), meeting `where`, after the key `after`
    (the `sort_key` of the previous page's last row); `backwards`: the rows just before `after` instead,
    nearest first (the caller turns them round); `open_only`: no ticket in a final state (the first column of
    the orders' indexes). (A search, `q=`, is `search.match` over `page_conditions`.) A requester's or a
    unit contact's page is the first rows of each of its visibility branches (`visibility.own_branches`),
    each read through its own index, merged.

    `sla_test`: `sla` as a test of one ticket (`sla_status_test`), for a status many open tickets hold. An
    open queue (`open_only`: its orders are index walks) first tests the first WALK pages of tickets in its
    order, one by one, and stops when they hold a page; only when they do not is `sla` read as a set (every
    ticket with such a clock, sorted). Exact either way: a ticket beyond the walked ones comes after all of
    them in the order. Left to choose,
    PostgreSQL estimates how many tickets hold such a clock from every ticket ever, so the longer the
    history the fewer it expects and the more it prefers reading every one of them (6,000 breached
    tickets, 35 ms at a million tickets) to walking a page (0.3 ms); a walk that finds less than a page
    costs WALK pages of look-ups (1-2 ms) before the set is read."""
    keys = tuple((name, down != backwards) for name, down in SORT_KEYS[sort])
    order = [TICKETS.c[name].desc() if down else TICKETS.c[name] for name, down in keys]
    common = [*where]
    if open_only:
        common.append(TICKETS.c.is_open)
    if after is not None:
        common.append(after_key(keys, after))
    branches = own_branches(viewer) if viewer is not None else None
    if branches is not None:
        common = [*page_conditions(equal, None, sla), *common]
        firsts = [select(TICKETS.c.id).where(branch, *common).order_by(*order).limit(limit).subquery()
                  for branch in branches]
        ids = union(*(select(found.c.id) for found in firsts))
        query = select(TICKETS).where(TICKETS.c.id.in_(ids)).order_by(*order).limit(limit)
        return list(session.connection().execute(query))
    newest_first = not equal and not where and session.get_bind().dialect.name == "sqlite"
    if sla_test is not None and open_only:
        walked = (select(TICKETS).where(*page_conditions(equal, viewer, None, newest_first), *common)
                  .order_by(*order).limit(WALK * limit).subquery())
        rows = list(session.connection().execute(
            select(walked).where(sla_test(walked.c.id)).limit(limit)
            .order_by(*(walked.c[name].desc() if down else walked.c[name] for name, down in keys))))
        if len(rows) == limit:
            return rows
    query = select(TICKETS).order_by(*order).where(*page_conditions(equal, viewer, sla, newest_first), *common)
    query = query.limit(limit)
    return list(session.connection().execute(query))


def sort_key(sort: str, row: Any) -> tuple[Any, ...]:
    """The values of `row` that order it under `sort` (a page's cursor)."""
    return tuple(getattr(row, name) for name, _ in SORT_KEYS[sort])


def after_key(keys: Sequence[tuple[str, bool]], values: Sequence[Any]) -> ColumnElement[bool]:
    """The rows after `values` in the order `keys`: (a > x) or (a = x and b > y) or ... A null value
    (`sla_due_at` of the calm tickets, where every row has it null) has no row beyond it, only equals."""
    terms: list[ColumnElement[bool]] = []
    prefix: list[ColumnElement[bool]] = []
    for (name, down), value in zip(keys, values, strict=True):
        column = TICKETS.c[name]
        if value is not None:
            terms.append(and_(*prefix, column < value if down else column > value))
            prefix.append(column == value)
        else:
            prefix.append(column.is_(None))
    return or_(*terms)


def rank_priorities(session: Session, process: str, ranks: Mapping[str, int]) -> None:
    """The open tickets of `process` take `priority_rank` from `ranks` (a level missing: ranked last)."""
    rank = case(*((TICKETS.c.priority == level, value) for level, value in ranks.items()),
                else_=NO_PRIORITY_RANK) if ranks else literal(NO_PRIORITY_RANK)
    session.execute(update(TICKETS).where(TICKETS.c.process == process, TICKETS.c.is_open.is_(True),
                                          TICKETS.c.priority_rank != rank).values(priority_rank=rank))


def count(session: Session, conditions: Sequence[ColumnElement[bool]]) -> int:
    """How many tickets meet `conditions` (the queue's `count=true`)."""
    return int(session.scalar(select(func.count()).select_from(TICKETS).where(*conditions)) or 0)


def page_conditions(equal: Mapping[str, str], viewer: Viewer | None,
                    sla: ColumnElement[bool] | None, newest_first: bool = False) -> list[ColumnElement[bool]]:
    """The queue's filters as conditions on tickets (`page`)."""
    out: list[ColumnElement[bool]] = [TICKETS.c[column] == value for column, value in equal.items()]
    if viewer is not None:
        out.append(sees(viewer, newest_first=newest_first))
    if sla is not None:
        out.append(sla)
    return out
