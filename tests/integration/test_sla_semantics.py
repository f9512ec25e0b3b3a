"""SPEC 6 and 7 through the engine and the worker, with expectations computed by hand.

A small pack of its own: an office calendar (Mon-Fri 08:00-12:00, 13:00-17:00 Europe/Berlin), P1 on 24x7;
the `resolution` clock warns at 50% and 75% and comments on every warning and breach, so each action's
firing is a comment with its instant. The clock is moved like a scenario moves it (the worker runs at each
due instant on the way) or jumped over everything at once (a worker that runs late).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from itsm.engine import Engine
from itsm.engine.authoring.scenarios import EPSILON, ScenarioClock, _Runner
from itsm.engine.people.users import add_user
from itsm.engine.worker import sweep
from itsm.store import Comment, Database

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 3, 2, tzinfo=BERLIN)  # office week of 2 March; DST starts Sunday 29 March
PACK = """kind: pack
id: slasem
format: 1
timezone: Europe/Berlin
---
kind: form
id: ticket
fields:
  - {id: summary, type: string}
  - {id: impact, type: choice, choices: [high, medium, low]}
  - {id: hold_reason, type: string}
---
kind: process
id: ticket
form: ticket
number: T
initial: new
priority: {matrix: prio}
sla: sla
states:
  - {id: new}
  - {id: in_progress}
  - {id: on_hold}
  - {id: resolved}
  - {id: closed, final: true}
  - {id: cancelled, final: true}
transitions:
  - {id: start, from: new, to: in_progress}
  - {id: hold, from: [new, in_progress], to: on_hold}
  - {id: resume, from: on_hold, to: in_progress}
  - {id: resolve, from: [new, in_progress], to: resolved}
  - {id: reopen, from: resolved, to: in_progress}
  - {id: close, from: resolved, to: closed}
  - {id: cancel, from: "*", to: cancelled}
---
kind: priority_matrix
id: prio
inputs: [impact]
levels: [P1, P3, P4]
matrix: {high: P1, medium: P3, low: P4}
default: P4
---
kind: calendar
id: office
hours:
  mon: ["08:00-12:00", "13:00-17:00"]
  tue: ["08:00-12:00", "13:00-17:00"]
  wed: ["08:00-12:00", "13:00-17:00"]
  thu: ["08:00-12:00", "13:00-17:00"]
  fri: ["08:00-12:00", "13:00-17:00"]
---
kind: sla_policy
id: sla
calendar: office
clocks:
  - id: resolution
    stop: "state in ['resolved', 'closed']"
    pause: "state == 'on_hold'"
    cancel: "state == 'cancelled'"
    targets: {P1: 4h, P3: 2h, P4: 8h}
    calendars: {P1: 24x7}
    warn_at: [50%, 75%]
    on_warning: [{comment: "warning {{ clock.threshold }}"}]
    on_breach: [{comment: "breach"}]
  - id: work
    start: "state == 'in_progress'"
    stop: "state == 'resolved'"
    targets: {default: 1h}
"""


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=BERLIN)


@pytest.fixture()
def desk(db: Database, tmp_path: Path) -> tuple[Engine, ScenarioClock, _Runner]:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.yaml").write_text(PACK)
    clock = ScenarioClock(at(2, 10))
    engine = Engine(db, clock=clock)
    engine.definitions.publish_path(tmp_path / "pack")
    add_user(db, "ann")
    return engine, clock, _Runner(engine, clock)


def fired(db: Database) -> list[tuple[str, datetime]]:
    """The SLA actions that ran: (comment, local instant), in order."""
    with db.read() as session:
        rows = session.execute(select(Comment.text, Comment.at).order_by(Comment.id)).all()
    return [(text, (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(BERLIN)) for text, when in rows]


def view(engine: Engine, number: str, clock: str = "resolution") -> dict[str, Any]:
    return dict(engine.get(engine.actor("system"), number)["sla"][clock])


def create(engine: Engine, impact: str = "medium") -> str:
    return str(engine.create(engine.actor("ann"), "ticket", {"summary": "x", "impact": impact})["number"])


# -- warnings and breaches fire once, at the right instant --------------------------------------------------


def test_warnings_and_breach_fire_once_each_at_their_instants(desk: Any, db: Database) -> None:
    engine, clock, runner = desk
    create(engine)  # P3, 2h from Monday 10:00: 50% at 11:00, 75% at 11:30, deadline 12:00 (end-inclusive)
    runner.move_to(at(2, 16))
    assert fired(db) == [("warning 50%", at(2, 11) + EPSILON), ("warning 75%", at(2, 11, 30) + EPSILON),
                         ("breach", at(2, 12) + EPSILON)]
    runner.move_to(at(4, 16))
    assert len(fired(db)) == 3


def test_a_late_worker_fires_everything_it_skipped_once_in_order(desk: Any, db: Database) -> None:
    engine, clock, runner = desk
    number = create(engine)
    clock.now = at(3, 9)  # the worker was down until Tuesday 09:00
    sweep(engine, deliver=False)
    sweep(engine, deliver=False)
    assert fired(db) == [("warning 50%", at(3, 9)), ("warning 75%", at(3, 9)), ("breach", at(3, 9))]
    shown = view(engine, number)
    assert shown["status"] == "breached" and shown["breached"] is True
    assert datetime.fromisoformat(shown["deadline"]) == at(2, 12)  # the instant the target was reached
    assert shown["elapsed_seconds"] == 2 * 3600 + 4 * 3600 + 3600  # Mon 10-12, 13-17, Tue 08-09


def test_a_warning_at_exactly_its_instant_through_a_change(desk: Any, db: Database) -> None:
    engine, clock, _ = desk
    number = create(engine)
    clock.now = at(2, 11)  # elapsed reaches ⌈50% of 7200⌉ = 3600 exactly: a change now fires it
    engine.update(engine.actor("system"), number, {"summary": "looking"})
    assert fired(db) == [("warning 50%", at(2, 11))]
    clock.now = at(2, 12)  # stopping exactly at the deadline is met; the 75% warning fires with the stop
    engine.fire(engine.actor("system"), number, "resolve")
    assert fired(db)[1:] == [("warning 75%", at(2, 12))]
    assert view(engine, number)["status"] == "met"


def test_a_priority_change_skipping_past_both_thresholds_and_the_deadline(desk: Any, db: Database) -> None:
    engine, clock, runner = desk
    number = create(engine, impact="low")  # P4, 8h: 50% would be Monday 15:00
    runner.move_to(at(2, 14))  # elapsed 3h: nothing due yet
    assert fired(db) == []
    engine.update(engine.actor("system"), number, {"impact": "medium"})  # P3, 2h: long past
    assert fired(db) == [("warning 50%", at(2, 14)), ("warning 75%", at(2, 14)), ("breach", at(2, 14))]
    shown = view(engine, number)
    assert shown["target_seconds"] == 7200 and shown["status"] == "breached"
    assert datetime.fromisoformat(shown["deadline"]) == at(2, 12)  # start 10:00 + 2h of working time
    runner.move_to(at(3, 12))
    engine.update(engine.actor("system"), number, {"impact": "low"})  # back to 8h: still breached, no new action
    assert len(fired(db)) == 3


def test_a_priority_change_to_a_later_deadline_fires_only_what_is_crossed(desk: Any, db: Database) -> None:
    engine, clock, runner = desk
    number = create(engine)  # P3, 2h
    runner.move_to(at(2, 11, 10))  # 50% fired at 11:00
    engine.update(engine.actor("system"), number, {"impact": "low"})  # P4, 8h: 50% at 4h = Monday 15:00
    runner.move_to(at(3, 17))
    # 75% of 8h = 6h: Mon 10-12, 13-17 is 6h: Monday 17:00; the deadline 8h is Tuesday 10:00
    assert fired(db) == [("warning 50%", at(2, 11) + EPSILON), ("warning 75%", at(2, 17) + EPSILON),
                         ("breach", at(3, 10) + EPSILON)]


def test_a_priority_moving_the_clock_to_24x7_keeps_its_elapsed_time(desk: Any, db: Database) -> None:
    engine, clock, runner = desk
    clock.now = at(2, 16)
    number = create(engine)  # P3 on the office calendar: 1h today (its 50% warning at 17:00)
    runner.move_to(at(2, 20))
    assert view(engine, number)["elapsed_seconds"] == 3600
    raised = engine.update(engine.actor("system"), number, {"impact": "high"})["sla"]["resolution"]  # P1: 4h on 24x7
    assert raised["elapsed_seconds"] == 3600 and raised["target_seconds"] == 4 * 3600
    assert datetime.fromisoformat(raised["deadline"]) == at(2, 23)  # 3h left, counted round the clock
    assert raised["status"] == "running"
    runner.move_to(at(3, 8))
    # 50% fired under P3 already (once per threshold); 75% of 4h is 3h: 2h after 20:00 on 24x7
    assert fired(db) == [("warning 50%", at(2, 17) + EPSILON), ("warning 75%", at(2, 22) + EPSILON),
                         ("breach", at(2, 23) + EPSILON)]


# -- what the API shows after each step (SPEC 6, last bullet) ---------------------------------------------


def test_the_clock_as_the_api_shows_it_through_its_lifecycle(desk: Any, db: Database) -> None:
    engine, clock, runner = desk
    system = engine.actor("system")
    clock.now = at(2, 7)  # before opening: counting begins at 08:00
    number = create(engine)
    work = view(engine, number, "work")
    assert work == {"status": "not_started", "target_seconds": None, "elapsed_seconds": 0, "deadline": None,
                    "breached": False, "percent": None, "started_at": None, "stopped_at": None}
    assert view(engine, number) == {"status": "running", "target_seconds": 7200, "elapsed_seconds": 0,
                                    "deadline": "2026-03-02T10:00:00+01:00", "breached": False, "percent": 0,
                                    "started_at": "2026-03-02T07:00:00+01:00", "stopped_at": None}
    clock.now = at(2, 8, 30)
    engine.fire(system, number, "start")
    work = view(engine, number, "work")
    assert work["status"] == "running" and work["started_at"] == "2026-03-02T08:30:00+01:00"
    assert work["deadline"] == "2026-03-02T09:30:00+01:00" and work["target_seconds"] == 3600
    clock.now = at(2, 9)
    engine.fire(system, number, "hold")
    assert view(engine, number) == {"status": "paused", "target_seconds": 7200, "elapsed_seconds": 3600,
                                    "deadline": None, "breached": False, "percent": 50,
                                    "started_at": "2026-03-02T07:00:00+01:00", "stopped_at": None}
    runner.move_to(at(2, 15))
    assert fired(db) == [("warning 50%", at(2, 9))]  # reached at the instant of the hold
    engine.fire(system, number, "resume")
    shown = view(engine, number)  # 1h left from 15:00
    assert shown["status"] == "running" and shown["deadline"] == "2026-03-02T16:00:00+01:00"
    clock.now = at(2, 15, 45)
    engine.fire(system, number, "resolve")
    assert view(engine, number) == {"status": "met", "target_seconds": 7200, "elapsed_seconds": 6300,
                                    "deadline": None, "breached": False, "percent": 87.5,
                                    "started_at": "2026-03-02T07:00:00+01:00",
                                    "stopped_at": "2026-03-02T15:45:00+01:00"}
    runner.move_to(at(3, 9))  # stopped: nothing runs overnight
    engine.fire(system, number, "reopen")  # the stopped interval counts as a pause: 15 min left from 09:00
    shown = view(engine, number)
    assert shown["status"] == "running" and shown["elapsed_seconds"] == 6300 and shown["stopped_at"] is None
    assert shown["deadline"] == "2026-03-03T09:15:00+01:00"
    runner.move_to(at(3, 10))
    assert [text for text, _ in fired(db)] == ["warning 50%", "warning 75%", "breach"]
    assert fired(db)[-1][1] == at(3, 9, 15) + EPSILON
    clock.now = at(3, 10, 30)
    engine.fire(system, number, "resolve")
    shown = view(engine, number)
    assert shown["status"] == "breached" and shown["breached"] is True and shown["deadline"] is None
    assert shown["stopped_at"] == "2026-03-03T10:30:00+01:00" and shown["elapsed_seconds"] == 6300 + 5400
    assert len(fired(db)) == 3  # the late stop does not fire on_breach a second time


def test_cancel_has_no_outcome(desk: Any, db: Database) -> None:
    engine, clock, runner = desk
    number = create(engine)
    runner.move_to(at(2, 11, 45))
    engine.fire(engine.actor("system"), number, "cancel")
    shown = view(engine, number)
    assert shown["status"] == "cancelled" and shown["breached"] is False and shown["deadline"] is None
    runner.move_to(at(5, 9))
    assert [text for text, _ in fired(db)] == ["warning 50%", "warning 75%"]


def test_offsets_follow_daylight_saving_time(desk: Any) -> None:
    engine, clock, _ = desk
    clock.now = at(27, 16)  # Friday before the spring-forward Sunday: 1h today, 1h on Monday
    number = create(engine)
    assert view(engine, number)["deadline"] == "2026-03-30T09:00:00+02:00"
    assert view(engine, number)["started_at"] == "2026-03-27T16:00:00+01:00"


# -- SPEC 7: a new version keeps the elapsed time and brings its targets -------------------------------------


def test_a_new_version_keeps_elapsed_time_and_its_targets_apply(desk: Any, db: Database, tmp_path: Path) -> None:
    engine, clock, runner = desk
    number = create(engine, impact="low")  # P4, 8h from Monday 10:00
    runner.move_to(at(2, 14))  # 3h elapsed
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / "pack.yaml").write_text(PACK.replace("P4: 8h", "P4: 2h30m"))
    engine.definitions.publish_path(tmp_path / "v2")
    engine.definitions.poll_seconds = 0
    runner.move_to(at(2, 14, 1))  # the worker applies the new target: 2h30m, long past
    shown = view(engine, number)
    assert shown["target_seconds"] == 9000 and shown["status"] == "breached"
    assert shown["elapsed_seconds"] == 3 * 3600 + 60
    assert shown["deadline"] == "2026-03-02T13:30:00+01:00"
    assert [text for text, _ in fired(db)] == ["warning 50%", "warning 75%", "breach"]


# -- the same through a scenario (SPEC 4 scenario): `expect` on sla.CLOCK.* after each step -----------------

SCENARIO = """---
kind: scenario
id: clock_lifecycle
start: 2026-03-02T10:00:00+01:00
steps:
  - create: {process: ticket, fields: {summary: x, impact: low}}
    expect: {priority: P4, sla.resolution.status: running, sla.resolution.deadline: 2026-03-03T10:00:00+01:00}
  - advance: 4h
    expect: {sla.resolution.elapsed_seconds: 10800, sla.resolution.breached: false}
  - update: {impact: medium}
    expect: {priority: P3, sla.resolution.status: breached, sla.resolution.breached: true,
             sla.resolution.deadline: 2026-03-02T12:00:00+01:00}
  - transition: hold
    expect: {sla.resolution.status: breached, sla.resolution.deadline: null}
  - at: 2026-03-03T09:00:00+01:00
    transition: resume
    expect: {sla.resolution.elapsed_seconds: 10800, sla.resolution.deadline: 2026-03-02T12:00:00+01:00}
  - advance: 30m
    transition: resolve
    expect: {sla.resolution.status: breached, sla.resolution.elapsed_seconds: 12600,
             sla.resolution.deadline: null, sla.work.status: met}
"""


def test_a_scenario_checks_the_clock_after_each_step(tmp_path: Path) -> None:
    from itsm.engine.authoring.scenarios import run_scenario
    from itsm.interpreter import load_pack

    (tmp_path / "pack.yaml").write_text(PACK + SCENARIO)
    pack = load_pack(tmp_path)
    result = run_scenario(pack, pack.scenarios["clock_lifecycle"])
    assert result.passed, [str(f) for f in result.failures]


# -- expressions see the clocks as the API shows them ---------------------------------------------------------


def test_guards_read_sla_status_and_percent_as_of_now_not_as_of_the_last_change(db: Database,
                                                                                tmp_path: Path) -> None:
    cancel = '  - {id: cancel, from: "*", to: cancelled}\n'
    guarded = PACK.replace(cancel, cancel +
                           '  - {id: urge, from: new, to: new, when: "sla.resolution.percent >= 50"}\n'
                           "  - {id: flag, from: new, to: new, when: \"sla.resolution.status == 'breached'\"}\n")
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "pack.yaml").write_text(guarded)
    clock = ScenarioClock(at(2, 10))
    engine = Engine(db, clock=clock)  # no worker runs in this test: the stored clock is that of 10:00
    engine.definitions.publish_path(tmp_path / "pack")
    add_user(db, "ann")
    number = create(engine)  # P3: 2h from Monday 10:00, deadline 12:00

    def offered() -> set[str]:
        return set(engine.get(engine.actor("system"), number)["transitions"]) & {"urge", "flag"}

    clock.now = at(2, 10, 30)
    assert offered() == set()  # 25%
    clock.now = at(2, 11, 0, 1)
    assert offered() == {"urge"}  # just past 50%, although the stored figure says 0%
    clock.now = at(2, 12, 0, 1)
    assert offered() == {"urge", "flag"}  # past the deadline before the worker noticed: breached, as the API says
    assert view(engine, number)["status"] == "breached"
    engine.fire(engine.actor("system"), number, "flag")
