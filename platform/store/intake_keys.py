"""Intake keys: which ticket an external alert or message belongs to (source = the intake's id).

What makes a key's ticket current (open, not in a settled state) and when a repeat opens a new ticket are
the engine's decisions (`itsm.engine.channels.intake`); these functions read and point keys.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .models import IntakeKey, Ticket

# What a transaction that added a key raises (at flush or commit) when a concurrent one added it first.
KeyTaken = IntegrityError


def ticket_of_key(session: Session, source: str, key: str) -> tuple[str, bool, str] | None:
    """(number, is_open, state) of the key's ticket; None for a key never seen."""
    row = session.execute(select(Ticket.number, Ticket.is_open, Ticket.state)
                          .join(IntakeKey, IntakeKey.ticket_id == Ticket.id)
                          .where(IntakeKey.source == source, IntakeKey.key == key)).first()
    return (row[0], bool(row[1]), row[2]) if row is not None else None


def number_of_key(session: Session, source: str, key: str) -> str | None:
    """The number of the key's ticket, open or not."""
    return session.scalar(select(Ticket.number).join(IntakeKey, IntakeKey.ticket_id == Ticket.id)
                          .where(IntakeKey.source == source, IntakeKey.key == key))


def locked(session: Session, source: str, key: str) -> IntakeKey | None:
    """The key's row, locked until the transaction ends on PostgreSQL (a second writer of the same key
    waits, then sees the first one's ticket); SQLite's write transactions hold the whole database."""
    query = select(IntakeKey).where(IntakeKey.source == source, IntakeKey.key == key)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalar(query)


def open_number(session: Session, ticket_id: int, not_in_states: Collection[str] = ()) -> str | None:
    """The number of ticket `ticket_id` if it is open and in none of `not_in_states`, else None."""
    return session.scalar(select(Ticket.number).where(Ticket.id == ticket_id, Ticket.is_open,
                                                      Ticket.state.not_in(list(not_in_states))))


def add(session: Session, source: str, key: str, ticket_id: int, at: datetime) -> None:
    """A new key naming ticket `ticket_id` (written at the next flush; a key that exists fails it)."""
    session.add(IntakeKey(source=source, key=key, ticket_id=ticket_id, updated_at=at))


def point(session: Session, source: str, key: str, ticket_id: int, at: datetime | None = None) -> None:
    """Make `key` name ticket `ticket_id`, adding its row if it has none; `at` (if given) is its
    `updated_at` (a new row without it gets the current time)."""
    row = session.get(IntakeKey, (source, key))  # from the identity map when `locked` read it
    if row is None:
        row = IntakeKey(source=source, key=key, ticket_id=ticket_id)
        session.add(row)
    else:
        row.ticket_id = ticket_id
    if at is not None:
        row.updated_at = at


def point_to_number(session: Session, source: str, key: str, number: str) -> None:
    """Make `key` name the ticket numbered `number`."""
    ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number))
    if ticket_id is None:
        raise LookupError(f"no ticket {number}")
    point(session, source, key, ticket_id)
