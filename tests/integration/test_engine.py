"""The engine on SQLite and PostgreSQL: the incident lifecycle, access, validation, audit and atomicity."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from itsm.engine import Conflict, Engine, Forbidden, NotFound, StaleVersion, ValidationFailed
from itsm.store import Comment, Event, OutboxMessage, Ticket

LAPTOP = {"short_description": "Laptop does not boot", "description": "Black screen since this morning",
          "service": "workplace", "category": "hardware", "impact": "low", "urgency": "medium"}


def new_incident(engine: Engine, who: str = "rita", **fields: object) -> dict:
    return engine.create(engine.actor(who), "incident", {**LAPTOP, **fields})


def count(engine: Engine, model: type) -> int:
    with engine.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_create_sets_number_priority_team_and_audits(engine: Engine) -> None:
    ticket = new_incident(engine)
    assert ticket["number"] == "INC0000001" and ticket["version"] == 1
    assert (ticket["state"], ticket["priority"], ticket["team"]) == ("new", "P4", "service_desk")
    assert "channel" not in ticket["fields"]  # an `audience: agent` field: not shown to the requester
    assert engine.get(engine.actor("lars"), ticket["number"])["fields"]["channel"] == "portal"  # the default
    assert "withdraw" in ticket["transitions"] and "classify" not in ticket["transitions"]
    events = engine.events(engine.actor("lars"), ticket["number"])
    assert [e["kind"] for e in events] == ["create", "routing", "sla", "sla"]  # two clocks started
    assert events[1]["data"]["rule"] == "default" and events[1]["data"]["routing"] == "incident_routing"
    assert events[0]["changes"]["short_description"] == [None, "Laptop does not boot"]
    assert len({e["definitions_version"] for e in events}) == 1
    assert new_incident(engine)["number"] == "INC0000002"


def test_vip_priority_and_straight_to_l2_routing(engine: Engine) -> None:
    vip = new_incident(engine, "carol", impact="high", urgency="medium")
    assert vip["priority"] == "P1"  # P2 from the matrix, raised one level for a VIP
    network = new_incident(engine, category="network", service="vpn")
    assert network["team"] == "network_ops"  # straight to L2


def test_the_whole_incident_lifecycle(engine: Engine) -> None:
    rita, lars, dana = engine.actor("rita"), engine.actor("lars"), engine.actor("dana")
    number = new_incident(engine)["number"]
    t = engine.fire(lars, number, "classify", {"impact": "medium", "urgency": "medium"})
    assert (t["state"], t["priority"], t["team"]) == ("assigned", "P3", "service_desk")
    t = engine.fire(lars, number, "escalate", {"escalation_reason": "Needs a technician on site"})
    assert t["team"] == "desktop_support"
    t = engine.fire(dana, number, "start")
    assert t["state"] == "in_progress" and t["fields"]["responded"] is True
    with pytest.raises(ValidationFailed) as missing:
        engine.fire(dana, number, "hold")
    assert {d["field"] for d in missing.value.details} == {"hold_reason"}
    t = engine.fire(dana, number, "hold", {"hold_reason": "awaiting_parts"})
    assert t["state"] == "on_hold"
    t = engine.fire(dana, number, "resume", comment="Parts arrived")
    with pytest.raises(ValidationFailed) as unresolved:
        engine.fire(dana, number, "resolve")
    assert {d["field"] for d in unresolved.value.details} == {"resolution_code", "resolution_notes"}
    t = engine.fire(dana, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Replaced the disk"})
    assert t["state"] == "resolved" and t["fields"]["resolved_by"] == "dana"
    assert "close" in engine.available_transitions(rita, number)
    t = engine.fire(rita, number, "reopen", {"reopen_reason": "It crashed again"})
    assert t["state"] == "in_progress"
    engine.fire(dana, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "New mainboard"})
    t = engine.fire(rita, number, "close", {"satisfaction": 5, "feedback": "Quick and friendly"})
    assert t["state"] == "closed" and t["transitions"] == []

    events = engine.events(rita, number)
    transitions = [e["transition"] for e in events if e["kind"] == "transition"]
    assert transitions == ["classify", "escalate", "start", "hold", "resume", "resolve", "reopen", "resolve", "close"]
    assert events[-1]["changes"]["state"] == ["resolved", "closed"]
    assert events[-1]["changes"]["satisfaction"] == [None, 5]
    with engine.db.read() as session:
        row = session.scalar(select(Ticket).where(Ticket.number == number))
        assert row is not None and row.is_open is False and row.closed_at is not None
        notices = session.scalars(select(OutboxMessage.notification).order_by(OutboxMessage.id)).all()
    assert notices.count("resolved_notice") == 2 and "assigned_notice" in notices and "reopened_notice" in notices
    texts = [c["text"] for c in engine.comments(rita, number)]
    assert "Parts arrived" in texts and "Escalated to the next support tier." in texts


def test_roles_states_and_unknown_things_get_their_errors(engine: Engine) -> None:
    rita, lars = engine.actor("rita"), engine.actor("lars")
    number = new_incident(engine)["number"]
    with pytest.raises(Forbidden):
        engine.fire(rita, number, "classify", {"impact": "high"})
    with pytest.raises(Conflict, match="not possible in state 'new'"):
        engine.fire(lars, number, "resume")
    with pytest.raises(NotFound, match="no transition 'fly'"):
        engine.fire(lars, number, "fly")
    with pytest.raises(NotFound):
        engine.get(rita, "INC9999999")
    with pytest.raises(ValidationFailed) as wrong:
        engine.fire(lars, number, "classify", {"impact": "enormous", "nonsense": 1})
    assert {d["field"] for d in wrong.value.details} == {"impact", "nonsense"}
    with pytest.raises(ValidationFailed, match="outside the transition"):
        engine.fire(lars, number, "classify", {"satisfaction": 3})
    with pytest.raises(ValidationFailed):
        engine.create(rita, "incident", {"description": "no short description"})
    with pytest.raises(ValidationFailed):
        engine.create(rita, "no_such_process", {})


def test_requesters_see_only_their_own_tickets_and_no_internal_comments(engine: Engine) -> None:
    rita, ruth, lars = engine.actor("rita"), engine.actor("ruth"), engine.actor("lars")
    number = new_incident(engine)["number"]
    with pytest.raises(NotFound):
        engine.get(ruth, number)
    with pytest.raises(NotFound):
        engine.fire(ruth, number, "withdraw")
    assert engine.get(lars, number)["number"] == number  # agents see the process's tickets
    engine.comment(lars, number, "Caller sounded stressed", internal=True)
    engine.comment(lars, number, "We are on it")
    assert [c["text"] for c in engine.comments(rita, number)] == ["We are on it"]
    assert len(engine.comments(lars, number)) == 2
    with pytest.raises(Forbidden):
        engine.comment(rita, number, "secret", internal=True)
    assert engine.available_transitions(rita, number) == ["withdraw"]
    with pytest.raises(Forbidden):
        engine.create(rita, "incident", LAPTOP, requester="ruth")


def test_update_recomputes_priority_and_respects_read_only_fields(engine: Engine) -> None:
    lars = engine.actor("lars")
    ticket = new_incident(engine)
    updated = engine.update(lars, ticket["number"], {"impact": "high", "urgency": "high"}, version=1)
    assert updated["priority"] == "P1" and updated["version"] == 2
    last = engine.events(lars, ticket["number"])[-1]
    assert last["kind"] == "update" and last["changes"]["priority"] == ["P4", "P1"]
    with pytest.raises(ValidationFailed, match="resolved_by: Resolved by is read-only here"):
        engine.update(lars, ticket["number"], {"resolved_by": "lars"})
    with pytest.raises(StaleVersion):
        engine.update(lars, ticket["number"], {"urgency": "low"}, version=1)


def test_stale_version_is_a_conflict_that_changes_nothing(engine: Engine) -> None:
    lars = engine.actor("lars")
    number = new_incident(engine)["number"]
    engine.fire(lars, number, "classify", {}, version=1)
    with pytest.raises(StaleVersion):
        engine.fire(lars, number, "start", version=1)
    assert engine.get(lars, number)["state"] == "assigned"


def test_a_failing_action_leaves_no_trace(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A template that renders an invalid value into a choice field aborts the whole transition."""
    lars = engine.actor("lars")
    number = new_incident(engine)["number"]
    before = (count(engine, Event), count(engine, OutboxMessage), count(engine, Comment))
    compiled = engine.definitions.active()
    import dataclasses

    from itsm.engine.runtime.compiled import compile_version
    from itsm.interpreter.model import SetAction

    process = compiled.pack.processes["incident"]
    classify = process.transition("classify")
    broken = dataclasses.replace(classify, actions=(*classify.actions, SetAction({"impact": "{{ 'huge' }}"})))
    patched = dataclasses.replace(process, transitions=tuple(broken if t.id == "classify" else t
                                                            for t in process.transitions),
                                  transition_by_id={**process.transition_by_id, "classify": broken})
    pack = dataclasses.replace(compiled.pack, processes={**compiled.pack.processes, "incident": patched})
    version = compile_version(compiled.id, pack)  # compiled versions are frozen: the engine runs this one
    monkeypatch.setattr(engine.definitions, "active", lambda: version)
    with pytest.raises(ValidationFailed):
        engine.fire(lars, number, "classify", {"urgency": "high"})
    ticket = engine.get(lars, number)
    assert (ticket["state"], ticket["version"], ticket["fields"]["urgency"]) == ("new", 1, "medium")
    assert (count(engine, Event), count(engine, OutboxMessage), count(engine, Comment)) == before


def test_tickets_round_trip_through_the_store_unchanged(engine: Engine) -> None:
    lars = engine.actor("lars")
    number = new_incident(engine)["number"]
    fired = engine.fire(lars, number, "classify", {"impact": "high", "known_error": "KE-17"})
    fresh = Engine(engine.db)  # a new process: nothing cached
    assert fresh.get(fresh.actor("lars"), number) == fired


def test_create_action_opens_a_linked_review(engine: Engine) -> None:
    lars, nils = engine.actor("lars"), engine.actor("nils")
    number = new_incident(engine, category="network", service="vpn", impact="high", urgency="high")["number"]
    engine.fire(nils, number, "start")
    engine.fire(nils, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Rebooted the gateway"})
    t = engine.fire(lars, number, "request_review")
    assert t["fields"]["review_requested"] is True and t["state"] == "resolved"
    review = engine.get(lars, "PIR0000001")
    assert review["fields"]["incident"] == number and review["process"] == "review"
    assert "request_review" not in engine.available_transitions(lars, number)  # the guard: only once
    assert review["requester"] == "lars"  # an internal record: not the customer's to read


def test_least_loaded_assignment_with_skills_and_the_routing_event(engine: Engine) -> None:
    first = engine.create(engine.actor("rita"), "incident",
                          {"short_description": "Cannot log in", "category": "access"})
    assert (first["team"], first["assignee"]) == ("service_desk", "sam")  # sam has the access skill
    unclassified = [engine.create(engine.actor("rita"), "incident", {"short_description": f"Odd issue {i}"})
                    for i in range(3)]
    assert [t["assignee"] for t in unclassified] == ["lars", "lars", "sam"]  # fewest open tickets, then order
    routing = [e for e in engine.events(engine.actor("lars"), first["number"]) if e["kind"] == "routing"]
    assert routing[0]["data"] == {"reason": "routing", "team": "service_desk", "assignee": "sam",
                                  "routing": "incident_routing", "rule": "default", "assignment": "least_loaded"}


def test_start_takes_the_ticket_and_hand_over_assigns_a_named_colleague(engine: Engine) -> None:
    lars, dana = engine.actor("lars"), engine.actor("dana")
    number = new_incident(engine, service="erp", category="software")["number"]
    ticket = engine.fire(lars, number, "classify", {})
    assert (ticket["team"], ticket["assignee"]) == ("application_support", "dana")
    with pytest.raises(ValidationFailed) as missing:
        engine.fire(lars, number, "hand_over", {})
    assert missing.value.details == [{"field": "hand_over_to", "message": "Hand over to is required"}]
    version = engine.get(lars, number)["version"]
    with pytest.raises(Conflict, match="no user named 'nobody'"):  # a failing action: nothing is saved
        engine.fire(lars, number, "hand_over", {"hand_over_to": "nobody"})
    assert engine.get(lars, number)["version"] == version
    ticket = engine.fire(lars, number, "hand_over", {"hand_over_to": "sam"})
    assert (ticket["state"], ticket["team"], ticket["assignee"]) == ("assigned", "application_support", "sam")
    routing = [e for e in engine.events(lars, number) if e["kind"] == "routing"][-1]
    assert routing["data"] == {"reason": "action", "team": "application_support", "assignee": "sam"}
    ticket = engine.fire(dana, number, "start", {})  # dana is back and takes it
    assert (ticket["state"], ticket["assignee"]) == ("in_progress", "dana")
