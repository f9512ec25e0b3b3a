"""The agents' queue (SPEC 10, issue 17) on SQLite and PostgreSQL: most urgent first by default, closed
tickets hidden unless asked, `count=true`, every sort paged correctly by its cursor, the views (assigned
to me, unassigned, my teams, breached, at risk), bulk actions with one transaction per ticket, assignment
and the people look-up."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from itsm.engine import Engine
from itsm.engine.people.users import add_user, create_token
from itsm.engine.runtime.queue import SORTS
from itsm.engine.worker import sweep
from itsm.store import OutboxMessage, Ticket
from itsm.store.tickets import rank_priorities
from itsm.web import engine_of

from support import Clock, api_app

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)  # office hours: Mon-Fri 08-12, 13-17 Berlin; P1 24x7
BASE = {"short_description": "Something is broken", "service": "workplace", "category": "hardware"}
LEVELS = {"P1": ("high", "high"), "P2": ("high", "medium"), "P3": ("medium", "medium"), "P4": ("low", "medium"),
          "P5": ("low", "low")}


class Api:
    def __init__(self, client: FlaskClient, tokens: dict[str, str]):
        self.client, self.tokens = client, tokens

    def __call__(self, method: str, path: str, who: str = "admin", **kwargs: Any) -> tuple[int, Any]:
        response = self.client.open(path, method=method, headers={"Authorization": f"Bearer {self.tokens[who]}"},
                                    **kwargs)
        assert response.status_code != 500, response.get_data(as_text=True)
        return response.status_code, response.get_json(silent=True)

    def numbers(self, who: str = "admin", **query: str) -> list[str]:
        status, body = self("GET", "/api/tickets", who, query_string={"limit": "200", **query})
        assert status == 200, body
        return [item["number"] for item in body["items"]]

    def walk(self, who: str = "admin", limit: int = 2, **query: str) -> list[str]:
        """Every page of a list, `limit` at a time, by next_cursor."""
        found: list[str] = []
        cursor = None
        for _ in range(100):
            params = {"limit": str(limit), **query, **({"cursor": cursor} if cursor else {})}
            status, body = self("GET", "/api/tickets", who, query_string=params)
            assert status == 200, body
            found += [item["number"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                return found
        raise AssertionError("the cursor never ended")


@pytest.fixture()
def clock() -> Clock:
    return Clock(MONDAY_10)


@pytest.fixture()
def app(db_url: str, clock: Clock) -> Flask:
    app = api_app(db_url)
    engine_of(app).clock = clock
    return app


@pytest.fixture()
def engine(app: Flask) -> Engine:
    return engine_of(app)


@pytest.fixture()
def api(app: Flask) -> Api:
    return Api(app.test_client(), app.config["TOKENS"])


def report(api: Api, level: str, who: str = "rita", **fields: Any) -> str:
    impact, urgency = LEVELS[level]
    status, body = api("POST", "/api/tickets", who, json={"process": "incident", "fields": {
        **BASE, "impact": impact, "urgency": urgency, **fields}})
    assert status == 201 and body["priority"] == level, body
    return str(body["number"])


@pytest.fixture()
def desk(api: Api, engine: Engine, clock: Clock) -> dict[str, str]:
    """Six incidents: one withdrawn (closed), then P4, P3, P1, P2 and P5 a minute apart; at 10:20 the P1's
    15-minute response (24x7) is breached and the worker has marked it; the P2 is due at 10:33."""
    tickets = {"closed": report(api, "P3")}
    status, _ = api("POST", f"/api/tickets/{tickets['closed']}/transitions/withdraw", "rita", json={})
    assert status == 200
    for level in ("P4", "P3", "P1", "P2", "P5"):
        clock.advance(minutes=1)
        tickets[level] = report(api, level)
    clock.now = datetime(2026, 3, 2, 10, 20, tzinfo=BERLIN)
    sweep(engine, deliver=False)
    return tickets


def test_the_agents_queue_is_most_urgent_first_without_closed_tickets(api: Api, desk: dict[str, str]) -> None:
    expected = [desk[level] for level in ("P1", "P2", "P3", "P4", "P5")]  # breached, 10:33, 12:00/13:0x, ...
    assert api.numbers("admin") == expected
    assert api.numbers("lars") == expected  # an agent of the service desk: the same default
    assert api.numbers("admin", sort="urgency") == expected
    status, ticket = api("GET", f"/api/tickets/{desk['P1']}")
    assert ticket["sla"]["response"]["breached"] is True
    # closed tickets only when asked (or when the state is asked for)
    assert desk["closed"] not in api.numbers("lars")
    assert api.numbers("lars", include_closed="true")[-1] == desk["closed"]
    assert api.numbers("lars", state="cancelled") == [desk["closed"]]
    # the requester's own list: newest first, the closed one too
    assert api.numbers("rita") == [desk[k] for k in ("P5", "P2", "P1", "P3", "P4", "closed")]


def test_count_gives_the_total(api: Api, desk: dict[str, str]) -> None:
    status, body = api("GET", "/api/tickets", "lars", query_string={"count": "true", "limit": "2"})
    assert status == 200 and body["total"] == 5 and len(body["items"]) == 2
    status, body = api("GET", "/api/tickets", "lars", query_string={"count": "true", "include_closed": "true"})
    assert body["total"] == 6
    status, body = api("GET", "/api/tickets", "lars", query_string={"count": "true", "q": "broken"})
    assert status == 200 and body["total"] == 5
    status, body = api("GET", "/api/tickets", "lars")
    assert "total" not in body


@pytest.mark.parametrize("closed", ["false", "true"])
def test_every_sort_pages_correctly_by_its_cursor(api: Api, engine: Engine, desk: dict[str, str], clock: Clock,
                                                  closed: str) -> None:
    # ties on purpose: two more P3s at one instant (same deadline, same priority), two tickets without clocks
    clock.advance(minutes=1)
    report(api, "P3")
    report(api, "P3")
    status, _ = api("POST", f"/api/tickets/{desk['P4']}/transitions/withdraw", "rita", json={})
    for sort in SORTS:
        whole = api.numbers("lars", sort=sort, include_closed=closed)
        assert len(whole) == len(set(whole)) == (8 if closed == "true" else 6)
        for limit in (1, 2, 3):
            assert api.walk("lars", limit=limit, sort=sort, include_closed=closed) == whole, (sort, limit)
    created = api.numbers("lars", sort="created", include_closed="true")
    assert api.numbers("lars", sort="-created", include_closed="true") == created[::-1]
    by_priority = api.numbers("lars", sort="priority")
    status, body = api("GET", "/api/tickets", "lars", query_string={"sort": "priority", "limit": "200"})
    assert [t["priority"] for t in body["items"]] == sorted(t["priority"] for t in body["items"])
    assert by_priority[0] == desk["P1"] and by_priority[-1] == desk["P5"]
    status, body = api("GET", "/api/tickets", "lars", query_string={"sort": "-updated", "limit": "200"})
    updated = [datetime.fromisoformat(t["updated_at"]) for t in body["items"]]
    assert updated == sorted(updated, reverse=True)


def test_unknown_sorts_flags_and_foreign_cursors_are_400(api: Api, desk: dict[str, str]) -> None:
    for query in ({"sort": "newest"}, {"include_closed": "yes"}, {"unassigned": "maybe"}, {"count": "1"}):
        status, body = api("GET", "/api/tickets", "lars", query_string=query)
        assert status == 400 and body["error"] == "bad_request", query
    status, body = api("GET", "/api/tickets", "lars", query_string={"sort": "priority", "limit": "1"})
    cursor = body["next_cursor"]
    for sort in ("urgency", "-created", "-updated"):  # a cursor of another order is refused, never misread
        status, body = api("GET", "/api/tickets", "lars", query_string={"sort": sort, "cursor": cursor})
        assert status == 400 and body["details"][0]["field"] == "cursor"
    status, body = api("GET", "/api/tickets", "lars", query_string={"sort": "urgency", "cursor": "dXJnZW5jeTpbMV0="})
    assert status == 400


def test_views_assigned_to_me_unassigned_my_teams_breached_at_risk(api: Api, engine: Engine, desk: dict[str, str],
                                                                   clock: Clock) -> None:
    status, body = api("POST", "/api/tickets/bulk", "lars", json={
        "numbers": [desk["P3"], desk["P4"]], "action": "assign", "assignee": "lars"})
    assert status == 200 and body["succeeded"] == 2
    status, _ = api("POST", f"/api/tickets/{desk['P5']}/assign", "lars", json={"team": "service_desk"})
    assert status == 200
    status, every = api("GET", "/api/tickets", "lars", query_string={"limit": "200"})
    mine = api.numbers("lars", assignee="me")
    assert mine == [t["number"] for t in every["items"] if t["assignee"] == "lars"]
    assert mine.index(desk["P3"]) < mine.index(desk["P4"])  # most urgent first, as everywhere
    unassigned = api.numbers("lars", unassigned="true")
    assert desk["P5"] in unassigned and desk["P3"] not in unassigned
    assert api.numbers("lars", assignee="none") == unassigned
    status, rows = api("GET", "/api/tickets", "lars", query_string={"unassigned": "true", "limit": "200"})
    assert all(t["assignee"] is None for t in rows["items"])
    for who in ("lars", "vera", "dana"):
        teams = engine.actor(who).teams
        assert teams and api.numbers(who, team="mine") == [t["number"] for t in every["items"] if t["team"] in teams]
    assert api.numbers("lars", sla="breached") == [desk["P1"]]
    clock.now = datetime(2026, 3, 2, 10, 27, tzinfo=BERLIN)  # the P2's response warns at 75% of 30 minutes
    sweep(engine, deliver=False)
    assert api.numbers("lars", sla="at_risk") == [desk["P2"]]


def test_bulk_runs_each_ticket_in_its_own_transaction(api: Api, desk: dict[str, str]) -> None:
    status, body = api("POST", "/api/tickets/bulk", "lars", json={
        "numbers": [desk["P3"], "INC9999999", desk["closed"], desk["P4"]], "action": "assign", "assignee": "sam"})
    assert status == 200 and body["succeeded"] == 2 and body["failed"] == 2
    outcome = {r["number"]: r for r in body["results"]}
    assert outcome[desk["P3"]]["ok"] and outcome[desk["P3"]]["assignee"] == "sam"
    assert outcome["INC9999999"]["status"] == 404 and outcome[desk["closed"]]["status"] == 409
    assert outcome[desk["P4"]]["ok"]
    for number in (desk["P3"], desk["P4"]):
        status, ticket = api("GET", f"/api/tickets/{number}")
        assert ticket["assignee"] == "sam" and ticket["team"] == "service_desk"
    status, events = api("GET", f"/api/tickets/{desk['P3']}/events")
    assert events["items"][-1]["kind"] == "routing" and events["items"][-1]["data"]["reason"] == "manual"
    # a transition: those that offer it move, the others say why
    status, body = api("POST", "/api/tickets/bulk", "sam", json={
        "numbers": [desk["P3"], desk["P4"], desk["closed"]], "action": "transition", "transition": "start"})
    assert [r["ok"] for r in body["results"]] == [True, True, False]
    assert body["results"][0]["state"] == "in_progress" and body["results"][2]["status"] == 409
    status, body = api("POST", "/api/tickets/bulk", "sam", json={
        "numbers": [desk["P3"], desk["P4"]], "action": "comment", "text": "Working on it", "internal": True})
    assert body["succeeded"] == 2
    status, comments = api("GET", f"/api/tickets/{desk['P4']}/comments", "rita")
    assert all(c["text"] != "Working on it" for c in comments["items"])  # internal: not the requester's
    for bad in ({"numbers": [], "action": "assign", "team": "service_desk"},
                {"numbers": [desk["P3"]], "action": "assign"},
                {"numbers": [desk["P3"]], "action": "comment", "text": "  "},
                {"numbers": [desk["P3"]] * 2 + [f"INC{i:07d}" for i in range(300)], "action": "comment", "text": "x"}):
        status, body = api("POST", "/api/tickets/bulk", "lars", json=bad)
        assert status == 400, bad
    status, body = api("POST", "/api/tickets/bulk", "lars", json={"numbers": [desk["P3"]], "action": "explode"})
    assert status == 422 and body["details"][0]["field"] == "action"  # not one of the declared choices


def test_assign_to_a_person_or_a_team(api: Api, desk: dict[str, str]) -> None:
    number = desk["P3"]
    status, ticket = api("POST", f"/api/tickets/{number}/assign", "lars", json={"assignee": "me"})
    assert status == 200 and (ticket["team"], ticket["assignee"]) == ("service_desk", "lars")
    status, ticket = api("POST", f"/api/tickets/{number}/assign", "lars", json={"assignee": "dana"})
    assert status == 200 and ticket["assignee"] == "dana" and ticket["team"] != "service_desk"  # her first team
    status, body = api("POST", f"/api/tickets/{number}/assign", "lars", json={"assignee": "rita"})
    assert status == 422  # in no team
    status, body = api("POST", f"/api/tickets/{number}/assign", "lars", json={"team": "nowhere"})
    assert status == 422
    status, body = api("POST", f"/api/tickets/{number}/assign", "lars", json={"team": "network_ops",
                                                                              "assignee": "dana"})
    assert status == 422 and body["details"][0]["field"] == "assignee"
    status, body = api("POST", f"/api/tickets/{number}/assign", "lars", json={"team": "network_ops", "version": 1})
    assert status == 409
    status, body = api("POST", f"/api/tickets/{number}/assign", "rita", json={"assignee": "lars"})
    assert status == 403
    status, body = api("GET", f"/api/tickets/{number}/candidates", "lars")
    assert status == 200
    first = body["items"][0]
    assert first["same_team"] and {"user", "team", "load"} <= set(first)
    loads = {(c["user"], c["team"]): c["load"] for c in body["items"]}
    assert loads[("dana", "desktop_support")] >= 1


def test_agents_find_requesters_by_name_mail_or_organization(api: Api, engine: Engine) -> None:
    status, _ = api("POST", "/api/orgs", json={"id": "hz_finance", "name": "Hangzhou Finance Bureau"})
    assert status == 201
    add_user(engine.db, "wang", email="wang.fang@hz.example", org="hz_finance", full_name="Wang Fang")
    for query in ("wang", "WANG.FANG@", "Finance Bureau", "hz_finance", "Fang"):
        status, body = api("GET", "/api/users", "lars", query_string={"q": query})
        assert status == 200 and [p["name"] for p in body["items"]] == ["wang"], query
        assert set(body["items"][0]) == {"name", "full_name", "email", "org", "org_name"}
    status, body = api("GET", "/api/users", "rita", query_string={"q": "wang"})
    assert status == 403
    status, body = api("GET", "/api/users", "lars", query_string={"q": "wang", "admin": "true"})
    assert status == 400  # agents' look-up takes q and limit only
    # recorded on behalf of the caller: she sees it, and its mail goes to her
    status, ticket = api("POST", "/api/tickets", "lars", json={"process": "incident", "requester": "wang",
                                                               "fields": {"short_description": "Printer jams"}})
    assert status == 201 and ticket["requester"] == "wang"
    token = create_token(engine.db, "wang")
    response = api.client.get(f"/api/tickets/{ticket['number']}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    number = ticket["number"]
    status, _ = api("POST", f"/api/tickets/{number}/assign", "lars", json={"assignee": "me"})
    status, _ = api("POST", f"/api/tickets/{number}/transitions/start", "lars", json={"fields": {
        "service": "workplace", "category": "hardware", "impact": "low", "urgency": "low"}})
    assert status == 200
    status, body = api("POST", f"/api/tickets/{number}/transitions/resolve", "lars", json={"fields": {
        "resolution_code": "fixed", "resolution_notes": "Cleaned the rollers"}})
    assert status == 200, body
    with engine.db.read() as session:
        sent = session.scalars(select(OutboxMessage).where(OutboxMessage.notification == "resolved_notice")).all()
    assert [message.recipients for message in sent] == [["user:wang"]]  # her mail (her address at delivery)


def test_priority_ranks_follow_the_levels_and_are_written_again_on_demand(engine: Engine, api: Api,
                                                                         desk: dict[str, str]) -> None:
    with engine.db.read() as session:
        ranks = dict(session.execute(select(Ticket.number, Ticket.priority_rank)).all())
    assert ranks[desk["P1"]] == 0 and ranks[desk["P5"]] == 4
    with engine.db.write() as session:  # a level order that changed (publish re-ranks the open tickets so)
        rank_priorities(session, "incident", {"P1": 4, "P2": 3, "P3": 2, "P4": 1, "P5": 0})
    by_priority = api.numbers("lars", sort="priority")
    assert by_priority[0] == desk["P5"] and by_priority[-1] == desk["P1"]
    with engine.db.read() as session:
        closed = session.scalar(select(Ticket.priority_rank).where(Ticket.number == desk["closed"]))
    assert closed == ranks[desk["closed"]]  # closed tickets keep theirs
