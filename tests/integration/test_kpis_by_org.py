"""KPIs by organization (SPEC 10 `GET /api/kpis?org=&group_by=org`) on SQLite and PostgreSQL: figures checked
against hand-computed values, and every row of a breakdown against the reference path (the report of that
organization alone).

The tree:  浙江省 zhejiang ─┬─ 杭州市 hz_city ─┬─ 西湖区 xihu      (xh: T1 resolved, rated 5; T2 open)
                            │                   └─ 滨江区 binjiang  (bj: T3 resolved, rated 3)
                            └─ 宁波市 ningbo                        (nb: T4 open)
           zhejiang itself: zj, T5 open;  江苏省 jiangsu: js, T6 open;  no organization: rita, T7 open.
Monday 2 March 2026, Berlin: T1 10:00 (lars starts 10:10, resolves 11:00), T2 10:30, T3 10:00 (lars starts
10:05, resolves 10:20), T4-T7 11:00. The report runs at 12:00.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from itsm.engine import BadRequest, Engine
from itsm.engine.people.org_admin import create_org
from itsm.engine.people.users import add_user, create_token
from itsm.engine.reports.kpis import kpi_report, kpi_rows
from itsm.store import Database
from itsm.web import create_app, engine_of

from support import DEFINITIONS, Clock, demo_desk

BERLIN = ZoneInfo("Europe/Berlin")
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
TREE = [("zhejiang", "浙江省", None), ("jiangsu", "江苏省", None), ("hz_city", "杭州市", "zhejiang"),
        ("ningbo", "宁波市", "zhejiang"), ("xihu", "西湖区", "hz_city"), ("binjiang", "滨江区", "hz_city")]
PEOPLE = {"xh": "xihu", "bj": "binjiang", "nb": "ningbo", "zj": "zhejiang", "js": "jiangsu"}


def at(clock: Clock, hour: int, minute: int = 0) -> None:
    clock.now = datetime(2026, 3, 2, hour, minute, tzinfo=BERLIN)


@pytest.fixture()
def desk(db: Database) -> Engine:
    clock = Clock(datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN))
    engine = demo_desk(db, clock)
    for org_id, name, parent in TREE:
        create_org(db, {"id": org_id, "name": name, "parent": parent})
    for name, org in PEOPLE.items():
        add_user(db, name, org=org)
    lars = engine.actor("lars")

    def report(who: str, hour: int, minute: int = 0) -> str:
        at(clock, hour, minute)
        return str(engine.create(engine.actor(who), "incident", LAPTOP)["number"])

    def solve(number: str, who: str, start: tuple[int, int], end: tuple[int, int], rating: int) -> None:
        at(clock, *start)
        engine.fire(lars, number, "start")
        at(clock, *end)
        engine.fire(lars, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Done"})
        engine.fire(engine.actor(who), number, "close", {"satisfaction": rating})

    solve(report("xh", 10), "xh", (10, 10), (11, 0), 5)
    report("xh", 10, 30)
    solve(report("bj", 10), "bj", (10, 5), (10, 20), 3)
    for who in ("nb", "zj", "js", "rita"):
        report(who, 11)
    at(clock, 12)
    return engine


def kpis(desk: Engine, **params: str) -> dict[str, Any]:
    return kpi_report(desk, desk.actor("admin"), params)


def rows(report: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    return {("own:" if row["own"] else "") + (row["org"] or "") if row["org"] else None: row
            for row in report["by_org"]}


def test_org_takes_the_subtree(desk: Engine) -> None:
    zhejiang = kpis(desk, org="zhejiang")
    assert zhejiang["org"] == "zhejiang"
    assert zhejiang["tickets"] == {"created": 5, "open": 3, "resolved": 2}
    assert zhejiang["time_to_resolve"] == {"count": 2, "mean_seconds": 2400.0, "median_seconds": 2400.0}
    assert zhejiang["time_to_acknowledge"] == {"count": 2, "mean_seconds": 450.0, "median_seconds": 450.0}
    assert zhejiang["satisfaction"]["count"] == 2 and zhejiang["satisfaction"]["average"] == 4.0
    assert kpis(desk, org="hz_city")["tickets"] == {"created": 3, "open": 1, "resolved": 2}
    assert kpis(desk, org="xihu")["time_to_resolve"]["mean_seconds"] == 3600.0
    assert kpis(desk, org="jiangsu")["tickets"] == {"created": 1, "open": 1, "resolved": 0}
    assert kpis(desk)["tickets"]["created"] == 7 and kpis(desk)["org"] is None
    # with the other filters: the service desk holds the open ones
    assert kpis(desk, org="zhejiang", team="service_desk")["backlog"]["open"] == 3


def test_group_by_org_gives_a_row_per_child_each_over_its_subtree(desk: Engine) -> None:
    report = kpis(desk, org="zhejiang", group_by="org")
    assert report["group_by"] == "org"
    by_org = rows(report)
    # zhejiang's own ticket first, then its cities by name (宁 U+5B81 before 杭 U+676D)
    assert [row["org"] for row in report["by_org"]] == ["zhejiang", "ningbo", "hz_city"]
    assert by_org["own:zhejiang"]["tickets"] == {"created": 1, "open": 1, "resolved": 0}
    hz_city = by_org["hz_city"]
    assert hz_city["name"] == "杭州市" and hz_city["children"] == 2 and not hz_city["own"]
    assert hz_city["tickets"] == {"created": 3, "open": 1, "resolved": 2}
    assert hz_city["time_to_resolve"] == {"count": 2, "mean_seconds": 2400.0, "median_seconds": 2400.0}
    assert hz_city["satisfaction"] == {"count": 2, "average": 4.0}
    assert hz_city["reopen"] == {"resolved": 2, "reopened": 0, "rate_percent": 0.0}
    assert by_org["ningbo"]["tickets"] == {"created": 1, "open": 1, "resolved": 0} and by_org["ningbo"]["children"] == 0
    assert sum(row["tickets"]["created"] for row in report["by_org"]) == report["tickets"]["created"] == 5
    units = rows(kpis(desk, org="hz_city", group_by="org"))
    assert set(units) == {"xihu", "binjiang"}  # no own row: no ticket was reported from hz_city itself
    assert units["xihu"]["tickets"] == {"created": 2, "open": 1, "resolved": 1}
    assert units["binjiang"]["time_to_resolve"]["mean_seconds"] == 1200.0
    unit = kpis(desk, org="xihu", group_by="org")["by_org"]  # a unit with nothing under it: its own tickets
    assert [(row["org"], row["own"], row["tickets"]["created"]) for row in unit] == [("xihu", True, 2)]


def test_without_org_a_row_per_root_and_one_for_tickets_of_no_organization(desk: Engine) -> None:
    report = kpis(desk, group_by="org")
    assert [row["org"] for row in report["by_org"]] == ["jiangsu", "zhejiang", None]  # 江 U+6C5F before 浙 U+6D59
    by_org = rows(report)
    assert by_org["zhejiang"]["tickets"]["created"] == 5 and by_org["jiangsu"]["tickets"]["created"] == 1
    assert by_org[None]["tickets"]["created"] == 1 and by_org[None]["name"] is None
    assert sum(row["tickets"]["created"] for row in report["by_org"]) == report["tickets"]["created"] == 7


def _same_figures(row: dict[str, Any], alone: dict[str, Any]) -> None:
    """A breakdown row against the report of its organization alone (the reference path)."""
    assert row["tickets"] == alone["tickets"]
    for figure in ("time_to_acknowledge", "time_to_resolve", "reopen", "first_contact_resolution"):
        assert row[figure] == alone[figure], figure
    assert row["satisfaction"] == {k: alone["satisfaction"][k] for k in ("count", "average")}
    for clock, counts in row["sla"].items():
        lines = [line for line in alone["sla"] if line["clock"] == clock]
        for outcome in ("met", "breached", "running", "total"):
            assert counts[outcome] == sum(line[outcome] for line in lines), (clock, outcome)


@pytest.mark.parametrize("parent", [None, "zhejiang", "hz_city"])
def test_every_row_matches_the_report_of_its_organization_alone(desk: Engine, parent: str | None) -> None:
    params = {"org": parent} if parent else {}
    for row in kpis(desk, **params, group_by="org")["by_org"]:
        if row["org"] is not None and not row["own"]:
            _same_figures(row, kpis(desk, org=row["org"]))
    report = kpis(desk, **params, group_by="org")
    assert {clock for row in report["by_org"] for clock in row["sla"]} == {line["clock"] for line in report["sla"]}


def test_a_ticket_keeps_the_organization_it_was_reported_from(desk: Engine) -> None:
    from itsm.engine.people.accounts import update_user

    update_user(desk.db, "admin", "nb", {"org": "jiangsu"})  # moved to another province afterwards
    assert kpis(desk, org="ningbo")["tickets"]["created"] == 1
    assert kpis(desk, org="jiangsu")["tickets"]["created"] == 1


def test_unknown_org_or_grouping_is_a_400(desk: Engine) -> None:
    with pytest.raises(BadRequest) as refused:
        kpis(desk, org="nowhere")
    assert refused.value.details == [{"field": "org", "message": "unknown organization"}]
    with pytest.raises(BadRequest):
        kpis(desk, group_by="team")


def test_csv_rows_carry_the_breakdown(desk: Engine) -> None:
    csv_rows = kpi_rows(kpis(desk, org="zhejiang", group_by="org"))
    assert ("org_tickets_created", "org=hz_city", 3) in csv_rows
    assert ("org_tickets_created", "org=zhejiang;own", 1) in csv_rows
    assert ("org_time_to_resolve_mean_seconds", "org=hz_city", 2400.0) in csv_rows
    assert ("org_satisfaction_average", "org=hz_city", 4.0) in csv_rows
    assert any(metric == "org_sla_total" and dimension.startswith("org=hz_city;clock=")
               for metric, dimension, _ in csv_rows)


def test_the_api_answers_org_and_group_by_in_json_and_csv(db_url: str) -> None:
    app = create_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    engine = engine_of(app)
    engine.db.upgrade()
    engine.definitions.publish_path(DEFINITIONS)
    create_org(engine.db, {"id": "zhejiang", "name": "浙江省"})
    create_org(engine.db, {"id": "hz_city", "name": "杭州市", "parent": "zhejiang"})
    for name, flags in {"xh": {"org": "hz_city"}, "lars": {}, "admin": {"admin": True}}.items():
        add_user(engine.db, name, **flags)
    engine.create(engine.actor("xh"), "incident", LAPTOP)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {create_token(engine.db, 'lars')}"}
    report = client.get("/api/kpis?org=zhejiang&group_by=org", headers=headers)
    assert report.status_code == 200, report.text
    assert [(row["org"], row["tickets"]["created"]) for row in report.get_json()["by_org"]] == [("hz_city", 1)]
    download = client.get("/api/kpis?org=zhejiang&group_by=org&format=csv", headers=headers)
    lines = list(csv.reader(io.StringIO(download.get_data(as_text=True).lstrip("\ufeff"))))
    assert ["org_tickets_created", "org=hz_city", "1"] in lines
    for query, field in (("org=nowhere", "org"), ("group_by=team", "group_by")):
        refused = client.get(f"/api/kpis?{query}", headers=headers)
        assert refused.status_code == 400 and refused.get_json()["details"][0]["field"] == field


def test_tickets_created_per_week_of_the_desk(db_url: str) -> None:
    """The dashboard's trend (issue 17): weeks run Monday to Sunday in the pack's time zone, so a ticket of
    Monday 07:00 in Shanghai (Sunday 23:00 UTC) counts in the week it was reported in."""
    db = Database(db_url)
    db.upgrade()
    clock = Clock(datetime(2026, 11, 22, 23, 0, tzinfo=ZoneInfo('UTC')))  # Monday 23 Nov, 07:00 in Shanghai
    engine = Engine(db, clock=clock)
    engine.definitions.publish_path(DEFINITIONS.parent / "examples" / "gov-desk")
    add_user(db, "wang")
    add_user(db, "admin", admin=True)
    utc = ZoneInfo("UTC")
    for when in (datetime(2026, 11, 22, 23, 0, tzinfo=utc), datetime(2026, 11, 25, 3, 0, tzinfo=utc),
                 datetime(2026, 11, 29, 15, 59, tzinfo=utc), datetime(2026, 11, 29, 16, 1, tzinfo=utc)):
        clock.now = when
        engine.create(engine.actor("wang"), "incident", {"short_description": "打印机卡纸"})
    report = kpi_report(engine, engine.actor("admin"), {})
    assert report["by_week"] == [{"week": "2026-11-23", "created": 3}, {"week": "2026-11-30", "created": 1}]
    assert ("tickets_created_by_week", "week=2026-11-23", 3) in kpi_rows(report)
    db.dispose()
