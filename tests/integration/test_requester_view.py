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
from itsm.store import orgs, users
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
    # the confirm step is on the ticket page itself: the rating, its comment, one primary button
    step = re.search(r'<form class="generated one-step"[^>]*action="([^"]+)"(.*?)</form>', page, re.S)
    assert step is not None and step.group(1) == f"/tickets/{number}/transitions/close"
    assert 'name="satisfaction"' in step.group(2) and 'name="feedback"' in step.group(2)
    assert re.findall(r'<button type="submit" class="primary">([^<]+)</button>', step.group(2)) == ["Confirm and close"]
    assert 'name="comment"' not in step.group(2)
    buttons = re.findall(r'<a class="button( primary)?" href="/tickets/[^/]+/transitions/(\w+)"', page)
    assert buttons == [("", "reopen")]  # reopening is the other way, a link, not primary
    lars_page = Browser(app, "lars").get(f"/tickets/{number}").text
    assert "one-step" not in lars_page  # an agent's page keeps the steps as links
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


# -- what a requester sees of their ticket ---------------------------------------------------------------

SECRETS = {"work_notes": "Suspect the fuser, ordered one", "known_error": "KE0000042",
           "configuration_item": "PRN-4711"}


def test_a_requester_sees_neither_the_desks_fields_nor_its_sla_internals(app: Flask) -> None:
    rita, lars = Browser(app, "rita"), Browser(app, "lars")
    number = rita.report(**PRINTER)
    engine = engine_of(app)
    engine.fire(engine.actor("lars"), number, "start", {"category": "hardware"})
    engine.update(engine.actor("lars"), number, SECRETS)
    engine.comment(engine.actor("lars"), number, "Internal: the vendor owes us one", internal=True)

    page = rita.get(f"/tickets/{number}").text
    for secret in (*SECRETS.values(), "Work notes", "Known error", "Configuration item", "owes us one"):
        assert secret not in page, secret
    assert "Handled by: <strong>Service desk</strong>" in page  # who handles it: the team
    assert "We aim to resolve it by" in page  # when, in words: no clocks, meters or breach banners
    for internal in ('id="sla-banner"', "Service levels", "Time to respond", "<dt>Assignee<", "Assignee:"):
        assert internal not in page, internal
    theirs = lars.get(f"/tickets/{number}").text
    assert all(secret in theirs for secret in SECRETS.values()) and 'id="sla-banner"' in theirs

    status, body = call(app, "GET", f"/api/tickets/{number}", "rita", {})
    assert status == 200 and not set(SECRETS) & set(body["fields"]) and body["fields"]["service"] == "workplace"
    status, listed = call(app, "GET", "/api/tickets?requester=rita", "rita", {})
    assert not set(SECRETS) & set(listed["items"][0]["fields"])
    status, events = call(app, "GET", f"/api/tickets/{number}/events", "rita", {})
    assert status == 200 and events["items"]
    for event in events["items"]:
        assert not set(SECRETS) & set(event["changes"] or {}) and "assignee" not in (event["changes"] or {})
        assert event["kind"] not in ("sla", "triage", "update"), event  # the update changed only desk fields
        if event["kind"] == "routing":
            assert set(event["data"]) <= {"team"}
    assert set(SECRETS) <= set(call(app, "GET", f"/api/tickets/{number}", "lars", {})[1]["fields"])
    status, theirs_events = call(app, "GET", f"/api/tickets/{number}/events", "lars", {})
    assert any(e["kind"] == "update" and "work_notes" in e["changes"] for e in theirs_events["items"])

    engine.fire(engine.actor("lars"), number, "resolve", {"resolution_code": "fixed",
                                                          "resolution_notes": "New drum unit."})
    page = rita.get(f"/tickets/{number}").text
    assert "New drum unit." in page and "Resolution notes" in page  # `audience: answer`: the desk's answer
    assert "We aim to resolve" not in page  # the clocks stopped: nothing more to expect
    status, body = call(app, "POST", f"/api/tickets/{number}/transitions/close", "rita",
                        {"fields": {"satisfaction": 5}})
    assert status == 200 and body["fields"]["resolution_notes"] == "New drum unit."
    assert not set(SECRETS) & set(body["fields"])  # the answer to a change is the requester's view too


def test_the_confirm_step_on_the_ticket_page_closes_in_one_click(app: Flask) -> None:
    rita = Browser(app, "rita")
    number = resolved(app, rita)
    page = rita.get(f"/tickets/{number}").text
    version = re.search(r'<form class="generated one-step".*?name="version" value="(\d+)"', page, re.S)
    assert version is not None
    done = rita.post(f"/tickets/{number}/transitions/close", {"_number": number, "_transition": "close",
                                                             "version": version.group(1), "satisfaction": "5",
                                                             "feedback": "Thanks"})
    assert done.status_code == 302 and done.location.endswith(f"/tickets/{number}")
    closed = engine_of(app).get(system_actor(), number)
    assert closed["state"] == "closed" and closed["fields"]["satisfaction"] == 5
    again = rita.get(f"/tickets/{number}").text
    assert "one-step" not in again  # closed: nothing left to confirm


def test_watchers_are_picked_among_people_who_may_see_the_ticket(app: Flask) -> None:
    engine = engine_of(app)
    with engine.db.write() as session:
        orgs.add(session, "finance", "Finance Bureau")
    for name, org, contact in (("una", "finance", True), ("otto", "finance", False), ("zoe", None, False)):
        add_user(engine.db, name, password=f"{name}-pw", org=org, org_contact=contact, email=f"{name}@example.org")
    with engine.db.write() as session:
        users.set_values(session, "rita", {"org": "finance"})
    rita = Browser(app, "rita")
    number = rita.report(**PRINTER)

    def found(who: Browser, text: str) -> list[str]:
        answer = who.get(f"/tickets/{number}/watcher-candidates?q={text}")
        assert answer.status_code == 200, answer.text
        return [person["name"] for person in answer.get_json()]

    assert found(rita, "example.org") == ["una"]  # her organization's, who may see it (otto may not, zoe is not)
    assert found(rita, "Finance") == ["una"] and "Finance Bureau" in rita.get(
        f"/tickets/{number}/watcher-candidates?q=una").get_json()[0]["label"]
    assert found(rita, "lars") == []  # the desk is not hers to add
    lars = Browser(app, "lars")
    assert found(lars, "example.org") == ["una"]  # an agent finds anyone, but offered are only those who see it
    assert Browser(app, "ruth").get(f"/tickets/{number}/watcher-candidates?q=una").status_code == 404
    page = rita.get(f"/tickets/{number}").text
    assert 'list="watcher-options"' in page and f'data-lookup="/tickets/{number}/watcher-candidates"' in page
    added = rita.post(f"/tickets/{number}/watchers", {"user": "una"})
    assert added.status_code == 302
    assert [w["user"] for w in engine.watchers(system_actor(), number)] == ["una"]
