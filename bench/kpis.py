"""KPI benchmark: `GET /api/kpis` over a large desk, SQLite and PostgreSQL.

    python bench/kpis.py [--tickets N] [--repeat R] [--backends sqlite,postgresql]

Seeds N incidents (default 100,000) over 2026 with bulk inserts (not through the engine, which would take
hours): 70% resolved (a quarter of those reopened once, most closed with a rating), 30% still open; a create,
an agent's start and, for resolved ones, resolve/reopen/close events; two SLA clocks each. Then times
`GET /api/kpis` (in-process Flask test client, admin token) for the whole year and for one month, R times
each after a warm-up, and prints medians. PostgreSQL: ITSM_TEST_POSTGRES_URL (default below), skipped with a
note when unreachable. A plain script printing figures: no assertions on time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from itsm.engine.people.users import add_user, create_token
from itsm.store import Event, SlaClock, Ticket
from itsm.web import create_app, engine_of

from databases import postgres_database, postgres_version, sqlite_database

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
TEAMS = ("service_desk", "network_ops", "desktop_support", "application_support")
CHANNELS = ("portal", "phone", "email", "monitoring")
CHUNK = 10_000


def seed(url: str, tickets: int) -> str:
    """The desk's tickets, events and clocks; returns an admin token."""
    app = create_app({"DATABASE_URL": url, "PACK": str(DEFINITIONS), "TESTING": True})
    engine = engine_of(app)
    engine.clock = lambda: NOW
    db = engine.db
    for name in ("rita", "lars"):
        add_user(db, name)
    add_user(db, "admin", admin=True)
    version = engine.definitions.active_id()
    rng = random.Random(7)
    for offset in range(0, tickets, CHUNK):
        count = min(CHUNK, tickets - offset)
        rows, plans = [], []
        for i in range(count):
            created = YEAR + timedelta(seconds=rng.randrange(365 * 86400))
            resolved = rng.random() < 0.7
            reopened = resolved and rng.random() < 0.25
            rating = rng.choice((None, 1, 2, 3, 4, 5, 5, 4)) if resolved else None
            state = "closed" if resolved and rating else "resolved" if resolved else "in_progress"
            fields = {"short_description": "Printer jams", "service": "workplace", "category": "hardware",
                      "impact": "medium", "urgency": "medium", "channel": rng.choice(CHANNELS)}
            if rating:
                fields["satisfaction"] = rating
            rows.append({"number": f"INC{offset + i + 1:09d}", "process": "incident", "state": state,
                         "is_open": state != "closed", "priority": rng.choice(("P2", "P3", "P4")),
                         "team": rng.choice(TEAMS), "assignee": "lars", "requester": "rita", "fields": fields,
                         "version": 1, "definitions_version": version, "created_at": created,
                         "updated_at": created, "state_entered_at": created})
            plans.append((created, resolved, reopened, rating))
        with db.write() as session:
            session.execute(insert(Ticket), rows)
            first = session.scalar(select(Ticket.id).where(Ticket.number == rows[0]["number"]))
            assert first is not None
            events: list[dict[str, Any]] = []
            clocks: list[dict[str, Any]] = []
            for i, (created, resolved, reopened, rating) in enumerate(plans):
                tid = first + i
                at = created + timedelta(minutes=rng.randrange(5, 240))
                done = at + timedelta(hours=rng.randrange(1, 72))
                events.append(_event(tid, created, "rita", "create", None, "new"))
                events.append(_event(tid, at, "lars", "transition", "new", "in_progress"))
                if resolved:
                    events.append(_event(tid, done, "lars", "transition", "in_progress", "resolved"))
                    if reopened:
                        events.append(_event(tid, done + timedelta(hours=1), "rita", "transition", "resolved",
                                             "in_progress"))
                        events.append(_event(tid, done + timedelta(hours=3), "lars", "transition", "in_progress",
                                             "resolved"))
                    if rating:
                        events.append(_event(tid, done + timedelta(hours=5), "rita", "transition", "resolved",
                                             "closed"))
                for clock, hours in (("response", 4), ("resolution", 40)):
                    stop = at if clock == "response" else done if resolved else None
                    deadline = created + timedelta(hours=hours)
                    clocks.append({"ticket_id": tid, "clock": clock, "policy": "incident_sla", "calendar": "office",
                                   "phase": "stopped" if stop else "running",
                                   "status": ("met" if stop <= deadline else "breached") if stop else "running",
                                   "breached": bool(stop and stop > deadline), "target_seconds": hours * 3600.0,
                                   "elapsed_seconds": 0.0, "started_at": created, "stopped_at": stop,
                                   "deadline": deadline, "warnings_fired": 0, "breach_fired": False, "pauses": []})
            for event in events:
                event["definitions_version"] = version
            session.execute(insert(Event), events)
            session.execute(insert(SlaClock), clocks)
    return create_token(db, "admin")


def _event(ticket_id: int, at: datetime, actor: str, kind: str, source: str | None, target: str) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "at": at, "actor": actor, "kind": kind, "from_state": source,
            "to_state": target, "changes": {}, "data": {}}


def run(name: str, database: Callable[[], AbstractContextManager[str]], args: argparse.Namespace) -> None:
    with database() as url:
        started = time.perf_counter()
        token = seed(url, args.tickets)
        print(f"{name}: seeded {args.tickets:,} tickets in {time.perf_counter() - started:.1f}s")
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        engine_of(app).clock = lambda: NOW
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        for label, query in (("year", "from=2026-01-01&to=2026-12-31"), ("month", "from=2026-06-01&to=2026-06-30"),
                             ("year, csv", "from=2026-01-01&to=2026-12-31&format=csv")):
            response = client.get(f"/api/kpis?{query}", headers=headers)  # warm-up
            assert response.status_code == 200, response.get_data(as_text=True)
            timings = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                client.get(f"/api/kpis?{query}", headers=headers)
                timings.append(time.perf_counter() - t0)
            figures = response.get_json() if response.is_json else None
            summary = (f"created {figures['tickets']['created']:,}, resolve mean "
                       f"{figures['time_to_resolve']['mean_seconds'] / 3600:.1f} h, reopen "
                       f"{figures['reopen']['rate_percent']}%" if figures else f"{len(response.data):,} bytes")
            print(f"  {label:10} median {statistics.median(timings) * 1000:7.0f} ms "
                  f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f})  {summary}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}")
    for backend in args.backends.split(","):
        if backend == "sqlite":
            run("sqlite", sqlite_database, args)
        elif backend == "postgresql":
            base = os.environ.get("ITSM_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
            version = postgres_version(base)
            if version is not None:
                run(f"postgresql {version}", postgres_database(base), args)


if __name__ == "__main__":
    main()
