"""Known errors and post-incident reviews (issue 7) on SQLite and PostgreSQL: full-text suggestions, links,
the one-click review."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from itsm.engine import Conflict, Engine, Forbidden, ValidationFailed
from itsm.engine.people.users import add_user
from itsm.engine.reports.known_errors import links, query_terms, suggest, suggest_for_ticket
from itsm.engine.runtime.linking import link
from itsm.engine.runtime.reviews import request_review
from itsm.engine.runtime.search_index import reindex
from itsm.store import Link, SearchDocument
from itsm.web import engine_of

from support import DEFINITIONS, api_app, deployed_app

VPN = ("VPN disconnects every ten minutes", "The VPN client drops the tunnel after ten minutes on hotel Wi-Fi.",
       "Updated the VPN client to 5.2, which keeps the tunnel alive.")
PRINTER = ("Printer jams on floor 3", "Paper jam on the big printer next to the kitchen.", "Replaced the roller.")
MAIL = ("Outlook cannot reach the mail server", "Outlook says it is disconnected from the server.",
        "Repaired the Outlook profile.")
HOSTILE = ['"', '"VPN', 'VPN*', "NEAR(vpn disconnect, 2)", "-vpn", "vpn -disconnect", "title:vpn", "body : vpn",
           "'; DROP TABLE tickets; --", "vpn AND OR NOT", "^vpn", "vpn:*", "(vpn", "vpn & | ! <->", "\\",
           "ö ü é 网络 故障 🙂 ﷺ", "Ｖｐｎ", "x" * 10_000, "vpn " * 3_000, "é" * 10_000, "*", "NEAR", "-", "{}[]"]


def incident(engine: Engine, who: str, texts: tuple[str, str, str], resolve: bool = True, **fields: Any) -> str:
    short, description, notes = texts
    values = {"short_description": short, "description": description, "service": "vpn", "category": "network",
              "impact": "low", "urgency": "low", **fields}
    number = engine.create(engine.actor(who), "incident", values)["number"]
    if resolve:
        system = engine.actor("system")
        engine.fire(system, number, "start")
        engine.fire(system, number, "resolve", {"resolution_code": "fixed", "resolution_notes": notes})
    return number


def numbers(items: list[dict[str, Any]]) -> list[str]:
    return [item["number"] for item in items]


def test_query_terms_are_plain_words_without_stop_words() -> None:
    assert query_terms('"VPN*" NEAR(disconnects, 2) -the title:and') == ["vpn", "near", "disconnects", "2", "title"]
    assert query_terms("the and of it") == [] and query_terms("") == [] and query_terms("*-^\"'") == []
    assert len(query_terms(" ".join(f"word{i}" for i in range(1000)))) == 32


def test_suggestions_rank_the_matching_resolved_incident_first(engine: Engine) -> None:
    vpn = incident(engine, "rita", VPN)
    incident(engine, "rita", PRINTER)
    mail = incident(engine, "rita", MAIL)
    still_open = incident(engine, "rita", VPN, resolve=False)
    cancelled = incident(engine, "rita", VPN, resolve=False)
    engine.fire(engine.actor("rita"), cancelled, "withdraw")
    lars = engine.actor("lars")
    found = suggest(engine, lars, "My VPN keeps disconnecting from the tunnel every few minutes")
    assert found[0]["number"] == vpn and found[0]["title"] == VPN[0] and found[0]["state"] == "resolved"
    assert still_open not in numbers(found) and cancelled not in numbers(found)
    assert found[0]["score"] > (found[1]["score"] if len(found) > 1 else 0)
    assert set(numbers(found)) <= {vpn, mail}  # "disconnected" matches the mail incident too, lower
    engine.fire(engine.actor("rita"), vpn, "close", {"satisfaction": 5})
    assert numbers(suggest(engine, lars, "vpn tunnel"))[0] == vpn  # closed after resolution: still known
    assert numbers(suggest(engine, lars, "vpn tunnel", exclude=vpn)) == []
    assert numbers(suggest(engine, lars, "vpn tunnel", process="review")) == []
    assert suggest(engine, lars, "printer", limit=1)[0]["title"] == PRINTER[0]


def test_requesters_only_get_their_own_tickets(engine: Engine) -> None:
    ritas = incident(engine, "rita", VPN)
    ruths = incident(engine, "ruth", VPN)
    assert numbers(suggest(engine, engine.actor("ruth"), "vpn disconnects")) == [ruths]
    assert numbers(suggest(engine, engine.actor("rita"), "vpn disconnects")) == [ritas]
    assert set(numbers(suggest(engine, engine.actor("lars"), "vpn disconnects"))) == {ritas, ruths}
    assert numbers(suggest(engine, engine.actor("carol"), "vpn disconnects")) == []


def test_hostile_text_never_fails(engine: Engine) -> None:
    vpn = incident(engine, "rita", VPN)
    for text in HOSTILE:
        found = suggest(engine, engine.actor("lars"), text)
        assert isinstance(found, list)
        if text.lower().startswith(("vpn", '"vpn', "^vpn", "(vpn")):
            assert numbers(found)[:1] == [vpn], text


def test_stop_words_and_empty_text_give_no_suggestions(engine: Engine) -> None:
    incident(engine, "rita", VPN)
    lars = engine.actor("lars")
    assert suggest(engine, lars, "") == [] and suggest(engine, lars, "the and of") == []
    with pytest.raises(Exception) as bad:
        suggest(engine, lars, "vpn", limit=0)
    assert getattr(bad.value, "status", None) == 400


def test_the_index_follows_updates_in_the_same_transaction(engine: Engine) -> None:
    vpn = incident(engine, "rita", VPN)
    lars = engine.actor("lars")
    assert suggest(engine, lars, "zebracorn") == []
    engine.update(lars, vpn, {"workaround": "Route through the zebracorn gateway"})
    assert numbers(suggest(engine, lars, "zebracorn")) == [vpn]
    with pytest.raises(ValidationFailed):  # rolled back: the index keeps nothing of it
        engine.update(lars, vpn, {"workaround": "Try the quokkafish relay", "affected_users": 0})
    assert suggest(engine, lars, "quokkafish") == []
    with engine.db.write() as session:  # reindex rebuilds every document from the active forms
        session.execute(SearchDocument.__table__.delete())
    assert suggest(engine, lars, "zebracorn") == []
    assert reindex(engine) == 1 and numbers(suggest(engine, lars, "zebracorn")) == [vpn]


def test_ticket_page_suggestions_and_idempotent_linking(engine: Engine) -> None:
    vpn = incident(engine, "rita", VPN)
    new = incident(engine, "ruth", ("VPN disconnects again", "Tunnel drops every ten minutes", ""), resolve=False)
    lars = engine.actor("lars")
    found = suggest_for_ticket(engine, lars, new)
    assert numbers(found)[0] == vpn and new not in numbers(found) and found[0]["linked"] is False
    assert suggest_for_ticket(engine, engine.actor("ruth"), new) == []  # ruth may not see rita's ticket
    assert link(engine, lars, new, vpn) == ({"from": new, "to": vpn, "kind": "known_error"}, True)
    assert link(engine, lars, new, vpn) == ({"from": new, "to": vpn, "kind": "known_error"}, False)
    with engine.db.read() as session:
        rows = session.execute(select(Link.kind, func.count()).group_by(Link.kind)).all()
    assert dict(rows) == {"known_error": 1, "known_error_of": 1}
    assert suggest_for_ticket(engine, lars, new)[0]["linked"] is True
    assert [e["data"] for e in engine.events(lars, new) if e["kind"] == "link"] == [{"to": vpn, "kind": "known_error"}]
    assert [e["data"] for e in engine.events(lars, vpn) if e["kind"] == "link"] == [
        {"to": new, "kind": "known_error_of"}]
    assert links(engine, lars, new) == [{"kind": "known_error", "number": vpn, "process": "incident",
                                         "state": "resolved", "priority": "P5", "title": VPN[0]}]
    assert links(engine, engine.actor("ruth"), new) == []  # the linked ticket is rita's
    with pytest.raises(Forbidden):
        link(engine, engine.actor("ruth"), new, vpn)
    with pytest.raises(ValidationFailed):
        link(engine, lars, new, new)
    with pytest.raises(ValidationFailed):
        link(engine, lars, new, "INC9999999")
    with pytest.raises(ValidationFailed):
        link(engine, lars, new, vpn, kind="duplicate")


def major(engine: Engine) -> str:
    """A P1 network incident with public and internal comments, worked by nils and resolved."""
    number = incident(engine, "rita", VPN, resolve=False, impact="high", urgency="high")
    nils = engine.actor("nils")
    engine.comment(engine.actor("rita"), number, "Whole sales team is offline")
    engine.comment(nils, number, "Suspect the firmware from last night", internal=True)
    engine.fire(nils, number, "start", comment="Looking at the concentrator")
    engine.fire(nils, number, "resolve", {"resolution_code": "fixed", "resolution_notes": VPN[2]})
    return number


def test_review_in_one_click_copies_the_timeline_and_links_both_ways(engine: Engine) -> None:
    number = major(engine)
    lars = engine.actor("lars")
    review = request_review(engine, lars, number)
    assert review["process"] == "review" and review["state"] == "draft"
    assert (review["requester"], review["assignee"]) == ("lars", "nils")
    assert review["fields"]["incident"] == number and review["fields"]["summary"] == VPN[0]
    timeline = review["fields"]["timeline"]
    assert "Whole sales team is offline" in timeline and "Looking at the concentrator" in timeline
    assert "firmware" not in timeline  # internal comments stay out
    # the pack's labels in its language (en), its time zone labelled by the offset
    assert "Start work (New -> In progress)" in timeline and "Resolve (In progress -> Resolved)" in timeline
    lines = timeline.splitlines()
    assert "created" in lines[0] and any("Resolution code = Fixed" in line for line in lines)
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d \(UTC\+1\)  \w+  ", line) for line in lines)
    with engine.db.read() as session:
        ids = {n: i for n, i in session.execute(select(Link.kind, Link.source_id))}
        assert set(session.scalars(select(Link.kind))) == {"child", "parent"} and len(ids) == 2
    incident_events = engine.events(lars, number)
    assert [e["data"] for e in incident_events if e["kind"] == "review"] == [{"review": review["number"]}]
    assert any(e["transition"] == "request_review" for e in incident_events)
    assert engine.get(lars, number)["fields"]["review_requested"] is True
    with pytest.raises(Conflict) as again:
        request_review(engine, lars, number)
    assert again.value.details == [{"field": "review", "message": review["number"]}]
    assert review["number"] in numbers(suggest(engine, lars, "VPN tunnel", process="review"))  # a review record


def test_review_refused_when_not_resolved_not_major_or_not_service_desk(engine: Engine) -> None:
    lars = engine.actor("lars")
    open_major = incident(engine, "rita", VPN, resolve=False, impact="high", urgency="high")
    with pytest.raises(Conflict, match="once it is resolved"):
        request_review(engine, lars, open_major)
    minor = incident(engine, "rita", PRINTER)  # P5
    with pytest.raises(Conflict, match="not a major incident"):
        request_review(engine, lars, minor)
    review = request_review(engine, lars, major(engine))["number"]
    declared = incident(engine, "rita", MAIL, resolve=False)
    link(engine, lars, declared, review)  # another incident's review as a known error: not this one's review
    engine.update(lars, declared, {"major_incident": True})  # declared major by the service desk: P1
    engine.fire(engine.actor("system"), declared, "start")
    engine.fire(engine.actor("system"), declared, "resolve", {"resolution_code": "fixed", "resolution_notes": "ok"})
    with pytest.raises(Forbidden):
        request_review(engine, engine.actor("nils"), declared)
    assert request_review(engine, lars, declared)["fields"]["incident"] == declared
    with engine.db.read() as session:  # the refused attempts left nothing behind
        assert session.scalar(select(func.count()).select_from(Link)) == 6  # two reviews, one known error


# -- HTTP ----------------------------------------------------------------------------------------------

@pytest.fixture()
def app(db_url: str) -> Flask:
    return api_app(db_url)


def call(app: Flask, method: str, path: str, who: str = "lars", **kwargs: Any) -> tuple[int, Any]:
    response = app.test_client().open(path, method=method, **kwargs,
                                      headers={"Authorization": f"Bearer {app.config['TOKENS'][who]}"})
    assert response.status_code < 500, response.get_data(as_text=True)
    body = response.get_json(silent=True)
    if response.status_code >= 400:
        assert set(body) == {"error", "message", "details"}, body
    return response.status_code, body


def test_http_suggestions_links_and_review(app: Flask) -> None:
    engine = engine_of(app)
    vpn = major(engine)
    status, body = call(app, "GET", "/api/suggestions", query_string={"text": "vpn keeps disconnecting"})
    assert status == 200 and numbers(body["items"]) == [vpn]
    for text in HOSTILE:
        assert call(app, "POST", "/api/suggestions", json={"text": text})[0] == 200
    for text in HOSTILE[:-6]:  # the long ones do not fit a request line
        assert call(app, "GET", "/api/suggestions", query_string={"text": text})[0] == 200
    assert call(app, "GET", "/api/suggestions", "rita", query_string={"text": "the of"}) == (200, {"items": []})
    assert call(app, "GET", "/api/suggestions", query_string={"text": "vpn", "limit": "x"})[0] == 400
    assert call(app, "GET", "/api/suggestions", query_string={"text": "vpn", "limit": "99"})[0] == 400
    assert call(app, "GET", "/api/suggestions", query_string={"text": "vpn", "process": "nope"})[0] == 400
    assert call(app, "GET", "/api/suggestions", query_string={"q": "vpn"})[0] == 400
    assert call(app, "GET", "/api/suggestions")[0] == 400
    assert call(app, "POST", "/api/suggestions", json={"text": 3})[0] == 400
    assert call(app, "GET", "/api/suggestions", query_string={"text": "vpn\x00"})[0] == 400
    assert numbers(call(app, "GET", "/api/suggestions", "ruth", query_string={"text": "vpn"})[1]["items"]) == []

    new = engine.create(engine.actor("ruth"), "incident", {"short_description": "VPN tunnel drops"})["number"]
    status, body = call(app, "GET", f"/api/tickets/{new}/suggestions")
    assert status == 200 and numbers(body["items"]) == [vpn] and body["items"][0]["linked"] is False
    assert call(app, "GET", "/api/tickets/INC0999999/suggestions")[0] == 404
    assert call(app, "GET", f"/api/tickets/{vpn}/suggestions", "ruth")[0] == 404
    assert call(app, "POST", f"/api/tickets/{new}/links", json={"to": vpn, "kind": "known_error"})[0] == 201
    assert call(app, "POST", f"/api/tickets/{new}/links", json={"to": vpn}) == (
        200, {"from": new, "to": vpn, "kind": "known_error"})
    assert numbers(call(app, "GET", f"/api/tickets/{new}/links")[1]["items"]) == [vpn]
    assert call(app, "POST", f"/api/tickets/{new}/links", "ruth", json={"to": vpn})[0] == 403
    assert call(app, "POST", f"/api/tickets/{new}/links", json={"to": "INC0999999"})[0] == 422
    assert call(app, "POST", f"/api/tickets/{new}/links", json={"to": vpn, "kind": "bogus"})[0] == 422
    assert call(app, "POST", f"/api/tickets/{new}/links", json={})[0] == 400
    assert call(app, "POST", f"/api/tickets/{new}/links", data="nope")[0] == 400

    assert call(app, "POST", f"/api/tickets/{new}/review")[0] == 409  # not resolved
    assert call(app, "POST", f"/api/tickets/{vpn}/review", "nils")[0] == 403
    status, review = call(app, "POST", f"/api/tickets/{vpn}/review")
    assert status == 201 and review["process"] == "review" and vpn in review["fields"]["incident"]
    status, body = call(app, "POST", f"/api/tickets/{vpn}/review")
    assert status == 409 and body["details"] == [{"field": "review", "message": review["number"]}]
    assert call(app, "POST", "/api/tickets/INC0999999/review")[0] == 404


def test_ticket_page_shows_known_errors_and_links_in_one_click(db_url: str) -> None:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    engine = engine_of(app)
    for name in ("rita", "ruth", "lars"):
        add_user(engine.db, name, password=f"{name}-pw")
    vpn = incident(engine, "rita", VPN)
    new = engine.create(engine.actor("ruth"), "incident", {"short_description": "VPN tunnel drops"})["number"]

    def signed_in(name: str) -> tuple[Any, str]:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        client.post("/login", data={"csrf_token": token.group(1), "name": name, "password": f"{name}-pw"})
        return client, token.group(1)

    lars, _ = signed_in("lars")
    page = lars.get(f"/tickets/{new}").get_data(as_text=True)
    assert 'id="known-errors"' in page and vpn in page and "Link as known error" in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    response = lars.post(f"/tickets/{new}/links", data={"csrf_token": token.group(1), "to": vpn})
    assert response.status_code == 302
    page = lars.get(f"/tickets/{new}").get_data(as_text=True)
    assert "Link as known error" not in page and ">linked<" in page
    assert lars.post(f"/tickets/{new}/links", data={"to": vpn}).status_code == 400  # no CSRF token
    ruth, _ = signed_in("ruth")
    assert vpn not in ruth.get(f"/tickets/{new}").get_data(as_text=True)  # rita's ticket stays hidden
