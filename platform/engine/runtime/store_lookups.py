"""The adapter's side of the core's `Lookups`, and loading snapshots: both read through `itsm.store`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from itsm.store import Database, clocks, numbering, routing, users

from .snapshot import TicketSnapshot, clock_row, ticket_row, user_facts
from .timeline import timeline_text

SYSTEM = "system"


class StoreLookups:
    """Answers from the change's own transaction (the round-robin cursor row stays locked until it ends)."""

    def __init__(self, session: Session, db: Database):
        self.session = session
        self.db = db

    def user_exists(self, name: str) -> bool:
        return users.exists(self.session, name)

    def cursor(self, routing_id: str, team: str) -> int:
        return routing.cursor(self.session, routing_id, team)

    def open_tickets(self, pool: Sequence[str]) -> Mapping[str, int]:
        return routing.open_tickets(self.session, pool)

    def timeline(self, ticket_id: int, zone: str) -> str:
        return timeline_text(self.session, ticket_id, ZoneInfo(zone))

    def next_number(self, prefix: str) -> str:
        return numbering.next_number(self.session, self.db, prefix)


def snapshot(session: Session, row: Mapping[str, Any], clock_rows: Sequence[Mapping[str, Any]] | None = None,
             requester: Any = None, requester_known: bool = False) -> TicketSnapshot:
    """A ticket's snapshot from its row; its clocks and requester are loaded unless given."""
    ticket = ticket_row(row)
    if clock_rows is None:
        clock_rows = clocks.of_ticket(session, ticket.id) if ticket.id is not None else []
    if not requester_known and ticket.requester != SYSTEM:
        requester = users.named(session, ticket.requester)
    return TicketSnapshot(ticket, {c["clock"]: clock_row(c) for c in clock_rows},
                          user_facts(requester) if ticket.requester != SYSTEM else None)
