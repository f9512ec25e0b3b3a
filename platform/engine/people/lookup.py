"""People as agents look them up (issue 17): the requester picker of the agent's create form (a caller
found by name, mail or organization) and the assignee picker of a ticket (each candidate's team and open
tickets). Visibility follows the tickets' rule (SPEC 14): an agent whose teams all have an `org_scope`
finds only the people of those subtrees; admins and agents of unscoped teams find everyone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itsm.store import orgs, routing, tickets, users

from ..errors import N_, Forbidden
from ..runtime.actors import Actor
from ..runtime.visibility import viewer_of

if TYPE_CHECKING:
    from ..runtime.engine import Engine

MAX_PEOPLE = 20


def is_agent(actor: Actor) -> bool:
    return actor.is_admin or actor.is_system or bool(actor.teams)


def find_people(engine: Engine, actor: Actor, text: str, limit: int = 10) -> list[dict[str, Any]]:
    """Active users matching `text` (name, full name, mail, organization name or id), at most `limit` (up to
    MAX_PEOPLE), those the actor may record tickets for; 403 for anyone but agents and admins."""
    if not is_agent(actor):
        raise Forbidden(N_("only agents look people up"))
    text = text.strip()[:100]
    if not text:
        return []
    with engine.db.read() as session:
        viewer = viewer_of(session, actor, engine.definitions.active().pack)
        subtrees = None if viewer is None or viewer.processes else [tree.path for tree, _ in viewer.scoped]
        rows = users.directory(session, text, subtrees, max(1, min(limit, MAX_PEOPLE)))
        return [{"name": r.name, "full_name": r.full_name, "email": r.email, "org": r.org, "org_name": r.org_name}
                for r in rows]


def assignee_candidates(engine: Engine, actor: Actor, number: str) -> list[dict[str, Any]]:
    """Who the ticket may be given to: the members of every team that serves it, each with the team and how
    many open tickets they hold, the ticket's own team first, then the least loaded."""
    view = engine.get(actor, number)
    with engine.db.read() as session:
        compiled = engine.definitions.active()
        row = tickets.by_number(session, number)
        org = row.org if row is not None else None
        lineage = tuple(orgs.lineage_of(session, org)) if org else ()
        teams = [t for t in compiled.pack.teams.values() if t.serves(lineage)]
        names = sorted({member.user for team in teams for member in team.members})
        loads = routing.open_tickets(session, names) if names else {}
        known = users.existing_names(session, names)
    out = []
    for team in teams:
        for member in team.members:
            if member.user in known:
                out.append({"user": member.user, "team": team.id, "load": int(loads.get(member.user, 0)),
                            "skills": list(member.skills), "same_team": team.id == view.get("team")})
    out.sort(key=lambda c: (not c["same_team"], c["load"], c["user"], c["team"]))
    return out

