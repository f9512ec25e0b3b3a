"""Definitions versions (SPEC 7): the published packs, which one is active, and the ticket rows a publish
touches (states renamed, open clocks due again). The engine decides; these statements only persist."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, insert, literal, select, text, update
from sqlalchemy.orm import Session

from .models import DefinitionsVersion, Event, JSONValue, SlaClock, Ticket, UTCDateTime, utcnow

PUBLISH_LOCK = 7031966  # PostgreSQL advisory lock: one publish or rollback at a time


def active_id(session: Session) -> str | None:
    return session.scalar(select(DefinitionsVersion.id).where(DefinitionsVersion.is_active))


def active(session: Session) -> DefinitionsVersion | None:
    return session.scalar(select(DefinitionsVersion).where(DefinitionsVersion.is_active))


def source_of(session: Session, version_id: str) -> Any | None:
    """The merged source of a version (None when there is no such version)."""
    row = session.get(DefinitionsVersion, version_id)
    return None if row is None else row.source


def all_versions(session: Session) -> Sequence[DefinitionsVersion]:
    return session.scalars(select(DefinitionsVersion).order_by(DefinitionsVersion.created_at)).all()


def starting_with(session: Session, prefix: str) -> Sequence[DefinitionsVersion]:
    return session.scalars(select(DefinitionsVersion).where(
        DefinitionsVersion.id.startswith(prefix, autoescape=True))).all()


def serialize(session: Session) -> None:
    """One publish or rollback at a time (SQLite's write lock does this already)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({PUBLISH_LOCK})"))


def stored(session: Session, version_id: str, pack_id: str, source: list[Any], git_commit: str | None,
           actor: str | None) -> DefinitionsVersion:
    """The version's row, added when new; a known git commit is kept."""
    row = session.get(DefinitionsVersion, version_id)
    if row is None:
        row = DefinitionsVersion(id=version_id, pack_id=pack_id, source=source, git_commit=git_commit,
                                 created_by=actor)
        session.add(row)
    row.git_commit = row.git_commit or git_commit
    return row


def activate(session: Session, row: DefinitionsVersion) -> None:
    session.execute(update(DefinitionsVersion).where(DefinitionsVersion.is_active).values(is_active=False))
    row.is_active = True
    row.activated_at = utcnow()


def open_per_state(session: Session) -> Sequence[Any]:
    """(process, state, open tickets) for every state holding open tickets."""
    return session.execute(select(Ticket.process, Ticket.state, func.count()).where(Ticket.is_open)
                           .group_by(Ticket.process, Ticket.state)).all()


def rename_state(session: Session, process: str, old: str, new: str, at: datetime, actor: str,
                 version: str) -> None:
    """Move the open tickets of `process` in `old` to `new`, each with a `rename` event under `version`."""
    moved = and_(Ticket.process == process, Ticket.state == old, Ticket.is_open)
    session.execute(insert(Event).from_select(
        ["ticket_id", "at", "actor", "kind", "from_state", "to_state", "changes", "data", "definitions_version"],
        select(Ticket.id, literal(at, UTCDateTime), literal(actor), literal("rename"), literal(old), literal(new),
               literal({"state": [old, new]}, JSONValue), literal({"reason": "renamed_states"}, JSONValue),
               literal(version)).where(moved)))
    session.execute(update(Ticket).where(moved).values(state=new, version=Ticket.version + 1)
                    .execution_options(synchronize_session=False))


def open_per_place(session: Session) -> Sequence[Any]:
    """(process, state, team, open tickets) for every such combination holding open tickets."""
    return session.execute(select(Ticket.process, Ticket.state, Ticket.team, func.count()).where(Ticket.is_open)
                           .group_by(Ticket.process, Ticket.state, Ticket.team)).all()


def open_on_team(session: Session, team: str) -> Sequence[Any]:
    """(id, assignee) of the open tickets on `team`."""
    return session.execute(select(Ticket.id, Ticket.assignee).where(Ticket.is_open, Ticket.team == team)
                           .order_by(Ticket.id)).all()


_TICKETS = cast(Table, Ticket.__table__)
_EVENTS = cast(Table, Event.__table__)
_MOVE = (update(_TICKETS).where(_TICKETS.c.id == bindparam("moved_id"))
         .values(team=bindparam("new_team"), assignee=bindparam("new_assignee"), version=_TICKETS.c.version + 1))


def move_to_team(session: Session, moves: Sequence[Mapping[str, Any]], at: datetime, actor: str,
                 version: str) -> None:
    """Each of `moves` ({id, old_team, new_team, old_assignee, new_assignee}) goes to its new team and assignee,
    with a `routing` event (reason renamed_teams) under `version`."""
    if not moves:
        return
    connection = session.connection()
    connection.execute(_MOVE, [{"moved_id": m["id"], "new_team": m["new_team"], "new_assignee": m["new_assignee"]}
                               for m in moves])
    events = []
    for m in moves:
        changes = {"team": [m["old_team"], m["new_team"]]}
        if m["old_assignee"] != m["new_assignee"]:
            changes["assignee"] = [m["old_assignee"], m["new_assignee"]]
        events.append({"ticket_id": m["id"], "at": at, "actor": actor, "kind": "routing", "transition": None,
                       "from_state": None, "to_state": None, "changes": changes, "comment": None,
                       "data": {"reason": "renamed_teams", "team": m["new_team"], "assignee": m["new_assignee"],
                                "from_team": m["old_team"]},
                       "definitions_version": version})
    connection.execute(insert(_EVENTS), events)


def open_clocks_due_now(session: Session) -> None:
    """The running and paused clocks of open tickets are due at once (since their last step)."""
    open_tickets = select(Ticket.id).where(Ticket.is_open).scalar_subquery()
    session.execute(update(SlaClock).where(SlaClock.phase.in_(("running", "paused")),
                                           SlaClock.ticket_id.in_(open_tickets))
                    .values(next_timer_at=func.coalesce(SlaClock.running_since, SlaClock.started_at))
                    .execution_options(synchronize_session=False))
