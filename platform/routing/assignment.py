"""Choosing a member of the routed team (SPEC 4 routing): manual, round_robin, least_loaded, skills."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from itsm.interpreter.model import RoutingSpec, TeamSpec


@dataclass(frozen=True)
class Assignment:
    user: str | None
    cursor: int | None = None  # round_robin: the cursor to persist (None: unchanged)
    reason: str = ""


def candidates(routing: RoutingSpec, team: TeamSpec, context: Mapping[str, Any]) -> list[str]:
    """Members of the team, narrowed to those whose skills match the routing's skills field when any do."""
    members = [m.user for m in team.members]
    if routing.skills is None:
        return members
    wanted = context.get(routing.skills)
    # skills are text: other values (a number, an object kept from an older form) match nobody
    wanted_values = {v for v in (wanted if isinstance(wanted, list) else [wanted]) if isinstance(v, str)}
    skilled = [m.user for m in team.members if wanted_values & set(m.skills)]
    return skilled or members


def choose(routing: RoutingSpec, team: TeamSpec, context: Mapping[str, Any], *, cursor: int = 0,
           loads: Mapping[str, int] | None = None) -> Assignment:
    """The member a ticket goes to: `cursor` is the team's round-robin position, `loads` its open tickets
    per member (least_loaded); ties go to the member listed first."""
    if routing.assignment == "manual" or not team.members:
        return Assignment(None, reason="manual")
    pool = candidates(routing, team, context)
    if routing.assignment == "round_robin":
        user = pool[cursor % len(pool)]
        return Assignment(user, cursor + 1, reason="round_robin")
    count = (loads or {}).get
    user = min(pool, key=lambda name: count(name, 0))  # min keeps the first of equals: the one listed first
    return Assignment(user, reason="least_loaded")
