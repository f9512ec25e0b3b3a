"""API error messages in the reader's language (SPEC 15): the token's user's locale, else Accept-Language, else
the pack's language, else English; English word for word as before when nobody asks for another language."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.people.users import set_locale
from itsm.web import create_app, engine_of

from support import api_app

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture()
def app(db_url: str) -> Flask:
    return api_app(db_url)


class Api:
    def __init__(self, client: FlaskClient, tokens: dict[str, str]):
        self.client, self.tokens = client, tokens

    def __call__(self, method: str, path: str, who: str | None = "rita", headers: dict[str, str] | None = None,
                 **kwargs: Any) -> tuple[int, dict[str, Any]]:
        sent = {**(headers or {}), **({"Authorization": f"Bearer {self.tokens[who]}"} if who else {})}
        response = self.client.open(path, method=method, headers=sent, **kwargs)
        body = response.get_json()
        if response.status_code >= 400:
            assert set(body) == {"error", "message", "details"}, body  # the shape of SPEC 10 in every language
        return response.status_code, body


@pytest.fixture()
def api(app: Flask) -> Api:
    return Api(app.test_client(), app.config["TOKENS"])


def create(api: Api) -> str:
    status, body = api("POST", "/api/tickets", json={"process": "incident", "fields": LAPTOP})
    assert status == 201
    return str(body["number"])


def errors(number: str) -> list[tuple[str, str, str | None, dict[str, Any], int, str]]:
    """(method, path, who, request keywords, status, the English message) of each family of errors."""
    missing = {key: value for key, value in LAPTOP.items() if key != "short_description"}
    return [
        ("POST", "/api/tickets", "rita", {"json": {"process": "incident", "fields": missing}}, 422,
         "short_description: Short description is required"),
        ("POST", f"/api/tickets/{number}/transitions/no_such_step", "lars", {"json": {}}, 404,
         "process 'incident' has no transition 'no_such_step'"),
        ("POST", f"/api/tickets/{number}/transitions/start", "rita", {"json": {}}, 403,
         "'start' needs one of these roles: team"),
        ("GET", "/api/tickets/INC9999999", "rita", {}, 404, "no ticket INC9999999"),
        ("POST", f"/api/tickets/{number}/transitions/resume", "lars", {"json": {}}, 409,
         "'resume' is not possible in state 'new' (it starts from on_hold)"),
        ("PATCH", f"/api/tickets/{number}", "lars", {"json": {"fields": {"impact": "high"}, "version": 7}}, 409,
         f"{number} is at version 1, not 7: reload it and try again"),
        ("POST", "/api/tickets", "rita", {"json": {"fields": {}}}, 400, "process: is required"),
        ("POST", "/api/tickets", "rita", {"data": "not json", "content_type": "text/plain"}, 400,
         "the body must be JSON (Content-Type: application/json)"),
        ("GET", "/api/tickets?limit=x", "rita", {}, 400, "limit must be an integer"),
        ("GET", "/api/pack", None, {}, 401,
         "missing API token: send 'Authorization: Bearer <token>' (itsm token create NAME)"),
        ("GET", "/api/no/such/endpoint", None, {}, 404, "The requested URL was not found on the server. If you "
         "entered the URL manually please check your spelling and try again."),
    ]


def test_every_family_of_errors_speaks_chinese_when_asked(api: Api) -> None:
    number = create(api)
    for method, path, who, kwargs, status, english in errors(number):
        got, body = api(method, path, who, ZH, **kwargs)
        assert got == status, (path, body)
        assert CJK.search(body["message"]) and body["message"] != english, body
        assert all(CJK.search(d["message"]) for d in body["details"] if "message" in d), body


def test_english_messages_are_word_for_word_as_before(api: Api) -> None:
    number = create(api)
    for headers in (EN, {}):
        for method, path, who, kwargs, status, english in errors(number):
            got, body = api(method, path, who, headers, **kwargs)
            assert (got, body["message"]) == (status, english), body


def test_values_stay_as_they_are_inside_the_translated_sentence(api: Api) -> None:
    number = create(api)
    _, body = api("POST", f"/api/tickets/{number}/transitions/start", "rita", ZH, json={})
    assert body["message"] == "执行“start”需要以下角色之一：team"
    _, body = api("POST", "/api/tickets", "rita", ZH, json={"process": "incident", "fields": {
        key: value for key, value in LAPTOP.items() if key != "short_description"}})
    assert body["message"] == "short_description：“Short description”为必填项"
    assert body["details"] == [{"field": "short_description", "message": "“Short description”为必填项"}]
    _, body = api("POST", "/api/tickets", "rita", ZH, json={"fields": {}})
    assert body == {"error": "bad_request", "message": "process：为必填项",
                    "details": [{"field": "process", "message": "为必填项"}]}


def test_the_token_users_locale_comes_before_the_browsers(app: Flask, api: Api) -> None:
    set_locale(engine_of(app).db, "rita", "zh-CN")
    _, body = api("GET", "/api/tickets/INC9999999", "rita", EN)
    assert body["message"] == "不存在工单 INC9999999"
    _, body = api("GET", "/api/tickets/INC9999999", "ruth", ZH)  # another user: the browser's language
    assert body["message"] == "不存在工单 INC9999999"
    _, body = api("GET", "/api/tickets/INC9999999", "ruth")
    assert body["message"] == "no ticket INC9999999"


def test_a_database_without_tables_answers_503_in_the_browsers_language(db_url: str) -> None:
    client = create_app({"DATABASE_URL": db_url, "TESTING": True}).test_client()
    chinese = client.get("/api/health", headers=ZH)
    assert chinese.status_code == 503 and CJK.search(chinese.get_json()["message"])
    assert "itsm db upgrade" in chinese.get_json()["message"]
    english = client.get("/api/health")
    assert english.get_json()["message"] == ("The database has no tables yet: an administrator must run "
                                             "`itsm db upgrade`.")
