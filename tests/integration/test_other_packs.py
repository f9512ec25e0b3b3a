"""Packs that look nothing like the default one (tests/packs/valid/change_requests, facilities, bare), driven
through the CLI, the JSON API and the pages on SQLite and PostgreSQL: nothing outside definitions/ may assume
the default pack's fields, states, roles or teams."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from itsm.cli import main
from itsm.engine.people.users import add_user, create_token
from itsm.store import OutboxMessage, orgs
from itsm.web import engine_of

from support import deployed_app

PACKS = Path(__file__).resolve().parents[1] / "packs" / "valid"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
H1 = re.compile(r"<h1>(.*?)</h1>", re.S)

CHANGE_USERS = {"pete": {}, "cora": {}, "admin": {"admin": True}}
FACILITIES_USERS = {"bob": {"org": "bank"}, "ann": {}, "wang": {}, "li": {}, "mei": {}, "admin": {"admin": True}}
BARE_USERS = {"nina": {}, "admin": {"admin": True}}


def desk(db_url: str, pack: str, users: dict[str, dict[str, Any]]) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(PACKS / pack), "TESTING": True})
    db = engine_of(app).db
    with db.write() as session:  # the organizations the users name (SPEC 14: they exist before their people)
        for org in sorted({flags["org"] for flags in users.values() if flags.get("org")}):
            orgs.add(session, org, org.title())
    for name, flags in users.items():
        add_user(db, name, password=f"{name}-pw", **flags)
    app.config["TOKENS"] = {name: create_token(db, name) for name in users}
    return app


class Client:
    """One person on one desk: `api` with their bearer token, `page`/`post` with a signed-in session."""

    def __init__(self, app: Flask, name: str):
        self.name, self.token = name, app.config["TOKENS"][name]
        self.client = app.test_client()
        self.session = app.test_client()
        self.csrf = TOKEN.search(self.session.get("/login").text).group(1)  # type: ignore[union-attr]
        signed_in = self.session.post("/login", data={"csrf_token": self.csrf, "name": name, "password": f"{name}-pw"})
        assert signed_in.status_code == 302

    def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        response = self.client.open(path, method=method, headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        assert response.status_code < 500, response.text
        return response.status_code, response.get_json(silent=True) if response.is_json else response.text

    def page(self, path: str, status: int = 200) -> str:
        response = self.session.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[-2000:])
        found = TOKEN.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response.text

    def post(self, path: str, data: dict[str, Any]) -> Any:
        response = self.session.post(path, data={"csrf_token": self.csrf, **data})
        assert response.status_code < 500, response.text
        return response


def h1(html: str) -> str:
    found = H1.search(html)
    assert found is not None
    return found.group(1).strip()


# -- the CLI --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pack", ["change_requests", "facilities", "bare"])
def test_the_cli_validates_and_draws_every_pack(pack: str) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(PACKS / pack)])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output


def test_the_cli_runs_the_scenarios_of_other_packs() -> None:
    runner = CliRunner()
    for pack in ("change_requests", "facilities"):
        result = runner.invoke(main, ["test", str(PACKS / pack)])
        assert result.exit_code == 0, result.output
        assert "1 passed, 0 failed" in result.output
    graph = runner.invoke(main, ["graph", "work_order", "--pack", str(PACKS / "facilities")])
    assert graph.exit_code == 0
    assert "fixed --> done: (2) Accept [requester]" in graph.output


# -- a change process: a `title` field, a one-input matrix, no SLA, roles cab/implementer ------------------

def test_a_change_process_through_the_api_and_the_pages(db_url: str) -> None:
    app = desk(db_url, "change_requests", CHANGE_USERS)
    pete, cora, admin = (Client(app, name) for name in CHANGE_USERS)

    status, pack = pete.api("GET", "/api/pack")
    assert (status, pack["id"], [p["id"] for p in pack["processes"]]) == (200, "changes", ["change"])
    status, schema = pete.api("GET", "/api/forms/change/schema")
    assert status == 200 and schema["required"] == ["title"]
    status, diagram = pete.api("GET", "/api/processes/change/diagram")
    assert status == 200 and "draft --> submitted" in diagram

    status, ticket = pete.api("POST", "/api/tickets", json={"process": "change", "fields": {
        "title": "Upgrade the core switch", "risk": "minor"}})
    assert status == 201
    number = ticket["number"]
    assert (number, ticket["state"], ticket["priority"], ticket["team"], ticket["transitions"]) == (
        "CHG0000001", "draft", "normal", "cab", ["submit"])
    for query in ("state=draft", "priority=normal", "team=cab", "requester=pete", "q=switch", "process=change"):
        status, found = cora.api("GET", f"/api/tickets?{query}")
        assert status == 200 and [t["number"] for t in found["items"]] == [number], query
    status, updated = cora.api("PATCH", f"/api/tickets/{number}", json={"fields": {"risk": "major"},
                                                                         "version": ticket["version"]})
    assert (status, updated["priority"]) == (200, "high")
    assert pete.api("POST", f"/api/tickets/{number}/transitions/approve")[0] == 403
    for who, transition, fields in ((pete, "submit", {}), (cora, "approve", {"approver_note": "fine"}),
                                    (cora, "schedule", {"window": "2026-03-07T22:00:00-05:00"}),
                                    (cora, "implement", {}), (cora, "close", {})):
        status, ticket = who.api("POST", f"/api/tickets/{number}/transitions/{transition}", json={"fields": fields})
        assert status == 200, ticket
    assert ticket["state"] == "closed"

    # pages: the ticket's title is its `title` field everywhere
    assert h1(pete.page(f"/tickets/{number}")) == "Upgrade the core switch"
    assert "Upgrade the core switch" in pete.page("/portal")
    assert "Upgrade the core switch" in cora.page("/queue?include_closed=true")  # closed: hidden by default
    form = pete.page("/new/change")
    assert 'data-suggest-fields="title rationale approver_note rollback_plan"' in form
    created = pete.post("/new/change", {"title": "Rotate the TLS certificates", "risk": "standard"})
    assert created.status_code == 302
    second = created.location.rsplit("/", 1)[1]
    submit = pete.page(f"/tickets/{second}/transitions/submit")
    assert "Rotate the TLS certificates" in submit
    assert pete.post(f"/tickets/{second}/transitions/submit", {}).status_code == 302

    # known errors while typing: the form's own text fields are read, not the default pack's names
    suggestions = pete.post("/forms/suggestions", {"_process": "change", "title": "core switch upgrade"})
    assert [item["title"] for item in suggestions.get_json()] == ["Upgrade the core switch"]

    # KPIs without rating, channel or SLA; a one-input matrix; a closed change resolves, a rejected one does not
    status, third = cora.api("POST", "/api/tickets", json={"process": "change", "fields": {"title": "Drop the DB"}})
    cora.api("POST", f"/api/tickets/{third['number']}/transitions/submit", json={})  # cora is not its requester
    pete_status, _ = pete.api("POST", f"/api/tickets/{third['number']}/transitions/submit", json={})
    assert pete_status == 404  # not pete's ticket
    status, kpis = admin.api("GET", "/api/kpis")
    assert status == 200
    assert kpis["tickets"] == {"created": 3, "open": 2, "resolved": 1}
    assert kpis["satisfaction"]["count"] == 0 and kpis["sla"] == []
    dashboard = cora.page("/dashboard")
    assert "Service desk dashboard" in dashboard and "Tickets by channel" in dashboard
    assert "Satisfaction" not in dashboard  # no form asks for a rating: no empty tile or chart
    assert 'stateDiagram-v2' in admin.page("/admin/processes/change")
    assert "Change requests" in admin.page("/admin/")


def test_a_rejected_change_is_not_resolved(db_url: str) -> None:
    app = desk(db_url, "change_requests", CHANGE_USERS)
    pete, cora, admin = (Client(app, name) for name in CHANGE_USERS)
    status, ticket = pete.api("POST", "/api/tickets", json={"process": "change", "fields": {"title": "Open port 23"}})
    number = ticket["number"]
    pete.api("POST", f"/api/tickets/{number}/transitions/submit", json={})
    status, ticket = cora.api("POST", f"/api/tickets/{number}/transitions/reject", json={"fields": {
        "approver_note": "telnet, really?"}})
    assert (status, ticket["state"]) == (200, "rejected")
    status, kpis = admin.api("GET", "/api/kpis")
    assert kpis["tickets"] == {"created": 1, "open": 0, "resolved": 0}
    assert kpis["time_to_resolve"]["count"] == 0
    # and it is no known error: search does not suggest it
    status, found = cora.api("GET", "/api/suggestions?text=port+23")
    assert (status, found["items"] if isinstance(found, dict) else found) == (200, [])


# -- a facilities desk: two processes, SLA per org, round robin, rating `happiness`, done/withdrawn ----------

def test_a_facilities_desk_through_the_api_and_the_pages(db_url: str) -> None:
    app = desk(db_url, "facilities", FACILITIES_USERS)
    bob, ann, wang, li, mei, admin = (Client(app, name) for name in FACILITIES_USERS)

    def report(who: Client, **fields: Any) -> dict[str, Any]:
        status, ticket = who.api("POST", "/api/tickets", json={"process": "work_order", "fields": {
            "location": "A101", "problem": "Lights out", "trade": "electrical", "severity": "urgent", **fields}})
        assert status == 201, ticket
        return dict(ticket)

    first, second = report(bob), report(ann, problem="Leaking tap", trade="plumbing")
    assert first["priority"] == "S1" and first["team"] == "maintenance"
    assert {first["assignee"], second["assignee"]} == {"wang", "li"}  # round robin
    assert first["sla"]["fix"]["target_seconds"] == 3600  # bob's org has the premium policy
    assert second["sla"]["fix"]["target_seconds"] == 4 * 3600
    assert first["sla"]["fix"]["deadline"].endswith("+08:00")

    number = first["number"]
    for query in ("state=logged", "priority=S1", "team=maintenance", f"assignee={first['assignee']}",
                  "requester=bob", "q=lights", "process=work_order", "sla=running"):
        status, found = wang.api("GET", f"/api/tickets?{query}")
        assert status == 200 and number in [t["number"] for t in found["items"]], query
    assert mei.api("GET", f"/api/tickets/{number}")[0] == 404  # a coordinator is no agent of work orders
    assert ann.api("GET", f"/api/tickets/{number}")[0] == 404

    for who, transition, fields in ((wang, "dispatch", {}), (wang, "fix", {"details": "Replaced the fuse"}),
                                    (bob, "accept", {"happiness": 4})):
        status, ticket = who.api("POST", f"/api/tickets/{number}/transitions/{transition}", json={"fields": fields})
        assert status == 200, ticket
    assert (ticket["state"], ticket["sla"]["fix"]["status"]) == ("done", "met")
    with engine_of(app).db.read() as session:
        notice = session.scalars(select(OutboxMessage)).one()
    assert (notice.subject, notice.body) == (f"{number} is fixed", "Lights out at A101 was fixed.")

    status, withdrawn = ann.api("POST", f"/api/tickets/{second['number']}/transitions/withdraw",
                                json={"fields": {"withdraw_reason": "duplicate"}})
    assert (status, withdrawn["state"], withdrawn["sla"]["fix"]["status"]) == (200, "withdrawn", "cancelled")
    status, events = bob.api("GET", f"/api/tickets/{number}/events")
    assert [e["kind"] for e in events["items"]][0] == "create"

    status, kpis = admin.api("GET", "/api/kpis?process=work_order")
    assert status == 200
    assert kpis["tickets"] == {"created": 2, "open": 0, "resolved": 1}  # the withdrawn one is not resolved
    assert (kpis["satisfaction"]["count"], kpis["satisfaction"]["average"]) == (1, 4.0)
    assert kpis["channels"] == {"api": 2}
    assert admin.api("GET", "/api/kpis?format=csv")[0] == 200

    # pages: titles from `problem` (location has a pattern: a code, not a title), the rating field's form
    assert h1(bob.page(f"/tickets/{number}")) == "Lights out"
    assert "Leaking tap" in wang.page("/queue?state=withdrawn")
    third = report(bob, problem="Aircon too cold", trade="hvac", severity="normal")
    html = bob.page(f"/tickets/{third['number']}/transitions/withdraw")
    assert "Aircon too cold" in html
    assert "Technician" not in html
    assert bob.page("/new/booking").count('name="purpose"') == 1
    assert "Satisfaction" in wang.page("/dashboard")
    assert mei.page(f"/tickets/{number}", status=404)
    assert "stateDiagram-v2" in admin.page("/admin/processes/booking")


# -- the least a pack can be: one text field, two states, nothing else --------------------------------------

def test_a_bare_pack_through_the_api_and_the_pages(db_url: str) -> None:
    app = desk(db_url, "bare", BARE_USERS)
    nina, admin = (Client(app, name) for name in BARE_USERS)
    status, ticket = nina.api("POST", "/api/tickets", json={"process": "note", "fields": {
        "body": "The printer is jammed\nsince this morning, second floor"}})
    assert status == 201
    number = ticket["number"]
    assert (number, ticket["priority"], ticket["team"], ticket["assignee"], ticket["sla"]) == (
        "NOT0000001", None, None, None, {})
    status, found = admin.api("GET", "/api/tickets?q=printer")
    assert [t["number"] for t in found["items"]] == [number]
    # no title field: the first line of the text names the ticket
    assert h1(nina.page(f"/tickets/{number}")) == "The printer is jammed"
    assert "The printer is jammed" in nina.page("/portal")
    assert "The printer is jammed" in admin.page("/queue")
    assert "The printer is jammed" in nina.page(f"/tickets/{number}/transitions/drop")
    assert nina.post(f"/tickets/{number}/transitions/drop", {}).status_code == 302
    status, kpis = admin.api("GET", "/api/kpis")
    assert (status, kpis["tickets"]) == (200, {"created": 1, "open": 0, "resolved": 1})
    assert "Service desk dashboard" in admin.page("/dashboard")
    assert admin.api("GET", "/api/openapi.json")[0] == 200


# -- a team routed to, in a process whose transitions ask for no role -----------------------------------------

def test_a_team_routed_to_works_the_process_even_when_no_transition_names_its_roles(db_url: str) -> None:
    app = desk(db_url, "team_without_roles", {"nina": {}, "dora": {}, "dan": {}, "olga": {}, "sol": {}})
    nina, dora, dan, olga = (Client(app, name) for name in ("nina", "dora", "dan", "olga"))
    status, ticket = nina.api("POST", "/api/tickets", json={"process": "note", "fields": {"body": "Paper jam"}})
    assert (status, ticket["team"], ticket["assignee"]) == (201, "desk", None)
    number = ticket["number"]
    for member in (dora, dan):
        assert member.api("GET", f"/api/tickets/{number}")[0] == 200
        status, found = member.api("GET", "/api/tickets")  # the queue agrees with the ticket page
        assert [t["number"] for t in found["items"]] == [number]
        assert "Paper jam" in member.page("/queue")
    status, found = olga.api("GET", "/api/tickets")  # in no team: her own tickets only
    assert (status, found["items"]) == (200, [])
    assert olga.api("GET", f"/api/tickets/{number}")[0] == 404
    status, kpis = dora.api("GET", "/api/kpis")  # her team works the process: she is one of its agents
    assert (status, kpis["processes"], kpis["tickets"]["created"]) == (200, ["note"], 1)
    assert "Service desk dashboard" in dora.page("/dashboard") and 'href="/dashboard"' in dora.page("/queue")
    assert olga.api("GET", "/api/kpis")[0] == 403
    sol = Client(app, "sol")  # in a team that works no process: no dashboard link, no 403 page behind it
    assert 'href="/dashboard"' not in sol.page("/queue")
    assert sol.session.get("/dashboard").status_code == 302
