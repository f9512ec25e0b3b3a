"""What the transition core decides: a frozen `Plan` of rows to write and effects to perform (SPEC 8).

A plan is complete: applying it (the adapter, `apply.py`, or the worker's set-based writer, `due_clocks.py`)
needs no rule of the engine, only the store. Values are column values; rows of a ticket that does not exist
yet carry no ticket id (the writer adds it once the ticket is inserted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .snapshot import ClockRow, TicketRow, TicketSnapshot, UserFacts


@dataclass(frozen=True, slots=True)
class AdvanceCursor:
    """Round-robin moved on: store the routing's cursor for the team at `position`."""

    routing: str
    team: str
    position: int


@dataclass(frozen=True, slots=True)
class CreateLinked:
    """A `create` action: open a ticket of `process` with `values` for `requester`, linked as `link`; the new
    ticket belongs to `org`, its parent's organization (SPEC 14: whoever sees the parent's organization's
    tickets sees it)."""

    process: str
    values: Mapping[str, Any]
    link: str
    requester: str
    org: str | None = None


@dataclass(frozen=True, slots=True)
class CascadeLinked:
    """A `cascade` action: fire `transition` (with `values` and `comment`, rendered on the parent) on every
    child of the ticket whose state offers it, as the system (a mass outage resolving its children)."""

    transition: str
    values: Mapping[str, Any]
    comment: str | None = None


Effect = AdvanceCursor | CreateLinked | CascadeLinked


@dataclass(frozen=True, slots=True)
class TimerRow:
    kind: str
    key: str
    due_at: datetime


@dataclass(frozen=True, slots=True)
class ClockChange:
    """A clock row to write: all its columns when new (`before` None), else only those that changed."""

    before: ClockRow | None
    after: ClockRow
    values: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LinkRow:
    other_id: int
    kind: str  # from this ticket's side; the writer adds the inverse row


@dataclass(frozen=True, slots=True)
class Plan:
    kind: str  # the event kind: create, transition, update, comment, sla, link, review, routing
    at: datetime  # the instant of the change
    before: TicketSnapshot | None  # None for a new ticket
    ticket: TicketRow  # the ticket after the change (version as loaded; the writer bumps it)
    changed: tuple[str, ...]  # ticket columns to write (every column for a new ticket)
    clocks: tuple[ClockChange, ...]
    timers: tuple[TimerRow, ...] | None  # None: keep the ticket's timers; else replace its transition timers
    events: tuple[Mapping[str, Any], ...]
    comments: tuple[Mapping[str, Any], ...]
    outbox: tuple[Mapping[str, Any], ...]
    links: tuple[LinkRow, ...]
    document: tuple[str, str] | None  # (title, body) when the search document changes
    effects: tuple[Effect, ...]
    requester: UserFacts | None

    @property
    def creates_tickets(self) -> bool:
        """Whether applying the plan opens other tickets (which need the per-ticket writer)."""
        return any(isinstance(effect, CreateLinked) for effect in self.effects)

    def after(self, ticket: TicketRow, clock_ids: Mapping[str, int] | None = None) -> TicketSnapshot:
        """The snapshot once the plan is written: `ticket` as stored (id, version), new clocks' ids."""
        clocks = dict(self.before.clocks) if self.before is not None else {}
        for change in self.clocks:
            row = change.after
            if row.id is None and clock_ids and row.clock in clock_ids:
                row = row._replace(id=clock_ids[row.clock])
            clocks[row.clock] = row
        return TicketSnapshot(ticket, clocks, self.requester)


def changed_columns(before: Any, after: Any) -> dict[str, Any]:
    """The columns of two rows of one kind (named tuples) whose values differ, with the new values."""
    return {name: new for name, old, new in zip(after._fields, before, after, strict=True) if old != new}
