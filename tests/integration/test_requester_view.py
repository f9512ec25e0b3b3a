"""The requester's view (issue 17) through the pages and the API, on SQLite and PostgreSQL: fields with
`audience: agent` are neither shown to requesters nor accepted from them; a resolved ticket offers "confirm
and close" first, with the rating and its comment on one form; the resolved mail's one-click rating links
open that form with the rating chosen for their requester only (valid, altered, expired, someone else's)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from test_pages import Browser

from itsm.engine.people.users import add_user, create_token
from itsm.engine.runtime.actors import system_actor
from itsm.store.models import OutboxMessage, utcnow
from itsm.web import engine_of

from support import DEFINITIONS, deployed_app

PUBLIC = "https://desk.example.org"
PEOPLE = {"rita": {}, "ruth": {}, "lars": {}, "admin": {"admin": True}}
AGENT_FIELDS = ("work_notes", "known_error", "major_incident", "resolution_code", "channel")
PRINTER = {"short_description": "Printer jams on every page", "service": "workplace", "impact": "low",
           "urgency": "low"}


@pytest.fixture()
def app(db_url: str) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True, "PUBLIC_URL": PUBLIC})
    db = engine_of(app).db
    for name, flags in PEOPLE.items():
        add_user(db, name, password=f"{name}-pw", **flags)
    app.config["TOKENS"] = {name: create_token(db, name) for name in PEOPLE}
    return app


def call(app: Flask, method: str, path: str, who: str, body: dict[str, Any]) -> tuple[int, Any]:
    response = app.test_client().open(path, method=method, json=body,
                                      headers={"Authorization": f"Bearer {app.config['TOKENS'][who]}"})
    return response.status_code, response.get_json()


def resolved(app: Flask, rita: Browser) -> str:
    """A ticket rita reported on the portal, worked and resolved by the desk."""
    number = rita.report(**PRINTER)
    engine = engine_of(app)
    engine.fire(system_actor(), number, "start", {"category": "hardware"})
    engine.fire(system_actor(), number, "resolve", {"resolution_code": "fixed", "resolution_notes": "New drum unit."})
    return number


def rating_links(app: Flask, number: str) -> dict[int, str]:
    with engine_of(app).db.read() as session:
        bodies = [m.body for m in session.scalars(select(OutboxMessage).where(
            OutboxMessage.notification == "resolved_notice"))]
    assert len(bodies) == 1 and f"Open your incident: {PUBLIC}/tickets/{number}" in bodies[0]
    found = re.findall(rf"^\s+(\d)\b.*?({re.escape(PUBLIC)}/rate/\S+)$", bodies[0], re.MULTILINE)
    return {int(value): url.removeprefix(PUBLIC) for value, url in found}


# -- audience: agent ------------------------------------------------------------------------------------

def test_requesters_forms_leave_agent_fields_out_and_their_help_names_no_files(app: Flask) -> None:
    rita, lars = Browser(app, "rita"), Browser(app, "lars")
    mine = rita.get("/new/incident").text
    theirs = lars.get("/new/incident").text
    for name in AGENT_FIELDS:
        assert f'name="{name}"' not in mine and f'data-field="{name}"' not in mine
    for name in ("known_error", "major_incident", "channel"):
        assert f'data-field="{name}"' in theirs
    for name in ("short_description", "description", "service", "urgency", "contact_phone"):
        assert f'name="{name}"' in mine
    assert ".yaml" not in mine and "routing/" not in mine


def test_the_api_refuses_agent_fields_from_a_requester_by_name_and_takes_them_from_agents(app: Flask) -> None:
    status, body = call(app, "POST", "/api/tickets", "rita",
                        {"process": "incident", "fields": {**PRINTER, "work_notes": "x", "known_error": "KE1"}})
    assert status == 422 and sorted(d["field"] for d in body["details"]) == ["known_error", "work_notes"]
    assert "not by requesters" in body["details"][0]["message"]
    schema = app.test_client().get("/api/forms/incident/schema",
                                   headers={"Authorization": f"Bearer {app.config['TOKENS']['rita']}"}).get_json()
    assert schema["properties"]["work_notes"]["x-audience"] == "agent"  # tools can tell before they send
    assert "x-audience" not in schema["properties"]["short_description"]
    status, body = call(app, "POST", "/api/tickets", "rita", {"process": "incident",
                                                            "fields": {**PRINTER, "category": "hardware"}})
    assert status == 201, body
    number = body["number"]
    status, body = call(app, "POST", "/api/tickets", "lars", {"process": "incident", "requester": "rita",
                                                            "fields": {**PRINTER, "known_error": "KE0000007"}})
    assert status == 201 and body["fields"]["known_error"] == "KE0000007"
    engine = engine_of(app)
    engine.fire(system_actor(), number, "start", {})
    engine.fire(system_actor(), number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Done."})
    status, body = call(app, "POST", f"/api/tickets/{number}/transitions/close", "rita",
                        {"fields": {"satisfaction": 5, "work_notes": "closing"}})
    assert status == 422 and [d["field"] for d in body["details"]] == ["work_notes"]
    assert engine.get(system_actor(), number)["state"] == "resolved"  # nothing half-done


# -- the resolved ticket --------------------------------------------------------------------------------

def test_a_resolved_ticket_offers_confirm_first_and_rates_on_one_form(app: Flask) -> None:
    rita = Browser(app, "rita")
    number = resolved(app, rita)
    page = rita.get(f"/tickets/{number}").text
    buttons = re.findall(r'<a class="button( primary)?" href="/tickets/[^/]+/transitions/(\w+)"', page)
    assert buttons == [(" primary", "close"), ("", "reopen")]
    confirm = rita.get(f"/tickets/{number}/transitions/close").text
    assert 'name="satisfaction"' in confirm and 'name="feedback"' in confirm
    assert 'name="comment"' not in confirm  # the feedback is the comment: one form
    assert 'name="comment"' not in rita.get(f"/tickets/{number}/transitions/reopen").text
    version = engine_of(app).get(system_actor(), number)["version"]
    done = rita.post(f"/tickets/{number}/transitions/close",
                     {"satisfaction": "4", "feedback": "Quick, thanks!", "version": version})
    assert done.status_code == 302, done.text
    closed = engine_of(app).get(system_actor(), number)
    assert closed["state"] == "closed" and closed["fields"]["satisfaction"] == 4
    assert closed["fields"]["feedback"] == "Quick, thanks!"


def test_a_rating_link_opens_the_confirm_form_with_the_rating_for_its_requester(app: Flask) -> None:
    rita = Browser(app, "rita")
    number = resolved(app, rita)
    links = rating_links(app, number)
    assert sorted(links) == [1, 2, 3, 4, 5]

    stranger = Browser(app)
    asked = stranger.get(links[4])
    assert asked.status_code == 302 and "/login?next=/rate/" in asked.location  # sign in first
    assert stranger.login("rita", "rita-pw", next_path=links[4]).location == links[4]
    form = stranger.get(links[4])
    assert form.status_code == 200
    assert re.search(r'name="satisfaction" value="4" checked', form.text)
    assert f'action="/tickets/{number}/transitions/close"' in form.text
    assert engine_of(app).get(system_actor(), number)["state"] == "resolved"  # opening it changed nothing

    for other in ("ruth", "lars"):  # someone else's link: refused, the ticket untouched
        refused = Browser(app, other).get(links[4])
        assert refused.status_code == 403 and "sent to someone else" in refused.text

    payload, _, signature = links[4].removeprefix("/rate/").partition(".")
    other_payload = links[5].removeprefix("/rate/").partition(".")[0]
    flipped = signature[:-1] + ("B" if signature[-1] == "A" else "A")
    for tampered in (f"/rate/{other_payload}.{signature}", f"/rate/{payload}.{flipped}", f"/rate/{payload}"):
        answer = rita.get(tampered)
        assert answer.status_code == 400 and "not valid" in answer.text

    sent = rita.post(f"/tickets/{number}/transitions/close",
                     {"satisfaction": "4", "feedback": "",
                      "version": engine_of(app).get(system_actor(), number)["version"]})
    assert sent.status_code == 302
    assert engine_of(app).get(system_actor(), number)["fields"]["satisfaction"] == 4
    again = rita.get(links[2])  # the ticket is closed: the form says why instead
    assert again.status_code == 409


def test_an_expired_rating_link_sends_the_requester_to_the_ticket(app: Flask) -> None:
    rita = Browser(app, "rita")
    number = resolved(app, rita)
    link = rating_links(app, number)[5]
    engine = engine_of(app)
    engine.clock = lambda: utcnow() + timedelta(days=15)
    expired = rita.get(link)
    assert expired.status_code == 410 and number in expired.text
    assert engine.get(system_actor(), number)["state"] == "resolved"


def test_without_a_public_address_the_mail_has_no_links(db_url: str) -> None:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    add_user(engine_of(app).db, "rita", password="rita-pw")
    rita = Browser(app, "rita")
    number = resolved(app, rita)
    with engine_of(app).db.read() as session:
        body = session.scalars(select(OutboxMessage).where(OutboxMessage.notification == "resolved_notice")).one().body
    assert number in body and "/rate/" not in body and "Click a rating" not in body
