"""The engine's error boundary (issue 13): what the pure cores raise reaches callers as a typed error with
the rule's place, nothing is saved, and the API answers 4xx, never 500 (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from itsm.engine import ActionFailed, BadRequest, DefinitionFailed, Engine, system_actor
from itsm.engine.channels.intake import receive
from itsm.engine.people.users import add_user, create_token
from itsm.interpreter import check_pack
from itsm.interpreter.loader import compile_documents
from itsm.store import Database, Ticket
from itsm.web import engine_of

from support import Clock, deployed_app

PACK = """kind: pack
id: desk
format: 1
timezone: Europe/Berlin
---
kind: form
id: ticket
fields:
  - {id: summary, type: string, required: true}
  - {id: count, type: string}
  - {id: note, type: string}
---
kind: process
id: ticket
form: ticket
number: TKT
initial: open
sla: sla
states:
  - {id: open}
  - id: counted
    on_enter: [{set: {note: "{{ ticket.count / 2 }} each"}}]
  - {id: done, final: true}
transitions:
  - {id: count, from: open, to: counted}
  - {id: finish, from: [open, counted], to: done}
---
kind: sla_policy
id: sla
calendar: office
clocks:
  - {id: resolution, stop: "state == 'done'", targets: {default: 4h}}
---
kind: intake
id: uptime
source: json
process: ticket
key: "{{ payload.check }}"
fields:
  summary: "{{ payload.check }} is down since {{ payload.minutes + 1 }} minutes"
"""
OFFICE = "---\nkind: calendar\nid: office\nhours: {mon: ['09:00-17:00'], tue: ['09:00-17:00']}\n"
CLOSED = "---\nkind: calendar\nid: office\nhours: {mon: [], tue: []}\n"


def tickets(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


def desk(db: Database, tmp_path: Path, calendar: str) -> Engine:
    """An engine whose active version holds `calendar`: published from a folder when it validates, else
    stored as a version published before the check existed would be (validation refuses it today)."""
    (tmp_path / "pack.yaml").write_text(PACK + calendar, encoding="utf-8")
    engine = Engine(db, clock=Clock(datetime(2026, 3, 2, 9, tzinfo=UTC)))
    spec, problems = check_pack(tmp_path)
    if spec is None:
        assert [p.path for p in problems if p.is_error] == ["hours"]
        spec = compile_documents(_source(tmp_path))  # a stored version: the check is a warning there
        assert [p.path for p in spec.warnings] == ["hours"]
    engine.definitions.publish(spec)
    add_user(db, "rita")
    return engine


def _source(folder: Path) -> list[dict]:
    import yaml

    return [doc for doc in yaml.safe_load_all((folder / "pack.yaml").read_text(encoding="utf-8"))]


def test_a_stored_calendar_without_working_time_is_a_409_naming_it(db: Database, tmp_path: Path) -> None:
    engine = desk(db, tmp_path, CLOSED)
    with pytest.raises(DefinitionFailed) as failed:
        engine.create(engine.actor("rita"), "ticket", {"summary": "Printer"})
    assert failed.value.status == 409 and failed.value.code == "definition_failed"
    assert "calendar 'office' has no working time" in failed.value.message
    assert failed.value.message.endswith("fix the pack and publish it again")
    assert tickets(db) == 0  # nothing is saved


def test_a_template_failing_on_a_value_fails_its_action_and_saves_nothing(db: Database, tmp_path: Path) -> None:
    engine = desk(db, tmp_path, OFFICE)
    rita = engine.actor("rita")
    number = engine.create(rita, "ticket", {"summary": "Printer", "count": "three"})["number"]
    events = engine.events(rita, number)
    with pytest.raises(ActionFailed) as failed:
        engine.fire(system_actor(), number, "count")
    assert failed.value.status == 409
    assert failed.value.message.startswith("template at pack.yaml:")
    assert failed.value.message.endswith("failed: unsupported operand type(s) for /: text and a number")
    assert engine.get(rita, number)["state"] == "open" and engine.events(rita, number) == events


def test_a_payload_that_breaks_an_intake_template_is_the_senders_400(db: Database, tmp_path: Path) -> None:
    engine = desk(db, tmp_path, OFFICE)
    add_user(db, "uptime_bot")
    bot = engine.actor("uptime_bot")
    with pytest.raises(BadRequest) as failed:
        receive(engine, bot, "uptime", {"check": "web", "minutes": "many"})
    assert failed.value.message.startswith("this payload does not fit the template at pack.yaml:")
    assert "intake 'uptime'" in failed.value.message and tickets(db) == 0
    assert receive(engine, bot, "uptime", {"check": "web", "minutes": 3})[0]["action"] == "created"


def test_the_api_answers_these_failures_with_their_4xx(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(PACK + CLOSED, encoding="utf-8")
    app = deployed_app({"DATABASE_URL": db_url, "TESTING": True})
    engine = engine_of(app)
    engine.definitions.publish(compile_documents(_source(tmp_path)))
    add_user(engine.db, "rita")
    client, token = app.test_client(), create_token(engine.db, "rita")
    response = client.post("/api/tickets", json={"process": "ticket", "fields": {"summary": "Printer"}},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 409
    body = response.get_json()
    assert body["error"] == "definition_failed" and "no working time" in body["message"] and body["details"] == []
