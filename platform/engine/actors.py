"""Who is acting: a user's name, teams and roles as the active pack defines them (SPEC 9)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from itsm.interpreter.model import PackSpec

if TYPE_CHECKING:
    from itsm.store import User

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


def actor_for(user: User, pack: PackSpec) -> Actor:
    teams = tuple(team.id for team in pack.teams.values() if any(m.user == user.name for m in team.members))
    roles = {role for team_id in teams for role in pack.teams[team_id].roles}
    if user.is_admin:
        roles.add("admin")
    return Actor(user.name, frozenset(roles), teams, bool(user.is_admin), vip=bool(user.vip), org=user.org,
                 email=user.email)
