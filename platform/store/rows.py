"""Rows a change appends to a ticket: events, comments, outbox messages, links; and reading them back."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import Table, Text, func, insert, select
from sqlalchemy import cast as cast_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from .dialects import among, is_postgres
from .models import LINK_INVERSE, Comment, Event, Link, OutboxMessage, Ticket

EVENTS, COMMENTS = cast(Table, Event.__table__), cast(Table, Comment.__table__)
OUTBOX, LINKS = cast(Table, OutboxMessage.__table__), cast(Table, Link.__table__)
_INSERTS = {table: insert(table) for table in (EVENTS, COMMENTS, OUTBOX, LINKS)}


def append(session: Session, ticket_id: int, events: Sequence[Mapping[str, Any]],
           comments: Sequence[Mapping[str, Any]], outbox: Sequence[Mapping[str, Any]]) -> None:
    """The change's rows, one executemany per table (not through the ORM's unit of work)."""
    connection = session.connection()
    for table, rows in ((EVENTS, events), (COMMENTS, comments), (OUTBOX, outbox)):
        if rows:
            connection.execute(_INSERTS[table], [{**row, "ticket_id": ticket_id} for row in rows])


def link(session: Session, source_id: int, target_id: int, kind: str, at: datetime) -> None:
    """A link and its inverse (as the other ticket sees it)."""
    session.connection().execute(_INSERTS[LINKS], [
        {"source_id": source_id, "target_id": target_id, "kind": kind, "created_at": at},
        {"source_id": target_id, "target_id": source_id, "kind": LINK_INVERSE[kind], "created_at": at}])


def link_exists(session: Session, source_id: int, target_id: int, kind: str) -> bool:
    return session.scalar(select(Link.id).where(Link.source_id == source_id, Link.target_id == target_id,
                                                Link.kind == kind)) is not None


def linked_number(session: Session, source_id: int, kind: str, process: str) -> str | None:
    """The number of the first ticket of `process` that `source_id` links to as `kind`."""
    return session.scalar(select(Ticket.number).join(Link, Link.target_id == Ticket.id)
                          .where(Link.source_id == source_id, Link.kind == kind, Ticket.process == process)
                          .order_by(Ticket.id).limit(1))


def events_of(session: Session, ticket_id: int) -> Sequence[Event]:
    return session.scalars(select(Event).where(Event.ticket_id == ticket_id).order_by(Event.id)).all()


def comments_of(session: Session, ticket_id: int, public_only: bool = False) -> Sequence[Comment]:
    query = select(Comment).where(Comment.ticket_id == ticket_id).order_by(Comment.id)
    if public_only:
        query = query.where(Comment.internal.is_(False))
    return session.scalars(query).all()


def events_of_tickets(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[tuple[Any, ...]]]:
    """The events of each of `ticket_ids` that has any, oldest first (by id): (at, actor, kind, transition,
    from_state, to_state, changes, data) each, in one statement for a batch of tickets. The database hands
    each ticket's events over as one JSON array: one document to decode per ticket instead of a row and two
    JSON values per event (a sweep's 800 timelines read 10,000 events)."""
    if not ticket_ids:
        return {}
    c = EVENTS.c
    postgres = is_postgres(session)
    if postgres:
        events = func.json_agg(aggregate_order_by(func.json_build_array(*_EVENT_COLUMNS), c.id))
    else:  # SQLite's JSON functions; the array is sorted here (SQLite 3.44 first orders inside an aggregate)
        events = func.json_group_array(func.json_array(*_EVENT_COLUMNS[:-2], func.json(c.changes), func.json(c.data)))
    query = select(c.ticket_id, cast_(events, Text)).where(among(session, c.ticket_id, ticket_ids))
    query = query.group_by(c.ticket_id)
    instants: dict[str, datetime] = {}  # the events of one change share their instant: parsed once
    out: dict[int, list[tuple[Any, ...]]] = {}
    for ticket_id, document in session.connection().execute(query):
        found = json.loads(document)
        if not postgres:
            found.sort(key=itemgetter(0))
        rows = out[ticket_id] = []
        for _, at, *rest in found:
            instant = instants.get(at)
            if instant is None:
                instant = instants[at] = _instant(at)
            rows.append((instant, *rest))
    return out


_EVENT_COLUMNS = tuple(EVENTS.c[name] for name in (
    "id", "at", "actor", "kind", "transition", "from_state", "to_state", "changes", "data"))


def _instant(text: str) -> datetime:
    """An instant as the JSON of either database writes it (PostgreSQL with its offset; SQLite's stored text,
    UTC without one), as the column type reads it: aware, in UTC."""
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def public_comments_of_tickets(session: Session, ticket_ids: Sequence[int]) -> Sequence[Any]:
    """(ticket_id, id, at, author, text) of the public comments of `ticket_ids`, by ticket, oldest first."""
    if not ticket_ids:
        return []
    c = COMMENTS.c
    return session.connection().execute(
        select(c.ticket_id, c.id, c.at, c.author, c.text)
        .where(among(session, c.ticket_id, ticket_ids), c.internal.is_(False)).order_by(c.ticket_id, c.id)).all()


def comment_texts(session: Session, ticket_ids: Sequence[int]) -> list[tuple[int, str, bool]]:
    """(ticket id, text, internal) of the comments of `ticket_ids`, by ticket and then oldest first."""
    if not ticket_ids:
        return []
    query = (select(COMMENTS.c.ticket_id, COMMENTS.c.text, COMMENTS.c.internal)
             .where(among(session, COMMENTS.c.ticket_id, ticket_ids)).order_by(COMMENTS.c.ticket_id, COMMENTS.c.id))
    return [(row[0], row[1], bool(row[2])) for row in session.connection().execute(query)]
