"""Mass outages (issue 17): many incidents linked to one parent as its children (the queue's bulk "link"),
resolved with it by the default pack's trigger `resolve_children` (a `cascade` action), each child's requester
told by its own resolved notice; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from itsm.engine import Engine
from itsm.store import OutboxMessage
from itsm.web import engine_of

from support import api_app

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
