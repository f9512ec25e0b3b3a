"""Who may read a ticket, decided on its row alone (SPEC 9, 14): the agent's grants by team and
organization scope, and the person's own tickets. Apart from `access` (which reads the working copy) so that
the working copy can ask it too, e.g. whether a watcher may still be told about a ticket."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from itsm.interpreter import model as m

from .actors import Actor, team_processes
from .snapshot import TicketRow


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
