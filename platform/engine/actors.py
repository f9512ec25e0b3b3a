"""Who is acting: a user's name, teams and roles as the active pack defines them (SPEC 9)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement

from itsm.interpreter.model import PackSpec, ProcessSpec
from itsm.store import Ticket, User

TICKET_ROLES = frozenset({"requester", "assignee", "team"})
SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[str] = frozenset()  # from teams and the admin flag; ticket roles are added per ticket
    teams: tuple[str, ...] = ()
    is_admin: bool = False
    is_system: bool = False  # the worker and scenarios: holds every role
    vip: bool = False
    org: str | None = None
    email: str | None = None
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    def roles_on(self, ticket_requester: str, ticket_assignee: str | None, ticket_team: str | None) -> frozenset[str]:
        roles = set(self.roles)
        if ticket_requester == self.name:
            roles.add("requester")
        if ticket_assignee is not None and ticket_assignee == self.name:
            roles.add("assignee")
        if ticket_team is not None and ticket_team in self.teams:
            roles.add("team")
        return frozenset(roles)


def system_actor() -> Actor:
    return Actor(SYSTEM, is_system=True, is_admin=True)


_SYSTEM_ROLES: dict[str, tuple[str, ...]] = {}  # pack digest -> every role of the pack, and admin


def system_roles(pack: PackSpec) -> tuple[str, ...]:
    """The roles the system actor holds in expressions: all of them (SPEC 4 scenario), sorted."""
    roles = _SYSTEM_ROLES.get(pack.digest)
    if roles is None:
        roles = tuple(sorted({r for t in pack.teams.values() for r in t.roles} | {"admin"}))
        if len(_SYSTEM_ROLES) > 64:
            _SYSTEM_ROLES.clear()
        _SYSTEM_ROLES[pack.digest] = roles
    return roles


_TEAMS_OF: dict[str, dict[str, tuple[str, ...]]] = {}  # pack digest -> user -> team ids (specs are immutable)


def teams_of(pack: PackSpec, name: str) -> tuple[str, ...]:
    by_user = _TEAMS_OF.get(pack.digest)
    if by_user is None:
        collected: dict[str, list[str]] = {}
        for team in pack.teams.values():
            for member in team.members:
                if team.id not in collected.setdefault(member.user, []):
                    collected[member.user].append(team.id)
        by_user = {user: tuple(ids) for user, ids in collected.items()}
        if len(_TEAMS_OF) > 64:
            _TEAMS_OF.clear()
        _TEAMS_OF[pack.digest] = by_user
    return by_user.get(name, ())


def actor_for(user: User, pack: PackSpec) -> Actor:
    teams = teams_of(pack, user.name)
    roles = {role for team_id in teams for role in pack.teams[team_id].roles}
    if user.is_admin:
        roles.add("admin")
    return Actor(user.name, frozenset(roles), teams, bool(user.is_admin), vip=bool(user.vip), org=user.org,
                 email=user.email)


def is_agent_for(actor: Actor, process: ProcessSpec) -> bool:
    """SPEC 9: agents see the tickets of the processes they hold a role in. A team member holds a role in
    a process when one of its transitions asks for one of the member's team roles, or for `team` or
    `assignee` (which any team member can come to hold as tickets move between teams)."""
    if not actor.teams:
        return False
    wanted = {role for t in process.transitions for role in t.roles or ()}
    return bool(wanted & (actor.roles - {"admin"})) or bool(wanted & {"team", "assignee"})


def visible_to(actor: Actor, pack: PackSpec) -> ColumnElement[bool] | None:
    """SPEC 9 as a filter on tickets (None: sees everything): own tickets, assigned ones, and every ticket
    of the processes the actor is an agent for."""
    if actor.is_admin or actor.is_system:
        return None
    agent_of = [p.id for p in pack.processes.values() if is_agent_for(actor, p)]
    return (Ticket.requester == actor.name) | Ticket.process.in_(agent_of) | (Ticket.assignee == actor.name)
