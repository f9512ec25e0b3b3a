"""Timed transitions waiting to fire (`after:`): replaced when a ticket enters a state, found when due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from .dialects import is_postgres
from .models import Ticket, Timer

TIMERS = cast(Table, Timer.__table__)
_CLEAR = delete(TIMERS).where(TIMERS.c.ticket_id == bindparam("of_ticket"), TIMERS.c.kind == "transition")
_INSERT = insert(TIMERS)
CHUNK = 500  # ticket ids per IN list


def replace_timers(session: Session, ticket_id: int, rows: Sequence[Mapping[str, Any]], clear: bool = True) -> None:
    """The ticket's transition timers become `rows` (kind, key, due_at)."""
    connection = session.connection()
    if clear:
        connection.execute(_CLEAR, {"of_ticket": ticket_id})
    if rows:
        connection.execute(_INSERT, [{**row, "ticket_id": ticket_id, "fired_at": None} for row in rows])


def open_in_state(session: Session, process: str, state: str) -> list[tuple[int, datetime]]:
    """(id, state_entered_at) of the open tickets of `process` in `state`."""
    query = (select(Ticket.id, Ticket.state_entered_at)
             .where(Ticket.is_open, Ticket.process == process, Ticket.state == state).order_by(Ticket.id))
    return [(row.id, row.state_entered_at) for row in session.execute(query)]


def fired_keys(session: Session, ticket_ids: Sequence[int]) -> set[tuple[int, str]]:
    """(ticket id, transition) of the transition timers of these tickets that already fired."""
    found: set[tuple[int, str]] = set()
    for start in range(0, len(ticket_ids), CHUNK):
        chunk = list(ticket_ids[start:start + CHUNK])
        query = select(TIMERS.c.ticket_id, TIMERS.c.key).where(
            TIMERS.c.ticket_id.in_(chunk), TIMERS.c.kind == "transition", TIMERS.c.fired_at.is_not(None))
        found.update((row.ticket_id, row.key) for row in session.connection().execute(query))
    return found


def replan(session: Session, ticket_ids: Sequence[int], rows: Sequence[Mapping[str, Any]]) -> None:
    """The unfired transition timers of these tickets become `rows` (ticket_id, kind, key, due_at)."""
    connection = session.connection()
    for start in range(0, len(ticket_ids), CHUNK):
        chunk = list(ticket_ids[start:start + CHUNK])
        connection.execute(delete(TIMERS).where(TIMERS.c.ticket_id.in_(chunk), TIMERS.c.kind == "transition",
                                                TIMERS.c.fired_at.is_(None)))
    if rows:
        connection.execute(_INSERT, [{**row, "fired_at": None} for row in rows])


def due(session: Session, now: datetime, limit: int) -> list[Mapping[str, Any]]:
    """Unfired timers due by `now`, soonest first; on PostgreSQL locked, skipping those of other workers."""
    query = (select(TIMERS).where(TIMERS.c.fired_at.is_(None), TIMERS.c.due_at <= now)
             .order_by(TIMERS.c.due_at).limit(limit))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return [_values(row) for row in session.connection().execute(query)]


def still_due(session: Session, timer_id: int) -> bool:
    """Not fired, not replaced (by a timer of the same ticket that fired before it in this sweep)."""
    row = session.connection().execute(select(TIMERS.c.fired_at).where(TIMERS.c.id == timer_id)).first()
    return row is not None and row.fired_at is None


def mark(session: Session, timer_id: int, fired_at: datetime | None = None, due_at: datetime | None = None) -> None:
    """A timer fired (or looked at and found no longer applying), or due again later after a failure."""
    values = {"fired_at": fired_at} if fired_at is not None else {"due_at": due_at}
    session.connection().execute(update(TIMERS).where(TIMERS.c.id == timer_id).values(values))


def _values(row: Any) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], row._mapping)
