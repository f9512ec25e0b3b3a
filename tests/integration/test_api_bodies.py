"""Request bodies are checked against the schemas the OpenAPI document declares, before the view runs
(SPEC 10), and every refusal names the field in plain words (issue 13)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm.engine.people.users import add_user, create_token
from itsm.web import engine_of
from itsm.web.bodies import body_problems, declared_bodies, declared_forms, openapi_path
from itsm.web.openapi import openapi_document

from support import DEFINITIONS, deployed_app

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
PYTHON_NAMES = re.compile(r"\b(dict|NoneType|int|str|float|bool)\b|'(dict|int|str|float|list|bool)'")


@pytest.fixture()
def app(db_url: str) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    db = engine_of(app).db
    for name in ("rita", "lars"):
        add_user(db, name)
    add_user(db, "admin", admin=True)
    app.config["TOKENS"] = {name: create_token(db, name) for name in ("rita", "lars", "admin")}
    return app


def caller(path: str) -> str:
    """Who sends a body to `path`: an admin to the endpoints for admins (anyone else gets a 403 first)."""
    return "admin" if path.startswith(("/api/orgs", "/api/users")) else "lars"


def call(app: Flask, method: str, path: str, who: str | None = "lars", **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {app.config['TOKENS'][who]}"} if who else {}
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    assert response.status_code < 500, response.get_data(as_text=True)
    return response.status_code, response.get_json(silent=True)


def ticket(app: Flask) -> str:
    status, body = call(app, "POST", "/api/tickets", "rita", json={"process": "incident", "fields": LAPTOP})
    assert status == 201, body
    return body["number"]


def concrete(path: str, number: str) -> str:
    return path.replace("{number}", number).replace("{transition}", "start").replace("{intake_id}", "alertmanager")


def test_every_json_body_the_api_reads_is_declared() -> None:
    document = openapi_document()
    writes = {(path, method.upper()) for path, ops in document["paths"].items() for method in ops
              if method in ("post", "patch", "put")}
    assert set(declared_forms()) == {("/api/tickets/{number}/attachments", "POST")}  # files: multipart/form-data
    assert set(declared_bodies()) == writes - {("/api/tickets/{number}/review", "POST")} - set(declared_forms())
    assert openapi_path("/api/tickets/<number>/links") == "/api/tickets/{number}/links"


def test_an_unknown_key_is_refused_by_every_endpoint_before_its_view_runs(app: Flask) -> None:
    number = ticket(app)
    for path, method in declared_bodies():
        if path.startswith("/api/intake/"):
            continue  # free-form payloads: any object
        status, body = call(app, method, concrete(path, number), caller(path), json={"zzz": 1})
        assert status == 400 and body["error"] == "bad_request", (path, body)
        assert {"field": "zzz", "message": "unknown key 'zzz'"} in body["details"], (path, body)
    status, events = call(app, "GET", f"/api/tickets/{number}/events")
    assert not [e for e in events["items"] if e["kind"] in ("transition", "comment", "link", "update")]  # none ran


@pytest.mark.parametrize(("method", "path", "payload", "details"), [
    ("POST", "/api/tickets", {"process": 7, "fields": "x"},
     [{"field": "process", "message": "expected text, got a number (7)"},
      {"field": "fields", "message": "expected an object or null, got text ('x')"}]),
    ("POST", "/api/tickets", {"fields": {}}, [{"field": "process", "message": "is required"}]),
    ("PATCH", "/api/tickets/{number}", {"fields": [], "version": "1"},
     [{"field": "fields", "message": "expected an object, got a list"},
      {"field": "version", "message": "expected a whole number, got text ('1')"}]),
    ("PATCH", "/api/tickets/{number}", {"fields": {}, "version": 0},
     [{"field": "version", "message": "must be at least 1, got 0"}]),
    ("POST", "/api/tickets/{number}/transitions/start", {"comment": {"text": "x"}},
     [{"field": "comment", "message": "expected text or null, got an object"}]),
    ("POST", "/api/tickets/{number}/comments", {"text": None, "internal": "yes"},
     [{"field": "text", "message": "expected text, got null"},
      {"field": "internal", "message": "expected true, false or null, got text ('yes')"}]),
    ("POST", "/api/suggestions", {"text": "vpn", "limit": 99},
     [{"field": "limit", "message": "must be at most 20, got 99"}]),
])
def test_refusals_name_the_field_in_words(app: Flask, method: str, path: str, payload: dict[str, Any],
                                         details: list[dict[str, str]]) -> None:
    status, body = call(app, method, path.replace("{number}", ticket(app)), json=payload)
    assert status == 400 and body["details"] == details
    assert body["message"] == "; ".join(f"{d['field']}: {d['message']}" for d in details)


def test_a_value_outside_declared_choices_is_field_validation(app: Flask) -> None:
    number, other = ticket(app), ticket(app)
    status, body = call(app, "POST", f"/api/tickets/{number}/links", json={"to": other, "kind": "knwon_error"})
    assert status == 422 and body["error"] == "validation_failed"
    assert body["details"] == [{"field": "kind", "message": "'knwon_error' is not one of: known_error, "
                                "known_error_of, related, parent, child, null (did you mean 'known_error'?)"}]


def test_optional_keys_may_be_null_and_an_optional_body_may_be_left_out(app: Flask) -> None:
    status, created = call(app, "POST", "/api/tickets", "rita",
                           json={"process": "incident", "fields": LAPTOP, "requester": None})
    assert status == 201 and created["requester"] == "rita"
    number = created["number"]
    assert call(app, "POST", f"/api/tickets/{number}/transitions/start", data="")[0] == 200
    status, held = call(app, "POST", f"/api/tickets/{number}/transitions/hold",
                        json={"fields": {"hold_reason": "awaiting_user"}, "comment": None, "version": None})
    assert status == 200 and held["state"] == "on_hold"
    assert call(app, "POST", f"/api/tickets/{number}/comments", json={"text": "ok", "internal": None})[0] == 201


def test_authentication_comes_before_the_body(app: Flask) -> None:
    number = ticket(app)
    assert call(app, "PATCH", f"/api/tickets/{number}", None, json={"zzz": 1})[0] == 401


TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6)  # storable text
VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 30) | TEXT,
                      lambda inner: st.lists(inner, max_size=2) | st.dictionaries(TEXT, inner, max_size=2),
                      max_leaves=4)
KEYS = ["process", "fields", "requester", "version", "comment", "text", "internal", "to", "kind", "limit", "zzz",
        "id", "name", "parent", "domains", "active", "org"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(sorted(k for k in declared_bodies() if not k[0].startswith("/api/intake/"))),
       payload=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4))
def test_what_the_declared_schema_refuses_the_api_refuses_in_the_same_words(app: Flask, endpoint: tuple[str, str],
                                                                            payload: dict[str, Any]) -> None:
    path, method = endpoint
    problems = body_problems(declared_bodies()[endpoint][0], payload)
    status, body = call(app, method, concrete(path, "INC0000001"), caller(path), data=json.dumps(payload),
                        content_type="application/json")
    if problems:
        assert status == (422 if all(p["keyword"] == "enum" for p in problems) else 400), body
        assert body["details"] == [{"field": p["field"], "message": p["message"]} for p in problems]
    for detail in (body or {}).get("details", []) if status >= 400 else []:
        assert not PYTHON_NAMES.search(detail["message"].split("(", 1)[0]), detail
