"""The pages of SPEC 13 through Flask's test client, on SQLite and PostgreSQL: sessions, CSRF, visibility,
generated forms with per-state flags and `*_when` rules, the queue's filters and keyset pages, the admin area.
(tests/browser drives the same pages in Chromium.)"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from itsm.engine.people.users import add_user
from itsm.store import rows
from itsm.web import create_app, engine_of

from support import DEFINITIONS, deployed_app

PEOPLE = {"rita": {}, "ruth": {}, "lars": {}, "sam": {}, "dana": {}, "admin": {"admin": True}}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture()
def app(db_url: str) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    for name, flags in PEOPLE.items():
        add_user(engine_of(app).db, name, password=f"{name}-pw", **flags)
    return app


class Browser:
    """A test client that signs in and posts forms with the page's CSRF token, as a browser would."""

    def __init__(self, app: Flask, name: str | None = None):
        self.client: FlaskClient = app.test_client()
        self.token = ""
        if name:
            response = self.login(name, f"{name}-pw")
            assert response.status_code == 302, response.text

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        found = TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any], csrf: bool = True) -> Any:
        if csrf:
            if not self.token:
                self.get("/login")
            data = {"csrf_token": self.token, **data}
        return self.client.post(path, data=data)

    def login(self, name: str, password: str, next_path: str = "") -> Any:
        self.get("/login")
        return self.post("/login", {"name": name, "password": password, "next": next_path})

    def report(self, **fields: Any) -> str:
        self.get("/new/incident")
        response = self.post("/new/incident", fields)
        assert response.status_code == 302, response.text
        return str(response.location.rsplit("/", 1)[1])

    def fire(self, number: str, transition: str, **fields: Any) -> Any:
        self.get(f"/tickets/{number}/transitions/{transition}")
        return self.post(f"/tickets/{number}/transitions/{transition}", fields)


# -- sessions and CSRF ----------------------------------------------------------------------------------

def test_login_sets_an_httponly_samesite_session_and_a_wrong_password_is_refused(app: Flask) -> None:
    browser = Browser(app)
    refused = browser.login("rita", "wrong")
    assert refused.status_code == 401 and "Wrong user name or password" in refused.text
    unknown = browser.login("nobody", "rita-pw")
    assert unknown.status_code == 401
    accepted = browser.login("rita", "rita-pw")
    assert accepted.status_code == 302
    cookie = accepted.headers["Set-Cookie"]
    assert cookie.startswith("itsm_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert browser.get("/").location.endswith("/portal")


def test_a_sign_in_lasts_twelve_hours_unless_configured(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    import itsdangerous.timed

    from itsm.web.security import session_lifetime

    assert app.permanent_session_lifetime == timedelta(hours=12)
    monkeypatch.setenv("ITSM_SESSION_HOURS", "8.5")
    assert session_lifetime() == timedelta(hours=8.5)
    monkeypatch.setenv("ITSM_SESSION_HOURS", "soon")  # not a number: the default, not a crash
    assert session_lifetime() == timedelta(hours=12)
    rita = Browser(app, "rita")
    assert rita.get("/portal").status_code == 200
    issued = itsdangerous.timed.time.time()
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: issued + 11.9 * 3600)
    assert rita.get("/portal").status_code == 200
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: issued + 12.1 * 3600)
    assert rita.get("/portal").location.startswith("/login")  # a copied cookie is not good for a month


def test_repeated_wrong_passwords_lock_the_name_for_a_while_on_every_worker(app: Flask, db_url: str) -> None:
    from datetime import timedelta

    from itsm.engine.errors import TooManyAttempts, Unauthorized
    from itsm.engine.people.users import FREE_FAILURES, authenticate
    from itsm.store.models import utcnow

    guesser = Browser(app)
    for _ in range(FREE_FAILURES):
        assert guesser.login("rita", "guess").status_code == 401
    locked = guesser.login("rita", "rita-pw")  # even the right password waits now
    assert locked.status_code == 429 and "try again in 1 minute" in locked.text
    other_worker = create_app({"DATABASE_URL": db_url, "TESTING": True})  # the lock is in the database
    assert Browser(other_worker).login("rita", "rita-pw").status_code == 429
    assert Browser(app).login("lars", "lars-pw").status_code == 302  # only that name is locked
    for _ in range(FREE_FAILURES):  # a name nobody has locks the same way: a lock tells nothing
        guesser.login("nobody", "guess")
    assert guesser.login("nobody", "guess").status_code == 429
    db, now = engine_of(app).db, utcnow()
    with pytest.raises(Unauthorized):
        authenticate(db, "rita", "guess", now + timedelta(minutes=1, seconds=1))  # the lock is over: one more
    with pytest.raises(TooManyAttempts, match="2 minutes"):  # ... locks it twice as long
        authenticate(db, "rita", "rita-pw", now + timedelta(minutes=1, seconds=2))
    assert authenticate(db, "rita", "rita-pw", now + timedelta(minutes=4)).name == "rita"
    for _ in range(FREE_FAILURES - 1):  # the right password started the count again
        with pytest.raises(Unauthorized) as refused:
            authenticate(db, "rita", "guess", now + timedelta(minutes=4))
        assert not isinstance(refused.value, TooManyAttempts)


def test_a_wrong_password_costs_one_key_derivation_whoever_the_name_is(app: Flask,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing tells nothing: unknown names and users without a password (made by the mail intake) cost the
    same scrypt work as a wrong password of a real user."""
    import hashlib

    from itsm.engine.people import users

    add_user(engine_of(app).db, "mailed", email="mailed@example.invalid")  # no password
    users._dummy_hash()
    calls: list[int] = []
    real = hashlib.scrypt
    monkeypatch.setattr(users.hashlib, "scrypt", lambda *a, **k: calls.append(1) or real(*a, **k))
    for name in ("rita", "nobody", "mailed"):
        calls.clear()
        assert Browser(app).login(name, "guess").status_code == 401
        assert calls == [1], name


def test_pages_and_the_api_forbid_framing_and_scripts_from_elsewhere(app: Flask) -> None:
    admin = Browser(app, "admin")
    for path in ("/login", "/portal", "/queue", "/admin/", "/admin/processes/incident", "/nowhere", "/api/health"):
        response = admin.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy, path
        assert response.headers["X-Frame-Options"] == "DENY" and response.headers["X-Content-Type-Options"] == "nosniff"
    app.config["MERMAID_JS"] = __file__  # any file: the page then loads Mermaid and starts it
    page = admin.get("/admin/processes/incident").text
    assert page.count("<script src=") == 3  # app.js, Mermaid and diagram.js ...
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []  # ... and no inline script the policy would block


def test_pages_need_a_session_and_return_to_where_people_were_going(app: Flask) -> None:
    browser = Browser(app)
    response = browser.get("/queue")
    assert response.status_code == 302 and "/login?next=/queue" in response.location
    assert browser.login("lars", "lars-pw", next_path="/queue").location == "/queue"
    other = Browser(app)
    assert other.login("lars", "lars-pw", next_path="//evil.example/").location == "/"  # never off-site
    assert Browser(app).get("/admin/").status_code == 302


def test_every_form_post_without_the_csrf_token_is_refused(app: Flask) -> None:
    rita = Browser(app, "rita")
    number = rita.report(short_description="Printer jams on every page")
    before = engine_of(app).events(engine_of(app).actor("rita"), number)
    for path, data in [("/new/incident", {"short_description": "Another printer jam"}),
                       (f"/tickets/{number}/comments", {"text": "hello"}),
                       (f"/tickets/{number}/transitions/withdraw", {}),
                       ("/logout", {}), ("/login", {"name": "rita", "password": "rita-pw"})]:
        response = rita.post(path, data, csrf=False)
        assert response.status_code == 400, path
        assert "security token" in response.text
        wrong = rita.client.post(path, data={**data, "csrf_token": "forged"})
        assert wrong.status_code == 400, path
    assert rita.get(f"/tickets/{number}").status_code == 200  # still signed in, nothing changed
    assert engine_of(app).events(engine_of(app).actor("rita"), number) == before


def test_logout_ends_the_session_and_a_password_change_ends_every_session(app: Flask) -> None:
    rita = Browser(app, "rita")
    assert rita.get("/portal").status_code == 200
    assert rita.post("/logout", {}).status_code == 302
    assert rita.get("/portal").status_code == 302
    dana = Browser(app, "dana")
    from sqlalchemy import update

    from itsm.engine.people.users import hash_password
    from itsm.store import User

    with engine_of(app).db.write() as session:
        session.execute(update(User).where(User.name == "dana").values(password_hash=hash_password("new")))
    assert dana.get("/queue").status_code == 302


# -- requester portal and the ticket page ----------------------------------------------------------------

def test_a_requester_reports_through_the_generated_form_and_script_shows_as_text(app: Flask) -> None:
    rita = Browser(app, "rita")
    page = rita.get("/new/incident").text
    assert 'name="short_description"' in page and "required" in page
    assert 'name="channel"' not in page  # read-only for requesters (readonly_when): shown as text, never posted
    assert 'name="resolution_code"' not in page  # `audience: agent`: never on a requester's form (issue 17)
    agents = Browser(app, "lars").get("/new/incident").text  # an agent's: shown as a rule may need it
    assert 'name="resolution_code"' in agents and re.search(r'data-field="resolution_code"\s+hidden', agents)
    missing = rita.post("/new/incident", {"short_description": ""})
    assert missing.status_code == 422 and "Short description is required" in missing.text
    number = rita.report(short_description="<script>alert('x')</script> VPN drops",
                         description="Every <b>10</b> minutes", location="Room 4.12")
    ticket = rita.get(f"/tickets/{number}").text
    assert "<script>alert" not in ticket and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; VPN drops" in ticket
    assert "Every &lt;b&gt;10&lt;/b&gt; minutes" in ticket and "Room 4.12" in ticket
    assert number in rita.get("/portal").text


def test_a_requester_cannot_open_someone_elses_ticket_nor_is_offered_agent_transitions(app: Flask) -> None:
    rita, ruth = Browser(app, "rita"), Browser(app, "ruth")
    number = rita.report(short_description="Monitor flickers badly")
    assert ruth.get(f"/tickets/{number}").status_code == 404
    assert number not in ruth.get("/portal").text
    assert ruth.get(f"/tickets/{number}/transitions/withdraw").status_code == 404
    page = rita.get(f"/tickets/{number}").text
    offered = set(re.findall(r"/transitions/([a-z_]+)\"", page))
    assert offered == {"withdraw"}
    assert rita.get(f"/tickets/{number}/transitions/start").status_code == 403
    forced = rita.post(f"/tickets/{number}/transitions/start", {})
    assert forced.status_code == 403
    assert 'name="internal"' not in page  # internal notes are for agents
    assert rita.get("/queue").location.endswith("/portal")


def test_the_whole_incident_through_the_pages(app: Flask) -> None:
    rita, lars, dana = Browser(app, "rita"), Browser(app, "lars"), Browser(app, "dana")
    number = rita.report(short_description="Docking station gives no picture", service="workplace")
    queue = lars.get("/queue").text
    assert number in queue and 'class="countdown"' in queue and "prio-p4" in queue
    assert lars.fire(number, "classify", service="workplace", category="hardware", impact="medium",
                     urgency="medium").status_code == 302
    escalate_form = lars.get(f"/tickets/{number}/transitions/escalate").text
    assert re.search(r'class="field is-required" data-field="escalation_reason"', escalate_form)
    assert lars.fire(number, "escalate", escalation_reason="Hardware swap needed").status_code == 302
    assert dana.fire(number, "start").status_code == 302
    held = dana.fire(number, "hold", work_notes="waiting")
    assert held.status_code == 422 and "On-hold reason is required" in held.text
    assert dana.fire(number, "hold", hold_reason="awaiting_parts").status_code == 302
    assert dana.fire(number, "resume").status_code == 302
    assert dana.fire(number, "resolve", resolution_code="fixed", resolution_notes="New dock").status_code == 302
    reopen = rita.fire(number, "reopen")
    assert reopen.status_code == 422 and "required" in reopen.text
    assert rita.fire(number, "reopen", reopen_reason="Still black on Mondays").status_code == 302
    assert dana.fire(number, "resolve", resolution_code="fixed", resolution_notes="Firmware").status_code == 302
    assert rita.fire(number, "close", satisfaction="4", feedback="Thanks").status_code == 302
    view = engine_of(app).get(engine_of(app).actor("rita"), number)
    assert view["state"] == "closed" and view["fields"]["satisfaction"] == 4 and view["team"] == "desktop_support"
    timeline = rita.get(f"/tickets/{number}").text
    for label in ("Classify and assign", "Escalate to next tier", "Start work", "Put on hold", "Resume work",
                  "Resolve", "Not solved - reopen", "Confirm and close"):
        assert f"<strong>{label}</strong>" in timeline, label
    assert "★★★★☆ (4/5)" in timeline


def test_an_agent_hands_a_ticket_to_a_named_colleague_from_the_suggested_names(app: Flask) -> None:
    rita, lars = Browser(app, "rita"), Browser(app, "lars")
    number = rita.report(short_description="Printer jams on every page")
    assert lars.fire(number, "classify", service="workplace", category="hardware", impact="low",
                     urgency="low").status_code == 302
    form = lars.get(f"/tickets/{number}/transitions/hand_over").text
    assert 'list="people-hand_over_to"' in form
    suggested = re.findall(r'<option value="([^"]+)">', form.split('<datalist id="people-hand_over_to">')[1])
    assert {"dana", "lars", "sam"} <= set(suggested) and "rita" not in suggested  # agents, not requesters
    refused = lars.fire(number, "hand_over", hand_over_to="nobody")
    assert refused.status_code == 409 and "no user named" in refused.text
    assert lars.fire(number, "hand_over", hand_over_to="dana").status_code == 302
    assert engine_of(app).get(engine_of(app).actor("lars"), number)["assignee"] == "dana"
    assert "Printer jams" in rita.get(f"/tickets/{number}").text  # the new-report form has no suggestions
    assert "<datalist" not in rita.get("/new/incident").text


def test_a_stale_form_is_refused_and_nothing_changes(app: Flask) -> None:
    rita, lars = Browser(app, "rita"), Browser(app, "lars")
    number = rita.report(short_description="Keyboard missing keys")
    lars.get(f"/tickets/{number}/transitions/classify")
    stale_token = lars.token
    engine_of(app).update(engine_of(app).actor("lars"), number, {"location": "Desk 7"})  # version 2
    response = lars.client.post(f"/tickets/{number}/transitions/classify", data={
        "csrf_token": stale_token, "version": "1", "service": "workplace", "category": "hardware",
        "impact": "low", "urgency": "low"})
    assert response.status_code == 409 and "reload it" in response.text
    assert engine_of(app).get(engine_of(app).actor("lars"), number)["state"] == "new"


def test_field_rules_are_evaluated_by_the_server_while_a_form_is_filled_in(app: Flask) -> None:
    rita, lars = Browser(app, "rita"), Browser(app, "lars")
    number = rita.report(short_description="Screen stays black")
    lars.fire(number, "classify", service="workplace", category="hardware", impact="low", urgency="low")
    lars.get(f"/tickets/{number}/transitions/hold")
    base = {"_number": number, "_transition": "hold"}
    plain = lars.post("/forms/state", {**base, "hold_reason": "awaiting_parts"}).get_json()
    assert plain["hold_reason"] == {"visible": True, "required": True, "readonly": False}
    assert plain["vendor_reference"]["visible"] is False
    vendor = lars.post("/forms/state", {**base, "hold_reason": "awaiting_vendor"}).get_json()
    assert vendor["vendor_reference"] == {"visible": True, "required": True, "readonly": False}
    assert lars.post("/forms/state", base, csrf=False).status_code == 400
    create = rita.post("/forms/state", {"_process": "incident", "channel": "monitoring"}).get_json()
    assert "monitoring_link" not in create and "channel" not in create  # agents' fields (issue 17)
    desk = lars.post("/forms/state", {"_process": "incident", "channel": "monitoring"}).get_json()
    assert desk["monitoring_link"]["visible"] is True and desk["channel"]["readonly"] is False


# -- the queue ------------------------------------------------------------------------------------------

def test_the_queue_filters_and_pages_by_keyset(app: Flask) -> None:
    engine = engine_of(app)
    rita = engine.actor("rita")
    numbers = [engine.create(rita, "incident", {"short_description": f"Broken thing number {i}"})["number"]
               for i in range(30)]
    network = engine.create(rita, "incident", {"short_description": "Switch down on floor 3",
                                               "category": "network", "impact": "high", "urgency": "high"})
    lars = Browser(app, "lars")
    first = lars.get("/queue").text
    shown = re.findall(r'data-number="([^"]+)"', first)
    assert len(shown) == 25 and shown[0] == network["number"]
    next_url = re.search(r'href="([^"]+cursor=[^"]+)">Next page', first).group(1).replace("&amp;", "&")
    second = re.findall(r'data-number="([^"]+)"', lars.get(next_url).text)
    assert set(shown).isdisjoint(second) and set(shown) | set(second) == set(numbers) | {network["number"]}
    only = re.findall(r'data-number="([^"]+)"', lars.get("/queue?team=network_ops&priority=P1").text)
    assert only == [network["number"]]
    assert re.findall(r'data-number="([^"]+)"', lars.get("/queue?sla=running&q=floor+3").text) == [network["number"]]
    assert re.findall(r'data-number="([^"]+)"', lars.get("/queue?sla=breached").text) == []
    assert lars.get("/queue?sla=bogus").status_code == 200  # an unknown filter value is ignored on the page
    assert lars.get("/queue?cursor=garbage").status_code == 400


# -- admin ----------------------------------------------------------------------------------------------

def test_the_admin_area_shows_the_pack_and_versions_and_only_admins_get_in(app: Flask, tmp_path: Path) -> None:
    assert Browser(app, "lars").get("/admin/").status_code == 403
    admin = Browser(app, "admin")
    page = admin.get("/admin/").text
    assert "Default service desk" in page and "is valid" in page and "/admin/processes/incident" in page
    assert "stateDiagram-v2" in admin.get("/admin/processes/incident").text
    engine = engine_of(app)
    first = engine.definitions.active_id()
    renamed = tmp_path / "pack"
    shutil.copytree(DEFINITIONS, renamed)
    pack_yaml = renamed / "pack.yaml"
    pack_yaml.write_text(pack_yaml.read_text().replace("name: Default service desk", "name: Renamed desk"))
    engine.definitions.publish_path(renamed)
    second = engine.definitions.active_id()
    assert second != first and "Renamed desk" in admin.get("/admin/").text
    diff = admin.get(f"/admin/diff?old={first}&new={second}")
    assert diff.status_code == 200
    rolled = admin.post("/admin/rollback", {"version": first})
    assert rolled.status_code == 302 and engine.definitions.active_id() == first
    assert admin.get("/admin/diff?old=nope&new=nope").status_code == 404
    republished = admin.post("/admin/publish", {})
    assert republished.status_code == 302 and engine.definitions.active_id() == first  # the folder is unchanged


# -- the web editor (issue 6) ---------------------------------------------------------------------------

@pytest.fixture()
def editable_app(db_url: str, tmp_path: Path) -> tuple[Flask, Path]:
    folder = tmp_path / "pack"
    shutil.copytree(DEFINITIONS, folder)
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(folder), "TESTING": True})
    add_user(engine_of(app).db, "admin", password="admin-pw", admin=True)
    add_user(engine_of(app).db, "lars", password="lars-pw")
    return app, folder


def _changed(before: str, after: str) -> list[str]:
    import difflib

    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0, lineterm="")
            if line[:1] in "+-" and line[:3] not in ("+++", "---")]


def test_editing_one_matrix_cell_in_the_web_editor_changes_one_line_and_publishes(
        editable_app: tuple[Flask, Path]) -> None:
    app, folder = editable_app
    assert Browser(app, "lars").get("/admin/editor/").status_code == 403
    admin = Browser(app, "admin")
    page = admin.get("/admin/editor/").text
    assert 'name="cell:low:high"' in page and 'name="target:response:P3"' in page and 'name="team:network"' in page
    form = {f"cell:{r}:{c}": level for (r, c), level in
            engine_of(app).definitions.active().pack.matrices["incident_priority"].cells.items()}
    file = folder / "priority" / "incident_priority.yaml"
    before = file.read_text()
    old_version = engine_of(app).definitions.active_id()
    response = admin.post("/admin/editor/priority_matrix/incident_priority", {**form, "cell:low:high": "P2"})
    assert response.status_code == 302
    after = file.read_text()
    changed = _changed(before, after)
    assert len(changed) == 2 and "P2" in changed[1], changed
    assert [line for line in before.splitlines() if "#" in line] == [line for line in after.splitlines() if "#" in line]
    assert engine_of(app).definitions.active_id() != old_version
    assert engine_of(app).definitions.active().pack.matrices["incident_priority"].cells[("low", "high")] == "P2"
    assert "1 line changed" in admin.get("/admin/editor/").text


def test_the_web_editor_edits_targets_rules_and_holidays_and_refuses_what_breaks_the_pack(
        editable_app: tuple[Flask, Path]) -> None:
    app, folder = editable_app
    admin = Browser(app, "admin")
    admin.get("/admin/editor/")
    policy = folder / "sla" / "incident_sla.yaml"
    before = policy.read_text()
    assert admin.post("/admin/editor/sla_policy/incident_sla", {"target:response:P3": "3h"}).status_code == 302
    assert len(_changed(before, policy.read_text())) == 2
    pack = engine_of(app).definitions.active().pack
    assert pack.sla_policies["incident_sla"].clocks[0].targets["P3"].seconds == 3 * 3600
    routing = folder / "routing" / "incident_routing.yaml"
    before = routing.read_text()
    moved = admin.post("/admin/editor/routing/incident_routing", {"team:business_apps": "service_desk"})
    assert moved.status_code == 302
    assert len(_changed(before, routing.read_text())) == 2
    assert engine_of(app).definitions.active().pack.routings["incident_routing"].rules[2].team == "service_desk"
    calendar = folder / "calendars" / "office.yaml"
    before = calendar.read_text()
    admin.post("/admin/editor/calendar/office", {"holiday_date": "2026-06-15", "holiday_name": "Company day"})
    added = _changed(before, calendar.read_text())
    assert len(added) == 1 and "2026-06-15" in added[0] and "Company day" in added[0]
    import datetime

    assert engine_of(app).definitions.active().pack.calendars["office"].intervals_on(datetime.date(2026, 6, 15)) == ()
    before = policy.read_text()
    version = engine_of(app).definitions.active_id()
    refused = admin.post("/admin/editor/sla_policy/incident_sla", {"target:response:P3": "3 days"})
    assert refused.status_code == 302 and policy.read_text() == before
    assert engine_of(app).definitions.active_id() == version
    assert "Not saved" in admin.get("/admin/editor/").text
    assert admin.post("/admin/editor/team/nope", {}).status_code == 404


# -- the KPI dashboard (issue 7) ------------------------------------------------------------------------

def test_the_dashboard_draws_the_kpis_for_agents_with_filters_and_a_csv_link(app: Flask) -> None:
    engine = engine_of(app)
    rita = engine.actor("rita")
    for i in range(3):
        engine.create(rita, "incident", {"short_description": f"Broken printer {i}", "impact": "low",
                                         "urgency": "low"}, channel="portal")
    lars = Browser(app, "lars")
    page = lars.get("/dashboard")
    assert page.status_code == 200
    assert page.text.count('role="img" class="chart') == 7 and "Open tickets by team" in page.text
    assert "Tickets created per week" in page.text
    assert '<p class="tile-value">3</p>' in page.text  # created and open
    link = re.search(r'href="(/dashboard/kpis\.csv[^"]*)"', page.text)
    assert link is not None  # the button downloads with the session (the API takes bearer tokens only)
    download = lars.get(link.group(1).replace("&amp;", "&"))
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    assert "metric,dimension,value" in download.text and "tickets_created,,3" in download.text
    assert Browser(app, "rita").get("/dashboard/kpis.csv").location.endswith("/portal")
    # every bar of the backlog drills through to the queue, filtered the same way
    assert 'class="chart-link" href="/queue?team=service_desk"' in page.text
    assert re.search(r'class="chart-link" href="/queue\?priority=P\d"', page.text)
    scoped = lars.get("/dashboard?process=incident")
    assert 'href="/queue?process=incident&amp;team=service_desk"' in scoped.text
    assert lars.get("/queue?team=service_desk").status_code == 200
    filtered = lars.get("/dashboard?from=2000-01-01&to=2000-01-31&team=network_ops")
    assert filtered.status_code == 200 and '<p class="tile-value">0</p>' in filtered.text
    bad = lars.get("/dashboard?from=yesterday")
    assert bad.status_code == 200 and 'class="flash error"' in bad.text
    assert Browser(app, "rita").get("/dashboard").location.endswith("/portal")


def test_the_dashboard_opens_on_the_last_30_days_and_an_emptied_from_is_all_time(app: Flask) -> None:
    """Issue 18: all time by default read a million tickets; the page opens on a recent window instead."""
    import datetime
    from zoneinfo import ZoneInfo

    engine = engine_of(app)
    start = engine.clock()
    ticket = {"short_description": "Broken printer", "impact": "low", "urgency": "low"}
    engine.clock = lambda: start - datetime.timedelta(days=45)
    engine.create(engine.actor("rita"), "incident", ticket)
    engine.clock = lambda: start
    engine.create(engine.actor("rita"), "incident", ticket)
    lars = Browser(app, "lars")
    recent = lars.get("/dashboard").text
    zone = ZoneInfo(engine.definitions.active().pack.timezone)  # lars has no zone of his own: the pack's
    first_day = (start.astimezone(zone).date() - datetime.timedelta(days=29)).isoformat()
    assert f'name="from" value="{first_day}"' in recent and "Tickets created from" in recent
    assert '<p class="tile-value">1</p>' in recent and '<p class="tile-value">2</p>' not in recent
    everything = lars.get("/dashboard?from=&to=").text
    assert "Tickets created at any time" in everything and '<p class="tile-value">2</p>' in everything


def test_a_broken_save_under_watch_shows_its_errors_on_the_admin_page(editable_app: tuple[Flask, Path]) -> None:
    from itsm.engine.authoring.watch import PackWatcher
    from itsm.web.extension import install_watcher

    app, folder = editable_app
    watcher = PackWatcher(engine_of(app).definitions, folder, report=lambda _: None)
    install_watcher(app, watcher)
    active = engine_of(app).definitions.active_id()
    matrix = folder / "priority" / "incident_priority.yaml"
    matrix.write_text(matrix.read_text().replace("low:    {high: P3,", "low:    {high: P9,"))
    assert watcher.check_once().published is None
    page = Browser(app, "admin").get("/admin/").text
    assert "The last save was not published (1 error)" in page
    assert "priority/incident_priority.yaml:" in page and "P9" in page  # the error line, with file and line
    assert engine_of(app).definitions.active_id() == active  # the last good version keeps serving


def test_the_create_form_suggests_solved_tickets_with_similar_text_within_what_the_person_may_see(
        app: Flask) -> None:
    engine = engine_of(app)
    system = engine.actor("system")
    vpn = {"short_description": "VPN disconnects every hour", "description": "The VPN client drops the tunnel"}
    number = engine.create(engine.actor("rita"), "incident", vpn)["number"]
    engine.fire(system, number, "classify", {"service": "vpn", "category": "network", "impact": "low",
                                             "urgency": "low"})
    engine.fire(system, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "New VPN profile"})
    typed = {"_process": "incident", "short_description": "VPN keeps disconnecting", "description": ""}
    for name, expected in (("lars", [number]), ("rita", [number]), ("ruth", [])):
        browser = Browser(app, name)
        browser.get("/new/incident")
        found = browser.post("/forms/suggestions", typed).get_json()
        assert [item["number"] for item in found] == expected, name
    rita = Browser(app, "rita")
    rita.get("/new/incident")
    assert rita.post("/forms/suggestions", {"short_description": "the of and"}).get_json() == []
    assert rita.post("/forms/suggestions", typed, csrf=False).status_code == 400
    page = rita.get("/new/incident").text
    assert 'data-suggest="/forms/suggestions"' in page and 'id="similar"' in page


def test_the_review_button_on_the_ticket_page_is_the_one_click_review(app: Flask) -> None:
    engine = engine_of(app)
    system = engine.actor("system")
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "Whole site offline",
                                                              "impact": "high", "urgency": "high"})["number"]
    engine.fire(system, number, "classify", {"service": "network", "category": "network", "impact": "high",
                                             "urgency": "high"})
    engine.fire(system, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Replaced the PSU"})
    lars = Browser(app, "lars")
    assert f"/tickets/{number}/transitions/request_review" in lars.get(f"/tickets/{number}").text
    lars.get(f"/tickets/{number}/transitions/request_review")
    opened = lars.post(f"/tickets/{number}/transitions/request_review", {"comment": "PIR on Friday"})
    assert opened.status_code == 302
    review = opened.location.rsplit("/", 1)[1]
    assert review != number and engine.get(system, review)["process"] == "review"
    kinds = [e["kind"] for e in engine.events(system, number)]
    assert "review" in kinds and kinds[-1] == "comment"  # the same operation as POST /api/tickets/N/review
    again = lars.post(f"/tickets/{number}/transitions/request_review", {})
    assert again.status_code in (403, 409)  # not offered any more: the guard says it was requested


def test_a_one_input_matrix_is_edited_in_the_web_editor_too(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    shutil.copytree(DEFINITIONS.parent / "tests" / "packs" / "valid" / "change_requests", folder)
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(folder), "TESTING": True})
    add_user(engine_of(app).db, "admin", password="admin-pw", admin=True)
    admin = Browser(app, "admin")
    page = admin.get("/admin/editor/").text
    assert 'name="cell:major"' in page and "edit it in YAML" not in page
    before = (folder / "pack.yaml").read_text()
    response = admin.post("/admin/editor/priority_matrix/change_priority",
                          {"cell:major": "high", "cell:minor": "high", "cell:standard": "routine"})
    assert response.status_code == 302
    assert _changed(before, (folder / "pack.yaml").read_text()) == [
        "-matrix: {major: high, minor: normal, standard: routine}",
        "+matrix: {major: high, minor: high, standard: routine}"]
    assert engine_of(app).definitions.active().pack.matrices["change_priority"].cells[("minor",)] == "high"


# -- deliveries the worker could not make (issue 14) ----------------------------------------------------------

def test_admins_see_undelivered_messages_and_send_a_given_up_one_again(app: Flask) -> None:
    from datetime import UTC, datetime

    from itsm.store import OutboxMessage

    engine = engine_of(app)
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "Printer offline"})["number"]
    now = datetime.now(UTC)
    with engine.db.write() as session:
        session.query(OutboxMessage).delete()
        session.add(OutboxMessage(created_at=now, notification="sla_breach_chat", channel="webhook", recipients=[],
                                  subject="", body="{}", url="https://hooks.example.invalid/robot", status="failed",
                                  attempts=8, next_attempt_at=now, last_error="URLError: no such host"))
        session.add(OutboxMessage(created_at=now, notification="assigned_notice", channel="email",
                                  recipients=["user:lars"], subject="s", body="b", status="pending", attempts=2,
                                  next_attempt_at=now, last_error="ConnectionRefusedError: [Errno 111]"))
        session.add(OutboxMessage(created_at=now, notification="resolved_notice", channel="email",
                                  recipients=["user:rita"], subject="s", body="b", status="sent", attempts=1,
                                  next_attempt_at=now))
    admin = Browser(app, "admin")
    assert 'href="/admin/deliveries"' in admin.get("/admin/").text
    page = admin.get("/admin/deliveries")
    assert page.status_code == 200
    assert "URLError: no such host" in page.text and "given up after 8 tries" in page.text
    assert "ConnectionRefusedError" in page.text and "2 tries so far" in page.text
    assert "resolved_notice" not in page.text  # delivered: not a problem
    failed_id = re.search(r'/admin/deliveries/(\d+)/retry', page.text)
    assert failed_id is not None and page.text.count("/retry") == 1  # only a given-up message is sent again
    assert admin.post(f"/admin/deliveries/{failed_id.group(1)}/retry", {}).status_code == 302
    with engine.db.read() as session:
        row = session.get(OutboxMessage, int(failed_id.group(1)))
        assert row is not None and (row.status, row.attempts) == ("pending", 0)
    assert Browser(app, "lars").get("/admin/deliveries").status_code in (302, 403)
    del number


# -- attach to an ongoing outage at intake (issue 17) ---------------------------------------------------------

def test_an_agent_recording_an_incident_attaches_it_to_an_ongoing_outage(app: Flask) -> None:
    engine = engine_of(app)
    outage = engine.create(engine.actor("lars"), "incident", {
        "short_description": "Mail server down", "service": "workplace", "category": "hardware", "impact": "high",
        "urgency": "high"})["number"]
    calm = engine.create(engine.actor("rita"), "incident", {"short_description": "Mouse", "impact": "low",
                                                            "urgency": "low"})["number"]
    lars = Browser(app, "lars")
    form = lars.get("/new/incident")
    assert f'<option value="{outage}">' in form.text and f'<option value="{calm}">' not in form.text
    created = lars.post("/new/incident", {"short_description": "No mail since 9", "_requester": "ruth",
                                          "_outage": outage})
    assert created.status_code == 302, created.text
    number = created.location.rsplit("/", 1)[1]
    from itsm.engine.reports.known_errors import links

    assert [(item["kind"], item["number"]) for item in links(engine, engine.actor("lars"), number)] == [
        ("parent", outage)]
    assert "1 linked" in lars.get("/new/incident").text  # the outage now shows its child
    assert 'name="_outage"' not in Browser(app, "rita").get("/new/incident").text  # requesters never link


def test_the_ticket_page_says_a_clocks_warnings_and_what_its_breach_actions_changed(app: Flask) -> None:
    """A clock's step is said with its warnings; the event of what its actions changed (an escalation's new
    team) as an update with the changes, not as a clock without a name."""
    engine = engine_of(app)
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "Printer jammed"})["number"]
    with engine.db.write() as session:
        ticket_id = session.scalar(text("SELECT id FROM tickets WHERE number = :n"), {"n": number})
        at, version = datetime.now(UTC), engine.definitions.active_id()
        rows.append(session, ticket_id, [
            {"at": at, "actor": "system", "kind": "sla", "changes": {},
             "data": {"clock": "resolution", "status": "running", "breach": False, "warnings": ["75%"]},
             "definitions_version": version},
            {"at": at, "actor": "system", "kind": "sla", "changes": {"team": ["service_desk", "network_ops"]},
             "data": {}, "definitions_version": version}], [], [])
    page = Browser(app, "lars").get(f"/tickets/{number}").text
    assert "(warning at 75%)" in page
    assert "<strong>None</strong>" not in page and "Updated the ticket." in page
