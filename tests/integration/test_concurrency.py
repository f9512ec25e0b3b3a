"""Concurrency (SPEC 8): conflicting transitions on one ticket, and ticket numbers under parallel creates.

Threads share one Engine; processes each build their own, as separate server workers would.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from sqlalchemy import func, select

from itsm.engine import Conflict, Definitions, Engine, system_actor
from itsm.store import Database, Event, Ticket

WORKERS = 16
INCIDENT = {"service": "email", "category": "software", "impact": "medium", "urgency": "medium"}
MINIMAL = Path(__file__).resolve().parents[1] / "packs" / "valid" / "minimal"


def _fire_once(engine: Engine, number: str, transition: str, version: int) -> str:
    try:
        engine.fire(engine.actor("lars"), number, transition, version=version)
        return "ok"
    except Conflict as exc:
        return exc.code


def _assert_exactly_one_won(engine: Engine, number: str, results: list[str]) -> None:
    assert results.count("ok") == 1, results
    assert len(results) == WORKERS and set(results) <= {"ok", "stale_version", "conflict"}
    with engine.db.read() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None
        transitions = session.scalars(select(Event).where(Event.ticket_id == ticket.id, Event.kind == "transition"))
        events = list(transitions)
    assert ticket.version == 2 and len(events) == 1  # the log agrees with the ticket
    assert events[0].to_state == ticket.state


def test_sixteen_threads_fire_conflicting_transitions_and_one_wins(engine: Engine) -> None:
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "Mail down", **INCIDENT})["number"]
    barrier = threading.Barrier(WORKERS)
    results: list[str] = []

    def worker(i: int) -> None:
        barrier.wait()
        results.append(_fire_once(engine, number, "classify" if i % 2 else "start", 1))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    _assert_exactly_one_won(engine, number, results)


def _process_fire(url: str, number: str, transition: str, barrier: object, queue: object) -> None:
    engine = Engine(Database(url))
    engine.actor("lars")  # load definitions before the race
    barrier.wait()  # type: ignore[attr-defined]
    queue.put(_fire_once(engine, number, transition, 1))  # type: ignore[attr-defined]


def test_sixteen_processes_fire_conflicting_transitions_and_one_wins(engine: Engine, db_url: str) -> None:
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "Mail slow", **INCIDENT})["number"]
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=_process_fire, args=(db_url, number, "classify" if i % 2 else "start",
                                                              barrier, queue)) for i in range(WORKERS)]
    for p in processes:
        p.start()
    results = [queue.get(timeout=180) for _ in processes]
    for p in processes:
        p.join(timeout=60)
    _assert_exactly_one_won(engine, number, results)


def _process_create(url: str, count: int, barrier: object, queue: object) -> None:
    engine = Engine(Database(url))
    engine.definitions.active()
    barrier.wait()  # type: ignore[attr-defined]
    numbers = [engine.create(system_actor(), "request", {"summary": f"s{i}"})["number"] for i in range(count)]
    queue.put(numbers)  # type: ignore[attr-defined]


def test_eight_processes_creating_500_tickets_each_get_4000_distinct_numbers(db: Database, db_url: str) -> None:
    Definitions(db).publish_path(MINIMAL)
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(8), context.Queue()
    processes = [context.Process(target=_process_create, args=(db_url, 500, barrier, queue)) for _ in range(8)]
    for p in processes:
        p.start()
    numbers = [n for _ in processes for n in queue.get(timeout=600)]
    for p in processes:
        p.join(timeout=60)
    assert len(numbers) == 4000 and len(set(numbers)) == 4000
    assert all(n.startswith("REQ") for n in numbers)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Ticket)) == 4000
