"""Who sees which tickets, for sets of tickets (SPEC 9, 14): the actor as a `Viewer`, which
`itsm.store.visibility` writes as one SQL condition. The queue, its search, suggestions, links, KPIs and
their CSV all select through it; the one ticket being read or changed is decided by `access.can_see` and
`access.is_agent` from the same `access.grants`, and tests/integration/test_visibility_rule.py checks that
the two agree ticket by ticket.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from itsm.interpreter import model as m
from itsm.store import orgs
from itsm.store.search import notes_for_all
from itsm.store.visibility import Viewer, sees, subtree_of, works_on

from .actors import Actor
from .sight import grants

__all__ = ["Viewer", "notes_visible_to", "viewer_of", "visible_to"]


def viewer_of(session: Session, actor: Actor, pack: m.PackSpec) -> Viewer | None:
    """The actor as the store's visibility condition sees it (None: sees everything). The organizations'
    subtrees are read here, once per request; an `org_scope` naming no organization grants nothing."""
    if actor.is_admin or actor.is_system:
        return None
    given = grants(actor, pack)
    contact = actor.org if actor.org_contact else None
    wanted = {org for org, _ in given.scoped} | ({contact} if contact is not None else set())
    trees = {org: subtree_of(session, path) for org, path in orgs.paths_of(session, wanted).items()}
    return Viewer(actor.name, session.get_bind().dialect.name, tuple(actor.teams), given.processes,
                  tuple((trees[org], processes) for org, processes in given.scoped if org in trees),
                  trees.get(contact) if contact is not None else None)


def visible_to(viewer: Viewer | None) -> ColumnElement[bool] | None:
    """The tickets the viewer may read, as a filter (None: every ticket)."""
    return sees(viewer) if viewer is not None else None


def notes_visible_to(viewer: Viewer | None) -> ColumnElement[bool] | None:
    """The tickets whose internal work notes the viewer reads, as a filter for search (None: none): where
    it is an agent (`access.is_agent`: every ticket for admins and the system). A requester's search never
    reads a note."""
    return notes_for_all() if viewer is None else works_on(viewer)
