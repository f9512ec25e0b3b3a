"""SLA clocks through the engine and the worker, with a controllable clock (office calendar: Mon-Fri
08:00-12:00 and 13:00-17:00 Europe/Berlin; P1 on 24x7)."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, insert, select

from itsm.engine import Definitions, Engine
from itsm.engine.people.users import add_user
from itsm.engine.worker import sweep
from itsm.store import Database, Event, OutboxMessage, SlaClock, Ticket, Timer

from support import DEFINITIONS, Clock, demo_desk

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)
P3 = {"short_description": "Printer on floor 3 jams", "service": "workplace", "category": "hardware",
      "impact": "medium", "urgency": "medium"}


@pytest.fixture()
def clock() -> Clock:
    return Clock(MONDAY_10)


@pytest.fixture()
def desk(db: Database, clock: Clock) -> Engine:
    return demo_desk(db, clock)


def publish_overlay(desk: Engine, folder: Path, documents: str) -> None:
    """Publish a pack in `folder` extending the default pack with `documents` (YAML)."""
    folder.mkdir()
    (folder / "pack.yaml").write_text(f"kind: pack\nid: {folder.name}\nformat: 1\ntimezone: Europe/Berlin\n"
                                      f"extends: {DEFINITIONS}\n---\n{documents}")
    desk.definitions.publish_path(folder)


def local(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(BERLIN) if value else None


def test_clocks_start_on_create_with_business_deadlines(desk: Engine) -> None:
    ticket = desk.create(desk.actor("rita"), "incident", P3)
    response, resolution = ticket["sla"]["response"], ticket["sla"]["resolution"]
    assert response["status"] == "running" and response["target_seconds"] == 2 * 3600
    assert local(response["deadline"]) == datetime(2026, 3, 2, 12, 0, tzinfo=BERLIN)  # end-inclusive at lunch
    assert local(resolution["deadline"]) == datetime(2026, 3, 5, 10, 0, tzinfo=BERLIN)  # 3bd: Thursday 10:00
    assert response["deadline"].endswith("+01:00")  # shown with the pack's offset


def test_p1_runs_on_24x7(desk: Engine, clock: Clock) -> None:
    clock.now = datetime(2026, 3, 7, 22, 0, tzinfo=BERLIN)  # Saturday night
    ticket = desk.create(desk.actor("rita"), "incident", {**P3, "impact": "high", "urgency": "high"})
    assert ticket["priority"] == "P1"
    assert local(ticket["sla"]["response"]["deadline"]) == datetime(2026, 3, 7, 22, 15, tzinfo=BERLIN)


def test_hold_pauses_and_resume_moves_the_deadline(desk: Engine, clock: Clock) -> None:
    lars = desk.actor("lars")
    number = desk.create(desk.actor("rita"), "incident", P3)["number"]
    desk.fire(lars, number, "start")  # stops the response clock: met
    clock.advance(hours=1)
    held = desk.fire(lars, number, "hold", {"hold_reason": "awaiting_user"})
    assert held["sla"]["response"]["status"] == "met"
    assert held["sla"]["resolution"]["status"] == "paused" and held["sla"]["resolution"]["deadline"] is None
    clock.now = datetime(2026, 3, 3, 10, 0, tzinfo=BERLIN)  # a working day later
    resumed = desk.fire(lars, number, "resume")
    resolution = resumed["sla"]["resolution"]
    assert resolution["status"] == "running" and resolution["elapsed_seconds"] == 3600
    assert local(resolution["deadline"]) == datetime(2026, 3, 6, 9, 0, tzinfo=BERLIN)  # 24h - 1h from Tue 10:00


def test_breach_found_by_the_worker_fires_its_actions_once(desk: Engine, clock: Clock, db: Database) -> None:
    number = desk.create(desk.actor("rita"), "incident", P3)["number"]
    clock.advance(hours=1, minutes=35)  # 11:35: 95 minutes of 120 used: the 75% warning is due
    assert sweep(desk).clocks == 1
    clock.now = datetime(2026, 3, 2, 12, 10, tzinfo=BERLIN)  # lunch: the deadline (12:00) has passed
    assert sweep(desk).clocks == 1
    assert sweep(desk).clocks == 0  # nothing due any more
    ticket = desk.get(desk.actor("lars"), number)
    assert ticket["sla"]["response"]["status"] == "breached" and ticket["sla"]["response"]["breached"]
    assert ticket["team"] == "desktop_support"  # on_breach: escalate to the next tier
    with db.read() as session:
        notices = session.scalars(select(OutboxMessage.notification).order_by(OutboxMessage.id)).all()
    assert notices.count("sla_warning") == 1 and notices.count("sla_breach") == 1


def test_raising_the_priority_applies_the_new_target_retroactively(desk: Engine, clock: Clock) -> None:
    lars = desk.actor("lars")
    number = desk.create(desk.actor("rita"), "incident", P3)["number"]
    clock.advance(minutes=40)
    raised = desk.update(lars, number, {"impact": "high"})  # P2: 30 minutes, already past
    assert raised["priority"] == "P2"
    response = raised["sla"]["response"]
    assert response["target_seconds"] == 1800 and response["status"] == "breached"
    assert local(response["deadline"]) == datetime(2026, 3, 2, 10, 30, tzinfo=BERLIN)


def test_auto_close_fires_three_business_days_after_resolution(desk: Engine, clock: Clock) -> None:
    lars = desk.actor("lars")
    number = desk.create(desk.actor("rita"), "incident", P3)["number"]
    desk.fire(lars, number, "start")
    desk.fire(lars, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Cleared the jam"})
    clock.now = datetime(2026, 3, 5, 9, 59, tzinfo=BERLIN)
    sweep(desk)
    assert desk.get(lars, number)["state"] == "resolved"
    clock.now = datetime(2026, 3, 5, 10, 1, tzinfo=BERLIN)
    assert sweep(desk).timers == 1
    closed = desk.get(lars, number)
    assert closed["state"] == "closed" and closed["fields"]["auto_closed"] is True


def test_two_timed_transitions_due_in_one_sweep_fire_once(desk: Engine, clock: Clock, db: Database,
                                                           tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`resolved` gets a second timed way out, due a day before auto_close: the sweep finds both due,
    fires the earlier one, and the other timer (replaced when the ticket left `resolved`) is dropped,
    neither fired nor failed."""
    publish_overlay(desk, tmp_path / "stale", "kind: process\nid: incident\ntransitions:\n"
                    "  - {id: stale_close, label: Close stale, from: resolved, to: closed, after: 2bd}\n")
    lars = desk.actor("lars")
    number = desk.create(desk.actor("rita"), "incident", P3)["number"]
    desk.fire(lars, number, "start")
    desk.fire(lars, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Cleared the jam"})
    clock.now = datetime(2026, 3, 9, 10, 0, tzinfo=BERLIN)  # past both (2bd: Wednesday, 3bd: Thursday)
    result = sweep(desk)
    assert (result.timers, result.failed) == (1, 0)
    assert desk.get(lars, number)["state"] == "closed"
    fired = [e["transition"] for e in desk.events(lars, number) if e["kind"] == "transition"]
    assert fired == ["start", "resolve", "stale_close"]
    assert sweep(desk).timers == 0
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Timer)) == 0


# -- many tickets, several workers ------------------------------------------------------------------

def _seed_due_clocks(db: Database, engine: Engine, count: int) -> None:
    """`count` P3 incidents whose response clock started at Monday 08:00 and is due (fast bulk insert)."""
    version = engine.definitions.active_id()
    start = datetime(2026, 3, 2, 8, 0, tzinfo=BERLIN).astimezone(UTC)
    deadline = start + timedelta(hours=2)
    with db.write() as session:
        rows = [{"number": f"INC9{i:06d}", "process": "incident", "state": "new", "is_open": True, "priority": "P3",
                 "team": "service_desk", "requester": "rita", "fields": P3, "version": 1,
                 "definitions_version": version, "created_at": start, "updated_at": start, "state_entered_at": start}
                for i in range(count)]
        session.execute(insert(Ticket), rows)
        ids = session.scalars(select(Ticket.id).where(Ticket.number.like("INC9%"))).all()
        session.execute(insert(SlaClock), [
            {"ticket_id": i, "clock": "response", "status": "running", "phase": "running", "policy": "incident_sla",
             "calendar": "office", "target_seconds": 7200.0, "elapsed_seconds": 0.0, "started_at": start,
             "running_since": start, "deadline": deadline, "warnings_fired": 1, "breached": False,
             "breach_fired": False, "next_timer_at": deadline, "pauses": []} for i in ids])


def _worker(url: str, barrier: object, queue: object) -> None:
    engine = Engine(Database(url), clock=lambda: datetime(2026, 3, 2, 14, 0, tzinfo=BERLIN))
    engine.definitions.active()
    barrier.wait()  # type: ignore[attr-defined]
    queue.put(sweep(engine, batch=100, deliver=False).clocks)


def test_workers_share_due_breaches_and_each_fires_exactly_once(db: Database, db_url: str) -> None:
    engine = Engine(db, Definitions(db))
    engine.definitions.publish_path(DEFINITIONS)
    add_user(db, "rita")
    postgres = db.url.get_backend_name() == "postgresql"
    count, workers = (10_000, 2) if postgres else (1_000, 1)  # SQLite: one writer, one worker
    _seed_due_clocks(db, engine, count)
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=_worker, args=(db_url, barrier, queue)) for _ in range(workers)]
    for p in processes:
        p.start()
    handled = [queue.get(timeout=900) for _ in processes]
    for p in processes:
        p.join(timeout=60)
    assert sum(handled) == count
    if workers > 1:
        assert all(h > 0 for h in handled), handled  # both did part of the work
    with db.read() as session:
        breaches = session.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.notification == "sla_breach"))
        escalated = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.team == "desktop_support"))
        sla_events = session.scalars(select(Event.data).where(Event.kind == "sla")).all()
        left = session.scalar(select(func.count()).select_from(SlaClock).where(
            SlaClock.clock == "response", SlaClock.next_timer_at.is_not(None)))
    breach_events = [e for e in sla_events if e.get("clock") == "response" and e.get("breach")]
    assert breaches == count and escalated == count and len(breach_events) == count
    assert left == 0


def test_clocks_a_new_version_no_longer_has_stop_being_due(desk: Engine, clock: Clock, db: Database,
                                                           tmp_path) -> None:  # type: ignore[no-untyped-def]
    number = desk.create(desk.actor("rita"), "incident", P3)["number"]
    publish_overlay(desk, tmp_path / "renamed",
                    "kind: sla_policy\nid: incident_sla\nclocks:\n  - {id: response, remove: true}\n"
                    "  - {id: first_response, stop: \"state != 'new'\", targets: {default: 4h}}\n")
    desk.definitions.poll_seconds = 0
    clock.advance(hours=5)
    result = sweep(desk, batch=1)  # must come back: the old clock is not due for ever
    assert result.failed == 0
    with db.read() as session:
        old = session.scalar(select(SlaClock).where(SlaClock.clock == "response"))
        assert old is not None and old.next_timer_at is None
    assert set(desk.get(desk.actor("lars"), number)["sla"]) >= {"first_response", "resolution"}
