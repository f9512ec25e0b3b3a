"""The adapter's side of the core's `Lookups`, and loading snapshots: both read through `itsm.store`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session

from itsm.interpreter.model import PackSpec
from itsm.store import Database, clocks, numbering, orgs, routing, rows, users, watchers
from itsm.store.clocks import CLOCKS
from itsm.store.tickets import TICKETS

from .snapshot import (
    CLOCK_COLUMNS,
    EMPTY,
    TICKET_COLUMNS,
    ClockRow,
    HistoryEntry,
    TicketRow,
    TicketSnapshot,
    UserFacts,
    is_internal,
    user_facts,
)

SYSTEM = "system"
# Rows are read positionally (a row's values in table order, without a key look-up per column): the
# frozen rows must list the same columns in the same order.
assert tuple(TICKETS.c.keys()) == TICKET_COLUMNS, "TicketRow must list the tickets table's columns in order"
assert tuple(CLOCKS.c.keys()) == (CLOCK_COLUMNS[0], "ticket_id", *CLOCK_COLUMNS[1:]), "ClockRow: sla_clocks order"


class StoreLookups:
    """Answers from the change's own transaction (the round-robin cursor row stays locked until it ends)."""

    def __init__(self, session: Session, db: Database, pack: PackSpec | None = None):
        self.session = session
        self.db = db
        self.pack = pack  # its team members are read with the first name asked (`members_of`)
        self._lineages: dict[str, tuple[str, ...]] = {}
        self._users: dict[str, bool] = {}  # routing asks about every member of a team

    def user_exists(self, name: str) -> bool:
        found = self._users.get(name)
        if found is None:  # one statement for a team of 150, not one per member
            wanted = {name, *(members_of(self.pack) if self.pack is not None else ())} - self._users.keys()
            present = users.existing_names(self.session, wanted)
            self._users.update((wanted_name, wanted_name in present) for wanted_name in wanted)
            found = self._users[name]
        return found

    def cursor(self, routing_id: str, team: str) -> int:
        return routing.cursor(self.session, routing_id, team)

    def open_tickets(self, pool: Sequence[str]) -> Mapping[str, int]:
        return routing.open_tickets(self.session, pool)

    def timeline(self, ticket_id: int) -> Sequence[HistoryEntry]:
        return history(self.session, ticket_id)

    def next_number(self, prefix: str) -> str:
        return numbering.next_number(self.session, self.db, prefix)

    def locales(self, names: Sequence[str]) -> Mapping[str, str | None]:
        return users.locales_of(self.session, names)

    def watchers(self, ticket_id: int) -> Sequence[Any]:
        return watchers.people_of(self.session, ticket_id)

    def org_lineage(self, org: str) -> Sequence[str]:
        return lineage_cached(self.session, self._lineages, org)


def members_of(pack: PackSpec) -> tuple[str, ...]:
    """The user names of every team's members: routing asks whether each of a team's exists."""
    return tuple(dict.fromkeys(member.user for team in pack.teams.values() for member in team.members))


def lineage_cached(session: Session, cache: dict[str, tuple[str, ...]], org: str) -> tuple[str, ...]:
    """`orgs.lineage_of`, asked once per organization in one transaction (a page of tickets shares a few)."""
    if org not in cache:
        cache[org] = orgs.lineage_of(session, org)
    return cache[org]


def history(session: Session, ticket_id: int) -> list[HistoryEntry]:
    """A ticket's events and public comments as stored, oldest first (an event before a comment of the same
    instant); internal comments and attachments stay out (`{{ timeline }}` goes to requesters and into review
    tickets)."""
    return histories(session, [ticket_id])[ticket_id]


_AT = attrgetter("at")


def histories(session: Session, ticket_ids: Sequence[int]) -> dict[int, list[HistoryEntry]]:
    """`history` of each of `ticket_ids` (an empty list for a ticket without any), in two statements
    whatever their number: a sweep's batch quotes the timelines of hundreds of tickets. In order of their
    instants; at one instant the events in the order they were written, then the comments in theirs (a
    stable sort of the events by id followed by the comments by id)."""
    out: dict[int, list[HistoryEntry]] = {ticket_id: [] for ticket_id in ticket_ids}
    make = HistoryEntry._make
    for ticket_id, events in rows.events_of_tickets(session, ticket_ids).items():
        out[ticket_id] = [make((at, actor, kind, transition, source, target, changes or EMPTY, data or EMPTY, None))
                          for at, actor, kind, transition, source, target, changes, data in events
                          if not is_internal(kind, data)]
    for ticket_id, _, at, author, text in rows.public_comments_of_tickets(session, ticket_ids):
        out[ticket_id].append(HistoryEntry(at, author, "comment", text=text))
    for entries in out.values():
        entries.sort(key=_AT)
    return out


def snapshot(session: Session, row: Sequence[Any], clock_rows: Sequence[Sequence[Any]] | None = None,
             requester: Any = None, requester_known: bool = False) -> TicketSnapshot:
    """A ticket's snapshot from its row (`store.tickets`); its clocks and requester are loaded unless given."""
    ticket = TicketRow(*row)
    if clock_rows is None:
        clock_rows = clocks.of_ticket(session, ticket.id) if ticket.id is not None else []
    if not requester_known and ticket.requester != SYSTEM:
        requester = users.named(session, ticket.requester)
    return _snapshot(ticket, clock_rows, user_facts(requester) if ticket.requester != SYSTEM else None)


def snapshots(rows: Sequence[Sequence[Any]], clock_rows: Mapping[int, Sequence[Sequence[Any]]],
              requesters: Mapping[str, Any]) -> list[TicketSnapshot]:
    """`snapshot` of each of `rows` with their clocks (by ticket id) and requesters (rows by name) given: a
    page of tickets, whose requesters' facts are worked out once per person, not once per ticket."""
    facts: dict[str, UserFacts | None] = {}
    out = []
    for row in rows:
        ticket = TicketRow._make(row)  # every column (`store.tickets`): no defaults to fill in
        name = ticket.requester
        if name in facts:
            person = facts[name]
        else:
            person = facts[name] = user_facts(requesters.get(name)) if name != SYSTEM else None
        out.append(_snapshot(ticket, clock_rows.get(ticket.id or 0, ()), person))
    return out


def _snapshot(ticket: TicketRow, clock_rows: Sequence[Sequence[Any]], requester: UserFacts | None) -> TicketSnapshot:
    return TicketSnapshot(ticket, {c[2]: _clock(c) for c in clock_rows}, requester)


def _clock(row: Sequence[Any]) -> ClockRow:
    """A clock from its row (id, ticket_id, clock, ..., pauses): stored pauses (JSON lists) become tuples."""
    pauses = row[-1]
    return ClockRow._make((row[0], *row[2:-1], tuple([(str(start), end) for start, end in pauses]) if pauses else ()))
