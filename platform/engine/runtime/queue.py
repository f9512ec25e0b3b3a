"""The queue (SPEC 9, 10): which tickets an actor sees, and a page of them with filters and search."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from itsm.interpreter import model as m
from itsm.store import clocks, tickets, users
from itsm.store.tickets import SLA_FILTERS

from ..errors import N_, BadRequest
from .actors import Actor, agent_processes
from .snapshot import TicketSnapshot
from .store_lookups import snapshot

MAX_SEARCH = 500  # characters of a queue search (`q`): SQLite refuses LIKE patterns over 50,000 bytes
EQUAL_FILTERS = ("process", "state", "priority", "team", "assignee", "requester")
__all__ = ["SLA_FILTERS", "list_page", "searched_fields", "visible_to"]


def visible_to(actor: Actor, pack: m.PackSpec) -> ColumnElement[bool] | None:
    """SPEC 9 as a filter on tickets (None: sees everything): own tickets, assigned ones, and every ticket
    of the processes the actor is an agent for."""
    if actor.is_admin or actor.is_system:
        return None
    return tickets.visible_condition(actor.name, agent_processes(actor, pack))


@m.per_spec
def searched_fields(pack: m.PackSpec) -> tuple[str, ...]:
    """What the queue's `q=` searches besides the number (SPEC 10 "the text fields"): the `string` and `text`
    fields of the pack's forms, by value (not the keys or the JSON around them)."""
    return tuple(sorted({f.id for form in pack.forms.values() for f in form.fields if f.type in ("string", "text")}))


def list_page(session: Session, pack: m.PackSpec, actor: Actor, filters: Mapping[str, str | None], limit: int,
              cursor: int | None, now: datetime) -> tuple[list[TicketSnapshot], int | None]:
    """Up to `limit` tickets the actor may see, newest first, with their clocks and requesters (three
    queries for the page, not three per ticket), and the cursor of the next page (None: no more)."""
    equal = {column: value for column in EQUAL_FILTERS if (value := filters.get(column))}
    sla = filters.get("sla")
    if sla and sla not in SLA_FILTERS:
        raise BadRequest(N_("sla must be one of: %(choices)s", choices=", ".join(SLA_FILTERS)),
                         [{"field": "sla", "message": N_("one of %(choices)s", choices=", ".join(SLA_FILTERS))}])
    text = (filters.get("q") or "").strip()
    if len(text) > MAX_SEARCH:
        raise BadRequest(N_("q is longer than %(most)s characters", most=MAX_SEARCH),
                         [{"field": "q", "message": N_("at most %(most)s characters", most=MAX_SEARCH)}])
    viewer = None if actor.is_admin or actor.is_system else (actor.name, agent_processes(actor, pack))
    rows = tickets.page(session, limit + 1, equal, viewer, tickets.sla_status_condition(sla, now) if sla else None,
                        text, searched_fields(pack), cursor)
    more = len(rows) > limit
    rows = rows[:limit]
    clock_rows = clocks.of_tickets(session, [row.id for row in rows])
    requesters = users.all_named(session, {row.requester for row in rows})
    page: list[Any] = [snapshot(session, row, clock_rows.get(row.id, []), requesters.get(row.requester),
                                requester_known=True) for row in rows]
    return page, (rows[-1].id if more and rows else None)
