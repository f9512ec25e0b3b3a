"""Publishing over open tickets without stranding any (SPEC 4, 7; issue 14): forms that offer every required
field, teams removed or renamed, timed transitions re-planned, users the database lacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from itsm.engine import Engine, PublishRefused, ValidationFailed, system_actor
from itsm.engine.authoring.impact import open_tickets
from itsm.engine.people.users import add_user
from itsm.engine.runtime.actors import Actor
from itsm.engine.worker import sweep
from itsm.interpreter import load_pack
from itsm.interpreter.diff import diff_packs
from itsm.store import Database
from itsm.store.models import Timer

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin

BASE = """\
kind: pack
id: desk
format: 1
timezone: Europe/Berlin
{pack_extra}
---
kind: form
id: request
fields:
  - {{id: summary, type: string, required: true}}
  - {{id: category, type: choice, choices: [hardware, network]{category_extra}}}
  - {{id: resolution_code, type: choice, choices: [fixed, workaround, other]}}
  - {{id: resolution_notes, type: text{notes_extra}}}
  - {{id: cancel_reason, type: string{cancel_extra}}}
---
kind: process
id: request
form: request
number: REQ
initial: new
sla: sla
routing: routes
states:
  - {{id: new}}
  - {{id: working}}
  - {{id: resolved{resolved_extra}}}
  - {{id: closed, final: true}}
  - {{id: cancelled, final: true}}
transitions:
  - {{id: start, from: new, to: working}}
  - {{id: resolve, from: [new, working], to: resolved}}
  - {{id: reopen, from: resolved, to: working}}
  - {{id: close, from: resolved, to: closed}}
  - {{id: auto_close, from: resolved, to: closed, after: {after}}}
  - {{id: cancel, from: "*", to: cancelled}}
---
kind: calendar
id: office
hours: {{mon: [{hours}], tue: [{hours}], wed: [{hours}], thu: [{hours}], fri: [{hours}]}}
---
kind: sla_policy
id: sla
calendar: office
clocks:
  - {{id: resolution, stop: "state in ['resolved', 'closed', 'cancelled']", targets: {{default: 3bd}}}}
---
kind: routing
id: routes
rules:
  - {{id: network, when: "category == 'network'", team: {network_team}}}
  - {{id: fallback, default: true, team: desk}}
assignment: round_robin
---
kind: team
id: desk
roles: [agent]
members: [{{user: ann}}{desk_extra}]
---
kind: team
id: {network_team}
roles: [agent]
members: [{network_members}]
"""

DEFAULTS = {"pack_extra": "", "category_extra": "", "notes_extra": "", "cancel_extra": "", "resolved_extra": "",
            "after": "2h", "hours": '"09:00-17:00"', "network_team": "network", "desk_extra": "",
            "network_members": "{user: nils}"}


def pack(root: Path, **changes: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(BASE.format(**{**DEFAULTS, **changes}), encoding="utf-8")
    return root


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture()
def desk(db: Database, tmp_path: Path) -> Engine:
    engine = Engine(db, clock=Clock())
    engine.definitions.publish_path(pack(tmp_path / "v1"))
    for name in ("ann", "nils", "olga", "rita"):
        add_user(db, name)
    return engine


def agent(engine: Engine, name: str = "ann") -> Actor:
    return engine.actor(name)


def open_request(engine: Engine, **fields: str) -> str:
    return engine.create(system_actor(), "request", {"summary": "Printer jams", **fields})["number"]


# -- 1. a transition's form offers every field its target state requires ----------------------------------

def test_a_state_that_comes_to_require_a_field_offers_it_on_every_way_in(desk: Engine, tmp_path: Path) -> None:
    """v2 makes resolution_code required in `resolved`, resolution_notes required when the code is `other`,
    cancel_reason required on cancel and category required always, while tickets are open without them:
    no transition lists those fields, yet each stays possible."""
    first, second, third = open_request(desk), open_request(desk), open_request(desk)
    desk.definitions.publish_path(pack(
        tmp_path / "v2", resolved_extra=", fields: {resolution_code: {required: true}}",
        notes_extra=", required_when: \"resolution_code == 'other'\"",
        cancel_extra=", required_when: \"event == 'cancel'\"", category_extra=", required: true"))
    ann = agent(desk)

    form = desk.form(ann, number=first, transition="resolve")
    assert [state.spec.id for state in form.fields] == ["resolution_code", "category"]  # the state's, the form's
    assert all(state.required and state.visible and not state.readonly for state in form.fields)
    typed = desk.form(ann, number=first, transition="resolve", values={"resolution_code": "other"})
    assert [state.spec.id for state in typed.fields] == ["resolution_code", "category", "resolution_notes"]

    with pytest.raises(ValidationFailed) as refused:  # satisfiable: it says what to give
        desk.fire(ann, first, "resolve", {"category": "hardware"})
    assert [p["field"] for p in refused.value.details] == ["resolution_code"]
    with pytest.raises(ValidationFailed) as refused:
        desk.fire(ann, first, "resolve", {"category": "hardware", "resolution_code": "other"})
    assert [p["field"] for p in refused.value.details] == ["resolution_notes"]
    resolved = desk.fire(ann, first, "resolve", {"category": "hardware", "resolution_code": "other",
                                                 "resolution_notes": "Replaced the roller"})
    assert resolved["state"] == "resolved" and resolved["fields"]["resolution_notes"] == "Replaced the roller"

    with pytest.raises(ValidationFailed) as refused:  # a field no rule asks for is still outside the form
        desk.fire(ann, second, "cancel", {"category": "hardware", "cancel_reason": "duplicate",
                                          "resolution_notes": "x"})
    assert [p["field"] for p in refused.value.details] == ["resolution_notes"]
    cancelled = desk.fire(ann, second, "cancel", {"category": "hardware", "cancel_reason": "duplicate"})
    assert cancelled["state"] == "cancelled" and cancelled["fields"]["cancel_reason"] == "duplicate"

    started = desk.fire(ann, third, "start", {"category": "network"})  # the form's required field, once
    assert started["state"] == "working"
    assert [s.spec.id for s in desk.form(ann, number=third, transition="resolve").fields] == ["resolution_code"]


def test_the_api_lists_the_fields_the_target_state_requires(desk: Engine, tmp_path: Path) -> None:
    desk.definitions.publish_path(pack(tmp_path / "v2", resolved_extra=", fields: {resolution_code: {required: true}}"))
    process = desk.definitions.active().pack.processes["request"]
    assert process.transition("resolve").fields == ("resolution_code",)
    assert process.transition("start").fields == ()


# -- 3. teams removed or renamed ------------------------------------------------------------------------

def test_removing_a_team_with_open_tickets_is_refused_with_a_count(desk: Engine, tmp_path: Path) -> None:
    network = [open_request(desk, category="network") for _ in range(2)]
    open_request(desk)
    before = desk.definitions.active_id()
    with pytest.raises(PublishRefused) as refused:
        desk.definitions.publish_path(pack(tmp_path / "v2", network_team="infrastructure"))
    assert refused.value.details == [{"team": "network", "open_tickets": 2}]
    assert "team network: 2 open tickets" in refused.value.message
    assert "renamed_teams" in refused.value.message
    assert desk.definitions.active_id() == before
    assert all(desk.get(system_actor(), n)["team"] == "network" for n in network)


OVERLAY = """\
kind: pack
id: client
format: 1
extends: ../v1
{renamed}
---
kind: team
id: network
remove: true
---
kind: team
id: infra
roles: [agent]
members: [{{user: nils}}]
---
kind: routing
id: routes
rules:
  - {{id: network, team: infra}}
"""


def test_an_overlay_removing_a_team_is_refused_then_moves_its_tickets_with_renamed_teams(
        desk: Engine, tmp_path: Path) -> None:
    number = open_request(desk, category="network")
    client = tmp_path / "client"
    client.mkdir()
    (client / "pack.yaml").write_text(OVERLAY.format(renamed=""), encoding="utf-8")
    with pytest.raises(PublishRefused) as refused:
        desk.definitions.publish_path(client)
    assert refused.value.details == [{"team": "network", "open_tickets": 1}]
    (client / "pack.yaml").write_text(OVERLAY.format(renamed="renamed_teams: {network: infra}"), encoding="utf-8")
    assert desk.definitions.publish_path(client).renamed == {"team:network->infra": 1}
    assert (desk.get(system_actor(), number)["team"], desk.get(system_actor(), number)["assignee"]) == ("infra", "nils")
    assert desk.get(system_actor(), open_request(desk, category="network"))["team"] == "infra"


def test_renamed_teams_moves_the_open_tickets_with_an_event_and_diff_counts_them(desk: Engine,
                                                                                 tmp_path: Path) -> None:
    kept, dropped = open_request(desk, category="network"), open_request(desk, category="network")
    desk.fire(system_actor(), dropped, "cancel")
    old = desk.definitions.active().pack
    renamed = pack(tmp_path / "v2", network_team="infrastructure",
                   pack_extra="renamed_teams: {network: infrastructure}", network_members="{user: nils}, {user: olga}")
    new = load_pack(renamed)
    removal = [c for c in diff_packs(old, new) if c.kind == "team" and c.action == "removed"]
    assert [(c.subject, c.detail) for c in removal] == [("network", "renamed to infrastructure")]
    assert open_tickets(desk.db, removal[0]) == 1  # the cancelled one is not open

    result = desk.definitions.publish_path(renamed, actor="admin")
    assert result.renamed == {"team:network->infrastructure": 1}
    moved = desk.get(system_actor(), kept)
    assert (moved["team"], moved["assignee"]) == ("infrastructure", "nils")  # nils is in the new team too
    assert desk.get(system_actor(), dropped)["team"] == "network"  # closed tickets keep their history
    event = desk.events(system_actor(), kept)[-1]
    assert (event["kind"], event["actor"], event["changes"]) == ("routing", "admin",
                                                                 {"team": ["network", "infrastructure"]})
    assert event["data"]["reason"] == "renamed_teams" and event["definitions_version"] == result.version
    assert desk.fire(agent(desk, "nils"), kept, "start")["state"] == "working"  # its agents still work it


def test_an_assignee_who_is_not_in_the_new_team_is_released(desk: Engine, tmp_path: Path) -> None:
    number = open_request(desk, category="network")
    assert desk.get(system_actor(), number)["assignee"] == "nils"
    result = desk.definitions.publish_path(pack(
        tmp_path / "v2", network_team="infrastructure", pack_extra="renamed_teams: {network: infrastructure}",
        network_members="{user: olga}"))
    assert result.renamed == {"team:network->infrastructure": 1}
    shown = desk.get(system_actor(), number)
    assert (shown["team"], shown["assignee"]) == ("infrastructure", None)
    event = desk.events(system_actor(), number)[-1]
    assert event["changes"] == {"team": ["network", "infrastructure"], "assignee": ["nils", None]}
    assert desk.fire(agent(desk, "olga"), number, "start")["state"] == "working"


def test_renamed_teams_must_name_a_removed_team_and_an_existing_one(tmp_path: Path) -> None:
    from itsm.interpreter import check_pack

    _, problems = check_pack(pack(tmp_path / "bad", pack_extra="renamed_teams: {desk: netwrk, gone: nowhere}"))
    assert [str(p) for p in problems] == [
        "pack.yaml:5:17: error: pack/desk: renamed_teams.desk: team 'desk' still exists: only removed teams are "
        "renamed",
        "pack.yaml:5:37: error: pack/desk: renamed_teams.gone: unknown team 'nowhere'",
    ]


# -- 3. timed transitions re-planned -----------------------------------------------------------------------

def due_of(db: Database, number: str) -> dict[str, datetime | None]:
    from itsm.store.models import Ticket

    with db.read() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.number == number))
        rows = session.execute(select(Timer.key, Timer.due_at, Timer.fired_at).where(Timer.ticket_id == ticket_id))
        return {row.key: (None if row.fired_at else row.due_at) for row in rows}


def test_a_changed_after_or_calendar_moves_pending_timed_transitions(desk: Engine, tmp_path: Path) -> None:
    number = open_request(desk)
    desk.fire(system_actor(), number, "resolve")  # Monday 09:00 Berlin: auto_close 2 working hours later
    assert due_of(desk.db, number) == {"auto_close": START + timedelta(hours=2)}
    untouched = open_request(desk)  # still new: no timer, none planned

    desk.definitions.publish_path(pack(tmp_path / "v2", after="1bd"))
    assert due_of(desk.db, number) == {"auto_close": START + timedelta(hours=8)}  # Monday 17:00: a working day
    desk.definitions.publish_path(pack(tmp_path / "v3", after="2h", hours='"10:00-17:00"'))
    assert due_of(desk.db, number) == {"auto_close": START + timedelta(hours=3)}  # from the 10:00 opening
    desk.definitions.publish_path(pack(tmp_path / "v4", after="2h", hours='"10:00-17:00"',
                                       network_members="{user: nils}, {user: olga}"))  # nothing timed changed
    assert due_of(desk.db, number) == {"auto_close": START + timedelta(hours=3)}
    assert due_of(desk.db, untouched) == {}


def test_a_timed_transition_removed_by_a_publish_never_fires(desk: Engine, tmp_path: Path) -> None:
    number = open_request(desk)
    desk.fire(system_actor(), number, "resolve")
    version = pack(tmp_path / "v2")
    text = (version / "pack.yaml").read_text(encoding="utf-8")
    timed = "  - {id: auto_close, from: resolved, to: closed, after: 2h}\n"
    (version / "pack.yaml").write_text(text.replace(timed, ""), encoding="utf-8")
    desk.definitions.publish_path(version)
    assert due_of(desk.db, number) == {}
    desk.clock.now = START + timedelta(days=3)  # type: ignore[attr-defined]
    sweep(desk, deliver=False)
    assert desk.get(system_actor(), number)["state"] == "resolved"


# -- 3. users the pack names that the database lacks ----------------------------------------------------------

def test_a_pack_naming_unknown_users_publishes_with_a_warning_per_user(desk: Engine, tmp_path: Path) -> None:
    result = desk.definitions.publish_path(pack(tmp_path / "v2", desk_extra=", {user: zoe}",
                                                network_members="{user: nils}, {user: yann}"))
    assert result.activated
    assert result.warnings == (
        "pack.yaml:57:31: warning: team/desk: members[1].user: no user 'zoe' in the database: nothing is "
        "assigned to them until the user is created (itsm user add, itsm user import)",
        "pack.yaml:62:32: warning: team/network: members[1].user: no user 'yann' in the database: nothing is "
        "assigned to them until the user is created (itsm user add, itsm user import)",
    )
    # round robin over desk [ann, zoe]: zoe does not exist, so every ticket goes to ann
    assert {desk.get(system_actor(), open_request(desk))["assignee"] for _ in range(3)} == {"ann"}
    add_user(desk.db, "zoe")
    assert desk.definitions.publish_path(pack(tmp_path / "v2")).warnings == ()
