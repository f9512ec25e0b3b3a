"""Linking two tickets (`POST /api/tickets/N/links`, the queue's "link to an outage"): both sides get a
`link` event, the kind read from each side (`parent` here is `child` there, SPEC 4 `create: {link: ...}`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from itsm.store import rows, tickets
from itsm.store.models import LINK_INVERSE

from ..boundary import guarded
from ..errors import N_, Forbidden, ValidationFailed
from .access import can_see, is_agent
from .actors import Actor
from .apply import perform
from .plan import LinkRow
from .rules import plan_note, working
from .store_lookups import snapshot

if TYPE_CHECKING:
    from .engine import Engine

KNOWN_ERROR = "known_error"


@guarded
def link(engine: Engine, actor: Actor, number: str, to: str, kind: str = KNOWN_ERROR) -> tuple[dict[str, Any], bool]:
    """Link `number` to `to` (both directions, `kind` from `number`'s side) unless that link exists:
    (the link, whether it was created). Agents of the ticket only; both tickets get a `link` event."""
    if kind not in LINK_INVERSE:
        raise ValidationFailed(N_("unknown link kind '%(kind)s'", kind=kind),
                               [{"field": "kind", "message": N_("must be one of %(kinds)s",
                                                                kinds=", ".join(sorted(LINK_INVERSE)))}])
    if to == number:
        raise ValidationFailed(N_("a ticket cannot link to itself"),
                               [{"field": "to", "message": N_("the ticket itself")}])
    with engine.db.write() as session:
        context = engine.context(session)
        now = engine.clock()
        mine = working(context, engine.load(session, actor, number, for_update=True, context=context), actor, now)
        if not is_agent(mine):
            raise Forbidden(N_("only agents link tickets"))
        row = tickets.by_number(session, to)
        other = working(context, snapshot(session, row), actor, now) if row is not None else None
        if other is None or not can_see(other):
            raise ValidationFailed(N_("no ticket %(number)s", number=to),
                                   [{"field": "to", "message": N_("no ticket %(number)s", number=to)}])
        result = {"from": number, "to": to, "kind": kind}
        assert mine.ticket.id is not None and other.ticket.id is not None
        if rows.link_exists(session, mine.ticket.id, other.ticket.id, kind):
            return result, False
        perform(session, engine.db, context, plan_note(mine, "link", {"to": to, "kind": kind},
                                                       links=(LinkRow(other.ticket.id, kind),)))
        perform(session, engine.db, context, plan_note(other, "link", {"to": number, "kind": LINK_INVERSE[kind]}))
        return result, True
