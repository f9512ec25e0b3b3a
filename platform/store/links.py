"""Links between tickets (`links`: one row per direction, the kind read from the source's side).

Who may link or follow a link, and which kinds there are, is the engine's business (`itsm.engine.reports.
known_errors`); the rows of a new link are written by the runtime with the operation that records it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from .models import Link, Ticket


def target_numbers(session: Session, source_id: int, kind: str) -> set[str]:
    """The numbers of the tickets that ticket `source_id` links to as `kind`."""
    return set(session.scalars(select(Ticket.number).join(Link, Link.target_id == Ticket.id)
                               .where(Link.source_id == source_id, Link.kind == kind)))


def links_from(session: Session, source_id: int,
               visible: ColumnElement[bool] | None = None) -> list[tuple[str, Ticket]]:
    """(kind, target ticket) for each link of ticket `source_id`, oldest first; only targets that `visible`
    selects, if given."""
    query = (select(Link.kind, Ticket).join(Ticket, Ticket.id == Link.target_id)
             .where(Link.source_id == source_id).order_by(Link.id))
    if visible is not None:
        query = query.where(visible)
    return [(kind, ticket) for kind, ticket in session.execute(query)]


def open_parents(session: Session, process: str, since: datetime, visible: ColumnElement[bool] | None,
                 limit: int = 10) -> list[tuple[Ticket, int]]:
    """The open tickets of `process` created since `since` that are an outage already (they have children)
    or may become one (the most urgent priority, `priority_rank` 0), newest first, with their number of
    children; only those `visible` selects, if given."""
    children = (select(func.count()).select_from(Link)
                .where(Link.source_id == Ticket.id, Link.kind == "child").scalar_subquery())
    query = (select(Ticket, children).where(Ticket.process == process, Ticket.is_open.is_(True),
                                            Ticket.created_at >= since,
                                            (Ticket.priority_rank == 0) | (children > 0))
             .order_by(Ticket.id.desc()).limit(limit))
    if visible is not None:
        query = query.where(visible)
    return [(ticket, int(count)) for ticket, count in session.execute(query)]
