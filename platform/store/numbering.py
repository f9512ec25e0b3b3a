"""Ticket numbers: a counter row per prefix, incremented under its row lock."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .database import Database
from .models import NumberSequence

_SEQUENCES = cast(Table, NumberSequence.__table__)
_NEXT = (update(_SEQUENCES).where(_SEQUENCES.c.prefix == bindparam("of_prefix"))
         .values(last_value=_SEQUENCES.c.last_value + 1).returning(_SEQUENCES.c.last_value))


def next_number(session: Session, db: Database, prefix: str) -> str:
    """Unique under concurrency. On PostgreSQL the increment commits on a connection of its own, so
    concurrent creates hold the counter's lock for a moment instead of their whole transaction (a
    rolled-back create leaves a gap, which SPEC 4 allows). SQLite has one writer at a time anyway: there
    it runs in the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        with db.engine.connect() as connection:
            value = _increment(connection, prefix, postgresql.insert)
            connection.commit()
    else:
        value = _increment(session, prefix, sqlite.insert)
    return f"{prefix}{value:07d}"


def _increment(connection: Any, prefix: str, insert: Any) -> int:
    """Increment the prefix's counter; the first ticket of a prefix creates the row (once per prefix)."""
    value = connection.execute(_NEXT, {"of_prefix": prefix}).scalar_one_or_none()
    if value is None:
        connection.execute(insert(NumberSequence).values(prefix=prefix, last_value=0)
                           .on_conflict_do_nothing(index_elements=["prefix"]))
        value = connection.execute(_NEXT, {"of_prefix": prefix}).scalar_one()
    return int(value)
