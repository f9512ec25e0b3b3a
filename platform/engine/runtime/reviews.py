"""Post-incident review in one click (issue 7): a resolved major incident gets its linked `review` ticket,
with the incident's timeline copied in, in one transaction.

The pack decides what "major" means and what the review holds: the operation fires the incident process's
review transition (the one whose actions `create` a ticket of the `review` process; `request_review` in the
default pack: from `resolved`, guard "P1, P2 or declared major, and no review yet"). Templates of that
transition can use `{{ timeline }}`: the incident's events and public comments as text, one line each, in
the pack's time zone. The engine adds what YAML cannot say: a clear 409 for each reason the review cannot
be opened, the review's assignee (whoever worked the incident), and a `review` event on the incident.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from itsm.interpreter import model as m
from itsm.store import Comment, Event, Link, Ticket

from ..errors import Conflict

if TYPE_CHECKING:
    from .core import Engine, Operation

REVIEW_PROCESS = "review"
MAX_VALUE = 120  # characters of a field value shown in a timeline line
QUIET_CHANGES = frozenset({"state"})  # shown by the transition itself


class Timeline:
    """`{{ timeline }}` in templates: the ticket's history as text, computed only when a template uses it."""

    def __init__(self, op: Operation):
        self.op = op
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = timeline_text(self.op.session, self.op.ticket, ZoneInfo(self.op.pack.timezone))
        return self._text


def timeline_text(session: Session, ticket: Ticket, zone: tzinfo) -> str:
    """Events and public comments, oldest first: `2026-03-09 10:55 CET  nils  start (assigned -> in_progress)`.
    Internal comments stay out; comments come from the comment rows, which also hold those actions wrote."""
    if ticket.id is None:
        return ""
    entries: list[tuple[datetime, int, int, str, str]] = []
    for event in session.scalars(select(Event).where(Event.ticket_id == ticket.id).order_by(Event.id)):
        line = _event_line(event)
        if line:
            entries.append((event.at, 0, event.id, event.actor, line))
    for comment in session.scalars(select(Comment).where(Comment.ticket_id == ticket.id,
                                                         Comment.internal.is_(False)).order_by(Comment.id)):
        entries.append((comment.at, 1, comment.id, comment.author, f"comment: {_clip(comment.text, 2000)}"))
    entries.sort(key=lambda entry: entry[:3])
    return "\n".join(f"{at.astimezone(zone).strftime('%Y-%m-%d %H:%M %Z')}  {who}  {line}"
                     for at, _, _, who, line in entries)


def request_review(engine: Engine, actor: Any, number: str, version: int | None = None) -> dict[str, Any]:
    """Open the review of a resolved major incident; returns the review ticket as `actor` sees it.

    409 when the incident already has a review (its number in `details`), when it is not in a state the
    review transition starts from (not resolved), or when the transition's guard is false (not major).
    403 when the actor may not fire the review transition."""
    with engine.db.write() as session, session.no_autoflush:
        op = engine._open(session, actor, number, for_update=True)
        op.check_version(version)
        found = review_transition(op.process)
        if found is None:
            raise Conflict(f"process '{op.process.id}' has no transition that opens a '{REVIEW_PROCESS}' ticket")
        transition, action = found
        existing = existing_review(session, op.ticket, action.link)
        if existing is not None:
            raise Conflict(f"{number} already has a post-incident review: {existing}",
                           [{"field": "review", "message": existing}])
        if op.ticket.state not in transition.sources:
            raise Conflict(f"{number} is {op.ticket.state}: a review is opened once it is "
                           f"{' or '.join(transition.sources)}")
        if transition.guard is not None and not transition.guard.test(op.context(event=transition.id)):
            raise Conflict(f"{number} is not a major incident (or its review was already requested): "
                           f"'{transition.guard.source}' is false")
        created = len(op.created)
        op.fire(transition.id, {}, None)  # role check (403), actions: the review is created and linked
        reviews = [t for t in op.created[created:] if t.process == REVIEW_PROCESS]
        if not reviews:
            raise Conflict(f"'{transition.id}' did not open a review")
        review = reviews[0]
        op.changes = {}  # the transition's event holds them; this one says which review was opened
        op.finish("review", data={"review": review.number})
        review_op = engine.operation(session, actor, review)
        worker = op.ticket.assignee or actor.name
        if review.assignee is None:
            review_op.assign(review.team, worker, reason="review")
            review_op.notes.clear()  # the routing event below says it once
            review_op.finish("routing", data={"reason": "review", "assignee": worker, "incident": number})
        engine._flush(session)
        return review_op.view()


def review_transition(process: m.ProcessSpec) -> tuple[m.TransitionSpec, m.CreateAction] | None:
    """The first transition with a `create` action opening a review, and that action."""
    for transition in process.transitions:
        for action in transition.actions:
            if isinstance(action, m.CreateAction) and action.process == REVIEW_PROCESS:
                return transition, action
    return None


def existing_review(session: Session, ticket: Ticket, kind: str) -> str | None:
    """The number of a review linked to `ticket` as the review action links it (whatever the review's
    state); a review linked otherwise (as a known error, say) belongs to another incident."""
    return session.scalar(select(Ticket.number).join(Link, Link.target_id == Ticket.id)
                          .where(Link.source_id == ticket.id, Link.kind == kind, Ticket.process == REVIEW_PROCESS)
                          .order_by(Ticket.id).limit(1))


def _event_line(event: Event) -> str:
    data = event.data or {}
    if event.kind == "create":
        return _with_changes("created", event.changes)
    if event.kind == "transition":
        return _with_changes(f"{event.transition} ({event.from_state} -> {event.to_state})", event.changes)
    if event.kind == "update":
        return _with_changes("updated", event.changes)
    if event.kind == "routing":
        who = f", {data['assignee']}" if data.get("assignee") else ""
        return f"assigned to {data.get('team') or 'no team'}{who} ({data.get('reason', 'routing')})"
    if event.kind == "sla":
        breach = ", breached" if data.get("breach") else ""
        return f"SLA {data.get('clock')}: {data.get('status')}{breach}"
    if event.kind == "comment":
        return ""  # the comment row says it (and internal ones stay out)
    details = ", ".join(f"{k} {_clip(v)}" for k, v in sorted(data.items()) if v not in (None, "", [], {}))
    return f"{event.kind}: {details}" if details else event.kind


def _with_changes(what: str, changes: dict[str, Any] | None) -> str:
    shown = [f"{name} = {_clip(new)}" for name, (_, new) in (changes or {}).items()
             if name not in QUIET_CHANGES and new not in (None, "")]
    return f"{what}: {'; '.join(shown)}" if shown else what


def _clip(value: Any, limit: int = MAX_VALUE) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
