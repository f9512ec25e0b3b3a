"""The transition core without a database: SPEC 8's check order, field rules, priority, routing, the state
machine (create and fire), events and comments. Snapshots in, plans out; look-ups from a fake."""

from __future__ import annotations

import ast
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from core_support import MONDAY_9, FakeLookups, created, person

from itsm.engine.errors import Conflict, Forbidden, NotFound, StaleVersion, ValidationFailed
from itsm.engine.runtime import rules as rules_module
from itsm.engine.runtime.plan import AdvanceCursor, Plan
from itsm.engine.runtime.rules import Context, Request, plan
from itsm.engine.runtime.snapshot import TicketSnapshot, UserFacts


def fire(context: Context, ticket: TicketSnapshot, transition: str, values: dict[str, object] | None = None,
         actor: str = "ann", version: int | None = None, comment: str | None = None,
         later: timedelta = timedelta(minutes=5)) -> Plan:
    request = Request("fire", person(context.compiled, actor), MONDAY_9 + later,
                      transition=transition, values=values or {}, version=version, comment=comment)
    made = plan(context, ticket, request)
    assert made is not None
    return made


def stored(made: Plan) -> TicketSnapshot:
    return made.after(made.ticket._replace(version=made.ticket.version + (1 if made.changed else 0)))


def working(context: Context) -> TicketSnapshot:
    return stored(fire(context, created(context), "start", {"category": "hardware"}))


CORE = ("access", "actions", "actors", "clocks", "compiled", "documents", "fields", "forms", "live", "machines",
        "plan", "rules", "snapshot", "urgency", "views", "work")


def test_the_core_imports_no_database() -> None:
    """What the core modules import, followed through `itsm` (as import-linter's contract does): no
    database, no web framework, no store."""
    runtime = Path(rules_module.__file__).parent
    platform = runtime.parents[1]
    seen: set[str] = set()
    todo = [f"itsm.engine.runtime.{name}" for name in CORE]
    outside: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        relative = Path(*name.split(".")[1:])
        path = platform / relative.with_suffix(".py")
        if not path.exists():
            path = platform / relative / "__init__.py"
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
                stem = ".".join([*base, node.module] if node.module else base)
                targets = [stem]
            for target in targets:
                if target.startswith("itsm."):
                    while not ((platform / Path(*target.split(".")[1:])).with_suffix(".py").exists()
                               or (platform / Path(*target.split(".")[1:]) / "__init__.py").exists()):
                        target = target.rpartition(".")[0]
                    todo.append(target)
                else:
                    outside.add(target.partition(".")[0])
    assert "itsm.engine.runtime.rules" in seen and "itsm.interpreter.model" in seen
    assert not {name for name in seen if name.startswith("itsm.store")}
    assert not outside & {"sqlalchemy", "flask", "werkzeug", "psycopg"}


# -- SPEC 8's order ---------------------------------------------------------------------------------


def test_an_unknown_transition_is_404_before_anything_else(context: Context) -> None:
    with pytest.raises(NotFound):
        fire(context, created(context), "fly", {"nonsense": 1}, actor="rita", version=99)


def test_a_missing_role_is_403_before_the_version(context: Context) -> None:
    with pytest.raises(Forbidden):
        fire(context, created(context), "start", actor="rita", version=99)


def test_a_stale_version_is_409_before_the_state(context: Context) -> None:
    with pytest.raises(StaleVersion):
        fire(context, created(context), "wait", version=7)


def test_a_transition_from_another_state_is_409(context: Context) -> None:
    with pytest.raises(Conflict, match="not possible in state 'new'"):
        fire(context, created(context), "wait", {"reason": "x"}, version=1)


def test_ill_typed_values_are_422_before_the_guard(context: Context) -> None:
    ticket = working(context)
    with pytest.raises(ValidationFailed) as raised:
        fire(context, ticket, "finish", {"notes": 5})
    assert raised.value.status == 422


def test_fields_outside_the_transition_are_422(context: Context) -> None:
    with pytest.raises(ValidationFailed, match="outside the transition"):
        fire(context, created(context), "start", {"category": "hardware", "summary": "other"})


def test_a_false_guard_is_409_after_the_field_checks(context: Context) -> None:
    ticket = stored(fire(context, created(context, {"summary": "x", "impact": "high"}), "start",
                         {"category": "hardware"}))
    with pytest.raises(Conflict, match="impact == 'low'"):
        fire(context, ticket, "finish", {"notes": "fixed"})


def test_state_rules_of_the_target_are_422_last(context: Context) -> None:
    ticket = working(context)
    with pytest.raises(ValidationFailed, match="notes"):  # required_when state == 'done'
        fire(context, ticket, "finish", {})


# -- field rules ------------------------------------------------------------------------------------


def test_create_needs_the_required_fields(context: Context) -> None:
    with pytest.raises(ValidationFailed, match="summary"):
        created(context, {"impact": "high"})


def test_a_field_required_in_the_target_state(context: Context) -> None:
    with pytest.raises(ValidationFailed, match="category"):
        fire(context, created(context), "start", {})


def test_a_readonly_when_field_cannot_change(context: Context) -> None:
    ticket = created(context)
    with pytest.raises(ValidationFailed, match="read-only"):
        fire(context, ticket, "start", {"category": "hardware", "code": "X1"})


def test_a_hidden_field_cannot_be_set(context: Context) -> None:
    request = Request("update", person(context.compiled, "ann"), MONDAY_9, values={"secret": "s"})
    with pytest.raises(ValidationFailed, match="hidden"):
        plan(context, created(context), request)


def test_an_update_that_changes_nothing_plans_nothing(context: Context) -> None:
    request = Request("update", person(context.compiled, "ann"), MONDAY_9, values={"summary": "Printer jams"})
    assert plan(context, created(context), request) is None


def test_requesters_do_not_update_fields(context: Context) -> None:
    request = Request("update", person(context.compiled, "rita"), MONDAY_9, values={"summary": "x"})
    with pytest.raises(Forbidden):
        plan(context, created(context), request)


def test_create_for_an_unknown_requester_is_422(context: Context) -> None:
    request = Request("create", person(context.compiled, "ann"), MONDAY_9, process="ticket",
                      values={"summary": "x"}, requester="nobody")
    with pytest.raises(ValidationFailed, match="no user 'nobody'"):
        plan(context, None, request, None)


# -- priority, routing, create ----------------------------------------------------------------------


def test_priority_comes_from_the_matrix_and_follows_changes(context: Context) -> None:
    ticket = created(context, {"summary": "x", "impact": "high"})
    assert ticket.ticket.priority == "P1"
    changed = fire(context, ticket, "start", {"category": "hardware", "impact": "low"})
    assert changed.ticket.priority == "P2" and changed.events[0]["changes"]["priority"] == ["P1", "P2"]


def test_create_routes_round_robin_as_an_effect(context: Context, lookups: FakeLookups) -> None:
    lookups.cursors[("desk", "desk")] = 1
    request = Request("create", person(context.compiled, "rita"), MONDAY_9, process="ticket",
                      values={"summary": "x"}, channel="portal")
    made = plan(context, None, request, UserFacts("rita"))
    assert made is not None
    assert (made.ticket.team, made.ticket.assignee) == ("desk", "bob")
    assert made.effects == (AdvanceCursor("desk", "desk", 2),)  # the adapter stores where it continues
    assert made.ticket.number == "T0000001" and made.before is None and "id" not in made.changed
    kinds = [event["kind"] for event in made.events]
    assert kinds == ["create", "routing", "sla"] and made.events[0]["data"] == {"channel": "portal"}
    assert made.events[1]["data"]["rule"] == "default" and made.events[1]["data"]["assignment"] == "round_robin"


def test_create_enters_the_initial_state_through_the_machine(context: Context) -> None:
    ticket = created(context)
    made_outbox = [row for row in fire_outbox(context)]
    assert ticket.ticket.state == "new" and ticket.ticket.is_open
    assert made_outbox[0]["notification"] == "hello"  # on_enter of `new`
    assert made_outbox[0]["recipients"] == ["user:rita", "team:desk"]
    assert made_outbox[0]["subject"] == "T0000002 received" and made_outbox[0]["body"] == "Hello rita"


def fire_outbox(context: Context) -> tuple[dict[str, object], ...]:
    request = Request("create", person(context.compiled, "rita"), MONDAY_9, process="ticket",
                      values={"summary": "x"})
    made = plan(context, None, request, UserFacts("rita"))
    assert made is not None
    return made.outbox  # type: ignore[return-value]


def test_the_search_document_is_planned_for_new_and_changed_text(context: Context) -> None:
    ticket = created(context)
    assert fire(context, ticket, "start", {"category": "hardware"}).document is None
    request = Request("update", person(context.compiled, "ann"), MONDAY_9, values={"summary": "Paper jam"})
    made = plan(context, ticket, request)
    assert made is not None and made.document == ("Paper jam", "")


# -- firing -----------------------------------------------------------------------------------------


def test_exit_then_state_then_actions_and_one_event(context: Context) -> None:
    made = fire(context, created(context), "start", {"category": "hardware"}, comment="on it")
    assert made.ticket.state == "working" and "state" in made.changed and "state_entered_at" in made.changed
    assert [c["text"] for c in made.comments] == ["Leaving new", "on it"]  # on_exit ran in the old state
    event = made.events[0]
    assert (event["kind"], event["transition"], event["from_state"], event["to_state"]) == (
        "transition", "start", "new", "working")
    assert event["changes"]["state"] == ["new", "working"] and event["comment"] == "on it"


def test_a_self_loop_re_enters_its_state(context: Context) -> None:
    ticket = working(context)
    made = fire(context, ticket, "nudge", later=timedelta(minutes=9))
    assert made.ticket.state == "working" and "state" not in made.events[0]["changes"]
    assert made.ticket.state_entered_at != ticket.ticket.state_entered_at  # timers start again
    assert made.timers == ()  # and the state's timed transitions are planned again (none here)


def test_entering_a_state_with_a_timed_transition_schedules_its_timer(context: Context) -> None:
    made = fire(context, working(context), "wait", {"reason": "vendor"})
    assert made.timers is not None and [(t.kind, t.key) for t in made.timers] == [("transition", "wake")]
    assert made.timers[0].due_at == MONDAY_9 + timedelta(minutes=5, hours=2)
    assert made.ticket.fields["touched"] is True  # the transition's own action


def test_final_states_close_the_ticket(context: Context) -> None:
    made = fire(context, working(context), "finish", {"notes": "replaced the roller"})
    assert not made.ticket.is_open and made.ticket.closed_at is not None


def test_the_worker_fires_timed_transitions_people_do_not(context: Context) -> None:
    waiting = stored(fire(context, working(context), "wait", {"reason": "vendor"}))
    with pytest.raises(Forbidden, match="the worker"):
        fire(context, waiting, "wake")
    assert fire(context, waiting, "wake", actor="system").ticket.state == "working"


def test_a_comment_is_one_row_and_one_event(context: Context) -> None:
    request = Request("comment", person(context.compiled, "rita"), MONDAY_9, comment="any news?")
    made = plan(context, created(context), request)
    assert made is not None and made.changed == () and [c["text"] for c in made.comments] == ["any news?"]
    assert [(e["kind"], e["data"]) for e in made.events] == [("comment", {"internal": False})]
    with pytest.raises(Forbidden):
        plan(context, created(context), replace(request, internal=True))
