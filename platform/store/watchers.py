"""Watchers: the people who follow a ticket (SPEC 4 recipient `watchers`), one row per ticket and user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import User, Watcher


def of_ticket(session: Session, ticket_id: int) -> list[str]:
    """The user names following the ticket, in the order they were added."""
    return list(session.scalars(select(Watcher.user).where(Watcher.ticket_id == ticket_id).order_by(Watcher.id)))


def people_of(session: Session, ticket_id: int) -> list[Any]:
    """The users table's rows of the enabled users following the ticket, in the order they were added."""
    query = (select(User).join(Watcher, Watcher.user == User.name)
             .where(Watcher.ticket_id == ticket_id, User.active.is_(True)).order_by(Watcher.id))
    return list(session.scalars(query))


def listing(session: Session, ticket_id: int) -> list[tuple[str, str, datetime]]:
    """(user, added_by, added_at) of each watcher, in the order they were added."""
    query = (select(Watcher.user, Watcher.added_by, Watcher.added_at).where(Watcher.ticket_id == ticket_id)
             .order_by(Watcher.id))
    return [(row.user, row.added_by, row.added_at) for row in session.execute(query)]


def add(session: Session, ticket_id: int, user: str, added_by: str, at: datetime) -> bool:
    """Add `user` (False: already watching; the caller holds the ticket's lock, so no race adds it twice)."""
    exists = session.scalar(select(Watcher.id).where(Watcher.ticket_id == ticket_id, Watcher.user == user))
    if exists is not None:
        return False
    session.add(Watcher(ticket_id=ticket_id, user=user, added_by=added_by, added_at=at))
    session.flush()
    return True


def remove(session: Session, ticket_id: int, user: str) -> bool:
    """Remove `user` (False: was not watching)."""
    result = session.execute(delete(Watcher).where(Watcher.ticket_id == ticket_id, Watcher.user == user))
    return bool(getattr(result, "rowcount", 0))
