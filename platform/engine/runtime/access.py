"""Who may do what with a ticket, and what they see of it (SPEC 8, 9, 14): pure rules over the working copy.

Who sees which tickets is one rule (`grants`, `works_on_ticket`, `sees_ticket`): a person sees the tickets
they reported or hold; an agent those its teams hold, and those of the processes its teams work on, where
a team with `org_scope` covers only the tickets whose organization lies in that organization's subtree (a
province or city desk); an organization's contact (`org_contact`) also the tickets of its organization's
subtree; admins and the system everything. Sets of tickets ask it as SQL (`visibility.viewer_of`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from itsm.interpreter import model as m
from itsm.interpreter.model import per_spec

from ..errors import N_, StaleVersion
from .live import LocalTimes, clock_views
from .sight import sees_ticket, works_on_ticket
from .views import people_and_clocks_read, ticket_context, ticket_view
from .work import Work


def roles(work: Work) -> frozenset[str]:
    ticket = work.ticket
    return work.actor.roles_on(ticket.requester, ticket.assignee, ticket.team)


def is_agent(work: Work) -> bool:
    """The actor works on this ticket as an agent (`works_on_ticket`)."""
    return works_on_ticket(work.actor, work.pack, work.ticket, work.org_lineage)


def can_see(work: Work) -> bool:
    """The actor may read this ticket (`sees_ticket`); anyone else is told it does not exist (404)."""
    return sees_ticket(work.actor, work.pack, work.ticket, work.org_lineage)


def may_fire(work: Work, transition: m.TransitionSpec) -> bool:
    if work.actor.is_system:
        return True
    if transition.roles is None:
        return not transition.timed  # timed transitions without roles belong to the worker
    return bool(roles(work) & set(transition.roles))


def available(work: Work, offered: dict[tuple[Any, ...], tuple[str, ...]] | None = None) -> list[str]:
    """Transitions this actor may fire now: role held, from the current state, guard true (`may_fire`).
    `offered`: what was worked out for the other tickets of a page, by what decides it (`_offered_key`):
    tickets alike offer the same, and a page holds many alike."""
    key = _offered_key(work) if offered is not None else None
    if offered is None or key is None:
        return _available(work)
    known = offered.get(key)
    if known is None:
        known = offered[key] = tuple(_available(work))
    return list(known)


def _available(work: Work) -> list[str]:
    """`available`, with the ticket roles and the guards' context worked out once for all the transitions."""
    result = []
    held: frozenset[str] | None = None
    context: dict[str, Any] | None = None  # the ticket's part, and of the people and clocks those in `parts`
    parts: frozenset[str] = frozenset()
    for transition in work.process.transitions_from(work.ticket.state):
        if transition.roles is None:
            if transition.timed:
                continue
        elif not work.actor.is_system:
            if held is None:
                held = roles(work)
            if held.isdisjoint(transition.roles):
                continue
        if transition.guard is not None:
            wanted = people_and_clocks_read(transition.guard.names)
            if context is None:
                parts = wanted
                context = work.context(reads=parts) if parts else ticket_context(work.ticket, work.fields, work.event)
            elif not wanted <= parts:
                work.add_to_context(context, wanted - parts)
                parts = parts | wanted
            context["event"] = transition.id  # expressions only read the context
            if not transition.guard.test(context):
                continue
        result.append(transition.id)
    return result


_ROW_NAMES = frozenset({"state", "priority", "team", "assignee", "number", "process"})  # `ticket_context`'s own
_ABSENT = object()  # a name the context does not hold


@per_spec
def _guard_reads(process: m.ProcessSpec) -> dict[str, tuple[str, ...] | None]:
    """Per state of `process`: the names of the ticket (top level) that the guards of the transitions from it
    read, or None where a guard reads the requester or the clocks (each ticket's own: nothing to share). The
    actor's names are the same for a whole page, `event` the transition's."""
    out: dict[str, tuple[str, ...] | None] = {}
    for state in process.states:
        names: set[str] | None = set()
        for transition in process.transitions_from(state.id):
            for dotted in transition.guard.names if transition.guard is not None else ():
                top = dotted.partition(".")[0]
                if top in ("requester", "sla"):
                    names = None
                    break
                if top not in ("actor", "event") and names is not None:
                    names.add(top)
            if names is None:
                break
        out[state.id] = tuple(sorted(names)) if names is not None else None
    return out


def _offered_key(work: Work) -> tuple[Any, ...] | None:
    """Everything `available` decides by, for an actor's page of tickets: the process and state, the ticket
    roles the actor holds, and the values (with their types) of the ticket's names that the guards read;
    None when the guards read more than that (the requester, the clocks, an event's names) or a value is not
    hashable."""
    ticket = work.ticket
    reads = _guard_reads(work.process).get(ticket.state)
    if reads is None or work.extra_names:
        return None
    actor, fields = work.actor, work.fields
    values: list[Any] = [work.process.id, ticket.state, ticket.requester == actor.name,
                         ticket.assignee is not None and ticket.assignee == actor.name,
                         ticket.team is not None and ticket.team in actor.teams]
    for name in reads:  # as `ticket_context` has them: the row's columns over the fields, `channel` None
        if name in _ROW_NAMES:
            value = getattr(ticket, name)
        else:
            value = fields.get(name, None if name == "channel" else _ABSENT)
        values += (type(value), value)
    key = tuple(values)
    try:
        hash(key)
    except TypeError:  # a list or an object among the values read
        return None
    return key


def check_version(work: Work, version: int | None) -> None:
    ticket = work.ticket
    if version is not None and version != ticket.version:
        raise StaleVersion(N_("%(number)s is at version %(version)s, not %(sent)s: reload it and try again",
                                number=ticket.number, version=ticket.version, sent=version))


def view(work: Work, now: datetime, offered: dict[tuple[Any, ...], tuple[str, ...]] | None = None) -> dict[str, Any]:
    """The ticket as the API shows it, for this actor, at `now` (SPEC 8: in the pack's time zone); a requester
    never gets the values of the desk's own fields (`audience: agent`, `desk_only`). `offered`: the
    transitions of the page's tickets so far (`available`)."""
    zone = ZoneInfo(work.pack.timezone)
    times = LocalTimes(zone)
    shown = ticket_view(work.ticket, available(work, offered),
                        clock_views(work.clocks, work.pack.calendars, now, zone, work.worked, times), times)
    hidden = desk_only(work.form)
    if hidden and not is_agent(work):
        shown["fields"] = {name: value for name, value in shown["fields"].items() if name not in hidden}
    return shown


@per_spec
def desk_only(form: m.FormSpec) -> frozenset[str]:
    """The fields of `form` that requesters never see (`audience: agent`)."""
    return frozenset(spec.id for spec in form.fields if spec.desk_only)


DESK_EVENTS = frozenset({"sla", "triage"})  # the desk's bookkeeping: SLA clocks, the triage model's choices
DESK_COLUMNS = frozenset({"assignee"})  # requesters are told the team that handles their ticket, not the person


def requester_event(event: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any] | None:
    """An event as a requester reads it (docs/decisions.md, "What a requester sees of their ticket"): without
    the changes of the `hidden` fields (`desk_only`) and of the assignee, a routing event without its rule
    and person; None for the desk's bookkeeping, and for an update that changed only what they do not see."""
    if event["kind"] in DESK_EVENTS:
        return None
    changes = event.get("changes")
    if changes:
        changes = {name: change for name, change in changes.items() if name not in hidden and name not in DESK_COLUMNS}
        if not changes and event["kind"] == "update":
            return None
    data = event.get("data")
    if event["kind"] == "routing" and data:
        data = {key: value for key, value in data.items() if key == "team"}
    return {**event, "changes": changes, "data": data}
