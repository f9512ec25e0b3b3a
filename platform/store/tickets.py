"""Ticket rows: read by number or id (locked for a change on PostgreSQL), inserted, updated under their
version (optimistic concurrency: a stale write matches no row), and the queue's page.

Rows come back as Core rows, the columns in table order (no ORM objects: the engine builds frozen
snapshots of them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Row, Table, bindparam, insert, literal_column, select, union, update
from sqlalchemy.orm import Session

from .models import SlaClock, Ticket
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


def is_postgres(session: Session | Connection) -> bool:
    bind = session.get_bind() if isinstance(session, Session) else session
    return bind.dialect.name == "postgresql"


def by_number(session: Session, number: str, lock: bool = False) -> Row[Any] | None:
    """The ticket's row (its columns in table order); `lock`: held until the transaction ends (PostgreSQL;
    SQLite has one writer at a time)."""
    query = _BY_NUMBER_LOCKED if lock and is_postgres(session) else _BY_NUMBER
    return session.connection().execute(query, {"number": number}).first()


def by_id(session: Session, ticket_id: int) -> Row[Any] | None:
    return session.connection().execute(_BY_ID, {"id": ticket_id}).first()


def by_ids_locked(session: Session, ids: Collection[int]) -> list[Row[Any]]:
    """The tickets of `ids` by id; on PostgreSQL locked, skipping those another transaction holds."""
    query = select(TICKETS).where(TICKETS.c.id.in_(list(ids))).order_by(TICKETS.c.id)
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


def sla_status_condition(status: str, now: datetime) -> ColumnElement[bool]:
    """Tickets with at least one clock in `status` (one of SLA_FILTERS), as the queue shows them now: the
    ids of the running and paused clocks' tickets read from `ix_sla_clocks_open` (the few clocks that run,
    not every clock ever)."""
    overdue = _RUNNING & (SlaClock.deadline < now)
    breached = SlaClock.breached.is_(True) | overdue
    condition = {
        "breached": breached,
        "at_risk": _RUNNING & (SlaClock.warnings_fired > 0) & ~breached,
        "running": _RUNNING & ~breached,
        "paused": _PAUSED,
    }[status]
    return TICKETS.c.id.in_(select(SlaClock.ticket_id).where(_OPEN, condition))


def page(session: Session, limit: int, equal: Mapping[str, str], viewer: Viewer | None,
         sla: ColumnElement[bool] | None, before: int | None,
         where: Sequence[ColumnElement[bool]] = ()) -> list[Any]:
    """Up to `limit` tickets, newest first: columns equal to `equal`, visible to `viewer` (None:
    everything), with a clock in a status (`sla`), meeting `where`, with ids below `before`. (A search,
    `q=`, is `search.match` over `page_conditions`.) A requester's or a unit contact's page is the newest
    of each of its visibility branches (`visibility.own_branches`), merged."""
    common = [*where] if before is None else [*where, TICKETS.c.id < before]
    branches = own_branches(viewer) if viewer is not None else None
    if branches is not None:
        common = [*page_conditions(equal, None, sla), *common]
        newest = [select(TICKETS.c.id).where(branch, *common).order_by(TICKETS.c.id.desc()).limit(limit).subquery()
                  for branch in branches]
        ids = union(*(select(found.c.id) for found in newest))
        query = select(TICKETS).where(TICKETS.c.id.in_(ids)).order_by(TICKETS.c.id.desc()).limit(limit)
        return list(session.connection().execute(query))
    query = select(TICKETS).order_by(TICKETS.c.id.desc()).limit(limit)
    newest_first = not equal and not where and session.get_bind().dialect.name == "sqlite"
    query = query.where(*page_conditions(equal, viewer, sla, newest_first), *common)
    return list(session.connection().execute(query))


def page_conditions(equal: Mapping[str, str], viewer: Viewer | None,
                    sla: ColumnElement[bool] | None, newest_first: bool = False) -> list[ColumnElement[bool]]:
    """The queue's filters as conditions on tickets (`page`)."""
    out: list[ColumnElement[bool]] = [TICKETS.c[column] == value for column, value in equal.items()]
    if viewer is not None:
        out.append(sees(viewer, newest_first=newest_first))
    if sla is not None:
        out.append(sla)
    return out
