"""How many open tickets a definitions change touches (`itsm diff` with a database)."""

from __future__ import annotations

from itsm.interpreter.diff import Change
from itsm.store import Database
from itsm.store import impact as stored


def open_tickets(db: Database, change: Change) -> int | None:
    """Open tickets of the change's process (in its states, with its values), or on its team; None when it
    names neither."""
    if change.team is not None:
        with db.read() as session:
            return stored.count_open_on_team(session, change.team)
    if change.process is None:
        return None
    if change.states is not None and not change.states:
        return 0
    filters = dict(change.filters)
    priority = filters.pop("priority", None)
    with db.read() as session:
        if not filters:
            return stored.count_open(session, change.process, change.states, priority)
        return sum(1 for fields in stored.open_fields(session, change.process, change.states, priority)
                   if all(fields.get(k) == v for k, v in filters.items()))
