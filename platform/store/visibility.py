"""Which tickets a person may read, as one SQL condition (SPEC 9, 14): every list, search, suggestion,
export and report of tickets selects through `sees`, and reads work notes through `works_on`.

Who sees what is the engine's decision (`itsm.engine.runtime.visibility`): it hands over a `Viewer` of
plain values (the person's name, the teams and processes it works on, the subtrees it is limited to) and
this module writes it as SQL. A subtree (`subtree_of`) of a few organizations (a unit, a county) is the
list of their ids, `tickets.org IN ('hz-finance', ...)`, which `ix_tickets_org` answers with the few
tickets there are; a large one (a province) is `tickets.org IN (SELECT id FROM organizations WHERE path
LIKE '/zhejiang/%')`, one range of the paths' index hashed once per query, which a page of the newest
tickets checks as it walks them (docs/decisions.md, "Who sees which tickets").
"""

from __future__ import annotations

import functools
from typing import NamedTuple, cast

from sqlalchemy import ColumnElement, Table, func, or_, select
from sqlalchemy.orm import Session

from .models import Organization, Ticket
from .orgs import prefix_match

TICKETS = cast(Table, Ticket.__table__)
FEW = 500  # a subtree of at most this many organizations is written as the list of their ids


class Subtree(NamedTuple):
    """An organization's subtree: the root's materialized path, and every id in it when there are few."""

    path: str
    ids: tuple[str, ...] | None = None


def subtree_of(session: Session, path: str, few: int | None = None) -> Subtree:
    """The subtree at `path`, with its ids when it holds at most `few` (default FEW) organizations (one
    indexed read that stops after `few + 1`)."""
    few = FEW if few is None else few
    found = session.scalars(select(Organization.id).where(
        prefix_match(Organization.path, path, session.get_bind().dialect.name)).limit(few + 1)).all()
    return Subtree(path, tuple(found) if len(found) <= few else None)


class Viewer(NamedTuple):
    """A person reading tickets, as the engine worked it out (None instead of a viewer: sees everything).

    `name` sees the tickets it reported and those assigned to it; `teams`: the tickets those teams hold;
    `processes`: every ticket of these processes (an agent of unscoped teams); `scoped`: (subtree,
    processes) pairs, the tickets of those processes whose organization lies in that subtree (an agent of
    a team with `org_scope`); `contact`: the subtree whose tickets the person sees as its organization's
    contact (`org_contact`). `dialect`: the database's, for the prefix match."""

    name: str
    dialect: str
    teams: tuple[str, ...] = ()
    processes: tuple[str, ...] = ()
    scoped: tuple[tuple[Subtree, tuple[str, ...]], ...] = ()
    contact: Subtree | None = None


def in_subtree(subtree: Subtree, dialect: str) -> ColumnElement[bool]:
    """The ticket's organization lies in `subtree`."""
    if subtree.ids is not None:
        return TICKETS.c.org.in_(subtree.ids)
    return TICKETS.c.org.in_(select(Organization.id).where(prefix_match(Organization.path, subtree.path, dialect)))


def works_on(viewer: Viewer) -> ColumnElement[bool] | None:
    """The tickets the viewer works on as an agent (reads their work notes and links): those its teams
    hold, every ticket of `processes`, and those of `scoped` in their subtrees. None: no ticket."""
    terms: list[ColumnElement[bool]] = []
    if viewer.teams:
        terms.append(TICKETS.c.team.in_(viewer.teams))
    if viewer.processes:
        terms.append(TICKETS.c.process.in_(viewer.processes))
    for tree, processes in viewer.scoped:
        terms.append(TICKETS.c.process.in_(processes) & in_subtree(tree, viewer.dialect))
    return or_(*terms) if terms else None


def own_branches(viewer: Viewer) -> list[ColumnElement[bool]] | None:
    """`sees` as separate conditions, each served by an index of its own (`ix_tickets_requester`,
    `ix_tickets_assignee_open`, `ix_tickets_org`), for a viewer who works on no tickets as an agent and
    whose contact subtree (if any) is a list of ids: a page of the newest such tickets is the newest of each
    branch, merged, which costs what the person's tickets cost and not what the desk's history does (one
    OR over the columns made PostgreSQL walk every ticket newest first). None: keep `sees`, whose matches
    are dense enough for that walk (an agent's processes, a province)."""
    if viewer.teams or viewer.processes or viewer.scoped:
        return None
    if viewer.contact is not None and viewer.contact.ids is None:
        return None
    out: list[ColumnElement[bool]] = [TICKETS.c.requester == viewer.name, TICKETS.c.assignee == viewer.name]
    if viewer.contact is not None:
        out.append(in_subtree(viewer.contact, viewer.dialect))
    return out


@functools.lru_cache(maxsize=1024)
def sees(viewer: Viewer, newest_first: bool = False) -> ColumnElement[bool]:
    """The tickets the viewer may read: its own (reported or assigned), those it works on, and as an
    organization's contact those of the organization's subtree.

    `newest_first`: for a page of the newest tickets with no other filter. An agent's processes hold most
    tickets, so reading tickets newest first stops after a page; but SQLite, left alone, gathers every
    match of the terms through their indexes and sorts them all. The process term is then written so that
    no index serves it (coalesce of a column that is never null), which keeps SQLite on the id order.

    Remembered per viewer (a viewer is plain values; SQL expressions are immutable): every queue page and
    search of a person asks it again, and building it costs more than the query it filters."""
    terms: list[ColumnElement[bool]] = [TICKETS.c.requester == viewer.name, TICKETS.c.assignee == viewer.name]
    if newest_first and viewer.processes:
        terms.append(func.coalesce(TICKETS.c.process, "").in_(viewer.processes))
        viewer = viewer._replace(processes=())
    agent = works_on(viewer)
    if agent is not None:
        terms.append(agent)
    if viewer.contact is not None:
        terms.append(in_subtree(viewer.contact, viewer.dialect))
    return or_(*terms)

