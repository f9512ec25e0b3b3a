"""Visibility by organization (SPEC 14), tried as an attacker would, over HTTP on SQLite and PostgreSQL.

The default pack with an overlay adding a Zhejiang province desk (`org_scope: zhejiang`, zoe) beside the
pack's own Hangzhou city desk (`org_scope: hangzhou`, hugo). A province desk's agent asks for a Jiangsu
ticket by number, its events, comments and transitions, finds it by search, by suggestion, through a
link, in the KPIs and their CSV, with `org=jiangsu`, by mail: it gets what it would get for a ticket that
does not exist. A unit's contact sees the unit's and the sub-units' tickets, not the parent's nor a
sibling's; a plain requester only their own; an unscoped agent everything. Then the same through the pages.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine import Engine
from itsm.engine.channels.mail import receive_mail
from itsm.engine.people.demo import DEMO_ORGS, ensure_demo_users
from itsm.engine.people.users import add_user, create_token
from itsm.engine.runtime.definitions import missing_organizations
from itsm.store import Database, orgs
from itsm.web import engine_of

from support import DEFINITIONS, deployed_app

OVERLAY = """kind: pack
id: province
format: 1
extends: {base}
---
kind: team
id: zhejiang_desk
name: Zhejiang desk
tier: L1
roles: [agent]
escalates_to: desktop_support
org_scope: zhejiang
members: [{{user: zoe}}]
---
kind: routing
id: incident_routing
rules:
  - {{id: default, remove: true}}
  - {{id: province_desk, when: "true", team: zhejiang_desk}}
  - {{id: fallback, default: true, team: service_desk}}
"""
TREE = (("zhejiang", None), ("hangzhou", "zhejiang"), ("hz-finance", "hangzhou"), ("hz-finance-it", "hz-finance"),
        ("hz-education", "hangzhou"), ("ningbo", "zhejiang"), ("nb-finance", "ningbo"), ("jiangsu", None),
        ("nanjing", "jiangsu"), ("nj-finance", "nanjing"))
PEOPLE: dict[str, dict[str, Any]] = {
    "zoe": {}, "hugo": {}, "lars": {}, "dana": {}, "admin": {"admin": True},
    "hana": {"org": "hz-finance"}, "hal": {"org": "hz-finance-it"}, "harry": {"org": "hangzhou"},
    "hui": {"org": "hz-education"}, "rita": {"org": "nb-finance"}, "jack": {"org": "nj-finance"},
    "una": {"org": "hz-finance", "org_contact": True},
}
REPORTS = {  # key: (requester, text); every text holds "quokka" so one search finds them all
    "js": ("jack", "Scanner eats pages quokka"),
    "hz": ("hana", "Printer smudges quokka"),
    "hzit": ("hal", "Server room too warm quokka"),
    "hzp": ("harry", "Mayor's laptop slow quokka"),
    "sib": ("hui", "Classroom projector dim quokka"),
    "nb": ("rita", "Ledger export fails quokka"),
}
ZHEJIANG = {"hz", "hzit", "hzp", "sib", "nb"}
HANGZHOU = {"hz", "hzit", "hzp", "sib"}


class Desk:
    """The deployed app, the people's API tokens, and the reported tickets' numbers by key."""

    def __init__(self, app: Flask):
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.engine: Engine = engine_of(app)
        self.tokens: dict[str, str] = {}
        self.numbers: dict[str, str] = {}

    def call(self, who: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
        response = self.client.open(path, method=method, headers={"Authorization": f"Bearer {self.tokens[who]}"},
                                    **kwargs)
        assert response.status_code != 500, response.text
        return response

    def listed(self, who: str, query: str = "") -> set[str]:
        response = self.call(who, f"/api/tickets?limit=200{query}")
        assert response.status_code == 200, response.text
        keys = {number: key for key, number in self.numbers.items()}
        return {keys.get(item["number"], item["number"]) for item in response.get_json()["items"]}

    def key(self, number: str) -> str:
        return {n: k for k, n in self.numbers.items()}.get(number, number)


@pytest.fixture()
def desk(db_url: str, tmp_path: Path) -> Iterator[Desk]:
    (tmp_path / "pack.yaml").write_text(OVERLAY.format(base=DEFINITIONS), encoding="utf-8")
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(tmp_path), "TESTING": True})
    desk = Desk(app)
    db = desk.engine.db
    with db.write() as session:
        for org_id, parent in TREE:
            orgs.add(session, org_id, org_id.title(), parent=parent)
    for name, flags in PEOPLE.items():
        add_user(db, name, email=f"{name}@example.invalid", password=f"{name}-pw", **flags)
        desk.tokens[name] = create_token(db, name)
    for key, (who, text) in REPORTS.items():
        created = desk.call(who, "/api/tickets", "POST", json={"process": "incident", "fields": {
            "short_description": text, "service": "workplace", "category": "hardware"}})
        assert created.status_code == 201, created.text
        desk.numbers[key] = created.get_json()["number"]
    yield desk


def resolve(desk: Desk, key: str) -> None:
    system = desk.engine.actor("system")
    number = desk.numbers[key]
    desk.engine.fire(system, number, "classify", {"service": "workplace", "category": "hardware", "impact": "low",
                                                  "urgency": "low"})
    desk.engine.fire(system, number, "resolve", {"resolution_code": "fixed",
                                                 "resolution_notes": "New toner quokka cartridge"})


def test_routing_follows_the_scopes(desk: Desk) -> None:
    teams = {key: desk.call("admin", f"/api/tickets/{number}").get_json()["team"]
             for key, number in desk.numbers.items()}
    assert teams == {"js": "service_desk", "hz": "hangzhou_desk", "hzit": "hangzhou_desk", "hzp": "hangzhou_desk",
                     "sib": "hangzhou_desk", "nb": "zhejiang_desk"}


def test_a_province_desk_cannot_reach_another_province_s_ticket_by_number(desk: Desk) -> None:
    js = desk.numbers["js"]
    nowhere = desk.call("zoe", "/api/tickets/INC9999999")
    attempts = {
        "ticket": desk.call("zoe", f"/api/tickets/{js}"),
        "events": desk.call("zoe", f"/api/tickets/{js}/events"),
        "comments": desk.call("zoe", f"/api/tickets/{js}/comments"),
        "comment": desk.call("zoe", f"/api/tickets/{js}/comments", "POST", json={"text": "Hi", "internal": True}),
        "transition": desk.call("zoe", f"/api/tickets/{js}/transitions/classify", "POST", json={"fields": {}}),
        "patch": desk.call("zoe", f"/api/tickets/{js}", "PATCH", json={"fields": {"impact": "high"}, "version": 1}),
        "suggestions": desk.call("zoe", f"/api/tickets/{js}/suggestions"),
        "links": desk.call("zoe", f"/api/tickets/{js}/links"),
        "link": desk.call("zoe", f"/api/tickets/{js}/links", "POST", json={"to": desk.numbers["nb"]}),
        "review": desk.call("zoe", f"/api/tickets/{js}/review", "POST", json={}),
    }
    for what, response in attempts.items():
        assert response.status_code == 404, what
        assert response.get_json() == {**nowhere.get_json(), "message": f"no ticket {js}"}, what
    assert nowhere.get_json()["message"] == "no ticket INC9999999"
    # nothing was written: the Jiangsu ticket's log holds what its creation wrote only
    kinds = {e["kind"] for e in desk.call("admin", f"/api/tickets/{js}/events").get_json()["items"]}
    assert kinds == {"create", "routing", "sla"}
    assert desk.call("admin", f"/api/tickets/{js}").get_json()["version"] == 1
    # and linking one of its own tickets to the Jiangsu one says that ticket does not exist either
    refused = desk.call("zoe", f"/api/tickets/{desk.numbers['nb']}/links", "POST", json={"to": js})
    assert refused.status_code == 422 and refused.get_json()["details"] == [{"field": "to",
                                                                             "message": f"no ticket {js}"}]


def test_search_suggestions_and_org_filters_stay_inside_the_scope(desk: Desk) -> None:
    assert desk.listed("zoe") == ZHEJIANG
    assert desk.listed("zoe", "&q=quokka") == ZHEJIANG  # the word is in every ticket's text
    assert desk.listed("zoe", f"&q={desk.numbers['js']}") == set()
    assert desk.listed("zoe", "&org=jiangsu") == set()
    assert desk.listed("zoe", "&org=hangzhou") == HANGZHOU
    assert desk.listed("zoe", "&org=nanjing&q=quokka") == set()
    unknown = desk.call("zoe", "/api/tickets?org=atlantis")
    assert unknown.status_code == 400 and unknown.get_json()["details"] == [{"field": "org",
                                                                             "message": "unknown organization"}]
    assert desk.listed("hugo") == HANGZHOU
    assert desk.listed("hugo", "&org=zhejiang") == HANGZHOU  # the filter never widens what one sees
    resolve(desk, "js")
    resolve(desk, "nb")
    for who, expected in (("zoe", {"nb"}), ("hugo", set()), ("dana", {"js", "nb"})):
        found = desk.call(who, "/api/suggestions?text=toner+quokka+cartridge&limit=20")
        assert {desk.key(item["number"]) for item in found.get_json()["items"]} == expected, who
    mine = desk.call("zoe", f"/api/tickets/{desk.numbers['hz']}/suggestions?limit=20").get_json()["items"]
    assert {desk.key(item["number"]) for item in mine} == {"nb"}


def test_triage_similar_tickets_stay_inside_the_scope(desk: Desk) -> None:
    """SPEC 16 through SPEC 14: the similar tickets of `POST /api/triage` and `GET /api/tickets/N/triage`
    are only tickets the caller may see: a province desk never another province's, a city desk only its
    city's, a unit's contact its unit's, a requester their own."""
    resolve(desk, "js")
    resolve(desk, "nb")
    typed = {"process": "incident", "fields": {"short_description": "Toner quokka cartridge empty"}}
    visible = {"zoe": ZHEJIANG, "hugo": HANGZHOU, "dana": set(REPORTS), "una": {"hz", "hzit"},
               "rita": {"nb"}, "jack": {"js"}, "hana": {"hz"}}
    solved = {"zoe": {"nb"}, "hugo": set(), "dana": {"js", "nb"}, "una": set(), "rita": {"nb"}, "jack": {"js"},
              "hana": set()}
    for who, sees in visible.items():
        answer = desk.call(who, "/api/triage", "POST", json=typed)
        assert answer.status_code == 200, (who, answer.text)
        similar = answer.get_json()["similar"]
        assert {desk.key(item["number"]) for item in similar} <= sees, who
        assert {desk.key(item["number"]) for item in similar if item["solved"]} == solved[who], who
    # a ticket's own triage: the province desk on a Hangzhou ticket finds Ningbo's solved one, not Jiangsu's
    own = desk.call("zoe", f"/api/tickets/{desk.numbers['hz']}/triage")
    assert own.status_code == 200
    found = {desk.key(item["number"]) for item in own.get_json()["similar"]}
    assert "js" not in found and "hz" not in found and found <= ZHEJIANG
    assert desk.call("zoe", f"/api/tickets/{desk.numbers['js']}/triage").status_code == 404
    assert desk.call("hugo", f"/api/tickets/{desk.numbers['nb']}/triage").status_code == 404


def test_links_to_an_unseen_ticket_are_not_shown(desk: Desk) -> None:
    hz, js = desk.numbers["hz"], desk.numbers["js"]
    assert desk.call("admin", f"/api/tickets/{hz}/links", "POST", json={"to": js}).status_code == 201
    assert [item["number"] for item in desk.call("admin", f"/api/tickets/{hz}/links").get_json()["items"]] == [js]
    assert desk.call("hugo", f"/api/tickets/{hz}/links").get_json()["items"] == []
    shown = desk.call("hugo", f"/api/tickets/{hz}/events").get_json()["items"]
    assert "link" not in [e["kind"] for e in shown] and js not in str(shown)
    assert "link" in [e["kind"] for e in desk.call("admin", f"/api/tickets/{hz}/events").get_json()["items"]]


def test_kpis_and_their_csv_count_the_scope_only(desk: Desk) -> None:
    for who, created in (("zoe", 5), ("hugo", 4), ("lars", 6), ("admin", 6)):
        assert desk.call(who, "/api/kpis").get_json()["tickets"]["created"] == created, who
        rows = list(csv.reader(io.StringIO(desk.call(who, "/api/kpis?format=csv").get_data(as_text=True)
                                           .lstrip("\ufeff"))))
        assert ["tickets_created", "", str(created)] in rows, who
    backlog = desk.call("hugo", "/api/kpis").get_json()["backlog"]["by_team"]
    assert backlog == {"hangzhou_desk": 4}
    assert desk.call("una", "/api/kpis").status_code == 403  # a contact is no agent


def test_a_unit_contact_sees_the_unit_and_its_sub_units_only(desk: Desk) -> None:
    hz = desk.numbers["hz"]
    assert desk.listed("una") == {"hz", "hzit"}
    assert desk.listed("una", "&q=quokka") == {"hz", "hzit"}
    assert desk.listed("una", "&org=hangzhou") == {"hz", "hzit"}
    for key in ("hzp", "sib", "nb", "js"):  # the parent's, a sibling's, other cities' and provinces'
        assert desk.call("una", f"/api/tickets/{desk.numbers[key]}").status_code == 404, key
    assert desk.call("hugo", f"/api/tickets/{hz}/comments", "POST", json={"text": "Toner on order",
                                                                         "internal": True}).status_code == 201
    assert desk.call("una", f"/api/tickets/{hz}").status_code == 200
    assert desk.call("una", f"/api/tickets/{hz}/comments").get_json()["items"] == []  # no work notes
    assert all(not (e["data"] or {}).get("internal")
               for e in desk.call("una", f"/api/tickets/{hz}/events").get_json()["items"] if e["kind"] == "comment")
    assert desk.call("una", f"/api/tickets/{hz}/comments", "POST",
                     json={"text": "Also floor 2", "internal": False}).status_code == 201
    assert desk.call("una", f"/api/tickets/{hz}/comments", "POST",
                     json={"text": "psst", "internal": True}).status_code == 403
    assert desk.call("una", f"/api/tickets/{hz}", "PATCH",
                     json={"fields": {"impact": "high"}, "version": 3}).status_code == 403
    found = desk.call("una", "/api/suggestions?text=quokka&limit=20").get_json()["items"]
    assert {desk.key(item["number"]) for item in found} <= {"hz", "hzit"}


def test_plain_requesters_see_their_own_and_unscoped_agents_everything(desk: Desk) -> None:
    assert desk.listed("hana") == {"hz"}
    assert desk.listed("hana", "&org=hz-finance") == {"hz"}
    assert desk.call("hana", f"/api/tickets/{desk.numbers['hzit']}").status_code == 404
    assert desk.listed("jack") == {"js"}
    assert desk.listed("dana") == set(REPORTS)
    assert desk.listed("dana", "&org=jiangsu") == {"js"}
    assert desk.call("dana", f"/api/tickets/{desk.numbers['js']}").status_code == 200
    assert desk.listed("lars", "&org=zhejiang") == ZHEJIANG


def test_a_mail_reply_to_an_unseen_ticket_opens_a_new_one(desk: Desk) -> None:
    js = desk.numbers["js"]
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "zoe@example.invalid", "desk@example.invalid", f"Re: [{js}]"
    message["Message-ID"] = "<zoe-1@example.invalid>"
    message.set_content("What is this about?")
    result = receive_mail(desk.engine, message.as_bytes())
    assert result["action"] == "created" and result["number"] != js
    assert desk.call("admin", f"/api/tickets/{js}/comments").get_json()["items"] == []


# -- the pages ------------------------------------------------------------------------------------------------

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def signed_in(app: Flask, name: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login")
    token = TOKEN.search(page.text)
    assert token is not None
    response = client.post("/login", data={"csrf_token": token.group(1), "name": name, "password": f"{name}-pw"})
    assert response.status_code == 302, response.text
    return client


def numbers_on(desk: Desk, html: str) -> set[str]:
    return {key for key, number in desk.numbers.items() if number in html}


def test_the_pages_apply_the_same_rule(desk: Desk) -> None:
    hugo = signed_in(desk.app, "hugo")
    for key in ("js", "nb"):
        assert hugo.get(f"/tickets/{desk.numbers[key]}").status_code == 404, key
    assert hugo.get(f"/tickets/{desk.numbers['hz']}").status_code == 200
    assert numbers_on(desk, hugo.get("/queue").text) == HANGZHOU
    assert numbers_on(desk, hugo.get("/queue?q=quokka").text) == HANGZHOU
    assert numbers_on(desk, hugo.get("/queue?org=hz-finance").text) == {"hz", "hzit"}
    assert hugo.get("/queue?org=atlantis").status_code == 400
    assert hugo.get("/dashboard").status_code == 200
    una = signed_in(desk.app, "una")
    portal = una.get("/portal")
    assert portal.status_code == 200 and numbers_on(desk, portal.text) == set()  # she reported nothing
    assert "Hz-Finance" in portal.text  # the tab of her organization's tickets, by its name
    assert numbers_on(desk, una.get("/portal?view=org").text) == {"hz", "hzit"}
    assert una.get(f"/tickets/{desk.numbers['hzp']}").status_code == 404
    hana = signed_in(desk.app, "hana")
    assert numbers_on(desk, hana.get("/portal?view=org").text) == {"hz"}  # not a contact: her own only
    assert "Hz-Finance" not in hana.get("/portal").text


# -- the demo data ----------------------------------------------------------------------------------------------

def test_the_demo_data_shows_a_city_desk_and_a_unit_contact(db: Database) -> None:
    """`itsm serve --demo --pack examples/gov-desk`: the organization tree in Chinese, hana's report goes to
    the Hangzhou city desk, rita's to the provincial desk, and rita's unit's contact sees it."""
    engine = Engine(db)
    first = engine.definitions.publish_path(DEFINITIONS.parent / "examples" / "gov-desk")
    about_orgs = [line for line in first.warnings if ": org_scope: " in line]  # and one per user not yet made
    assert [line.split(": ", 3)[2] for line in about_orgs] == ["team/hangzhou_desk"]
    ensure_demo_users(db, language="zh-CN")
    with db.read() as session:
        assert orgs.names_of(session, [org.id for org in DEMO_ORGS])["hangzhou"] == "杭州市"
        assert orgs.lineage_of(session, "hz-education") == ("hz-education", "hangzhou", "zhejiang")
    assert ensure_demo_users(db, language="zh-CN") == []  # a second start leaves everything as it is
    hana = engine.create(engine.actor("hana"), "incident", {"short_description": "投影仪不亮"})
    rita = engine.create(engine.actor("rita"), "incident", {"short_description": "财务系统登录缓慢"})
    assert (hana["team"], hana["assignee"], rita["team"]) == ("hangzhou_desk", "hugo", "service_desk")
    seen = {item["number"] for item in engine.list_tickets(engine.actor("una"), {})[0]}
    assert seen == {rita["number"]}
    assert {item["number"] for item in engine.list_tickets(engine.actor("hugo"), {})[0]} == {hana["number"]}
    with db.read() as session:
        assert missing_organizations(session, engine.definitions.active().pack) == ()
