"""Who may do what with a ticket, and what they see of it (SPEC 8, 9, 14): pure rules over the working copy.

Who sees which tickets is one rule (`grants`, `works_on_ticket`, `sees_ticket`): a person sees the tickets
they reported or hold; an agent those its teams hold, and those of the processes its teams work on, where
a team with `org_scope` covers only the tickets whose organization lies in that organization's subtree (a
province or city desk); an organization's contact (`org_contact`) also the tickets of its organization's
subtree; admins and the system everything. Sets of tickets ask it as SQL (`visibility.viewer_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from itsm.interpreter import model as m

from ..errors import N_, StaleVersion
from .actors import Actor, team_processes
from .live import clock_views
from .snapshot import TicketRow
from .views import reads_people_or_clocks, ticket_context, ticket_view
from .work import Work


@dataclass(frozen=True)
class Grants:
    """What an agent's teams give it: every ticket of `processes`, and for each (organization, processes)
    of `scoped` the tickets of those processes whose organization lies in that organization's subtree."""

    processes: tuple[str, ...] = ()
    scoped: tuple[tuple[str, tuple[str, ...]], ...] = ()


def grants(actor: Actor, pack: m.PackSpec) -> Grants:
    """The processes the actor's teams work on (`actors.team_works_on`), unscoped or by `org_scope`; a
    process an unscoped team of the actor works on is not repeated under a scope."""
    everywhere: dict[str, None] = {}
    scoped: dict[str, dict[str, None]] = {}
    worked = team_processes(pack)
    for team_id in actor.teams:
        team = pack.teams.get(team_id)
        if team is not None:
            into = everywhere if team.org_scope is None else scoped.setdefault(team.org_scope, {})
            into.update(dict.fromkeys(worked.get(team_id, ())))
    limited = [(org, tuple(p for p in processes if p not in everywhere)) for org, processes in sorted(scoped.items())]
    return Grants(tuple(everywhere), tuple((org, processes) for org, processes in limited if processes))


def works_on_ticket(actor: Actor, pack: m.PackSpec, ticket: TicketRow, lineage: Callable[[], Sequence[str]]) -> bool:
    """Whether the actor works on this ticket as an agent (reads its work notes, edits its fields): admins
    and the system; members of the team that holds it; agents whose teams work on its process, where a
    scoped team must serve its organization. `lineage()`: the ticket's organization and its ancestors
    (asked only when a scoped team decides)."""
    if actor.is_system or actor.is_admin or (ticket.team is not None and ticket.team in actor.teams):
        return True
    given = grants(actor, pack)
    if ticket.process in given.processes:
        return True
    scopes = {org for org, processes in given.scoped if ticket.process in processes}
    return bool(scopes) and ticket.org is not None and not scopes.isdisjoint(lineage())


def sees_ticket(actor: Actor, pack: m.PackSpec, ticket: TicketRow, lineage: Callable[[], Sequence[str]]) -> bool:
    """Whether the actor may read this ticket: its own (reported or assigned), one it works on as an agent,
    or as its organization's contact one of that organization's subtree."""
    if ticket.requester == actor.name or (ticket.assignee is not None and ticket.assignee == actor.name):
        return True
    if works_on_ticket(actor, pack, ticket, lineage):
        return True
    return actor.org_contact and actor.org is not None and ticket.org is not None and actor.org in lineage()


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


def available(work: Work) -> list[str]:
    """Transitions this actor may fire now: role held, from the current state, guard true (`may_fire`,
    with the ticket roles and the guards' context worked out once for all the transitions)."""
    result = []
    held: frozenset[str] | None = None
    context: dict[str, Any] | None = None  # the full context, or only the ticket's part (`light`)
    light = False
    for transition in work.process.transitions_from(work.ticket.state):
        if transition.timed and transition.roles is None:
            continue
        if transition.roles is not None and not work.actor.is_system:
            if held is None:
                held = roles(work)
            if held.isdisjoint(transition.roles):
                continue
        if transition.guard is not None:
            full = reads_people_or_clocks(transition.guard.names)
            if context is None or (light and full):
                light = not full
                context = ticket_context(work.ticket, work.fields, work.event) if light else work.context()
            context["event"] = transition.id  # expressions only read the context
            if not transition.guard.test(context):
                continue
        result.append(transition.id)
    return result


def check_version(work: Work, version: int | None) -> None:
    ticket = work.ticket
    if version is not None and version != ticket.version:
        raise StaleVersion(N_("%(number)s is at version %(version)s, not %(sent)s: reload it and try again",
                                number=ticket.number, version=ticket.version, sent=version))


def view(work: Work, now: datetime) -> dict[str, Any]:
    """The ticket as the API shows it, for this actor, at `now` (SPEC 8: in the pack's time zone)."""
    zone = ZoneInfo(work.pack.timezone)
    return ticket_view(work.ticket, available(work), clock_views(work.clocks, work.pack.calendars, now, zone), zone)
