"""KPIs (SPEC 10 `GET /api/kpis`) on SQLite and PostgreSQL, over tickets with known timestamps.

The desk: office calendar Mon-Fri 08:00-12:00 and 13:00-17:00 Europe/Berlin. Monday 2 March 2026:
  T1 10:00 rita     lars starts 10:10, resolves 11:00; rita closes with 5 stars
  T2 10:20 rita     lars comments 10:50, starts 11:20, escalates to desktop_support 11:30; dana resolves
                    12:20; rita reopens 12:30; dana resolves 13:00; rita closes with 3 stars
  T3 11:00 rita     untouched: open, response clock past its 16:00 deadline
  T4 11:30 carol    (VIP: P3) withdrawn by carol at 11:45: clocks cancelled
  T5 12:00 lars     recorded by lars for rita, by phone, P3: open, response past its 15:00 deadline
Outside Monday, open: 15 Jan, 10 Feb, 26 Feb and Wednesday 4 March 09:00. The report runs Wed 10:00.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from itsm.engine import Actor, BadRequest, Engine, Forbidden
from itsm.engine.people.users import add_user
from itsm.engine.reports.kpis import kpi_report, kpi_rows, resolution_states, work_states
from itsm.interpreter import load_pack
from itsm.store import Database

from support import DEFINITIONS, Clock, demo_desk

BERLIN = ZoneInfo("Europe/Berlin")
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}  # P4
MONDAY = {"from": "2026-03-02", "to": "2026-03-02"}


class KpiClock(Clock):
    def at(self, day: int, hour: int, minute: int = 0, month: int = 3) -> None:
        self.now = datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


@pytest.fixture()
def clock() -> KpiClock:
    return KpiClock(datetime(2026, 1, 15, 9, 0, tzinfo=BERLIN))


@pytest.fixture()
def desk(db: Database, clock: KpiClock) -> Engine:
    engine = demo_desk(db, clock)
    _history(engine, clock)
    return engine


def _history(desk: Engine, clock: KpiClock) -> None:
    rita, carol, lars, dana = (desk.actor(n) for n in ("rita", "carol", "lars", "dana"))
    for month, day in ((1, 15), (2, 10), (2, 26)):
        clock.at(day, 10, month=month)
        desk.create(rita, "incident", LAPTOP)
    clock.at(2, 10)
    t1 = desk.create(rita, "incident", LAPTOP)["number"]
    clock.at(2, 10, 10)
    desk.fire(lars, t1, "start")
    clock.at(2, 11)
    desk.fire(lars, t1, "resolve", {"resolution_code": "fixed", "resolution_notes": "New battery"})
    clock.at(2, 11, 30)
    desk.fire(rita, t1, "close", {"satisfaction": 5})

    clock.at(2, 10, 20)
    t2 = desk.create(rita, "incident", LAPTOP)["number"]
    clock.at(2, 10, 50)
    desk.comment(lars, t2, "Looking into it", internal=True)
    clock.at(2, 11, 20)
    desk.fire(lars, t2, "start")
    clock.at(2, 11, 30)
    assert desk.fire(lars, t2, "escalate", {"escalation_reason": "Mainboard"})["team"] == "desktop_support"
    clock.at(2, 12, 20)
    desk.fire(dana, t2, "resolve", {"resolution_code": "fixed", "resolution_notes": "Replaced"})
    clock.at(2, 12, 30)
    desk.fire(rita, t2, "reopen", {"reopen_reason": "Still dead"})
    clock.at(2, 13)
    desk.fire(dana, t2, "resolve", {"resolution_code": "fixed", "resolution_notes": "Replaced again"})
    clock.at(2, 13, 10)
    desk.fire(rita, t2, "close", {"satisfaction": 3})

    clock.at(2, 11)
    desk.create(rita, "incident", LAPTOP)
    clock.at(2, 11, 30)
    t4 = desk.create(carol, "incident", LAPTOP)
    assert t4["priority"] == "P3"
    clock.at(2, 11, 45)
    desk.fire(carol, t4["number"], "withdraw")
    clock.at(2, 12)
    t5 = desk.create(lars, "incident", {**LAPTOP, "impact": "medium", "channel": "phone"}, requester="rita")
    assert t5["priority"] == "P3" and t5["requester"] == "rita"
    clock.at(4, 9)
    desk.create(rita, "incident", LAPTOP)
    clock.at(4, 10)


def report(desk: Engine, who: str = "admin", **params: str) -> dict[str, Any]:
    return kpi_report(desk, desk.actor(who), params)


def test_monday_figures(desk: Engine) -> None:
    kpis = report(desk, **MONDAY)
    assert kpis["period"] == {"from": "2026-03-02T00:00:00+00:00", "to": "2026-03-03T00:00:00+00:00",
                              "applies_to": "created_at"}
    assert kpis["processes"] == ["incident", "review"] and kpis["process"] is None and kpis["team"] is None
    assert kpis["tickets"] == {"created": 5, "open": 2, "resolved": 2}
    # T1 600 s, T2 1,800 s (an internal comment is an agent action), T5 0 s (recorded by an agent)
    assert kpis["time_to_acknowledge"] == {"count": 3, "mean_seconds": 800.0, "median_seconds": 600.0}
    # first entry into resolved: T1 after 1 h, T2 after 2 h (its second resolve does not count)
    assert kpis["time_to_resolve"] == {"count": 2, "mean_seconds": 5400.0, "median_seconds": 5400.0}
    assert kpis["reopen"] == {"resolved": 2, "reopened": 1, "rate_percent": 50.0}
    # T2 was escalated to another team and reopened: only T1 was resolved at first contact
    assert kpis["first_contact_resolution"] == {"resolved": 2, "first_contact": 1, "rate_percent": 50.0}
    assert kpis["satisfaction"] == {"count": 2, "average": 4.0,
                                    "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}}
    assert kpis["channels"] == {"phone": 1, "portal": 4}
    assert kpis["backlog"] == {"open": 2, "by_team": {"service_desk": 2}, "by_priority": {"P3": 1, "P4": 1},
                               "by_age": {"<1d": 0, "1-3d": 2, "3-7d": 0, "7-30d": 0, ">30d": 0}}


def test_sla_compliance_per_clock_and_priority(desk: Engine) -> None:
    sla = {(line["clock"], line["priority"]): line for line in report(desk, **MONDAY)["sla"]}
    # T4's clocks were cancelled: not counted. T3 and T5 ran past their response deadlines (no worker ran):
    # breached all the same.
    assert sla == {
        ("resolution", "P3"): {"clock": "resolution", "priority": "P3", "met": 0, "breached": 0, "running": 1,
                               "total": 1, "compliance_percent": None},
        ("resolution", "P4"): {"clock": "resolution", "priority": "P4", "met": 2, "breached": 0, "running": 1,
                               "total": 3, "compliance_percent": 100.0},
        ("response", "P3"): {"clock": "response", "priority": "P3", "met": 0, "breached": 1, "running": 0,
                             "total": 1, "compliance_percent": 0.0},
        ("response", "P4"): {"clock": "response", "priority": "P4", "met": 2, "breached": 1, "running": 0,
                             "total": 3, "compliance_percent": 66.67},
    }
    assert [line["clock"] for line in report(desk, **MONDAY)["sla"]] == ["resolution"] * 2 + ["response"] * 2


def test_without_a_period_every_ticket_counts_and_backlog_ages(desk: Engine) -> None:
    kpis = report(desk)
    assert kpis["period"] == {"from": None, "to": None, "applies_to": "created_at"}
    assert kpis["tickets"] == {"created": 9, "open": 6, "resolved": 2}
    assert kpis["backlog"]["by_age"] == {"<1d": 1, "1-3d": 2, "3-7d": 1, "7-30d": 1, ">30d": 1}
    assert kpis["backlog"]["open"] == 6 and kpis["channels"] == {"phone": 1, "portal": 8}
    old = {(line["clock"], line["priority"]): line for line in kpis["sla"]}
    assert old[("resolution", "P4")]["breached"] == 2  # 15 Jan and 10 Feb: past 5 business days


def test_period_bounds_are_instants_or_whole_days(desk: Engine) -> None:
    # from is inclusive, to exclusive; an instant without offset is UTC (T2 10:20 Berlin = 09:20 UTC)
    assert report(desk, **{"from": "2026-03-02T09:20:00", "to": "2026-03-02T10:00:00Z"})["tickets"]["created"] == 1
    assert report(desk, **{"from": "2026-03-02T10:20:00+01:00", "to": "2026-03-02T11:00:00+01:00"}
                  )["tickets"]["created"] == 1
    assert report(desk, **{"from": "2026-03-02T09:20:00.000001Z"})["tickets"]["created"] == 4  # T3-T5, Wednesday
    assert report(desk, to="2026-02-28")["tickets"]["created"] == 3
    assert report(desk, **{"from": "2026-03-04"})["tickets"]["created"] == 1


def test_process_and_team_filters(desk: Engine, clock: KpiClock) -> None:
    review = desk.create(desk.actor("lars"), "review", {"incident": "INC0000001", "summary": "Outage review"})
    assert review["number"].startswith("PIR")
    assert report(desk, process="review")["tickets"] == {"created": 1, "open": 1, "resolved": 0}
    assert report(desk, process="review")["channels"] == {"unknown": 1}  # no channel field, none recorded
    assert report(desk, process="incident", **MONDAY)["tickets"]["created"] == 5
    assert report(desk, process="incident")["processes"] == ["incident"]
    desktop = report(desk, team="desktop_support", **MONDAY)
    assert desktop["team"] == "desktop_support"
    assert desktop["tickets"] == {"created": 1, "open": 0, "resolved": 1}  # T2, held by desktop_support now
    assert desktop["first_contact_resolution"]["first_contact"] == 0
    assert desktop["satisfaction"]["average"] == 3.0
    assert report(desk, team="network_ops")["tickets"]["created"] == 0
    assert report(desk, team="network_ops")["time_to_resolve"] == {"count": 0, "mean_seconds": None,
                                                                   "median_seconds": None}


def test_access_and_bad_parameters(desk: Engine) -> None:
    assert report(desk, "lars", **MONDAY)["tickets"]["created"] == 5  # an agent of both processes
    with pytest.raises(Forbidden):
        report(desk, "rita")  # a requester
    outsider = Actor("olga", frozenset({"vendor"}), ("some_team",))  # a team role the review process never asks
    assert kpi_report(desk, outsider, {})["processes"] == ["incident"]
    with pytest.raises(Forbidden):
        kpi_report(desk, outsider, {"process": "review"})
    for params in ({"from": "yesterday"}, {"to": "2026-02-30"}, {"from": "2026-03-03", "to": "2026-03-02"},
                   {"process": "change"}, {"team": "nobody"}, {"since": "2026-03-01"}):
        with pytest.raises(BadRequest) as error:
            report(desk, **params)
        assert error.value.details and error.value.details[0]["field"] in ("from", "to", "process", "team", "since")


def test_csv_rows_hold_every_figure(desk: Engine) -> None:
    rows = kpi_rows(report(desk, **MONDAY))
    table = {(metric, dimension): value for metric, dimension, value in rows}
    assert len(table) == len(rows)  # one row per figure
    assert table[("tickets_created", "")] == 5
    assert table[("time_to_acknowledge_mean_seconds", "")] == 800.0
    assert table[("time_to_resolve_median_seconds", "")] == 5400.0
    assert table[("sla_compliance_percent", "clock=response;priority=P4")] == 66.67
    assert table[("backlog", "team=service_desk")] == 2 and table[("backlog", "age=1-3d")] == 2
    assert table[("backlog", "priority=P3")] == 1 and table[("backlog_open", "")] == 2
    assert table[("reopen_rate_percent", "")] == 50.0
    assert table[("first_contact_resolution_rate_percent", "")] == 50.0
    assert table[("satisfaction_average", "")] == 4.0 and table[("satisfaction", "rating=5")] == 1
    assert table[("tickets_by_channel", "channel=phone")] == 1


def test_state_meanings_of_the_default_pack(desk: Engine) -> None:
    pack = desk.definitions.active().pack
    incident, review = pack.processes["incident"], pack.processes["review"]
    assert resolution_states(incident) == {"resolved", "closed"}
    assert work_states(incident) == {"new", "assigned", "in_progress", "on_hold"}
    assert resolution_states(review) == {"completed"}


def test_state_meanings_of_other_packs() -> None:
    """Final states that end a ticket unresolved, under the names other packs give them, are no resolutions."""
    packs = DEFINITIONS.parent / "tests" / "packs" / "valid"
    work_order = load_pack(packs / "facilities").processes["work_order"]
    assert resolution_states(work_order) == {"done"}  # not `withdrawn`
    assert work_states(work_order) == {"logged", "dispatched", "waiting_parts", "fixed"}
    change = load_pack(packs / "change_requests").processes["change"]
    assert resolution_states(change) == {"closed"}  # not `rejected`


def test_an_empty_desk_has_no_figures(db: Database, clock: KpiClock) -> None:
    engine = Engine(db, clock=clock)
    engine.definitions.publish_path(DEFINITIONS)
    add_user(db, "admin", admin=True)
    kpis = report(engine)
    assert kpis["tickets"] == {"created": 0, "open": 0, "resolved": 0}
    assert kpis["sla"] == [] and kpis["channels"] == {} and kpis["satisfaction"]["average"] is None
    assert kpis["reopen"]["rate_percent"] is None and kpis["backlog"]["open"] == 0
    assert kpis["generated_at"] == (clock.now - timedelta(0)).astimezone(ZoneInfo("UTC")).isoformat()
