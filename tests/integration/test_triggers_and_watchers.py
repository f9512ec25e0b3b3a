"""Triggers, watchers and scenario `notified:` through the whole stack, on SQLite and PostgreSQL: the
watchers API and page, who may be a watcher (SPEC 9, 14), notifications to watchers and team leads queued
in the change's transaction, the portal's "your answer is needed", and the recipes pack's scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select
from test_api import Api
from test_pages import Browser

from itsm.cli import main
from itsm.engine import Engine, EngineError
from itsm.engine.people.users import add_user
from itsm.store import Database, OutboxMessage
from itsm.web import engine_of

from support import DEFINITIONS, ROOT, api_app, deployed_app

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}


@pytest.fixture()
def app(db_url: str) -> Flask:
    return api_app(db_url)


@pytest.fixture()
def api(app: Flask) -> Api:
    return Api(app.test_client(), app.config["TOKENS"])


def queued(db: Database, notification: str) -> list[list[str]]:
    with db.read() as session:
        return [list(row.recipients) for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.notification == notification).order_by(OutboxMessage.id))]


def new_ticket(api: Api, who: str = "rita") -> str:
    status, body = api("POST", "/api/tickets", who, json={"process": "incident", "fields": LAPTOP})
    assert status == 201, body
    return str(body["number"])


def test_the_requester_and_agents_manage_watchers_who_may_see_the_ticket(app: Flask, api: Api) -> None:
    number = new_ticket(api)
    assert api("GET", f"/api/tickets/{number}/watchers") == (200, {"items": []})
    status, body = api("POST", f"/api/tickets/{number}/watchers", json={"user": "lars"})
    assert status == 201 and [w["user"] for w in body["items"]] == ["lars"] and body["items"][0]["added_by"] == "rita"
    again = api("POST", f"/api/tickets/{number}/watchers", json={"user": "lars"})
    assert again[0] == 201 and len(again[1]["items"]) == 1  # idempotent
    # ruth is a requester of her own tickets: she may not see rita's, so she cannot follow it
    status, body = api("POST", f"/api/tickets/{number}/watchers", json={"user": "ruth"})
    assert status == 422 and body["details"][0]["field"] == "user" and "may not see" in body["message"]
    assert api("POST", f"/api/tickets/{number}/watchers", json={"user": "nobody"})[0] == 422
    assert api("POST", f"/api/tickets/{number}/watchers", json={})[0] == 400
    assert api("GET", f"/api/tickets/{number}/watchers", "ruth")[0] == 404
    # an agent may add and remove; the requester's colleague (not an agent) may not add others
    assert api("POST", f"/api/tickets/{number}/watchers", "sam", json={"user": "dana"})[0] == 201
    status, body = api("DELETE", f"/api/tickets/{number}/watchers/lars", "sam")
    assert status == 200 and [w["user"] for w in body["items"]] == ["dana"]
    assert api("DELETE", f"/api/tickets/{number}/watchers/lars", "sam")[0] == 200  # idempotent
    # anyone who sees the ticket may stop following it themselves
    assert api("DELETE", f"/api/tickets/{number}/watchers/dana", "dana") == (200, {"items": []})
    events = api("GET", f"/api/tickets/{number}/events")[1]["items"]
    assert [e["data"] for e in events if e["kind"] == "watchers"] == [
        {"added": "lars"}, {"added": "dana"}, {"removed": "lars"}, {"removed": "dana"}]
    paths = api("GET", "/api/openapi.json")[1]["paths"]
    assert {"get", "post"} <= set(paths["/api/tickets/{number}/watchers"])
    assert "delete" in paths["/api/tickets/{number}/watchers/{user}"]


def test_watchers_and_the_requester_hear_a_public_reply_in_the_same_transaction(app: Flask, api: Api) -> None:
    db = engine_of(app).db
    number = new_ticket(api)
    assert queued(db, "created_notice") == [["user:rita"]]
    api("POST", f"/api/tickets/{number}/watchers", json={"user": "lars"})
    assert api("POST", f"/api/tickets/{number}/comments", "sam", json={"text": "Hold the power button."})[0] == 201
    assert queued(db, "reply_notice") == [["user:rita", "user:lars"]]
    api("POST", f"/api/tickets/{number}/comments", "sam", json={"text": "Battery?", "internal": True})
    api("POST", f"/api/tickets/{number}/comments", "rita", json={"text": "Still black."})
    assert len(queued(db, "reply_notice")) == 1
    # a refused change queues nothing
    status, _ = api("POST", f"/api/tickets/{number}/transitions/hold", "lars",
                    json={"fields": {"hold_reason": "awaiting_user"}, "comment": "Is it charging?"})
    assert status in (403, 409)
    assert queued(db, "waiting_notice") == []


def test_an_agent_waiting_for_the_requester_tells_her_and_the_portal_asks_for_her_answer(db_url: str) -> None:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    for name in ("rita", "lars"):
        add_user(engine_of(app).db, name, password=f"{name}-pw")
    rita, lars = Browser(app, "rita"), Browser(app, "lars")
    number = rita.report(**LAPTOP)
    assert "Your answer is needed" not in rita.get("/portal").text  # she could only withdraw it
    assert lars.fire(number, "start").status_code == 302
    assert lars.fire(number, "hold", hold_reason="awaiting_user", comment="Is it charging?").status_code == 302
    assert queued(engine_of(app).db, "waiting_notice") == [["user:rita"]]
    assert "Your answer is needed" in rita.get("/portal").text
    # the watchers card: the requester adds and removes; the agent's page shows it
    page = rita.get(f"/tickets/{number}")
    assert "Watchers" in page.text and "Nobody follows this ticket yet." in page.text
    assert rita.post(f"/tickets/{number}/watchers", {"user": "lars"}).status_code == 302
    assert "lars now follows this ticket." in rita.get(f"/tickets/{number}").text
    refused = rita.post(f"/tickets/{number}/watchers", {"user": "nobody"})
    assert refused.status_code == 302 and "no user" in rita.get(f"/tickets/{number}").text
    assert rita.post(f"/tickets/{number}/watchers", {"remove": "lars"}).status_code == 302
    assert "Nobody follows this ticket yet." in lars.get(f"/tickets/{number}").text


@pytest.mark.parametrize("pack", ["definitions", "examples/gov-desk", "tests/packs/valid/recipes"])
def test_scenarios_with_notified_pass(pack: str) -> None:
    result = CliRunner().invoke(main, ["test", str(ROOT / pack)])
    assert result.exit_code == 0, result.output
    assert "requester_informed" in result.output or "recipe_" in result.output


def test_a_notification_that_was_not_queued_fails_the_step_and_says_what_was(tmp_path: Path) -> None:
    client = tmp_path / "client"
    client.mkdir()
    (client / "pack.yaml").write_text(
        f"kind: pack\nid: client\nformat: 1\ntimezone: Europe/Berlin\nextends: {DEFINITIONS}\n---\n"
        "kind: scenario\nid: wrong_notice\nsteps:\n"
        "  - create: {process: incident, as: rita, fields: {short_description: Printer jam}}\n"
        "    expect: {notified: [{id: created_notice, to: [lars]}]}\n")
    result = CliRunner().invoke(main, ["test", str(client), "-k", "wrong_notice"])
    assert result.exit_code == 1
    assert ("notified: expected 'created_notice' to lars to be queued in this step; queued: "
            "assigned_notice to user:lars, team:service_desk; created_notice to user:rita") in result.output


def test_an_unknown_notification_in_notified_is_a_load_error(tmp_path: Path) -> None:
    client = tmp_path / "client"
    client.mkdir()
    (client / "pack.yaml").write_text(
        f"kind: pack\nid: client\nformat: 1\ntimezone: Europe/Berlin\nextends: {DEFINITIONS}\n---\n"
        "kind: scenario\nid: typo\nsteps:\n"
        "  - create: {process: incident, as: rita, fields: {short_description: Printer jam}}\n"
        "    expect: {notified: [created_notise]}\n")
    result = CliRunner().invoke(main, ["validate", str(client)])
    assert result.exit_code == 1
    assert ("pack.yaml:11:25: error: scenario/typo: steps[0].expect.notified[0]: unknown notification "
            "'created_notise' (did you mean 'created_notice'?)") in result.output



def test_a_trigger_that_fails_leaves_nothing_behind(db: Database, tmp_path: Path) -> None:
    """The trigger's message is queued in the change's transaction: when a later action of the trigger fails,
    the comment, its event and the message are all gone (SPEC 8, the outbox rule)."""
    client = tmp_path / "client"
    client.mkdir()
    (client / "pack.yaml").write_text(
        f"kind: pack\nid: client\nformat: 1\ntimezone: Europe/Berlin\nextends: {DEFINITIONS}\n---\n"
        "kind: process\nid: incident\ntriggers:\n  - id: reply_notice\n    actions:\n"
        "      - notify: reply_notice\n      - set: {impact: \"{{ 'huge' }}\"}\n")
    engine = Engine(db)
    engine.definitions.publish_path(client)
    for name in ("rita", "lars"):
        add_user(db, name)
    number = engine.create(engine.actor("rita"), "incident", dict(LAPTOP))["number"]
    events = len(engine.events(engine.actor("lars"), number))
    with pytest.raises(EngineError) as refused:
        engine.comment(engine.actor("lars"), number, "Try the other port.")
    assert refused.value.status == 422
    assert queued(db, "reply_notice") == []
    assert engine.comments(engine.actor("lars"), number) == []
    assert len(engine.events(engine.actor("lars"), number)) == events
    engine.comment(engine.actor("rita"), number, "It works now.")  # her own comment: the trigger does not run
    assert [c["text"] for c in engine.comments(engine.actor("lars"), number)] == ["It works now."]
