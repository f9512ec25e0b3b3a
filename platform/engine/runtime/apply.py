"""Writing a plan, one ticket at a time: the per-ticket adapter between the core and the store.

`write` stores one plan's rows (ticket, clocks, timers, search document, events, comments, outbox, links,
cursor moves; comments also go into the search document) in the session's transaction; `perform` also
carries out the effects on other tickets (`CreateLinked`: a ticket planned by the same core, then linked).
A stale ticket (changed by someone else since it was loaded) is a 409 `StaleVersion`, and the whole
transaction rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from itsm.store import Database, clocks, links, routing, rows, tickets, timers, users
from itsm.store.search import add_comments, write_document

from ..errors import N_, ActionFailed, EngineError, StaleVersion
from .actors import system_actor
from .plan import AdvanceCursor, CascadeLinked, CreateLinked, Plan
from .rules import Context, Request, plan_create, plan_fire, working
from .snapshot import CLOCK_COLUMNS, TicketSnapshot, user_facts
from .store_lookups import snapshot


@dataclass
class Applied:
    """The ticket once written, and the tickets its effects opened (in order)."""

    snapshot: TicketSnapshot
    created: list[TicketSnapshot] = field(default_factory=list)


def write(session: Session, plan: Plan) -> TicketSnapshot:
    """The plan's rows; returns the ticket as now stored."""
    ticket = plan.ticket
    if plan.before is None:
        ticket_id = tickets.insert_ticket(session, {name: getattr(ticket, name) for name in plan.changed})
        ticket = ticket._replace(id=ticket_id, version=1)
    elif plan.changed:
        assert ticket.id is not None
        if not tickets.update_ticket(session, ticket.id, ticket.version,
                                     {name: getattr(ticket, name) for name in plan.changed}):
            raise StaleVersion(N_("the ticket was changed by someone else: reload it and try again"))
        ticket = ticket._replace(version=ticket.version + 1)
    ticket_id = ticket.id
    assert ticket_id is not None
    new_clocks = []
    for change in plan.clocks:
        if change.before is None:
            new_clocks.append({"ticket_id": ticket_id, **clock_values(change.after)})
        else:
            clocks.update_clock(session, ticket_id, change.after.clock, clock_json(change.values))
    clocks.insert_clocks(session, new_clocks)
    if plan.timers is not None:
        timers.replace_timers(session, ticket_id, [{"kind": t.kind, "key": t.key, "due_at": t.due_at}
                                                   for t in plan.timers], clear=plan.before is not None)
    if plan.document is not None:
        write_document(session, ticket_id, *plan.document)
    rows.append(session, ticket_id, plan.events, plan.comments, plan.outbox)
    add_comments(session, [(ticket_id, row["text"], bool(row.get("internal"))) for row in plan.comments])
    for link in plan.links:
        rows.link(session, ticket_id, link.other_id, link.kind, plan.at)
    for effect in plan.effects:
        if isinstance(effect, AdvanceCursor):
            routing.move_cursor(session, effect.routing, effect.team, effect.position)
    return plan.after(ticket)


def perform(session: Session, db: Database, context: Context, plan: Plan) -> Applied:
    """Write the plan, then open the linked tickets its `create` actions asked for and fire the transitions
    its `cascade` actions asked of its children."""
    applied = Applied(write(session, plan))
    parent = applied.snapshot.ticket
    for effect in plan.effects:
        if isinstance(effect, CascadeLinked):
            assert parent.id is not None
            _cascade(session, db, replace(context, depth=context.depth + 1), parent.id, effect, plan.at)
            continue
        if not isinstance(effect, CreateLinked):
            continue
        request = Request("create", system_actor(), plan.at, process=effect.process, values=effect.values,
                          requester=effect.requester, channel="internal", org=effect.org)
        child = create(session, db, replace(context, depth=context.depth + 1), request)
        assert parent.id is not None and child.snapshot.ticket.id is not None
        rows.link(session, parent.id, child.snapshot.ticket.id, effect.link, plan.at)
        applied.created.extend([child.snapshot, *child.created])
    return applied


def _cascade(session: Session, db: Database, context: Context, parent_id: int, effect: CascadeLinked,
             at: datetime) -> None:
    """Fire `effect.transition` on each child of ticket `parent_id` whose state offers it, as the system: a
    child elsewhere (closed already, another process) is left as it is; a child that refuses (a field its form
    requires) fails the whole change, naming the child, so that the parent is not resolved without it."""
    actor = system_actor()
    for number in sorted(links.target_numbers(session, parent_id, "child")):
        row = tickets.by_number(session, number, lock=True)
        if row is None:
            continue
        child = snapshot(session, row)
        process = context.compiled.pack.processes.get(child.ticket.process)
        transition = process.transition_by_id.get(effect.transition) if process is not None else None
        if transition is None or child.ticket.state not in transition.sources:
            continue
        try:
            planned = plan_fire(context, working(context, child, actor, at), effect.transition,
                                dict(effect.values), effect.comment, None)
        except EngineError as exc:
            raise ActionFailed(N_("%(transition)s on the linked ticket %(number)s failed: %(error)s",
                                  transition=effect.transition, number=number, error=exc.message)) from exc
        if planned is not None:
            perform(session, db, context, planned)


def create(session: Session, db: Database, context: Context, request: Request) -> Applied:
    """A new ticket: the requester looked up, the plan made and performed."""
    requester = request.requester or request.actor.name
    user = users.named(session, requester) if requester != "system" else None
    return perform(session, db, context, plan_create(context, request, user_facts(user)))


def clock_values(row: Any) -> dict[str, Any]:
    """A clock row's columns (but its id) as stored."""
    return clock_json({name: getattr(row, name) for name in CLOCK_COLUMNS if name != "id"})


def clock_json(values: dict[str, Any] | Any) -> dict[str, Any]:
    """Pauses are stored as JSON lists."""
    values = dict(values)
    if "pauses" in values:
        values["pauses"] = [list(pause) for pause in values["pauses"]]
    return values

