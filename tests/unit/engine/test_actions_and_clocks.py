"""Actions and SLA clocks in the core: effects (linked tickets, round-robin), escalation, assignment,
plugin actions, clock start, pause, warning and breach with their actions; the worker's SLA step."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from core_support import MONDAY_9, FakeLookups, created, person

from itsm.engine.errors import ActionFailed, Conflict
from itsm.engine.runtime.plan import AdvanceCursor, CreateLinked, Plan
from itsm.engine.runtime.rules import Context, Request, plan, plan_sla, system_work
from itsm.engine.runtime.snapshot import TicketSnapshot


def fire(context: Context, ticket: TicketSnapshot, transition: str, values: dict[str, Any] | None = None,
         actor: str = "ann", at: datetime = MONDAY_9) -> Plan:
    made = plan(context, ticket, Request("fire", person(context.compiled, actor), at, transition=transition,
                                         values=values or {}))
    assert made is not None
    return made


def stored(made: Plan) -> TicketSnapshot:
    return made.after(made.ticket._replace(version=made.ticket.version + (1 if made.changed else 0)))


def sla_step(context: Context, ticket: TicketSnapshot, at: datetime) -> Plan:
    return plan_sla(system_work(context, ticket, at))


def test_a_create_action_is_an_effect_for_the_adapter(context: Context) -> None:
    ticket = stored(fire(context, created(context), "start", {"category": "hardware"}))
    made = fire(context, ticket, "spawn")
    assert [e for e in made.effects if isinstance(e, CreateLinked)] == [
        CreateLinked("child", {"parent": "T0000001"}, "child", "ann")]
    assert made.creates_tickets


def test_linked_tickets_do_not_nest_without_end(context: Context) -> None:
    ticket = stored(fire(context, created(context), "start", {"category": "hardware"}))
    with pytest.raises(Conflict, match="nest deeper"):
        fire(replace(context, depth=5), ticket, "spawn")


def test_round_robin_moves_its_cursor_as_an_effect(context: Context, lookups: FakeLookups) -> None:
    first = created(context)
    lookups.cursors[("desk", "desk")] = 0
    second = created(context)
    assert (first.ticket.assignee, second.ticket.assignee) == ("ann", "ann")  # the fake never moves it
    lookups.cursors[("desk", "desk")] = 1
    assert created(context).ticket.assignee == "bob"
    assert lookups.asked.count("cursor desk/desk") == 3


def test_escalation_picks_a_member_of_the_next_tier(context: Context) -> None:
    ticket = stored(fire(context, created(context), "start", {"category": "hardware"}))
    made = fire(context, ticket, "escalate")
    assert (made.ticket.team, made.ticket.assignee) == ("net", "cid")
    assert AdvanceCursor("desk", "net", 1) in made.effects
    assert any(e["kind"] == "routing" and e["data"]["reason"] == "escalation" for e in made.events)


def test_assigning_a_templated_user_checks_the_user_exists(context: Context, lookups: FakeLookups) -> None:
    ticket = stored(fire(context, created(context), "start", {"category": "hardware"}))
    assert fire(context, ticket, "give", {"owner": "dee"}).ticket.assignee == "dee"
    with pytest.raises(ActionFailed, match="no user named 'zed'"):
        fire(context, ticket, "give", {"owner": "zed"})


def test_plugin_actions_get_a_context_with_fields_and_comments(context: Context) -> None:
    from itsm.engine.runtime.actions import PluginContext, run_actions
    from itsm.interpreter import model as m

    seen: list[Any] = []

    def stamp(ctx: PluginContext, args: dict[str, Any]) -> None:
        seen.append((ctx.ticket_number, ctx.fields["summary"], args))
        ctx.set_field("reason", "stamped")
        ctx.comment("by plugin")

    work = system_work(replace(context, plugins={"stamp": stamp}), created(context), MONDAY_9)
    run_actions(work, (m.PluginAction("stamp", {"x": 1}),))
    made = work.plan("update")
    assert seen == [("T0000001", "Printer jams", {"x": 1})]
    assert made.ticket.fields["reason"] == "stamped" and made.comments[0]["internal"] is True


def test_a_clock_starts_on_create_with_its_target_and_deadline(context: Context) -> None:
    ticket = created(context)
    clock = ticket.clocks["response"]
    assert (clock.phase, clock.target_seconds, clock.policy, clock.calendar) == ("running", 4 * 3600, "sla", "always")
    assert clock.deadline == MONDAY_9 + timedelta(hours=4)
    assert clock.next_timer_at == MONDAY_9 + timedelta(hours=2)  # the 50% warning


def test_the_warning_runs_its_actions_once(context: Context) -> None:
    ticket = created(context)
    made = sla_step(context, ticket, MONDAY_9 + timedelta(hours=2, minutes=1))
    assert [c["text"] for c in made.comments] == ["Half of Response gone"]
    assert made.clocks[0].values["warnings_fired"] == 1 and made.events[0]["kind"] == "sla"
    again = sla_step(context, stored(made), MONDAY_9 + timedelta(hours=2, minutes=2))
    assert again.comments == () and again.events == ()


def test_a_breach_notifies_and_runs_its_actions(context: Context) -> None:
    ticket = created(context)
    made = sla_step(context, ticket, MONDAY_9 + timedelta(hours=5))
    clock = made.clocks[0].after
    assert clock.breached and clock.breach_fired and clock.status == "breached"
    assert [row["notification"] for row in made.outbox] == ["late"]
    assert made.outbox[0]["recipients"] == ["user:ann"] and made.outbox[0]["body"] == "breached"
    assert made.ticket.fields["touched"] is True and "fields" in made.changed and "updated_at" in made.changed
    assert made.events[0]["kind"] == "sla" and made.events[0]["actor"] == "system"


def test_a_clock_pauses_and_stops_with_the_state(context: Context) -> None:
    ticket = created(context)
    working = stored(fire(context, ticket, "start", {"category": "hardware"}, at=MONDAY_9 + timedelta(minutes=30)))
    clock = working.clocks["response"]
    assert clock.phase == "stopped" and clock.status == "met" and clock.next_timer_at is None
    assert clock.elapsed_seconds == 1800


def test_an_sla_step_with_nothing_due_writes_nothing(context: Context) -> None:
    made = sla_step(context, created(context), MONDAY_9 + timedelta(minutes=1))
    assert made.changed == () and made.events == () and made.outbox == () and made.comments == ()
    assert [set(change.values) for change in made.clocks] == [{"elapsed_seconds", "running_since"}]
