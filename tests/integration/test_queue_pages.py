"""The queue page, its bulk bar and the ticket page's assignment through Flask's test client, on SQLite and
PostgreSQL (issue 17): views as tabs, "page N of M" with previous and next over keyset pages, rows at risk and
breached marked with a word, bulk assign with CSRF, a bulk step refused with the tickets that cannot take it,
assign to me, the people look-up and a ticket recorded for a caller. (tests/browser drives it in Chromium.)"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.people.users import add_user
from itsm.engine.worker import sweep
from itsm.web import engine_of

from support import DEFINITIONS, Clock, deployed_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ROWS = re.compile(r'<tr data-number="([^"]+)"')
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture()
def clock() -> Clock:
    return Clock(datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN))


@pytest.fixture()
def app(db_url: str, clock: Clock) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    for name in ("rita", "lars", "sam", "dana"):
        add_user(engine_of(app).db, name, password=f"{name}-pw")
    add_user(engine_of(app).db, "wang", email="wang.fang@hz.example", full_name="Wang Fang")
    engine_of(app).clock = clock
    return app


class Browser:
    def __init__(self, app: Flask, name: str):
        self.client: FlaskClient = app.test_client()
        self.token = ""
        self.get("/login")
        assert self.post("/login", {"name": name, "password": f"{name}-pw"}).status_code == 302

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        found = TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **data})


def incidents(app: Flask, count: int, level: tuple[str, str] = ("low", "medium")) -> list[str]:
    engine = engine_of(app)
    return [engine.create(engine.actor("rita"), "incident", {
        "short_description": f"Printer {i} jams", "service": "workplace", "category": "hardware",
        "impact": level[0], "urgency": level[1]})["number"] for i in range(count)]


def test_views_pages_and_marks(app: Flask, clock: Clock) -> None:
    calm = incidents(app, 27)
    urgent = incidents(app, 1, ("high", "high"))[0]
    clock.advance(minutes=20)
    sweep(engine_of(app), deliver=False)
    lars = Browser(app, "lars")
    first = lars.get("/queue").text
    shown = ROWS.findall(first)
    assert len(shown) == 25 and shown[0] == urgent
    assert 'class="risk-breached"' in first and "✖</span> Breached" in first
    assert "28 tickets" in first and "Page 1 of 2" in first and "most urgent first" in first
    assert 'aria-current="page">Open tickets' in first
    next_url = html.unescape(re.search(r'rel="next" href="([^"]+)"', first).group(1))
    second = lars.get(next_url).text
    assert "Page 2 of 2" in second and set(ROWS.findall(second)) == set(calm) - set(shown)
    back = html.unescape(re.search(r'rel="prev" href="([^"]+)"', second).group(1))
    assert ROWS.findall(lars.get(back).text) == shown
    breached = lars.get("/queue?sla=breached").text
    assert ROWS.findall(breached) == [urgent] and 'aria-current="page"><span aria-hidden="true">✖ </span>Breached' \
        in breached
    by_number = ROWS.findall(lars.get("/queue?sort=created").text)
    assert by_number == sorted(by_number) and by_number[0] == calm[0]
    assert lars.get("/queue?cursor=garbage").status_code == 400


def test_bulk_assign_and_a_step_the_selection_does_not_share(app: Flask, clock: Clock) -> None:
    numbers = incidents(app, 5)
    lars = Browser(app, "lars")
    lars.get("/queue")
    missing = lars.client.post("/queue/bulk", data={"number": numbers, "action": "assign", "assign_to": "user:sam"})
    assert missing.status_code == 400  # no CSRF token
    done = lars.post("/queue/bulk", {"number": numbers, "action": "assign", "assign_to": "user:sam",
                                     "back": "/queue?view=x"})
    assert done.status_code == 302 and done.location == "/queue?view=x"
    page = lars.get("/queue?assignee=sam").text
    assert set(ROWS.findall(page)) == set(numbers) and "5 tickets done" in page
    engine = engine_of(app)
    assert {engine.get(engine.actor("lars"), n)["assignee"] for n in numbers} == {"sam"}
    escaped = lars.post("/queue/bulk", {"number": numbers[:1], "action": "assign", "assign_to": "team:network_ops",
                                        "back": "https://elsewhere.example/"})
    assert escaped.location == "/queue"  # only a path of this site
    # network_ops took the first: lars (service desk) may not start it, so nothing starts
    refused = lars.post("/queue/bulk", {"number": numbers[:2], "action": "transition", "transition": "start"})
    page = lars.get(refused.location).text
    assert f"does not apply to {numbers[0]}." in page and numbers[1] not in re.search(
        r"does not apply to ([^<]*)", page).group(1)
    assert engine.get(engine.actor("lars"), numbers[1])["state"] == "new"
    lars.post("/queue/bulk", {"number": numbers[1:3], "action": "transition", "transition": "start"})
    assert {engine.get(engine.actor("lars"), n)["state"] for n in numbers[1:3]} == {"in_progress"}
    lars.post("/queue/bulk", {"number": numbers[3:], "action": "comment", "text": "On it", "internal": "on"})
    last = engine.comments(engine.actor("lars"), numbers[4])[-1]
    assert (last["text"], last["internal"]) == ("On it", True)


def test_ticket_page_sla_banner_and_assignment(app: Flask, clock: Clock) -> None:
    number = incidents(app, 1, ("high", "medium"))[0]
    engine = engine_of(app)
    engine.assign(engine.actor("sam"), number, user="sam")  # whoever routing picked, not lars
    clock.advance(minutes=25)  # 75% of the P2's 30-minute response
    sweep(engine, deliver=False)
    lars = Browser(app, "lars")
    queue = lars.get("/queue").text
    assert 'class="risk-at_risk"' in queue and "⚠</span> At risk" in queue
    assert ROWS.findall(lars.get("/queue?sla=at_risk").text) == [number]
    page = lars.get(f"/tickets/{number}").text
    head = page[:page.index('class="columns"')]  # above the details, the timeline and the side column
    assert 'id="sla-banner"' in head and "SLA at risk" in head and "Next deadline:" in head
    assert "Assign to me" in head and re.search(r"dana — [^<]+ — 0 open", head)
    lars.post(f"/tickets/{number}/assign", {"assign_to": "user:me"})
    assert engine.get(engine.actor("lars"), number)["assignee"] == "lars"
    assert "Assign to me" not in lars.get(f"/tickets/{number}").text
    lars.post(f"/tickets/{number}/assign", {"assign_to": "member:desktop_support:dana"})
    ticket = engine.get(engine.actor("lars"), number)
    assert (ticket["team"], ticket["assignee"]) == ("desktop_support", "dana")
    refused = lars.post(f"/tickets/{number}/assign", {"assign_to": "member:network_ops:dana"})
    assert "not a member of team" in lars.get(refused.location).text
    rita = Browser(app, "rita")
    assert "Assign to me" not in rita.get(f"/tickets/{number}").text
    assert rita.post(f"/tickets/{number}/assign", {"assign_to": "user:me"}).status_code in (302, 403)
    assert engine.get(engine.actor("lars"), number)["assignee"] == "dana"


def test_an_agent_records_a_call_for_a_requester_found_by_name(app: Flask) -> None:
    lars = Browser(app, "lars")
    found = lars.client.get("/people?q=wang.fang").get_json()
    assert [p["name"] for p in found] == ["wang"] and "Wang Fang" in found[0]["label"]
    assert Browser(app, "rita").client.get("/people?q=wang").status_code == 403
    form = lars.get("/new/incident").text
    assert 'name="_requester"' in form
    assert 'name="_requester"' not in Browser(app, "rita").get("/new/incident").text
    created = lars.post("/new/incident", {"_requester": "wang", "short_description": "Phone: printer jams"})
    assert created.status_code == 302
    number = created.location.rsplit("/", 1)[1]
    engine = engine_of(app)
    assert engine.get(engine.actor("wang"), number)["requester"] == "wang"
    wrong = lars.post("/new/incident", {"_requester": "nobody", "short_description": "Phone call"})
    assert wrong.status_code == 422 and "nobody" in wrong.text
