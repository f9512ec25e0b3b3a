"""Post-incident review in one click (issue 7): a resolved major incident gets its linked `review` ticket,
with the incident's timeline copied in, in one transaction.

The pack decides what "major" means and what the review holds: the operation fires the incident process's
review transition (the one whose actions `create` a ticket of the `review` process; `request_review` in the
default pack: from `resolved`, guard "P1, P2 or declared major, and no review yet"). Templates of that
transition can use `{{ timeline }}`: the incident's events and public comments as text, one line each, in
the pack's language and time zone. The engine adds what YAML cannot say: a clear 409 for each reason the
review cannot be opened, the review's assignee (whoever worked the incident), and a `review` event on the
incident.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itsm.interpreter import model as m
from itsm.store import rows

from ..boundary import guarded
from ..errors import N_, Conflict, any_of
from .access import check_version
from .apply import perform
from .rules import plan_fire, plan_note, working

if TYPE_CHECKING:
    from .engine import Engine

REVIEW_PROCESS = "review"


@guarded
def request_review(engine: Engine, actor: Any, number: str, version: int | None = None) -> dict[str, Any]:
    """Open the review of a resolved major incident; returns the review ticket as `actor` sees it.

    409 when the incident already has a review (its number in `details`), when it is not in a state the
    review transition starts from (not resolved), or when the transition's guard is false (not major).
    403 when the actor may not fire the review transition."""
    with engine.db.write() as session:
        context = engine.context(session)
        now = engine.clock()
        incident = working(context, engine.load(session, actor, number, for_update=True, context=context), actor, now)
        check_version(incident, version)
        found = review_transition(incident.process)
        if found is None:
            raise Conflict(N_("process '%(process)s' has no transition that opens a '%(review)s' ticket",
                               process=incident.process.id, review=REVIEW_PROCESS))
        transition, action = found
        assert incident.ticket.id is not None
        existing = rows.linked_number(session, incident.ticket.id, action.link, REVIEW_PROCESS)
        if existing is not None:
            raise Conflict(N_("%(number)s already has a post-incident review: %(review)s", number=number,
                              review=existing),
                           [{"field": "review", "message": existing}])
        state = incident.ticket.state
        if state not in transition.sources:
            raise Conflict(N_("%(number)s is %(state)s: a review is opened once it is %(states)s", number=number,
                               state=state, states=any_of(transition.sources)))
        if transition.guard is not None and not transition.guard.test(incident.context(event=transition.id)):
            raise Conflict(N_("%(number)s is not a major incident (or its review was already requested): "
                               "'%(condition)s' is false", number=number, condition=transition.guard.source))
        # role check (403), actions: the review is created and linked
        fired = perform(session, engine.db, context, plan_fire(context, incident, transition.id, {}, None))
        reviews = [t for t in fired.created if t.ticket.process == REVIEW_PROCESS]
        if not reviews:
            raise Conflict(N_("'%(transition)s' did not open a review", transition=transition.id))
        review = reviews[0]
        # the transition's event holds the changes; this one says which review was opened
        perform(session, engine.db, context, plan_note(working(context, fired.snapshot, actor, now), "review",
                                                       {"review": review.ticket.number}))
        worker = fired.snapshot.ticket.assignee or actor.name
        if review.ticket.assignee is None:
            review = perform(session, engine.db, context, plan_note(
                working(context, review, actor, now), "routing",
                {"reason": "review", "assignee": worker, "incident": number},
                assign=(review.ticket.team, worker))).snapshot
        return engine.show(context, review, actor)


def review_transition(process: m.ProcessSpec) -> tuple[m.TransitionSpec, m.CreateAction] | None:
    """The first transition with a `create` action opening a review, and that action."""
    for transition in process.transitions:
        for action in transition.actions:
            if isinstance(action, m.CreateAction) and action.process == REVIEW_PROCESS:
                return transition, action
    return None
