"""The compiled default pack: frozen, complete, and its pieces behave as the YAML says."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from itsm.interpreter import load_pack
from itsm.interpreter.forms import form_json_schema
from itsm.interpreter.model import Interval

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def pack():  # type: ignore[no-untyped-def]
    return load_pack(ROOT / "definitions")


def test_the_compiled_model_is_frozen(pack) -> None:  # type: ignore[no-untyped-def]
    incident = pack.processes["incident"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        incident.initial = "closed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        pack.processes["x"] = incident  # type: ignore[index]
    with pytest.raises(TypeError):
        incident.state("on_hold").fields["x"] = None  # type: ignore[index]
    assert isinstance(incident.states, tuple) and isinstance(incident.transitions, tuple)


def test_loading_twice_gives_equal_specs_and_the_same_digest(pack) -> None:  # type: ignore[no-untyped-def]
    again = load_pack(ROOT / "definitions")
    assert again.digest == pack.digest and len(pack.digest) == 64
    assert again.processes["incident"].states == pack.processes["incident"].states


def test_incident_process_has_the_itil_lifecycle(pack) -> None:  # type: ignore[no-untyped-def]
    incident = pack.processes["incident"]
    assert incident.initial == "new" and incident.number_prefix == "INC"
    assert {"new", "assigned", "in_progress", "on_hold", "resolved", "closed", "cancelled"} <= set(
        incident.state_by_id)
    assert incident.state("on_hold").fields["hold_reason"].required
    assert incident.state("resolved").fields["resolution_code"].required
    assert incident.state("resolved").fields["resolution_notes"].required
    assert set(incident.final_states) == {"closed", "cancelled"}
    auto_close = [t for t in incident.transitions if t.timed and t.target == "closed"]
    assert auto_close and auto_close[0].after is not None and auto_close[0].after.business_days == 3
    cancel = incident.transition("cancel")
    assert set(cancel.sources) == {s.id for s in incident.states if not s.final}
    close = incident.transition("close")
    assert close.roles is not None and "requester" in close.roles
    assert pack.forms["incident"].field("satisfaction").type == "rating"


def test_priority_matrix_with_vip_raise(pack) -> None:  # type: ignore[no-untyped-def]
    matrix = pack.matrices["incident_priority"]
    assert matrix.compute({"impact": "high", "urgency": "high"}) == "P1"
    assert matrix.compute({"impact": "medium", "urgency": "low"}) == "P4"
    assert matrix.compute({"impact": "low", "urgency": "low"}) == "P5"
    assert matrix.compute({"impact": "low", "urgency": "low", "requester": {"vip": True}}) == "P4"
    assert matrix.compute({"impact": "high", "urgency": "high", "requester": {"vip": True}}) == "P1"
    assert matrix.compute({}) == matrix.default == "P4"
    assert matrix.compute({"impact": ["high"], "urgency": "high"}) == "P4"  # a list kept from a multichoice


def test_office_calendar_has_a_lunch_break_and_holidays(pack) -> None:  # type: ignore[no-untyped-def]
    office = pack.calendars["office"]
    monday = date(2026, 3, 2)
    assert len(office.intervals_on(monday)) == 2  # split shift around lunch
    assert office.intervals_on(date(2026, 3, 7)) == ()  # Saturday
    assert office.intervals_on(date(2026, 12, 25)) == ()  # holiday
    assert pack.calendars["24x7"].intervals_on(date(2026, 3, 7)) == (Interval(0, 1440),)
    policy = pack.sla_policies["incident_sla"]
    assert {c.id for c in policy.clocks} == {"response", "resolution"}
    response = next(c for c in policy.clocks if c.id == "response")
    assert policy.calendar_for(response, "P1") == "24x7"
    assert policy.calendar_for(response, "P3") == "office"
    assert response.targets["P1"].seconds == 15 * 60 and response.warn_at


def test_teams_span_three_tiers_with_escalation_chains(pack) -> None:  # type: ignore[no-untyped-def]
    tiers = {t.tier for t in pack.teams.values()}
    assert tiers == {"L1", "L2", "L3"}
    for team in pack.teams.values():
        if team.escalates_to:
            assert team.escalates_to in pack.teams
    routing = pack.routings["incident_routing"]
    assert routing.rules[-1].default
    assert any(pack.teams[r.team].tier == "L2" for r in routing.rules if not r.default)  # straight to L2


def test_form_json_schema_validates_ticket_fields(pack) -> None:  # type: ignore[no-untyped-def]
    schema = form_json_schema(pack.forms["incident"])
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    good = {"short_description": "VPN down", "impact": "high", "urgency": "medium", "channel": "phone"}
    assert list(validator.iter_errors(good)) == []
    assert not validator.is_valid({**good, "impact": "huge"})
    assert not validator.is_valid({**good, "unknown_field": 1})
    assert not validator.is_valid({**good, "satisfaction": 9})


def test_per_spec_computes_once_per_spec_object() -> None:
    from itsm.interpreter.model import per_spec

    calls: list[object] = []

    @per_spec
    def size(spec: tuple[int, ...]) -> int:
        calls.append(spec)
        return len(spec)

    first, equal = (1, 2, 3), tuple([1, 2, 3])
    assert size(first) == size(first) == 3 and calls == [first]
    assert size(equal) == 3 and len(calls) == 2 and calls[1] is equal  # another object: computed again


def test_yaml_edge_cases_a_real_author_writes() -> None:
    """A BOM, CRLF, .yml, empty documents, unquoted times (9:00 too) and dates, yes/no/on/off as values."""
    spec = load_pack(Path(__file__).resolve().parents[2] / "packs" / "valid" / "yaml_edge_cases")
    assert spec.forms["f"].field("answer").choice_values == ("yes", "no", "on", "off")
    assert spec.forms["f"].field("answer").default == "no"
    calendar = spec.calendars["c"]
    assert calendar.intervals_on(date(2026, 1, 5)) == (Interval(540, 720), Interval(780, 1050))
    assert calendar.intervals_on(date(2026, 1, 2)) == ()
    assert calendar.intervals_on(date(2026, 2, 14)) == (Interval(540, 720),)
    assert spec.matrices["m"].cells[("on", "2")] == "P2" and spec.matrices["m"].cells[("yes", "1")] == "P1"
