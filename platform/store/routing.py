"""What assignment reads and moves: round-robin cursors and open tickets per member."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .dialects import is_postgres
from .models import RoutingCursor, Ticket

_OPEN_PER_ASSIGNEE = (select(Ticket.assignee, func.count())
                      .where(Ticket.is_open, Ticket.assignee.in_(bindparam("pool", expanding=True)))
                      .group_by(Ticket.assignee))


def cursor(session: Session, routing: str, team: str) -> int:
    """Where round-robin stands, the row locked until the transaction ends (created at 0 the first time)."""
    upsert = postgresql.insert if is_postgres(session) else sqlite.insert
    session.execute(upsert(RoutingCursor).values(routing=routing, team=team, position=0)
                    .on_conflict_do_nothing(index_elements=["routing", "team"]))
    return int(session.scalar(select(RoutingCursor.position).where(RoutingCursor.routing == routing,
                                                                   RoutingCursor.team == team)
                              .with_for_update()) or 0)


def move_cursor(session: Session, routing: str, team: str, position: int) -> None:
    session.execute(update(RoutingCursor).where(RoutingCursor.routing == routing, RoutingCursor.team == team)
                    .values(position=position))


def open_tickets(session: Session, pool: Collection[str]) -> Mapping[str, int]:
    """Open tickets per assignee of `pool` (members without any are missing)."""
    counts = session.execute(_OPEN_PER_ASSIGNEE, {"pool": list(pool)}).all()
    return {name: int(count) for name, count in counts if name is not None}
