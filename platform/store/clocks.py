"""SLA clock rows: read per ticket, written per ticket, and found when due (the worker's sweep).

A clock is keyed by (ticket, clock name), which is unique: a change writes its clocks by that key, so it
needs no ids of rows it inserted a moment before.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from .dialects import among, is_postgres
from .models import SlaClock
from .tickets import TICKETS

CLOCKS = cast(Table, SlaClock.__table__)
_OF_TICKET = select(CLOCKS).where(CLOCKS.c.ticket_id == bindparam("ticket_id"))
_INSERT = insert(CLOCKS)
_UPDATE = update(CLOCKS).where(CLOCKS.c.ticket_id == bindparam("_ticket"), CLOCKS.c.clock == bindparam("_clock"))


def of_ticket(session: Session, ticket_id: int) -> list[Row[Any]]:
    """The ticket's clock rows (columns in table order)."""
    return list(session.connection().execute(_OF_TICKET, {"ticket_id": ticket_id}))


def of_tickets(session: Session, ticket_ids: Collection[int]) -> dict[int, list[Row[Any]]]:
    """The clock rows of many tickets in one query, by ticket id."""
    found: dict[int, list[Row[Any]]] = {}
    if not ticket_ids:
        return found
    query = select(CLOCKS).where(among(session, CLOCKS.c.ticket_id, ticket_ids))
    for row in session.connection().execute(query).all():  # fetchall: a row at a time costs more
        found.setdefault(row.ticket_id, []).append(row)
    return found


def insert_clocks(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.connection().execute(_INSERT, [dict(row) for row in rows])


def update_clock(session: Session, ticket_id: int, clock: str, values: Mapping[str, Any]) -> None:
    session.connection().execute(_UPDATE, {**values, "_ticket": ticket_id, "_clock": clock})


def due_ticket_ids(session: Session, now: datetime, limit: int) -> tuple[list[int], bool]:
    """Up to `limit` tickets with a clock due before `now`, most overdue first, and whether `limit` were found
    (more may be due). A batch counts tickets, not clock rows: a ticket's step evaluates all its clocks.
    On PostgreSQL the tickets are locked, skipping those another worker (or a user's change) holds: that
    worker takes the next ones."""
    due = (select(CLOCKS.c.ticket_id, func.min(CLOCKS.c.next_timer_at).label("due_at"))
           .where(CLOCKS.c.next_timer_at < now).group_by(CLOCKS.c.ticket_id).subquery("due"))
    query = select(TICKETS.c.id).join(due, due.c.ticket_id == TICKETS.c.id).order_by(due.c.due_at, TICKETS.c.id)
    query = query.limit(limit)
    if not is_postgres(session):
        ids = list(session.scalars(query).all())
        return ids, len(ids) >= limit
    locked = list(session.scalars(query.with_for_update(of=TICKETS, skip_locked=True)).all())
    # Read again now that they are ours: the due clocks were read before another worker released a ticket
    # it had just swept (FOR UPDATE re-reads the ticket, not the clocks it was joined to).
    still = set(session.scalars(select(CLOCKS.c.ticket_id).where(
        among(session, CLOCKS.c.ticket_id, locked), CLOCKS.c.next_timer_at < now))) if locked else set()
    return [ticket_id for ticket_id in locked if ticket_id in still], len(locked) >= limit


def due_tickets(session: Session, now: datetime, up_to: int) -> int:
    """How many tickets have a clock due before `now`, counted no further than `up_to` (a worker deciding
    whether the due work is worth sharing among several processes)."""
    due = select(CLOCKS.c.ticket_id).where(CLOCKS.c.next_timer_at < now).distinct().limit(up_to)
    return session.scalar(select(func.count()).select_from(due.subquery())) or 0


def by_key_only(session: Session) -> None:
    """PostgreSQL: this transaction reaches its rows by key. Without planner statistics (a bulk import not
    yet analyzed, a server with autovacuum off) PostgreSQL would read all clock rows to find a batch's."""
    if is_postgres(session):
        session.execute(text("SET LOCAL enable_seqscan = off"))


def retry_later(session: Session, ticket_ids: Collection[int], now: datetime, at: datetime) -> None:
    """The due clocks of these tickets (whose step failed) are due again at `at`."""
    session.execute(update(CLOCKS).where(CLOCKS.c.ticket_id.in_(list(ticket_ids)), CLOCKS.c.next_timer_at < now)
                    .values(next_timer_at=at))

