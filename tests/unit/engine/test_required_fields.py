"""The core without a database (issue 14): a transition's form offers every field its target state requires,
and routing never assigns a member the database lacks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from core_support import FakeLookups, created
from test_transitions import fire, stored, working

from itsm.engine.errors import ValidationFailed
from itsm.engine.runtime.compiled import CompiledVersion
from itsm.engine.runtime.rules import Context
from itsm.engine.runtime.snapshot import TicketSnapshot


def without(ticket: TicketSnapshot, field: str) -> TicketSnapshot:
    """The ticket as a version published after it was stored would see it: `field` never filled in."""
    fields = {k: v for k, v in ticket.ticket.fields.items() if k != field}
    return replace(ticket, ticket=ticket.ticket._replace(fields=fields))


def test_the_compiled_form_adds_what_the_target_state_requires(compiled: CompiledVersion) -> None:
    process = compiled.pack.processes["ticket"]
    nudge = process.transition("nudge")  # working -> working; `working` requires category
    assert (nudge.written_fields, nudge.fields) == ((), ("category",))
    start = process.transition("start")  # lists category itself: not twice
    assert start.fields == start.written_fields == ("category", "impact", "code")


def test_a_required_field_the_ticket_lacks_is_offered_and_taken(context: Context) -> None:
    lacking = without(working(context), "category")
    with pytest.raises(ValidationFailed) as refused:  # satisfiable: the message names what to give
        fire(context, lacking, "nudge")
    assert [p["field"] for p in refused.value.details] == ["category"]
    after = stored(fire(context, lacking, "nudge", {"category": "network"}))
    assert after.ticket.fields["category"] == "network"


def test_a_field_no_rule_asks_for_stays_outside_the_form(context: Context) -> None:
    with pytest.raises(ValidationFailed) as refused:
        fire(context, working(context), "nudge", {"reason": "x"})
    assert [p["field"] for p in refused.value.details] == ["reason"]


def test_routing_passes_over_members_the_database_lacks(compiled: CompiledVersion) -> None:
    """The desk is [ann, bob], round robin from ann: ann does not exist, so bob gets the ticket."""
    context = Context(compiled, FakeLookups(users=("rita", "bob")))
    assert created(context).ticket.assignee == "bob"
    nobody = Context(compiled, FakeLookups(users=("rita",)))
    ticket = created(nobody)
    assert (ticket.ticket.team, ticket.ticket.assignee) == ("desk", None)
