"""A ticket as expressions, templates and the API see it."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from itsm.interpreter.model import PackSpec

from .actors import Actor, teams_of
from .snapshot import TicketRow, UserFacts


def person(name: str, user: UserFacts | None, pack: PackSpec) -> dict[str, Any]:
    teams = list(teams_of(pack, name))
    if user is None:
        return {"name": name, "vip": False, "org": None, "orgs": [], "org_name": None, "email": None,
                "teams": teams}
    return {"name": name, "vip": bool(user.vip), "org": user.org, "orgs": list(user.orgs),
            "org_name": user.org_name, "email": user.email, "teams": teams}


PEOPLE_AND_CLOCKS = frozenset({"requester", "actor", "sla"})  # the names `ticket_context` leaves out


def ticket_context(ticket: TicketRow, fields: Mapping[str, Any], event: str, state: str | None = None
                   ) -> dict[str, Any]:
    """The names expressions read about the ticket itself: its fields, state, priority, team, assignee,
    number, process, and the event; enough for an expression that reads nothing in PEOPLE_AND_CLOCKS."""
    context: dict[str, Any] = {"channel": None}
    context.update(fields)
    context.update({
        "state": state if state is not None else ticket.state,
        "priority": ticket.priority,
        "team": ticket.team,
        "assignee": ticket.assignee,
        "number": ticket.number,
        "process": ticket.process,
        "event": event,
    })
    return context


def add_people_and_clocks(context: dict[str, Any], requester: Mapping[str, Any] | None, actor: Actor,
                          reads: frozenset[str] = PEOPLE_AND_CLOCKS) -> None:
    """The rest of the plain dict expressions read (SPEC 5 names) after `ticket_context`: those of
    PEOPLE_AND_CLOCKS in `reads` (`people_and_clocks_read`; `requester` may be None without `requester`), the
    clocks empty (the caller has them)."""
    if "requester" in reads:
        context["requester"] = dict(requester or {})
    if "actor" in reads:
        context["actor"] = {"name": actor.name, "roles": sorted(actor.roles), "teams": list(actor.teams)}
    if "sla" in reads:
        context["sla"] = {}


@functools.lru_cache(maxsize=4096)
def people_and_clocks_read(names: frozenset[str]) -> frozenset[str]:
    """Which of PEOPLE_AND_CLOCKS an expression reading these (dotted) names reads (per expression: a list
    of tickets asks it of the same few guards again and again)."""
    return frozenset(name.partition(".")[0] for name in names) & PEOPLE_AND_CLOCKS


def template_context(ticket: TicketRow, fields: Mapping[str, Any], requester: Mapping[str, Any],
                     actor: Actor) -> dict[str, Any]:
    view = {**fields, "number": ticket.number, "process": ticket.process, "state": ticket.state,
            "priority": ticket.priority, "team": ticket.team, "assignee": ticket.assignee,
            "requester": ticket.requester, "fields": dict(fields)}
    return {"ticket": view, "actor": {"name": actor.name}, "requester": dict(requester)}


def ticket_view(ticket: TicketRow, transitions: list[str], sla: dict[str, Any],
                times: Mapping[datetime, str]) -> dict[str, Any]:
    """SPEC 10: GET /api/tickets/NUMBER; `times`: instants as text in the pack's time zone (`live.LocalTimes`,
    which the clocks' views share)."""
    created, updated = ticket.created_at, ticket.updated_at
    return {
        "number": ticket.number,
        "process": ticket.process,
        "state": ticket.state,
        "priority": ticket.priority,
        "team": ticket.team,
        "assignee": ticket.assignee,
        "requester": ticket.requester,
        "fields": dict(ticket.fields or {}),
        "sla": sla,
        "version": ticket.version,
        "created_at": times[created] if created is not None else None,
        "updated_at": times[updated] if updated is not None else None,
        "transitions": transitions,
    }
