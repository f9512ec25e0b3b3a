"""Triage assistance at scale (SPEC 16): 100,000 tickets of history, a training, and the two endpoints timed.

    python bench/triage.py [--tickets 100000] [--backends sqlite,postgresql] [--requests 200]

Builds the history by bulk SQL (as the seed-scale bench does: building it through the engine would take
hours): the 511 labelled incidents of tests/data with variations (a unit, a place, an asset tag, a time of day,
a plea, a second sentence from another incident of the same team), 90% closed and 10% open, spread over 2,000
requesters, with their search documents. Then `itsm triage train`'s code path (timed; the model's size), and
through the Flask test client with bearer tokens: `POST /api/triage` with held-out texts and
`GET /api/tickets/N/triage` for random tickets, as an agent of the process (who sees everything) and as a
requester (whose similar tickets are their own). Prints p50 and p95 per endpoint and caller; run it alone and
quote the load average it prints. PostgreSQL runs in a temporary schema of $ITSM_TEST_POSTGRES_URL.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, text

from itsm.engine.people.users import add_user, create_token
from itsm.engine.reports.triage import train
from itsm.store import Ticket
from itsm.store.bulk import insert_rows
from itsm.store.search import write_documents
from itsm.web import create_app, engine_of

from databases import postgres_database, postgres_version, sqlite_database

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "incidents_zh.jsonl"
UNITS = ["县财政局", "市人社局", "区行政服务中心", "镇便民服务中心", "市公安局", "县税务局", "省大数据局", "市卫健委"]
PLACES = ["三楼", "二楼东侧", "大厅窗口", "档案室", "会议室", "302办公室", "一楼自助区", ""]
PLEAS = ["请尽快处理", "比较急", "麻烦看一下", "谢谢", "急！", "", "", "please help"]
TIMES = ["今天上午", "刚才", "从昨天开始", "下午两点", "一直", ""]
BATCH = 5_000


def variants(rows: list[dict[str, Any]], count: int, rng: random.Random) -> list[dict[str, Any]]:
    by_team: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_team.setdefault(row["team"], []).append(row)
    out = []
    for i in range(count):
        row = rows[i % len(rows)]
        other = rng.choice(by_team[row["team"]])
        title = f"{rng.choice(UNITS)}{rng.choice(PLACES)}{row['title']}"[:160]
        body = " ".join(part for part in (rng.choice(TIMES), row["description"], other["description"][:40],
                                          f"资产编号 ZW-PC-{rng.randrange(100000):05d}", rng.choice(PLEAS)) if part)
        out.append({**row, "title": title, "description": body})
    return out


def build(engine: Any, rows: list[dict[str, Any]], count: int, rng: random.Random) -> list[str]:
    """`count` tickets by bulk SQL; returns the numbers of their requesters' (for the requester timing)."""
    version = engine.definitions.active_id()
    now = datetime.now(UTC)
    table = cast(Table, Ticket.__table__)
    history = variants(rows, count, rng)
    with engine.db.write() as session:
        connection = session.connection()
        for start in range(0, count, BATCH):
            chunk = history[start:start + BATCH]
            tickets = []
            for i, row in enumerate(chunk, start):
                at = now - timedelta(minutes=count - i)
                closed = rng.random() < 0.9
                tickets.append({
                    "id": i + 1, "number": f"INC{i + 1:07d}", "process": "incident",
                    "state": "closed" if closed else "assigned", "is_open": not closed, "priority": "P4",
                    "team": row["team"], "assignee": None, "requester": f"user{i % 2000}",
                    "fields": {"short_description": row["title"], "description": row["description"],
                               "service": row["service"], "category": row["category"], "impact": "low",
                               "urgency": "low"},
                    "version": 3, "definitions_version": version, "created_at": at, "updated_at": at,
                    "state_entered_at": at, "closed_at": at if closed else None, "org": None})
            insert_rows(connection, table, tickets)
            write_documents(session, [(t["id"], t["fields"]["short_description"], t["fields"]["description"])
                                      for t in tickets])
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT setval(pg_get_serial_sequence('tickets', 'id'), "
                                    "(SELECT max(id) FROM tickets))"))
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
    return [f"INC{i + 1:07d}" for i in range(count) if i % 2000 == 7]


def timed(call: Callable[[], Any], count: int) -> tuple[float, float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def run(name: str, database: Callable[[], AbstractContextManager[str]], count: int, requests: int) -> None:
    rng = random.Random(19)
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    held_out = [r for i, r in enumerate(rows) if i % 5 == 4]
    learn = [r for i, r in enumerate(rows) if i % 5 != 4]
    with database() as url:
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        engine = engine_of(app)
        engine.db.upgrade()
        engine.definitions.publish_path(ROOT / "definitions")
        add_user(engine.db, "lars")  # the service desk: an agent of the incident process
        add_user(engine.db, "user7")  # a requester with 50 tickets of the history
        tokens = {name: create_token(engine.db, name) for name in ("lars", "user7")}
        started = time.perf_counter()
        mine = build(engine, learn, count, rng)
        print(f"{name}: {count} tickets built in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        [result] = train(engine)
        print(f"{name}: {result.line()} (wall {time.perf_counter() - started:.1f} s, reading the tickets included)")
        client = app.test_client()
        texts = [{"short_description": r["title"], "description": r["description"]} for r in held_out]
        numbers = [f"INC{rng.randrange(1, count + 1):07d}" for _ in range(requests)]

        def post(who: str) -> Callable[[], Any]:
            def call() -> None:
                body = {"process": "incident", "fields": rng.choice(texts)}
                response = client.post("/api/triage", json=body, headers={"Authorization": f"Bearer {tokens[who]}"})
                assert response.status_code == 200, response.text
            return call

        def get(who: str, pool: list[str]) -> Callable[[], Any]:
            def call() -> None:
                response = client.get(f"/api/tickets/{rng.choice(pool)}/triage",
                                      headers={"Authorization": f"Bearer {tokens[who]}"})
                assert response.status_code == 200, response.text
            return call

        post("lars")()  # the first call loads the model
        for label, call in (("POST /api/triage, agent", post("lars")),
                            ("GET /api/tickets/N/triage, agent", get("lars", numbers)),
                            ("POST /api/triage, requester", post("user7")),
                            ("GET /api/tickets/N/triage, requester", get("user7", mine))):
            p50, p95 = timed(call, requests)
            print(f"{name}: {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms ({requests} requests)")
        engine.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} on "
          f"{os.cpu_count()} cores")
    backends = args.backends.split(",")
    if "sqlite" in backends:
        run("sqlite", sqlite_database, args.tickets, args.requests)
    base = os.environ.get("ITSM_TEST_POSTGRES_URL")
    if "postgresql" in backends and base and postgres_version(base):
        run("postgresql", postgres_database(base), args.tickets, args.requests)
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
