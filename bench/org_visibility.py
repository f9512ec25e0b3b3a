"""Visibility by organization (SPEC 14) at the seed's scale: the queue as different people see it.

    python bench/org_visibility.py [--tickets N] [--repeat R] [--backends postgresql,sqlite] [--explain]

Seeds, with bulk inserts (not through the engine): 11,024 organizations (2 provinces x 11 cities x 10
counties x 49 units), 100,000 users spread over the units (one contact per unit), and N tickets (default
50,000) from random users, 70% closed. The pack is the default one with an overlay that adds a Zhejiang
province desk (`org_scope: zhejiang`). Then times `GET /api/tickets` (in-process Flask test client, each
person's API token) R times each after a warm-up, and prints p50 and p99 for: an unscoped agent, the
province desk's agent, a unit's contact, a plain requester, `org=` (a city for the unscoped agent, a county
for the province desk), a search (`q=`) by the province desk, and `GET /api/kpis` for both agents.
`--explain` prints PostgreSQL's plan of the province desk's queue (EXPLAIN ANALYZE, BUFFERS).
A plain script printing figures: no assertions on time.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, text

from itsm.engine.people.users import create_token
from itsm.store import Organization, Ticket, User
from itsm.store.orgs import path_of
from itsm.store.search import replace_documents
from itsm.web import create_app, engine_of

from databases import postgres_database, postgres_version, sqlite_database

DEFINITIONS = Path(__file__).resolve().parents[1] / "definitions"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
OVERLAY = f"""kind: pack
id: province
format: 1
extends: {DEFINITIONS}
---
kind: team
id: zhejiang_desk
name: Zhejiang desk
tier: L1
roles: [agent]
escalates_to: desktop_support
org_scope: zhejiang
members: [{{user: zoe}}]
"""
START = datetime(2026, 1, 1, tzinfo=UTC)
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
OTHER_TEAMS = ("service_desk", "desktop_support", "network_ops", "application_support")
USERS = 100_000
CHUNK = 10_000
WORDS = ("printer", "laptop", "network", "vpn", "scanner", "mail", "login", "screen", "phone", "server")


def tree() -> list[tuple[str, str | None]]:
    """(id, parent) of 11,024 organizations, parents first."""
    out: list[tuple[str, str | None]] = []
    for province in ("zhejiang", "jiangsu"):
        out.append((province, None))
        for c in range(11):
            city = f"{province[:2]}-c{c}"
            out.append((city, province))
            for k in range(10):
                county = f"{city}-k{k}"
                out.append((county, city))
                out.extend((f"{county}-u{u}", county) for u in range(49))
    return out


def seed(url: str, tickets: int, folder: Path) -> dict[str, Any]:
    """Everything above; returns the people to measure (name -> token) and the ids the queries name."""
    (folder / "pack.yaml").write_text(OVERLAY, encoding="utf-8")
    app = create_app({"DATABASE_URL": url, "PACK": str(folder), "TESTING": True})
    engine = engine_of(app)
    db = engine.db
    db.upgrade()
    engine.definitions.publish_path(folder)
    version = engine.definitions.active_id()
    rng = random.Random(11)
    organizations = tree()
    paths: dict[str, str] = {}
    for org, parent in organizations:
        paths[org] = path_of(paths[parent] if parent else None, org)
    units = [org for org, _ in organizations if "-u" in org]
    with db.write() as session:
        for offset in range(0, len(organizations), CHUNK):
            session.execute(insert(Organization), [
                {"id": org, "name": org.upper(), "parent": parent, "path": paths[org], "vip": False, "active": True,
                 "created_at": START, "updated_at": START} for org, parent in organizations[offset:offset + CHUNK]])
    people: list[tuple[str, str | None, bool]] = [(name, None, False) for name in ("lars", "sam", "dana", "zoe")]
    contacts = set(units)  # the first user of each unit is its contact
    for i in range(USERS - len(people)):
        unit = units[i % len(units)] if i < len(units) else rng.choice(units)
        people.append((f"u{i:06d}", unit, unit in contacts and i < len(units)))
    with db.write() as session:
        for offset in range(0, len(people), CHUNK):
            session.execute(insert(User), [
                {"name": name, "email": f"{name}@example.invalid", "is_admin": False, "vip": False, "org": org,
                 "org_contact": contact, "active": True, "created_at": START}
                for name, org, contact in people[offset:offset + CHUNK]])
    requesters = [(name, org) for name, org, _ in people if org is not None]
    for offset in range(0, tickets, CHUNK):
        rows = []
        for i in range(offset, min(offset + CHUNK, tickets)):
            name, org = rng.choice(requesters)
            created = START + timedelta(seconds=rng.randrange(365 * 86400))
            closed = rng.random() < 0.7
            team = "zhejiang_desk" if org.startswith("zh") and rng.random() < 0.5 else rng.choice(OTHER_TEAMS)
            rows.append({"number": f"INC{i + 1:09d}", "process": "incident",
                         "state": "closed" if closed else "assigned", "is_open": not closed,
                         "priority": rng.choice(("P2", "P3", "P4")), "team": team,
                         "assignee": None, "requester": name, "org": org,
                         "fields": {"short_description": f"{rng.choice(WORDS)} {rng.choice(WORDS)} broken",
                                    "service": "workplace", "category": "hardware"},
                         "version": 1, "definitions_version": version, "created_at": created, "updated_at": created,
                         "state_entered_at": created, "closed_at": created if closed else None})
        with db.write() as session:
            session.execute(insert(Ticket), rows)
            first = session.scalar(select(Ticket.id).where(Ticket.number == rows[0]["number"]))
            assert first is not None
            replace_documents(session, [(first + j, row["fields"]["short_description"], "", "", "")
                                        for j, row in enumerate(rows)])
    if url.startswith("postgresql"):  # as autovacuum would have by now: the planner's statistics
        with db.engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    with db.read() as session:
        ranked = session.execute(text(
            "SELECT org, count(*) FROM tickets GROUP BY org ORDER BY count(*) DESC, org")).all()
        counts = {org: n for org, n in ranked}
        busy = {row[0] for row in session.execute(text("SELECT requester FROM tickets GROUP BY requester "
                                                       "HAVING count(*) BETWEEN 2 AND 5"))}
    contact = next(name for name, org, is_contact in people if is_contact and counts.get(org or "", 0) >= 4)
    requester = next(name for name, _, is_contact in people if name in busy and not is_contact)
    tokens = {name: create_token(db, name) for name in ("lars", "zoe", contact, requester)}
    return {"tokens": tokens, "contact": contact, "requester": requester, "city": "zh-c3", "county": "zh-c3-k4",
            "tickets": tickets}


def run(name: str, database: Callable[[], AbstractContextManager[str]], args: argparse.Namespace) -> None:
    with database() as url, tempfile.TemporaryDirectory(prefix="itsm-bench-pack-") as folder:
        started = time.perf_counter()
        seeded = seed(url, args.tickets, Path(folder))
        print(f"{name}: seeded 11,024 organizations, {USERS:,} users, {args.tickets:,} tickets in "
              f"{time.perf_counter() - started:.1f}s")
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        engine_of(app).clock = lambda: NOW
        client = app.test_client()
        tokens = seeded["tokens"]
        cases = [
            ("unscoped agent (lars)", "lars", "/api/tickets"),
            ("province desk (zoe)", "zoe", "/api/tickets"),
            ("unit contact", seeded["contact"], "/api/tickets"),
            ("requester", seeded["requester"], "/api/tickets"),
            ("lars, org=city", "lars", f"/api/tickets?org={seeded['city']}"),
            ("zoe, org=county", "zoe", f"/api/tickets?org={seeded['county']}"),
            ("lars, q=printer", "lars", "/api/tickets?q=printer"),
            ("zoe, q=printer", "zoe", "/api/tickets?q=printer"),
            ("zoe, page 2", "zoe", None),
            ("lars, kpis", "lars", "/api/kpis?from=2026-01-01&to=2026-12-31"),
            ("zoe, kpis", "zoe", "/api/kpis?from=2026-01-01&to=2026-12-31"),
        ]
        for label, who, path in cases:
            headers = {"Authorization": f"Bearer {tokens[who]}"}
            if path is None:  # the second page of the province desk's queue (a keyset cursor)
                path = f"/api/tickets?cursor={client.get('/api/tickets', headers=headers).get_json()['next_cursor']}"
            response = client.get(path, headers=headers)  # warm-up
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_json()
            shown = (f"created {body['tickets']['created']:,}" if "tickets" in body else
                     f"{len(body['items'])} items")
            repeat = args.repeat if "kpis" not in label else max(5, args.repeat // 20)
            timings = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                client.get(path, headers=headers)
                timings.append(time.perf_counter() - t0)
            timings.sort()
            p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
            print(f"  {label:24} p50 {statistics.median(timings) * 1000:7.1f} ms  p99 {p99 * 1000:7.1f} ms"
                  f"  (n={repeat}, {shown})")
        if args.explain and url.startswith("postgresql"):
            explain(app, [("province desk", tokens["zoe"], "/api/tickets"),
                          ("unit contact", tokens[seeded["contact"]], "/api/tickets"),
                          ("requester", tokens[seeded["requester"]], "/api/tickets"),
                          ("province desk, org=county", tokens["zoe"], f"/api/tickets?org={seeded['county']}")])


def explain(app: Any, cases: list[tuple[str, str, str]]) -> None:
    """PostgreSQL's plans of the queues: the statement each request runs, with its parameters."""
    engine = engine_of(app)
    seen: list[tuple[str, Any]] = []

    def remember(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().startswith("SELECT tickets.id") and "ORDER BY tickets.id DESC" in statement:
            seen.append((statement, parameters))

    for label, token, path in cases:
        event.listen(engine.db.engine, "before_cursor_execute", remember)
        try:
            app.test_client().get(path, headers={"Authorization": f"Bearer {token}"})
        finally:
            event.remove(engine.db.engine, "before_cursor_execute", remember)
        statement, parameters = seen[-1]
        with engine.db.engine.connect() as connection:
            plan = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
        where = " ".join(statement.split()).split(" WHERE ", 1)[1]
        print(f"  EXPLAIN (ANALYZE, BUFFERS): {label}, WHERE {where[:400]}")
        for (line,) in plan:
            print(f"    {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--backends", default="postgresql")
    parser.add_argument("--explain", action="store_true")
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
