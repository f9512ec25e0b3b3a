"""Open tickets a definitions change would touch (`itsm diff` with a database): counted, or their field
values handed to the engine, which matches the change's filters on fields the database cannot index."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from .models import Ticket


def count_open(session: Session, process: str, states: Collection[str] | None = None,
               priority: str | None = None) -> int:
    """Open tickets of `process`, in one of `states` (None: any) and of `priority` (None: any)."""
    query = _open(process, states, priority)
    return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def count_open_on_team(session: Session, team: str) -> int:
    """Open tickets on `team`, of any process."""
    return int(session.scalar(select(func.count()).select_from(Ticket)
                              .where(Ticket.is_open, Ticket.team == team)) or 0)


def open_fields(session: Session, process: str, states: Collection[str] | None = None,
                priority: str | None = None) -> Iterator[dict[str, Any]]:
    """The field values of the same tickets, one mapping per ticket (empty when it has none)."""
    for fields in session.scalars(_open(process, states, priority)):
        yield fields or {}


def _open(process: str, states: Collection[str] | None, priority: str | None) -> Select[tuple[Any]]:
    query = select(Ticket.fields).where(Ticket.is_open, Ticket.process == process)
    if states is not None:
        query = query.where(Ticket.state.in_(list(states)))
    if priority is not None:
        query = query.where(Ticket.priority == priority)
    return query
