"""The queue (SPEC 9, 10): which tickets an actor sees, and a page of them with filters and search."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, false
from sqlalchemy.orm import Session

from itsm.interpreter import model as m
from itsm.store import clocks, orgs, tickets, users
from itsm.store.search import count_matches, match_rows
from itsm.store.search_text import query_words
from itsm.store.tickets import SLA_FILTERS, SORT_KEYS
from itsm.store.visibility import in_subtree, subtree_of

from ..errors import N_, BadRequest
from .actors import Actor
from .snapshot import TicketSnapshot
from .store_lookups import snapshots
from .visibility import notes_visible_to, viewer_of, visible_to

MAX_SEARCH = 500  # characters of a queue search (`q`): SQLite refuses LIKE patterns over 50,000 bytes
EQUAL_FILTERS = ("process", "state", "priority", "team", "assignee", "requester")
SORTS = tuple(SORT_KEYS)
FLAGS = ("true", "false")
__all__ = ["SLA_FILTERS", "SORTS", "QueuePage", "list_page", "notes_visible_to", "org_filter", "visible_to"]


class QueuePage(NamedTuple):
    """One page of the queue: the tickets, the cursor of the next page (None: no more; an offset for a
    search, else the last row's sort key), of the previous one (the first row's key, when `before` or
    `after` was given), the total when counted, and the order used (`search` for a ranked search)."""

    items: list[Any]  # snapshots from `list_page`, the API's views from `Engine.queue_page`
    next_cursor: Any
    previous_cursor: Any
    total: int | None
    sort: str


def is_agent_actor(actor: Actor) -> bool:
    """Whose queue is an agent's (most urgent first, closed tickets hidden): admins and team members."""
    return actor.is_admin or actor.is_system or bool(actor.teams)


def default_sort(actor: Actor) -> str:
    return "urgency" if is_agent_actor(actor) else "-created"


def list_page(session: Session, pack: m.PackSpec, actor: Actor, filters: Mapping[str, str | None], limit: int,
              cursor: Any, now: datetime, count: bool = False, before: Any = None) -> QueuePage:
    """Up to `limit` tickets the actor may see in the order `sort` (SPEC 10: `urgency`, the default for
    agents, `-created` for requesters, `created`, `-updated`, `priority`), keyset-paginated: `cursor` is
    the sort key to continue after (`before`: to go back before), or with a search (`q`) the number of
    tickets already shown. A search matches the number (a substring of it, when it holds a digit) and the
    full-text document (SPEC 10, 15: the text fields and public comments, work notes where the actor may read
    them), every word of it required, best first. `org`: the tickets of that organization's subtree (SPEC 10), of
    those the actor may see (SPEC 14: `visibility`). Views: `assignee=me`, `assignee=none` or
    `unassigned=true`, `team=mine` (the actor's teams). `include_closed` (default: false for agents'
    queues, true for requesters and whenever `state` is given)."""
    equal = {column: value for column in EQUAL_FILTERS if (value := filters.get(column))}
    conditions: list[ColumnElement[bool]] = []
    if equal.get("assignee") == "me":
        equal["assignee"] = actor.name
    if equal.get("assignee") == "none" or _flag(filters, "unassigned", False):
        equal.pop("assignee", None)
        conditions.append(tickets.TICKETS.c.assignee.is_(None))
    if equal.get("team") == "mine":
        del equal["team"]
        conditions.append(tickets.TICKETS.c.team.in_(actor.teams) if actor.teams else false())
    open_only = not _flag(filters, "include_closed", not is_agent_actor(actor) or "state" in equal)
    sort = filters.get("sort") or default_sort(actor)
    if sort not in SORT_KEYS:
        raise BadRequest(N_("sort must be one of: %(choices)s", choices=", ".join(SORTS)),
                         [{"field": "sort", "message": N_("one of %(choices)s", choices=", ".join(SORTS))}])
    sla = filters.get("sla")
    if sla and sla not in SLA_FILTERS:
        raise BadRequest(N_("sla must be one of: %(choices)s", choices=", ".join(SLA_FILTERS)),
                         [{"field": "sla", "message": N_("one of %(choices)s", choices=", ".join(SLA_FILTERS))}])
    text = (filters.get("q") or "").strip()
    if len(text) > MAX_SEARCH:
        raise BadRequest(N_("q is longer than %(most)s characters", most=MAX_SEARCH),
                         [{"field": "q", "message": N_("at most %(most)s characters", most=MAX_SEARCH)}])
    where = [*org_filter(session, filters.get("org")), *conditions]
    viewer = viewer_of(session, actor, pack)
    condition = tickets.sla_status_condition(sla, now) if sla else None
    opened = [tickets.TICKETS.c.is_open] if open_only else []
    if text:  # ranked (the number first, then relevance); the cursor is how many rows came before
        every = [*tickets.page_conditions(equal, viewer, condition), *where, *opened]
        offset = int(cursor or 0)
        words = query_words(text)
        rows = match_rows(session, words, every, limit + 1, every=True, notes=notes_visible_to(viewer),
                          number=number_part(text), offset=offset)
        total = count_matches(session, words, every, notes=notes_visible_to(viewer),
                              number=number_part(text)) if count else None
        more = len(rows) > limit
        return QueuePage(_snapshots(session, rows[:limit]), offset + limit if more else None, None, total, "search")
    backwards = before is not None
    rows = tickets.page(session, limit + 1, equal, viewer, condition, before if backwards else cursor, where, sort,
                        backwards=backwards, open_only=open_only,
                        sla_test=tickets.sla_status_test(sla, now) if sla else None)
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    total = tickets.count(session, [*tickets.page_conditions(equal, viewer, condition), *where, *opened]) \
        if count else None
    next_key = tickets.sort_key(sort, rows[-1]) if rows and (more or backwards) else None
    previous_key = tickets.sort_key(sort, rows[0]) if rows and ((cursor is not None) or (backwards and more)) \
        else None
    return QueuePage(_snapshots(session, rows), next_key, previous_key, total, sort)


def _flag(filters: Mapping[str, str | None], name: str, default: bool) -> bool:
    """A true/false query parameter (400 for anything else)."""
    value = (filters.get(name) or "").strip().lower()
    if not value:
        return default
    if value not in FLAGS:
        raise BadRequest(N_("%(name)s must be true or false", name=name),
                         [{"field": name, "message": N_("true or false")}])
    return value == "true"


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
    return snapshots(rows, clock_rows, users.all_named(session, {row.requester for row in rows}))
