"""People as agents look them up (issue 17): the requester picker of the agent's create form (a caller
found by name, mail or organization), the assignee picker of a ticket (each candidate's team and open
tickets) and the watchers card's picker (people who may see the ticket). Visibility follows the tickets'
rule (SPEC 14): an agent whose teams all have an `org_scope` finds only the people of those subtrees;
admins and agents of unscoped teams find everyone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itsm.store import orgs, routing, tickets, users

from ..errors import N_, Forbidden
from ..runtime.access import can_see
from ..runtime.access import is_agent as works_on_it
from ..runtime.actors import Actor, actor_for
from ..runtime.rules import working
from ..runtime.visibility import viewer_of

if TYPE_CHECKING:
    from itsm.store.database import Session

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
        rows = users.directory(session, text, _agents_reach(session, engine, actor), max(1, min(limit, MAX_PEOPLE)))
        return [_person(r) for r in rows]


def _agents_reach(session: Session, engine: Engine, actor: Actor) -> list[str] | None:
    """The organizations' subtrees (materialized paths) whose people an agent finds: those of its scoped teams
    when all of its teams are scoped, else everyone (None)."""
    viewer = viewer_of(session, actor, engine.definitions.active().pack)
    return None if viewer is None or viewer.processes else [tree.path for tree, _ in viewer.scoped]


def _person(row: Any) -> dict[str, Any]:
    return {"name": row.name, "full_name": row.full_name, "email": row.email, "org": row.org,
            "org_name": row.org_name}


def watcher_candidates(engine: Engine, actor: Actor, number: str, text: str, limit: int = 10
                       ) -> list[dict[str, Any]]:
    """The watchers card's picker (issue 17): people matching `text` as `find_people` finds them who may follow
    ticket `number` (a watcher must see it), at most `limit`. The ticket's agents search whom they may record
    tickets for; its requester the people of their own organization and those under it (docs/decisions.md,
    "Watchers a requester adds"); anyone else nobody (they may only follow it themselves). 404 as the ticket."""
    text = text.strip()[:100]
    with engine.db.read() as session:
        context = engine.context(session)
        found = engine.load(session, actor, number, context=context)
        now = engine.clock()
        pack = context.compiled.pack
        if works_on_it(working(context, found, actor, now)):
            reach = _agents_reach(session, engine, actor)
        elif actor.name == found.ticket.requester and actor.org:
            reach = list(orgs.paths_of(session, [actor.org]).values())
        else:
            return []
        if not text:
            return []
        out = []
        for row in users.directory(session, text, reach, MAX_PEOPLE * 2):
            record = users.named(session, row.name)
            if record is not None and row.name != actor.name and \
                    can_see(working(context, found, actor_for(record, pack), now)):
                out.append(_person(row))
                if len(out) >= max(1, min(limit, MAX_PEOPLE)):
                    break
        return out


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

