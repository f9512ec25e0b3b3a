"""Engine throughput: tickets created and transitions fired per second, in-process, on SQLite and PostgreSQL.

    python bench/engine.py [--tickets N] [--repeat R]

Every run starts from a fresh database (a SQLite file in a temp dir; a new PostgreSQL schema, dropped
afterwards) with the default pack published and three users: rita (requester), lars (L1, service_desk) and
dana (L2, desktop_support). One warm-up ticket goes through the whole sequence untimed. Then rita creates N
incidents, and each goes classify, escalate (lars), start, hold, resume, resolve (dana).

Wall time is split into the database side (inside DBAPI cursor executes, commits, rollbacks and pool pings;
for SQLite that is the SQLite library's own work) and the rest: Python, i.e. expression evaluation,
validation, the state machine, and SQLAlchemy's ORM and SQL compilation. PostgreSQL comes from
ITSM_TEST_POSTGRES_URL (default below); it is skipped with a note when unreachable. Prints medians
(min/max) over R runs; the machine is shared, so mind the load average printed first.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import event

from itsm.engine import Engine
from itsm.engine.people.users import add_user
from itsm.store import Database

from databases import postgres_database, postgres_version, sqlite_database

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TICKET = {"description": "Black screen since this morning", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
SEQUENCE: list[tuple[str, str, dict[str, Any]]] = [
    ("lars", "classify", {"impact": "medium", "urgency": "medium"}),
    ("lars", "escalate", {"escalation_reason": "Needs a technician on site"}),
    ("dana", "start", {}),
    ("dana", "hold", {"hold_reason": "awaiting_parts"}),
    ("dana", "resume", {}),
    ("dana", "resolve", {"resolution_code": "fixed", "resolution_notes": "Replaced the disk"}),
]
Phases = dict[str, tuple[float, float]]  # phase -> (wall seconds, database seconds)


class DbClock:
    """Accumulates seconds spent waiting on the database."""

    def __init__(self, engine: sqlalchemy.Engine):
        self.seconds = 0.0
        self._start = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        dialect = engine.dialect  # shared with the pool: catches reset-on-return rollbacks and pre-pings
        for name in ("do_commit", "do_rollback", "do_ping"):
            setattr(dialect, name, self._timed(getattr(dialect, name)))

    def _before(self, *_: Any) -> None:
        self._start = time.perf_counter()

    def _after(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._start

    def _timed(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
        return timed


def prepare(url: str) -> tuple[Engine, DbClock]:
    db = Database(url)
    db.upgrade()
    engine = Engine(db)
    engine.definitions.publish_path(ROOT / "definitions")
    for name in ("rita", "lars", "dana"):
        add_user(db, name, email=f"{name}@example.invalid")
    return engine, DbClock(db.engine)


def create_tickets(engine: Engine, count: int) -> list[str]:
    rita = engine.actor("rita")
    return [engine.create(rita, "incident", {**TICKET, "short_description": f"Laptop {i} does not boot"})["number"]
            for i in range(count)]


def fire_sequence(engine: Engine, numbers: list[str]) -> None:
    actors = {name: engine.actor(name) for name in ("lars", "dana")}
    for number in numbers:
        for who, transition, fields in SEQUENCE:
            engine.fire(actors[who], number, transition, fields)


def run_once(url: str, tickets: int) -> Phases:
    engine, clock = prepare(url)
    try:
        fire_sequence(engine, create_tickets(engine, 1))  # warm-up: builds the machine, fills caches
        clock.seconds, start = 0.0, time.perf_counter()
        numbers = create_tickets(engine, tickets)
        phases = {"create": (time.perf_counter() - start, clock.seconds)}
        clock.seconds, start = 0.0, time.perf_counter()
        fire_sequence(engine, numbers)
        phases["fire"] = (time.perf_counter() - start, clock.seconds)
        return phases
    finally:
        engine.db.dispose()


def report(backend: str, runs: list[Phases], tickets: int) -> None:
    def spread(values: list[float], fmt: str) -> str:
        digits = fmt.split(".")[1]
        return f"{statistics.median(values):{fmt}} ({min(values):.{digits}}-{max(values):.{digits}})"

    for phase, unit, count in (("create", "tickets/s", tickets), ("fire", "transitions/s", tickets * len(SEQUENCE))):
        walls, dbs = [r[phase][0] for r in runs], [r[phase][1] for r in runs]
        rates = [count / w for w in walls]
        python_ms = [(w - d) / count * 1000 for w, d in zip(walls, dbs, strict=True)]
        db_ms = [d / count * 1000 for d in dbs]
        share = [d / w * 100 for w, d in zip(walls, dbs, strict=True)]
        print(f"{backend:<10} {phase:<6} {spread(rates, '7.1f')} {unit:<13}  per op: python "
              f"{spread(python_ms, '5.2f')} ms, db {spread(db_ms, '5.2f')} ms, db share {spread(share, '3.0f')} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    one, five, fifteen = os.getloadavg()
    print(f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs")
    print(f"python {sys.version.split()[0]}, SQLAlchemy {sqlalchemy.__version__}, SQLite {sqlite3.sqlite_version}")
    print(f"{args.tickets} tickets, then {len(SEQUENCE)} transitions each ({', '.join(s[1] for s in SEQUENCE)}); "
          f"{args.repeat} runs per backend, fresh database each; median (min-max)")

    backends: list[tuple[str, Callable[[], AbstractContextManager[str]]]] = [("sqlite", sqlite_database)]
    base = os.environ.get("ITSM_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL
    version = postgres_version(base)
    if version is not None:
        print(f"PostgreSQL {version} at {base}")
        backends.append(("postgresql", postgres_database(base)))
    for backend, database in backends:
        runs = []
        for _ in range(args.repeat):
            with database() as url:
                runs.append(run_once(url, args.tickets))
        report(backend, runs, args.tickets)
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
