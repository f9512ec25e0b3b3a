"""Triage assistance in the pages (SPEC 16): suggestions on the classify form (one click takes one, nothing is
pre-selected), suggestions and similar incidents on the ticket page, similar solved tickets while a
requester types; each person sees only the tickets they may see."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.people.users import add_user
from itsm.engine.reports.triage import train
from itsm.web import engine_of

from support import DEFINITIONS, deployed_app, labelled_incidents, solved_history

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PRINTER = {"short_description": "打印机卡纸", "description": "打印机卡纸了，纸卡在里面拿不出来"}


@pytest.fixture()
def app(db_url: str) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    engine = engine_of(app)
    for name in ("lars", "rita", "ruth"):
        add_user(engine.db, name, password=f"{name}-pw", locale="zh-CN" if name == "ruth" else "en")
    solved_history(engine, labelled_incidents()[:240], requester="ruth")
    [result] = train(engine)
    assert result.model_id is not None
    return app


def signed_in(app: Flask, name: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    token = TOKEN.search(client.get("/login").text)
    assert token is not None
    response = client.post("/login", data={"name": name, "password": f"{name}-pw", "csrf_token": token.group(1)})
    assert response.status_code == 302
    page = client.get("/portal").text
    found = TOKEN.search(page)
    return client, found.group(1) if found else ""


def test_the_classify_form_offers_suggestions_and_selects_none(app: Flask) -> None:
    engine = engine_of(app)
    number = engine.create(engine.actor("rita"), "incident", {**PRINTER, "category": "other"})["number"]
    lars, _ = signed_in(app, "lars")
    page = lars.get(f"/tickets/{number}/transitions/classify").text
    assert "Suggested:" in page and "Likely team:" in page and "% sure" in page and "Weighed most:" in page
    assert 'href="?category=hardware" data-take="category" data-value="hardware"' in page
    assert '<option value="other" selected>' in page and '<option value="hardware" selected>' not in page
    taken = lars.get(f"/tickets/{number}/transitions/classify?category=hardware").text  # the click, without JS
    assert '<option value="hardware" selected>' in taken
    ignored = lars.get(f"/tickets/{number}/transitions/classify?category=nonsense&impact=high").text
    assert '<option value="other" selected>' in ignored and '<option value="high" selected>' not in ignored

    ticket = lars.get(f"/tickets/{number}").text
    assert "Suggestions" in ticket and "Similar incidents" in ticket and "HIS0" in ticket


def test_requesters_see_only_their_own_similar_tickets(app: Flask) -> None:
    engine = engine_of(app)
    number = engine.create(engine.actor("rita"), "incident", PRINTER)["number"]
    rita, token = signed_in(app, "rita")
    page = rita.get(f"/tickets/{number}").text
    assert "HIS0" not in page and 'id="triage-suggestions"' not in page  # no agent's suggestions either
    assert "Set by triage model" not in page  # the desk's bookkeeping (docs/decisions.md): agents read it
    lars, _ = signed_in(app, "lars")
    assert "Set by triage model" in lars.get(f"/tickets/{number}").text  # the timeline names the model

    typed: dict[str, Any] = {"_process": "incident", "csrf_token": token, **PRINTER}
    assert rita.post("/forms/suggestions", data=typed).get_json() == []  # ruth's tickets are ruth's
    ruth, token = signed_in(app, "ruth")
    items = ruth.post("/forms/suggestions", data={**typed, "csrf_token": token}).get_json()
    assert items and all(item["number"].startswith("HIS") for item in items)
    assert all(item["state"] == "Closed" for item in items)  # the state's label (the default pack's is English)
    assert all(re.fullmatch(r"相似度 \d+%", item["similarity"]) for item in items)
