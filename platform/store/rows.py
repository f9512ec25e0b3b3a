"""Rows a change appends to a ticket: events, comments, outbox messages, links; and reading them back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

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


def events_of_tickets(session: Session, ticket_ids: Sequence[int]) -> Sequence[Any]:
    """(ticket_id, id, at, actor, kind, transition, from_state, to_state, changes, data) of every event of
    `ticket_ids`, by ticket and then oldest first: the histories of a batch of tickets in one statement."""
    if not ticket_ids:
        return []
    c = EVENTS.c
    return session.connection().execute(
        select(c.ticket_id, c.id, c.at, c.actor, c.kind, c.transition, c.from_state, c.to_state, c.changes, c.data)
        .where(c.ticket_id.in_(list(ticket_ids))).order_by(c.ticket_id, c.id)).all()


def public_comments_of_tickets(session: Session, ticket_ids: Sequence[int]) -> Sequence[Any]:
    """(ticket_id, id, at, author, text) of the public comments of `ticket_ids`, by ticket, oldest first."""
    if not ticket_ids:
        return []
    c = COMMENTS.c
    return session.connection().execute(
        select(c.ticket_id, c.id, c.at, c.author, c.text)
        .where(c.ticket_id.in_(list(ticket_ids)), c.internal.is_(False)).order_by(c.ticket_id, c.id)).all()


def comment_texts(session: Session, ticket_ids: Sequence[int]) -> list[tuple[int, str, bool]]:
    """(ticket id, text, internal) of the comments of `ticket_ids`, by ticket and then oldest first."""
    if not ticket_ids:
        return []
    query = (select(COMMENTS.c.ticket_id, COMMENTS.c.text, COMMENTS.c.internal)
             .where(COMMENTS.c.ticket_id.in_(list(ticket_ids))).order_by(COMMENTS.c.ticket_id, COMMENTS.c.id))
    return [(row[0], row[1], bool(row[2])) for row in session.connection().execute(query)]
