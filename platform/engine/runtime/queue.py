"""The queue (SPEC 9, 10): which tickets an actor sees, and a page of them with filters and search."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from itsm.interpreter import model as m
from itsm.store import clocks, orgs, tickets, users
from itsm.store.search import match_rows
from itsm.store.search_text import query_words
from itsm.store.tickets import SLA_FILTERS
from itsm.store.visibility import in_subtree, subtree_of

from ..errors import N_, BadRequest
from .actors import Actor
from .snapshot import TicketSnapshot
from .store_lookups import snapshot
from .visibility import notes_visible_to, viewer_of, visible_to

MAX_SEARCH = 500  # characters of a queue search (`q`): SQLite refuses LIKE patterns over 50,000 bytes
EQUAL_FILTERS = ("process", "state", "priority", "team", "assignee", "requester")
__all__ = ["SLA_FILTERS", "list_page", "notes_visible_to", "org_filter", "visible_to"]


def list_page(session: Session, pack: m.PackSpec, actor: Actor, filters: Mapping[str, str | None], limit: int,
              cursor: int | None, now: datetime) -> tuple[list[TicketSnapshot], int | None]:
    """Up to `limit` tickets the actor may see, newest first, with their clocks and requesters, and the
    cursor of the next page (None: no more): the id to continue below, or with a search (`q`) the number
    of tickets already shown. A search matches the number (a substring of it, when it holds a digit) and
    the full-text document (SPEC 10, 15: the text fields and public comments, work notes where the actor
    may read them), every word of it required, best first. `org`: the tickets of that organization's
    subtree (SPEC 10), of those the actor may see (SPEC 14: `visibility`)."""
    equal = {column: value for column in EQUAL_FILTERS if (value := filters.get(column))}
    sla = filters.get("sla")
    if sla and sla not in SLA_FILTERS:
        raise BadRequest(N_("sla must be one of: %(choices)s", choices=", ".join(SLA_FILTERS)),
                         [{"field": "sla", "message": N_("one of %(choices)s", choices=", ".join(SLA_FILTERS))}])
    text = (filters.get("q") or "").strip()
    if len(text) > MAX_SEARCH:
        raise BadRequest(N_("q is longer than %(most)s characters", most=MAX_SEARCH),
                         [{"field": "q", "message": N_("at most %(most)s characters", most=MAX_SEARCH)}])
    where = org_filter(session, filters.get("org"))
    viewer = viewer_of(session, actor, pack)
    condition = tickets.sla_status_condition(sla, now) if sla else None
    if text:  # ranked (the number first, then relevance); the cursor is how many rows came before
        rows = match_rows(session, query_words(text), [*tickets.page_conditions(equal, viewer, condition), *where],
                          limit + 1, every=True, notes=notes_visible_to(viewer), number=number_part(text),
                          offset=cursor or 0)
        more = len(rows) > limit
        return _snapshots(session, rows[:limit]), ((cursor or 0) + limit if more else None)
    rows = tickets.page(session, limit + 1, equal, viewer, condition, cursor, where)
    more = len(rows) > limit
    rows = rows[:limit]
    return _snapshots(session, rows), (rows[-1].id if more and rows else None)


def number_part(text: str) -> str | None:
    """The search text as a piece of a ticket number, or None when it cannot be one: a number's letters
    are its process's prefix, so text without a digit would only list every ticket of a process, and
    finding it among all the numbers is a read of every ticket (no index serves a substring)."""
    return text if any(ch.isdigit() for ch in text) else None


def org_filter(session: Session, org: str | None) -> list[ColumnElement[bool]]:
    """The `org=` filter as conditions: the tickets of that organization's subtree (400 for an organization
    that does not exist: a misspelt id would otherwise look like an empty subtree)."""
    org = (org or "").strip()
    if not org:
        return []
    path = orgs.paths_of(session, [org]).get(org)
    if path is None:
        raise BadRequest(N_("no organization '%(org)s'", org=org[:100]),
                         [{"field": "org", "message": N_("unknown organization")}])
    return [in_subtree(subtree_of(session, path), session.get_bind().dialect.name)]


def _snapshots(session: Session, rows: list[Any]) -> list[TicketSnapshot]:
    """The page's tickets with their clocks and requesters (three queries for the page, not three per ticket)."""
    clock_rows = clocks.of_tickets(session, [row.id for row in rows])
    requesters = users.all_named(session, {row.requester for row in rows})
    return [snapshot(session, row, clock_rows.get(row.id, []), requesters.get(row.requester), requester_known=True)
            for row in rows]
