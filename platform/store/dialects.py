"""What differs between the two databases in a statement the store builds (SQLite and PostgreSQL).

`among(bind, column, values)` is `column IN (values)`. On PostgreSQL it is sent as `column = ANY(%(values)s)`:
one array parameter whatever the number of values, so a batch of 500 ids is one short statement text that
psycopg parses once and prepares like any other, where an IN list is a statement of 500 placeholders, new
for every count (psycopg splits such a text anew each time: about 7 ms for 400 ids). The planner reads both
the same way (an IN list is an `= ANY` array to it).

`serially(session)`: the statements of the transaction from there on planned without parallel workers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, any_, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement


def is_postgres(bind: Session | Connection) -> bool:
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return engine.dialect.name == "postgresql"


def among(bind: Session | Connection, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN (values)`, as one array parameter on PostgreSQL."""
    listed = list(values)
    return any_of(column, listed) if is_postgres(bind) else column.in_(listed)


def any_of(column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """PostgreSQL's `column = ANY(%(values)s)`, the values bound as one array of the column's type."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


def serially(session: Session, serial: bool = True) -> None:
    """PostgreSQL: the statements of this transaction from now on are planned without parallel workers (or,
    `serial=False`, with them again). A worker's batch and a search read a few thousand rows by index,
    where starting workers costs more than it saves (10-70 ms; for a sweep's histories, 2 workers and 25 ms
    instead of 19) and takes the cores the worker's own processes are using."""
    if is_postgres(session):
        session.execute(text(f"SET LOCAL max_parallel_workers_per_gather {'= 0' if serial else 'TO DEFAULT'}"))
