"""How many open tickets a definitions change touches (`itsm diff` with a database)."""

from __future__ import annotations

from sqlalchemy import func, select

from itsm.interpreter.diff import Change
from itsm.store import Database, Ticket


def open_tickets(db: Database, change: Change) -> int | None:
    """Open tickets of the change's process (in its states, with its values); None when it names none."""
    if change.process is None:
        return None
    with db.read() as session:
        query = select(Ticket.fields).where(Ticket.is_open, Ticket.process == change.process)
        if change.states is not None:
            if not change.states:
                return 0
            query = query.where(Ticket.state.in_(change.states))
        filters = dict(change.filters)
        priority = filters.pop("priority", None)
        if priority is not None:
            query = query.where(Ticket.priority == priority)
        if not filters:
            return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
        return sum(1 for fields in session.scalars(query)
                   if all((fields or {}).get(k) == v for k, v in filters.items()))
