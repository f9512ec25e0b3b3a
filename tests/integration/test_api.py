"""The JSON API (SPEC 10) on SQLite and PostgreSQL: every endpoint, every error status, never a 500."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.users import add_user, create_token
from itsm.web import create_app, engine_of

from support import DEFINITIONS, DEMO_USERS

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}


@pytest.fixture()
def app(db_url: str) -> Flask:
    app = create_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    db = engine_of(app).db
    for name, flags in DEMO_USERS.items():
        add_user(db, name, **flags)
    app.config["TOKENS"] = {name: create_token(db, name) for name in DEMO_USERS}
    return app


class Api:
    def __init__(self, client: FlaskClient, tokens: dict[str, str]):
        self.client, self.tokens = client, tokens

    def __call__(self, method: str, path: str, who: str | None = "rita", **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        response = self.client.open(path, method=method, headers=headers, **kwargs)
        assert response.status_code != 500
        return response.status_code, response.get_json(silent=True) if response.is_json else response.get_data(
            as_text=True)


@pytest.fixture()
def api(app: Flask) -> Api:
    return Api(app.test_client(), app.config["TOKENS"])


def create(api: Api, who: str = "rita", **fields: Any) -> dict[str, Any]:
    status, body = api("POST", "/api/tickets", who, json={"process": "incident", "fields": {**LAPTOP, **fields}})
    assert status == 201, body
    return body


def assert_error(result: tuple[int, Any], status: int, code: str | None = None) -> dict[str, Any]:
    got, body = result
    assert got == status, body
    assert set(body) == {"error", "message", "details"} and body["message"]
    if code:
        assert body["error"] == code
    return body


def test_health_and_authentication(api: Api) -> None:
    status, body = api("GET", "/api/health", None)
    assert status == 200 and body["status"] == "ok" and len(body["definitions_version"]) == 64
    assert_error(api("GET", "/api/pack", None), 401, "unauthorized")
    wrong = api.client.get("/api/pack", headers={"Authorization": "Bearer itsm_wrong"})
    assert_error((wrong.status_code, wrong.get_json()), 401, "unauthorized")
    basic = api.client.get("/api/pack", headers={"Authorization": "Basic cml0YTpwdw=="})
    assert_error((basic.status_code, basic.get_json()), 401)


def test_definitions_endpoints(api: Api) -> None:
    status, pack = api("GET", "/api/pack")
    assert status == 200 and pack["id"] == "default" and {"id": "incident", "title": "Incident"} in pack["processes"]
    status, process = api("GET", "/api/processes/incident")
    assert status == 200 and process["initial"] == "new"
    assert any(t["id"] == "resolve" and "in_progress" in t["from"] for t in process["transitions"])
    status, text = api("GET", "/api/processes/incident/diagram")
    assert status == 200 and text.startswith("stateDiagram-v2")
    status, schema = api("GET", "/api/forms/incident/schema")
    assert status == 200 and schema["properties"]["impact"]["enum"] == ["high", "medium", "low"]
    assert_error(api("GET", "/api/processes/nope"), 404, "not_found")
    assert_error(api("GET", "/api/forms/nope/schema"), 404)
    assert_error(api("GET", "/api/no/such/route"), 404)
    assert_error(api("DELETE", "/api/tickets"), 405)


def test_create_and_read_tickets(api: Api) -> None:
    ticket = create(api)
    assert ticket["number"] == "INC0000001" and ticket["state"] == "new" and ticket["version"] == 1
    assert set(ticket) >= {"number", "process", "state", "priority", "team", "assignee", "requester", "fields",
                           "sla", "version", "created_at", "updated_at", "transitions"}
    assert ticket["sla"]["response"]["status"] == "running"
    status, same = api("GET", f"/api/tickets/{ticket['number']}")
    assert status == 200 and same["number"] == ticket["number"]
    assert_error(api("GET", "/api/tickets/INC0000099"), 404)
    assert_error(api("GET", f"/api/tickets/{ticket['number']}", "ruth"), 404)  # someone else's ticket


@pytest.mark.parametrize(("payload", "status"), [
    ("{not json", 400), ("[1, 2]", 400), ('"text"', 400), ("{}", 400),
    ('{"process": "incident", "fields": "x"}', 400), ('{"process": 7}', 400),
    ('{"process": "incident", "extra": 1}', 400),
    ('{"process": "incident", "fields": {"impact": "huge", "short_description": "Something"}}', 422),
    ('{"process": "incident", "fields": {"nonsense": 1, "short_description": "Something"}}', 422),
    ('{"process": "incident", "fields": {}}', 422),
    ('{"process": "nope", "fields": {}}', 422),
    ('{"process": "incident", "fields": {"short_description": "Alert", "channel": "monitoring", '
     '"monitoring_link": "see the dashboard"}}', 422),
    ('{"process": "incident", "fields": {"short_description": "Broken"}, "requester": "ruth"}', 403),
])
def test_bad_create_requests_get_their_4xx(api: Api, payload: str, status: int) -> None:
    body = assert_error(api("POST", "/api/tickets", data=payload, content_type="application/json"), status)
    if status == 422:
        assert body["details"] and all(set(d) == {"field", "message"} for d in body["details"])


def test_fire_transitions_with_every_error(api: Api) -> None:
    number = create(api)["number"]
    assert_error(api("POST", f"/api/tickets/{number}/transitions/fly", "lars"), 404)
    assert_error(api("POST", f"/api/tickets/{number}/transitions/classify", "rita", json={}), 403, "forbidden")
    assert_error(api("POST", f"/api/tickets/{number}/transitions/resume", "lars", json={}), 409, "conflict")
    body = assert_error(api("POST", f"/api/tickets/{number}/transitions/hold", "lars", json={}), 409)
    assert "not possible in state" in body["message"]
    status, ticket = api("POST", f"/api/tickets/{number}/transitions/start", "lars", json={"version": 1})
    assert status == 200 and ticket["state"] == "in_progress" and ticket["version"] == 2
    assert_error(api("POST", f"/api/tickets/{number}/transitions/hold", "lars", json={"version": 1}), 409,
                 "stale_version")
    body = assert_error(api("POST", f"/api/tickets/{number}/transitions/hold", "lars", json={}), 422)
    assert [d["field"] for d in body["details"]] == ["hold_reason"]
    assert_error(api("POST", f"/api/tickets/{number}/transitions/hold", "lars", json={"fields": []}), 400)
    status, ticket = api("POST", f"/api/tickets/{number}/transitions/hold", "lars",
                         json={"fields": {"hold_reason": "awaiting_user"}, "comment": "Asked for the serial"})
    assert status == 200 and ticket["state"] == "on_hold" and ticket["sla"]["resolution"]["status"] == "paused"


def test_patch_events_and_comments(api: Api) -> None:
    number = create(api)["number"]
    status, ticket = api("PATCH", f"/api/tickets/{number}", "lars", json={"fields": {"impact": "high"}, "version": 1})
    assert status == 200 and ticket["priority"] == "P2"
    assert_error(api("PATCH", f"/api/tickets/{number}", "lars", json={"fields": {"impact": "low"}, "version": 1}),
                 409, "stale_version")
    assert_error(api("PATCH", f"/api/tickets/{number}", "lars", json={"fields": {"impact": "low"}, "version": "2"}),
                 400)
    assert_error(api("PATCH", f"/api/tickets/{number}", "lars", json={"version": 2}), 400)
    assert_error(api("PATCH", f"/api/tickets/{number}", "lars", json={"fields": {"resolved_by": "x"}}), 422)
    note = {"text": "Internal note", "internal": True}
    assert api("POST", f"/api/tickets/{number}/comments", "lars", json=note)[0] == 201
    assert api("POST", f"/api/tickets/{number}/comments", "lars", json={"text": "We are on it"})[0] == 201
    assert_error(api("POST", f"/api/tickets/{number}/comments", "rita", json={"text": "x", "internal": True}), 403)
    assert_error(api("POST", f"/api/tickets/{number}/comments", "rita", json={"text": ""}), 422)
    assert_error(api("POST", f"/api/tickets/{number}/comments", "rita", json={"text": 3}), 400)
    status, comments = api("GET", f"/api/tickets/{number}/comments", "rita")
    assert [c["text"] for c in comments["items"]] == ["We are on it"]
    status, events = api("GET", f"/api/tickets/{number}/events", "rita")
    kinds = [e["kind"] for e in events["items"]]
    assert kinds[0] == "create" and "update" in kinds and kinds.count("comment") == 1
    assert all(set(e) >= {"at", "actor", "kind", "transition", "from", "to", "changes", "comment",
                          "definitions_version"} for e in events["items"])
    status, events = api("GET", f"/api/tickets/{number}/events", "lars")
    assert [e["kind"] for e in events["items"]].count("comment") == 2


def test_queue_filters_search_and_keyset_pagination(api: Api) -> None:
    for i in range(5):
        create(api, short_description=f"Printer {i} jams")
    create(api, "ruth", short_description="VPN drops", category="network", service="vpn")
    status, page = api("GET", "/api/tickets?limit=2", "rita")
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    numbers = [t["number"] for t in page["items"]]
    while page["next_cursor"]:
        status, page = api("GET", f"/api/tickets?limit=2&cursor={page['next_cursor']}", "rita")
        numbers += [t["number"] for t in page["items"]]
    assert numbers == [f"INC000000{i}" for i in range(5, 0, -1)]  # rita's own, newest first
    status, page = api("GET", "/api/tickets?team=network_ops", "lars")
    assert [t["requester"] for t in page["items"]] == ["ruth"]
    status, page = api("GET", "/api/tickets?q=printer%203", "lars")
    assert [t["fields"]["short_description"] for t in page["items"]] == ["Printer 3 jams"]
    status, page = api("GET", "/api/tickets?q=INC0000006", "lars")
    assert [t["number"] for t in page["items"]] == ["INC0000006"]
    assert_error(api("GET", "/api/tickets?cursor=garbage"), 400)
    assert_error(api("GET", "/api/tickets?limit=0"), 400)
    assert_error(api("GET", "/api/tickets?limit=abc"), 400)
    assert_error(api("GET", "/api/tickets?colour=red"), 400)


def test_openapi_document_describes_exactly_the_routes(app: Flask, api: Api) -> None:
    status, document = api("GET", "/api/openapi.json", None)
    assert status == 200 and document["openapi"].startswith("3.1")
    routes: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == documented


def test_requesters_do_not_edit_fields_and_odd_text_is_a_400(api: Api) -> None:
    number = create(api)["number"]
    assert_error(api("PATCH", f"/api/tickets/{number}", "rita", json={"fields": {"impact": "high"}}), 403)
    assert_error(api("POST", "/api/tickets", json={"process": "incident", "fields": {
        "short_description": "Null \x00 byte"}}), 400)
    assert_error(api("POST", f"/api/tickets/{number}/comments", data='{"text": "\\udc00"}',
                     content_type="application/json"), 400)
    assert_error(api("GET", "/api/tickets?q=%00"), 400)
    assert_error(api("GET", "/api/tickets/INC%00"), 400)
    import base64

    huge = base64.urlsafe_b64encode(b"id:99999999999999999999999").decode()
    assert_error(api("GET", f"/api/tickets?cursor={huge}"), 400)
    status, found = api("GET", "/api/tickets?q=100%25", "lars")  # % is searched for, not a wildcard
    assert status == 200 and found["items"] == []


def test_search_finds_non_ascii_text(api: Api) -> None:
    create(api, short_description="Drucker in München streikt")
    status, page = api("GET", "/api/tickets?q=münchen", "lars")
    assert status == 200 and len(page["items"]) == 1
