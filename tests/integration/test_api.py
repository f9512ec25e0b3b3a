"""The JSON API (SPEC 10) on SQLite and PostgreSQL: every endpoint, every error status, never a 500."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from support import api_app

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}


@pytest.fixture()
def app(db_url: str) -> Flask:
    return api_app(db_url)


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
    # SPEC 8's order: an unknown transition and a missing role come before the version.
    assert_error(api("POST", f"/api/tickets/{number}/transitions/fly", "lars", json={"version": 1}), 404)
    assert_error(api("POST", f"/api/tickets/{number}/transitions/hold", "rita", json={"version": 1}), 403)
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
    body = assert_error(api("PATCH", f"/api/tickets/{number}", "lars", json={"fields": {"impact": "low"}}), 400)
    assert body["details"] == [{"field": "version", "message": "is required"}]
    assert_error(api("PATCH", f"/api/tickets/{number}", "lars", json={"fields": {"resolved_by": "x"}, "version": 2}),
                 422)
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
    for query, name in [("cursor=garbage", "cursor"), ("limit=0", "limit"), ("limit=abc", "limit"),
                        ("colour=red", "colour"), ("sla=late", "sla"), ("q=" + "printer " * 7000, "q")]:
        body = assert_error(api("GET", f"/api/tickets?{query}"), 400)
        assert [d["field"] for d in body["details"]] == [name], query


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
    assert_error(api("PATCH", f"/api/tickets/{number}", "rita", json={"fields": {"impact": "high"}, "version": 1}),
                 403)
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


# -- SPEC 10 as an outside client reads it: key sets, clocks (SPEC 6), real-client bodies, fuzz -----------

TICKET_KEYS = {"number", "process", "state", "priority", "team", "assignee", "requester", "fields", "sla", "version",
               "created_at", "updated_at", "transitions"}
CLOCK_KEYS = {"status", "target_seconds", "elapsed_seconds", "deadline", "breached", "percent", "started_at",
              "stopped_at"}
EVENT_KEYS = {"at", "actor", "kind", "transition", "from", "to", "changes", "comment", "definitions_version"}
BERLIN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+0[12]:00$")  # the default pack's offsets


def test_ticket_and_clock_representation(api: Api) -> None:
    ticket = create(api)
    assert set(ticket) == TICKET_KEYS
    assert set(ticket["sla"]) == {"response", "resolution"}
    for clock in ticket["sla"].values():
        assert set(clock) == CLOCK_KEYS and isinstance(clock["breached"], bool)
        assert clock["status"] == "running" and BERLIN.match(clock["deadline"]) and BERLIN.match(clock["started_at"])
        assert clock["stopped_at"] is None and clock["target_seconds"] > 0
    for key in ("created_at", "updated_at"):
        assert BERLIN.match(ticket[key])
    number = ticket["number"]
    assert api("POST", f"/api/tickets/{number}/transitions/start", "lars")[0] == 200
    status, held = api("POST", f"/api/tickets/{number}/transitions/hold", "lars",
                       json={"fields": {"hold_reason": "awaiting_user"}})
    assert status == 200 and set(held) == TICKET_KEYS
    paused = held["sla"]["resolution"]
    assert paused["status"] == "paused" and paused["deadline"] is None and paused["stopped_at"] is None
    status, listed = api("GET", "/api/tickets", "lars")
    assert status == 200 and set(listed) == {"items", "next_cursor"}
    assert all(set(item) == TICKET_KEYS for item in listed["items"])
    status, events = api("GET", f"/api/tickets/{number}/events", "lars")  # SLA events are the desk's
    assert set(events) == {"items"} and EVENT_KEYS <= set(events["items"][0])
    assert [e["kind"] for e in events["items"]][0] == "create" and all(BERLIN.match(e["at"]) for e in events["items"])
    deadlines = [e["data"]["deadline"] for e in events["items"] if e["kind"] == "sla" and e["data"]["deadline"]]
    assert deadlines and all(BERLIN.match(d) for d in deadlines)  # stored in UTC, shown with the pack's offset


def test_integral_numbers_in_integer_fields_are_kept_as_integers(api: Api) -> None:
    ticket = create(api, affected_users=12.0)
    assert ticket["fields"]["affected_users"] == 12 and isinstance(ticket["fields"]["affected_users"], int)
    status, ticket = api("PATCH", f"/api/tickets/{ticket['number']}", "lars",
                         json={"fields": {"affected_users": 3e1}, "version": 1})
    assert status == 200 and json.dumps(ticket["fields"]["affected_users"]) == "30"
    assert_error(api("POST", "/api/tickets", json={"process": "incident", "fields": {**LAPTOP, "affected_users": 1.5}}),
                 422)


def test_comments_are_shown_in_the_pack_time_zone(api: Api) -> None:
    number = create(api)["number"]
    assert api("POST", f"/api/tickets/{number}/comments", "lars", json={"text": "On it"})[0] == 201
    status, comments = api("GET", f"/api/tickets/{number}/comments", "rita")
    assert status == 200 and BERLIN.match(comments["items"][0]["at"])


def test_a_chunked_body_is_read_like_any_other(app: Flask, api: Api) -> None:
    """Clients that stream a body send no Content-Length: its version and fields must still count."""
    number = create(api)["number"]
    api("POST", f"/api/tickets/{number}/transitions/start", "lars", json={})

    def chunked(payload: dict[str, Any]) -> tuple[int, Any]:
        response = api.client.post(f"/api/tickets/{number}/transitions/hold",
                                   input_stream=io.BytesIO(json.dumps(payload).encode()),
                                   environ_overrides={"wsgi.input_terminated": True},
                                   headers={"Authorization": f"Bearer {app.config['TOKENS']['lars']}",
                                            "Transfer-Encoding": "chunked", "Content-Type": "application/json"})
        return response.status_code, response.get_json()

    assert_error(chunked({"version": 1, "fields": {"hold_reason": "awaiting_user"}}), 409, "stale_version")
    status, ticket = chunked({"version": 2, "fields": {"hold_reason": "awaiting_user"}})
    assert status == 200 and ticket["state"] == "on_hold" and ticket["fields"]["hold_reason"] == "awaiting_user"


def test_nesting_too_deep_to_parse_is_a_400(api: Api) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = '{"process": "incident", "fields": {"description": ' + deep + "}}"
    assert_error(api("POST", "/api/tickets", data=body, content_type="application/json"), 400)
    assert_error(api("POST", "/api/intake/alertmanager", "admin", data='{"alerts": ' + deep + "}",
                     content_type="application/json"), 400)


def test_a_body_over_the_size_limit_is_refused_before_it_is_read(app: Flask, api: Api) -> None:
    from itsm.web import MAX_REQUEST_BYTES

    huge = json.dumps({"process": "incident", "fields": {**LAPTOP, "description": "x" * MAX_REQUEST_BYTES}})
    assert_error(api("POST", "/api/tickets", data=huge, content_type="application/json"), 413)
    number = create(api)["number"]
    assert_error(api("POST", f"/api/tickets/{number}/comments", data=huge, content_type="application/json"), 413)
    streamed = api.client.post(f"/api/tickets/{number}/comments", input_stream=io.BytesIO(huge.encode()),
                               environ_overrides={"wsgi.input_terminated": True},  # no Content-Length: cut
                               headers={"Authorization": f"Bearer {app.config['TOKENS']['rita']}",
                                        "Transfer-Encoding": "chunked", "Content-Type": "application/json"})
    assert streamed.status_code in (400, 413)  # read no further than the limit: what was read is not JSON
    assert api("GET", f"/api/tickets/{number}/comments")[1]["items"] == []


def test_search_looks_at_the_number_and_text_values_only(api: Api) -> None:
    quoted = create(api, short_description='Error "disk full" on save', description="D drive\\temp is full")
    create(api, short_description="Monitor flickers")
    for term in ("short_description", "impact", ":", "{", "false", "hardware"):  # keys, JSON, non-text fields
        status, page = api("GET", "/api/tickets", "lars", query_string={"q": term})
        assert status == 200 and page["items"] == [], term
    for term in ('"disk full"', "drive\\temp", "INC0000001", "flickers"):
        status, page = api("GET", "/api/tickets", "lars", query_string={"q": term})
        assert status == 200 and len(page["items"]) == 1, term
    status, page = api("GET", "/api/tickets", "lars", query_string={"q": '"disk full"'})
    assert page["items"][0]["number"] == quoted["number"]


def test_internal_comments_stay_hidden_from_requesters_everywhere(api: Api) -> None:
    number = create(api)["number"]
    secret = {"text": "Vendor contract zebra-7 expires", "internal": True}
    assert api("POST", f"/api/tickets/{number}/comments", "lars", json=secret)[0] == 201
    for path in (f"/api/tickets/{number}", f"/api/tickets/{number}/events", f"/api/tickets/{number}/comments",
                 "/api/tickets"):
        status, body = api("GET", path, "rita")
        assert status == 200 and "zebra" not in json.dumps(body), path
    status, page = api("GET", "/api/tickets", "rita", query_string={"q": "zebra"})
    assert page["items"] == []
    status, events = api("GET", f"/api/tickets/{number}/events", "lars")
    assert any(e["comment"] == secret["text"] for e in events["items"])


def test_someone_elses_ticket_is_a_404_on_every_endpoint(api: Api) -> None:
    number = create(api)["number"]
    for method, path, payload in [
            ("GET", f"/api/tickets/{number}", None), ("GET", f"/api/tickets/{number}/events", None),
            ("GET", f"/api/tickets/{number}/comments", None),
            ("POST", f"/api/tickets/{number}/comments", {"text": "x"}),
            ("PATCH", f"/api/tickets/{number}", {"fields": {}, "version": 1}),
            ("POST", f"/api/tickets/{number}/transitions/withdraw", {}),
            ("POST", f"/api/tickets/{number}/transitions/fly", {})]:
        assert_error(api(method, path, "ruth", json=payload), 404, "not_found")
        assert_error(api(method, path, None, json=payload), 401, "unauthorized")


def test_openapi_is_a_valid_document_describing_the_ticket(api: Api) -> None:
    status, document = api("GET", "/api/openapi.json", None)
    assert status == 200
    validate(document)  # raises on a structurally invalid OpenAPI 3.1 document
    schemas = document["components"]["schemas"]
    assert set(schemas["Ticket"]["required"]) == set(schemas["Ticket"]["properties"]) == TICKET_KEYS
    assert set(schemas["Clock"]["required"]) == set(schemas["Clock"]["properties"]) == CLOCK_KEYS
    assert EVENT_KEYS <= set(schemas["Event"]["required"])
    listing = {p["name"] for p in document["paths"]["/api/tickets"]["get"]["parameters"]}
    assert listing >= {"process", "state", "priority", "team", "assignee", "requester", "q", "limit", "cursor"}
    kpis = {p["name"] for p in document["paths"]["/api/kpis"]["get"]["parameters"]}
    assert kpis >= {"from", "to", "process"}


# -- fuzz: whatever arrives, a status below 500 and, for errors, the shape of SPEC 10 ---------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**64, max_value=2**64),
                    st.floats(allow_nan=False), st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
FIELDS = st.dictionaries(st.sampled_from(["short_description", "impact", "urgency", "affected_users", "service",
                                          "hold_reason", "hold_until", "contact_phone", "satisfaction",
                                          "resolved_by", "nope", "state"]), VALUES, max_size=4)
BODIES = st.one_of(
    VALUES,
    st.dictionaries(st.sampled_from(["process", "fields", "requester", "version", "comment", "text", "internal",
                                     "alerts", "to", "kind", "extra"]), st.one_of(VALUES, FIELDS), max_size=4),
    st.fixed_dictionaries({"process": st.sampled_from(["incident", "review", "nope"]), "fields": FIELDS}),
    st.fixed_dictionaries({"fields": FIELDS}, optional={"version": VALUES, "comment": VALUES}))
WRITES = [("POST", "/api/tickets"), ("PATCH", "/api/tickets/{n}"), ("POST", "/api/tickets/{n}/transitions/start"),
          ("POST", "/api/tickets/{n}/transitions/hold"), ("POST", "/api/tickets/{n}/comments"),
          ("POST", "/api/intake/alertmanager"), ("POST", "/api/intake/uptime"), ("POST", "/api/suggestions"),
          ("POST", "/api/tickets/{n}/links"), ("POST", "/api/tickets/{n}/review")]
READS = ["/api/tickets", "/api/kpis", "/api/suggestions", "/api/tickets/{n}", "/api/tickets/{n}/events",
         "/api/tickets/{n}/comments", "/api/tickets/{n}/suggestions"]
QUERY = st.lists(st.tuples(st.sampled_from(["process", "state", "priority", "team", "assignee", "requester", "q",
                                            "limit", "cursor", "sla", "from", "to", "format", "text", "x"]),
                           st.one_of(st.text(max_size=20), st.integers().map(str))), max_size=4)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_well_formed(status: int, body: Any) -> None:
    assert status < 500, body
    if status >= 400:
        assert isinstance(body, dict) and set(body) == {"error", "message", "details"}, body
        assert isinstance(body["error"], str) and body["message"] and isinstance(body["details"], list)
        if status == 422:
            assert body["details"] and all(set(d) == {"field", "message"} for d in body["details"]), body


@FUZZ
@given(endpoint=st.sampled_from(WRITES), payload=BODIES, who=st.sampled_from(["rita", "lars", "admin"]))
def test_fuzzed_bodies_never_fail_the_server(api: Api, endpoint: tuple[str, str], payload: Any, who: str) -> None:
    method, path = endpoint
    raw = json.dumps(payload)
    response = api.client.open(path.format(n="INC0000001"), method=method, data=raw, content_type="application/json",
                               headers={"Authorization": f"Bearer {api.tokens[who]}"})
    assert_well_formed(response.status_code, response.get_json(silent=True))


@FUZZ
@given(path=st.sampled_from(READS), query=QUERY, who=st.sampled_from(["rita", "lars"]))
def test_fuzzed_query_strings_never_fail_the_server(api: Api, path: str, query: list[tuple[str, str]],
                                                     who: str) -> None:
    response = api.client.get(path.format(n="INC0000001"), query_string=query,
                              headers={"Authorization": f"Bearer {api.tokens[who]}"})
    if response.is_json:
        assert_well_formed(response.status_code, response.get_json())
    else:
        assert response.status_code == 200 and response.mimetype == "text/csv"


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe{}", b"NaN", b"[]", b'{"a": 1e999999}', b"1" * 5000, b""])
def test_bodies_that_are_not_json_objects_are_400_everywhere(api: Api, raw: bytes) -> None:
    create(api)
    for method, path in WRITES:
        if path.endswith("/review"):
            continue  # takes no body
        if raw == b"" and "/transitions/" in path:
            continue  # an empty body is no body: fires with nothing
        got = api(method, path.format(n="INC0000001"), "lars", data=raw, content_type="application/json")
        assert_error(got, 400)
