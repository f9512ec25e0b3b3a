"""Who is acting: a user's name, teams and roles as the active pack defines them (SPEC 9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from itsm.interpreter.model import AssignAction, PackSpec, ProcessSpec, TeamSpec, per_spec

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
    org_contact: bool = False  # sees the tickets of its organization's subtree (SPEC 14)

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


@per_spec
def system_roles(pack: PackSpec) -> tuple[str, ...]:
    """The roles the system actor holds in expressions: all of them (SPEC 4 scenario), sorted."""
    return tuple(sorted({r for t in pack.teams.values() for r in t.roles} | {"admin"}))


def teams_of(pack: PackSpec, name: str) -> tuple[str, ...]:
    return _teams_by_user(pack).get(name, ())


@per_spec
def _teams_by_user(pack: PackSpec) -> dict[str, tuple[str, ...]]:
    collected: dict[str, list[str]] = {}
    for team in pack.teams.values():
        for member in team.members:
            if team.id not in collected.setdefault(member.user, []):
                collected[member.user].append(team.id)
    return {user: tuple(ids) for user, ids in collected.items()}


def team_members(pack: PackSpec) -> list[str]:
    """The user names of every team of the pack, sorted."""
    return sorted(_teams_by_user(pack))


class UserRecord(Protocol):
    """What an actor is made of: a mapped `User` or a row of the users table."""

    @property
    def name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def is_admin(self) -> bool: ...
    @property
    def vip(self) -> bool: ...
    @property
    def org(self) -> str | None: ...
    @property
    def org_contact(self) -> bool: ...


def actor_for(user: UserRecord, pack: PackSpec) -> Actor:
    teams = teams_of(pack, user.name)
    roles = {role for team_id in teams for role in pack.teams[team_id].roles}
    if user.is_admin:
        roles.add("admin")
    return Actor(user.name, frozenset(roles), teams, bool(user.is_admin), vip=bool(user.vip), org=user.org,
                 email=user.email, org_contact=bool(getattr(user, "org_contact", False)))


def is_agent_for(actor: Actor, process: ProcessSpec, pack: PackSpec) -> bool:
    """SPEC 9: agents see the tickets of the processes they hold a role in (of their teams' organizations,
    SPEC 14: `team_works_on` per team). A team member holds a role in a process when one of its
    transitions asks for one of the member's team roles, or for `team` or `assignee` (which any team member
    can come to hold as tickets move between teams), or when the process hands tickets to one of the
    member's teams (`handling_teams`: a pack whose transitions name no roles still has teams that work its
    tickets)."""
    if not actor.teams:
        return False
    wanted = _wanted_roles(process)
    return (bool(wanted & (actor.roles - {"admin"})) or bool(wanted & {"team", "assignee"})
            or not handling_teams(pack).get(process.id, frozenset()).isdisjoint(actor.teams))


def fills_agent_fields(actor: Actor, process: ProcessSpec, pack: PackSpec) -> bool:
    """Whether a new ticket's form shows the actor the fields with `audience: agent`: the system, admins and
    the agents of the process (those who may also record a ticket on someone's behalf). On a stored ticket
    the rule is `access.is_agent`: the actor works on that ticket."""
    return actor.is_system or actor.is_admin or is_agent_for(actor, process, pack)


def team_works_on(team: TeamSpec, process: ProcessSpec, pack: PackSpec) -> bool:
    """`is_agent_for` for the members of one team: the process asks for one of the team's roles, or for
    `team` or `assignee`, or hands tickets to the team. An actor is an agent of a process when one of its
    teams works on it; a team's `org_scope` limits which of the process's tickets that covers."""
    wanted = _wanted_roles(process)
    return (bool(wanted & (set(team.roles) - {"admin"})) or bool(wanted & {"team", "assignee"})
            or team.id in handling_teams(pack).get(process.id, frozenset()))


@per_spec
def _wanted_roles(process: ProcessSpec) -> frozenset[str]:
    """The roles the process's transitions ask for."""
    return frozenset(r for t in process.transitions for r in t.roles or ())


@per_spec
def handling_teams(pack: PackSpec) -> dict[str, frozenset[str]]:
    """Per process, the teams it hands tickets to: its routing's teams, the teams of its `assign` actions,
    and the teams those escalate to (`escalate: next_tier`), transitively."""
    out: dict[str, frozenset[str]] = {}
    for process in pack.processes.values():
        routing = pack.routings.get(process.routing or "")
        teams = {rule.team for rule in routing.rules} if routing is not None else set()
        actions = [a for s in process.states for a in (*s.on_enter, *s.on_exit)]
        actions += [a for t in process.transitions for a in t.actions]
        teams |= {a.team for a in actions if isinstance(a, AssignAction) and a.team}
        todo = list(teams)
        while todo:
            team = pack.teams.get(todo.pop())
            if team is not None and team.escalates_to and team.escalates_to not in teams:
                teams.add(team.escalates_to)
                todo.append(team.escalates_to)
        out[process.id] = frozenset(teams)
    return out


@per_spec
def team_processes(pack: PackSpec) -> dict[str, tuple[str, ...]]:
    """Per team, the processes it works on (`team_works_on`), in the pack's order."""
    return {team.id: tuple(p.id for p in pack.processes.values() if team_works_on(team, p, pack))
            for team in pack.teams.values()}


def agent_processes(actor: Actor, pack: PackSpec) -> list[str]:
    """The processes whose every ticket the actor sees as an agent."""
    return [p.id for p in pack.processes.values() if is_agent_for(actor, p, pack)]
