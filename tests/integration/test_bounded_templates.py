"""Bounded templates in the engine: an over-long notification is cut (and still sent once), a render that
runs away refuses the change with a 409 that says why and writes nothing, an intake payload that makes its
template run away is a 400; never a 500, never seconds of work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from itsm.engine import Conflict, Engine
from itsm.engine.people.users import add_user, create_token
from itsm.interpreter.templates import BODY_CUT, MAX_BODY, MAX_SUBJECT, SUBJECT_CUT
from itsm.store import Event, OutboxMessage, Ticket
from itsm.web import engine_of

from support import DEFINITIONS, DEMO_USERS, deployed_app

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
LONG_NOTICE = """kind: notification
id: assigned_notice
subject: "{{ ticket.short_description * 60 }}"
body: |
  {% for c in ticket.short_description %}{{ ticket.description }}
  {% endfor %}
"""
RUNAWAY_NOTICE = """kind: notification
id: assigned_notice
body: |
  {% for a in ticket.description %}{% for b in ticket.description %}.{% endfor %}{% endfor %}
"""
RUNAWAY_INTAKE = """kind: intake
id: loops
source: json
process: incident
key: "{{ payload.id }}"
fields:
  short_description: "{% for a in payload.text %}{% for b in payload.text %}.{% endfor %}{% endfor %}"
"""


def overlay(folder: Path, documents: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "pack.yaml").write_text(f"kind: pack\nid: client\nformat: 1\nextends: {DEFINITIONS}\n---\n{documents}")
    return folder


def count(engine: Engine, model: type) -> int:
    with engine.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_an_over_long_notification_is_cut_with_a_marker_and_sent_once(engine: Engine, tmp_path: Path) -> None:
    """The default pack tells the team when a ticket is created (and again when it is classified)."""
    engine.definitions.publish_path(overlay(tmp_path / "long", LONG_NOTICE))
    fields = {**LAPTOP, "description": "Black screen. " * 300}
    number = engine.create(engine.actor("rita"), "incident", fields)["number"]
    with engine.db.read() as session:
        (notice,) = session.scalars(select(OutboxMessage).where(OutboxMessage.notification == "assigned_notice"))
    assert len(notice.subject.encode()) <= MAX_SUBJECT and notice.subject.endswith(SUBJECT_CUT)
    assert notice.subject.startswith("Laptop does not bootLaptop does not boot")
    assert len(notice.body.encode()) <= MAX_BODY and notice.body.endswith(BODY_CUT)
    assert notice.body.startswith("Black screen. Black screen.") and notice.status == "pending"
    assert engine.get(engine.actor("lars"), number)["state"] == "new"


def test_a_render_that_runs_away_refuses_the_change_and_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    engine.definitions.publish_path(overlay(tmp_path / "runaway", RUNAWAY_NOTICE))  # valid: two levels of loops
    rita, lars = engine.actor("rita"), engine.actor("lars")
    number = engine.create(rita, "incident", {**LAPTOP, "description": "x" * 50})["number"]  # an ordinary render
    before = (count(engine, Ticket), count(engine, Event), count(engine, OutboxMessage))
    with pytest.raises(Conflict) as refused:
        engine.create(rita, "incident", {**LAPTOP, "description": "x" * 2000})
    assert refused.value.code == "action_failed"
    assert "template at" in refused.value.message and "more than 100,000 steps of work" in refused.value.message
    assert (count(engine, Ticket), count(engine, Event), count(engine, OutboxMessage)) == before
    engine.update(lars, number, {"description": "x" * 2000})  # sends nothing
    with pytest.raises(Conflict, match="steps of work"):  # the same for a transition: nothing changes
        engine.fire(lars, number, "classify", {})
    assert engine.get(lars, number)["state"] == "new"
    assert (count(engine, Ticket), count(engine, OutboxMessage)) == before[::2]


@pytest.fixture()
def app(db_url: str, tmp_path: Path) -> Flask:
    pack = overlay(tmp_path / "pack", RUNAWAY_NOTICE + "---\n" + RUNAWAY_INTAKE)
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(pack), "TESTING": True})
    db = engine_of(app).db
    for name, flags in DEMO_USERS.items():
        add_user(db, name, **flags)
    app.config["TOKENS"] = {name: create_token(db, name) for name in DEMO_USERS}
    return app


def call(app: Flask, method: str, path: str, who: str, body: Any) -> tuple[int, Any]:
    response = app.test_client().open(path, method=method, json=body,
                                      headers={"Authorization": f"Bearer {app.config['TOKENS'][who]}"})
    return response.status_code, response.get_json()


def test_the_api_answers_409_for_a_runaway_notification_and_400_for_a_runaway_intake(app: Flask) -> None:
    status, body = call(app, "POST", "/api/tickets", "rita",
                        {"process": "incident", "fields": {**LAPTOP, "description": "x" * 2000}})
    assert (status, body["error"]) == (409, "action_failed") and "steps of work" in body["message"]

    status, body = call(app, "POST", "/api/intake/loops", "admin", {"id": "a1", "text": "x" * 2000})
    assert (status, body["error"]) == (400, "bad_request") and "steps of work" in body["message"]
