"""Mass outages (issue 17): the ongoing outages offered at intake, those like the new incident first (API,
report form, Chinese and English); many incidents linked to one parent as its children (the queue's bulk "link"),
resolved with it by the default pack's trigger `resolve_children` (a `cascade` action), each child's requester
told by its own resolved notice; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import select, update
from test_pages import Browser

from itsm.engine import Engine
from itsm.engine.people.demo import ensure_demo_users
from itsm.engine.people.users import hash_password
from itsm.engine.reports.outages import offered_outages
from itsm.store import OutboxMessage, Ticket, users
from itsm.store.models import utcnow
from itsm.web import engine_of

from support import ROOT, api_app, deployed_app

GOV_DESK = ROOT / "examples" / "gov-desk"

FIELDS = {"service": "workplace", "category": "hardware"}
START = {**FIELDS, "impact": "high", "urgency": "high"}


def call(app: Flask, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    response = app.test_client().open(path, method=method, json=body,
                                      headers={"Authorization": f"Bearer {app.config['TOKENS'][who]}"})
    assert response.status_code != 500, response.get_data(as_text=True)
    return response.status_code, response.get_json(silent=True)


def report(app: Flask, who: str, text: str) -> str:
    status, body = call(app, who, "POST", "/api/tickets", {"process": "incident", "fields": {
        **FIELDS, "short_description": text}})
    assert status == 201, body
    return str(body["number"])


def test_resolving_the_outage_resolves_its_children_and_tells_their_requesters(db_url: str) -> None:
    app = api_app(db_url)
    engine: Engine = engine_of(app)
    outage = report(app, "lars", "Mail server down for the whole province")
    children = {who: report(app, who, f"Cannot send mail ({who})") for who in ("rita", "ruth", "carol")}
    unrelated = report(app, "rita", "Printer jams")

    status, body = call(app, "lars", "POST", "/api/tickets/bulk",
                        {"numbers": list(children.values()), "action": "link", "to": outage})
    assert status == 200 and body["succeeded"] == 3, body
    status, links = call(app, "lars", "GET", f"/api/tickets/{outage}/links")
    assert sorted((link["kind"], link["number"]) for link in links["items"]) == sorted(
        ("child", number) for number in children.values())
    status, refused = call(app, "rita", "POST", "/api/tickets/bulk",
                           {"numbers": [unrelated], "action": "link", "to": outage})
    assert refused["failed"] == 1 and refused["results"][0]["status"] == 403  # only agents link tickets
    assert call(app, "lars", "POST", "/api/tickets/bulk", {"numbers": [unrelated], "action": "link"})[0] == 400

    # ruth withdraws hers before the outage ends: a closed child is left as it is
    assert call(app, "ruth", "POST", f"/api/tickets/{children['ruth']}/transitions/withdraw", {})[0] == 200
    with engine.db.write() as session:
        session.execute(OutboxMessage.__table__.delete())
    assert call(app, "lars", "POST", f"/api/tickets/{outage}/transitions/start", {"fields": START})[0] == 200
    status, resolved = call(app, "lars", "POST", f"/api/tickets/{outage}/transitions/resolve", {"fields": {
        "resolution_code": "fixed", "resolution_notes": "Mail server restarted"}})
    assert status == 200 and resolved["state"] == "resolved", resolved

    system = engine.actor("system")
    for who in ("rita", "carol"):
        child = engine.get(system, children[who])
        assert child["state"] == "resolved"
        assert child["fields"]["resolution_notes"] == "Mail server restarted"
        events = engine.events(system, children[who])
        assert any(e["transition"] == "resolve_with_outage" and e["actor"] == "system" for e in events)
        comments = [c["text"] for c in engine.comments(system, children[who])]
        assert f"Resolved with {outage}: Mail server restarted" in comments
    assert engine.get(system, children["ruth"])["state"] == "cancelled"
    assert engine.get(system, unrelated)["state"] == "new"
    with engine.db.read() as session:
        notices = session.execute(select(OutboxMessage.recipients).where(
            OutboxMessage.notification == "resolved_notice")).scalars().all()
    told = {recipient for recipients in notices for recipient in recipients}
    assert {"user:rita", "user:carol"} <= told and "user:ruth" not in told


# -- offered at intake when a recent parent matches ------------------------------------------------------

def outages(app: Flask, who: str, text: str, method: str = "GET") -> tuple[int, Any]:
    if method == "POST":
        return call(app, who, "POST", "/api/outages", {"process": "incident", "text": text})
    return call(app, who, "GET", f"/api/outages?{urlencode({'process': 'incident', 'text': text})}")


def test_the_outages_like_the_new_incident_are_offered_first_and_the_others_after(db_url: str) -> None:
    app = api_app(db_url)
    engine: Engine = engine_of(app)
    mail = report(app, "lars", "Mail server down for the whole province")
    vpn = report(app, "lars", "VPN gateway unreachable from every office")
    printer = report(app, "lars", "Printer queue stuck on the third floor")
    for parent in (mail, vpn):  # two outages with children; the printer one is P1 only
        call(app, "lars", "POST", "/api/tickets/bulk", {"numbers": [report(app, "rita", "Same here")], "action": "link",
                                                       "to": parent})
    system = engine.actor("system")
    engine.fire(system, printer, "start", {**START})  # high impact and urgency: the most urgent priority
    old = report(app, "lars", "Mail server down last week")
    call(app, "lars", "POST", "/api/tickets/bulk", {"numbers": [report(app, "rita", "x" * 6)], "action": "link",
                                                   "to": old})
    engine.clock = lambda: utcnow() + timedelta(hours=1)
    with engine.db.write() as session:  # created four days ago: no longer offered
        session.execute(update(Ticket).where(Ticket.number == old).values(
            created_at=utcnow() - timedelta(days=4)))

    status, found = outages(app, "lars", "Cannot send mail: Outlook says the mail server is unavailable")
    assert status == 200, found
    assert [o["number"] for o in found["matching"]] == [mail]
    assert found["matching"][0]["children"] == 1 and 0 < found["matching"][0]["score"] <= 1
    assert [o["number"] for o in found["other"]] == [printer, vpn]  # newest first
    assert old not in {o["number"] for group in found.values() for o in group}

    status, found = outages(app, "lars", "VPN gateway unreachable, mail server down?", "POST")
    assert [o["number"] for o in found["matching"]] == [vpn, mail]  # most similar first
    status, found = outages(app, "lars", "")
    assert found["matching"] == [] and [o["number"] for o in found["other"]] == [printer, vpn, mail]
    status, found = outages(app, "lars", "Cannot print: the printer queue?")
    assert [o["number"] for o in found["matching"]] == [printer]

    assert outages(app, "rita", "mail")[0] == 403  # requesters attach nothing to outages
    assert call(app, "lars", "GET", "/api/outages?text=mail")[0] == 400
    assert call(app, "lars", "GET", "/api/outages?process=nope")[0] == 400
    assert call(app, "lars", "GET", "/api/outages?process=incident&limit=3")[0] == 400


def test_the_report_form_groups_the_outages_by_what_is_typed(db_url: str) -> None:
    app = api_app(db_url)
    mail = report(app, "lars", "Mail server down for the whole province")
    vpn = report(app, "lars", "VPN gateway unreachable from every office")
    for parent in (mail, vpn):
        call(app, "lars", "POST", "/api/tickets/bulk", {"numbers": [report(app, "rita", "Same here")], "action": "link",
                                                       "to": parent})
    lars = signed_in(app, "lars")
    page = lars.get("/new/incident").text
    matching, other = _groups(page)
    assert matching == [] and other == [vpn, mail]
    typed = lars.post("/forms/outages", {"_process": "incident", "short_description": "No mail since 9:00",
                                          "description": "Outlook: the mail server is unavailable"}).get_json()
    assert [o["number"] for o in typed["matching"]] == [mail] and "1 linked" in typed["matching"][0]["label"]
    assert [o["number"] for o in typed["other"]] == [vpn]
    sent = lars.post("/new/incident", {"short_description": "No mail since 9:00", "service": "nope",
                                       "description": "the mail server is unavailable", "_outage": mail})
    assert sent.status_code == 422  # sent back with a problem: the picker keeps the choice, matches first
    matching, other = _groups(sent.text)
    assert matching == [mail] and other == [vpn]
    assert f'<option value="{mail}" selected>' in sent.text
    rita = signed_in(app, "rita")
    assert "f-outage" not in rita.get("/new/incident").text
    assert rita.post("/forms/outages", {"_process": "incident", "short_description": "mail"}).get_json() == {
        "matching": [], "other": []}


def signed_in(app: Flask, name: str) -> Browser:
    """A browser signed in as one of `api_app`'s users (who have no password until now)."""
    with engine_of(app).db.write() as session:
        users.set_values(session, name, {"password_hash": hash_password(f"{name}-pw")})
    return Browser(app, name)


def _groups(page: str) -> tuple[list[str], list[str]]:
    """The numbers in the report form's two groups of outages."""
    found = {group: re.findall(r'<option value="(\w+)"', options) for group, options in re.findall(
        r'<optgroup label="[^"]*" data-group="(\w+)"[^>]*>(.*?)</optgroup>', page)}
    return found.get("matching", []), found.get("other", [])


def test_a_chinese_outage_is_offered_for_a_chinese_report(db_url: str) -> None:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(GOV_DESK), "TESTING": True})
    engine: Engine = engine_of(app)
    ensure_demo_users(engine.db)
    lars = engine.actor("lars")
    zh = {"impact": "wide", "urgency": "high"}
    documents = engine.create(lars, "incident", {"short_description": "全省电子公文系统无法登录", **zh})["number"]
    portal = engine.create(lars, "incident", {"short_description": "单位门户网站首页无法打开", **zh})["number"]
    found = offered_outages(engine, lars, "incident", "公文系统登录不了，一直转圈")
    assert [o["number"] for o in found["matching"]] == [documents]
    assert [o["number"] for o in found["other"]] == [portal]
    for unlike in ("电脑无法开机", "财务报销单无法提交"):  # only 无法 in common: not the same outage
        found = offered_outages(engine, lars, "incident", unlike)
        assert found["matching"] == [] and len(found["other"]) == 2
    found = offered_outages(engine, lars, "incident", "门户网站打不开了")
    assert [o["number"] for o in found["matching"]] == [portal]
