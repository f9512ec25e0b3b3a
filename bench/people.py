"""People benchmark: finding users and organizations, and KPIs by organization, with 11,001 organizations,
100,000 users and N tickets loaded, on SQLite and PostgreSQL.

    python bench/people.py [--tickets N] [--repeat R] [--backends sqlite,postgresql]

Seeds the tickets of bench/kpis.py (default 100,000, bulk inserts), then a province with 11 cities of 9
counties of 110 units each (11,001 organizations, bulk inserts with their paths), 100,000 users spread over
the units, and gives every ticket a unit. Then times, R times each after a warm-up, in-process through the
Flask test client (admin token or session): the user search of the API and the admin page, a level of the
tree with its counts, KPIs for the province, a city, a county and a unit, with `group_by=org` at each level,
and the dashboard's drill-down. Prints medians; no assertions on time.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from kpis import DEFAULT_POSTGRES_URL, NOW, seed
from sqlalchemy import bindparam, insert, select, update

from itsm.engine.people.users import add_user
from itsm.store import Organization, Ticket, User
from itsm.store.models import utcnow
from itsm.web import create_app, engine_of

from databases import postgres_database, postgres_version, sqlite_database

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
USERS, CITIES, COUNTIES, UNITS = 100_000, 11, 9, 110
CHUNK = 10_000


def seed_people(url: str, rng: random.Random) -> list[str]:
    """The tree and the users; every ticket gets a unit. Returns the units' ids."""
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    db = engine_of(app).db
    now = utcnow()
    rows = [{"id": "zhejiang", "name": "浙江省", "parent": None, "path": "/zhejiang/"}]
    units = []
    for c in range(1, CITIES + 1):
        city = f"c{c:02d}"
        rows.append({"id": city, "name": f"第{c}市", "parent": "zhejiang", "path": f"/zhejiang/{city}/"})
        for k in range(1, COUNTIES + 1):
            county = f"{city}k{k}"
            rows.append({"id": county, "name": f"第{c}市第{k}县", "parent": city,
                         "path": f"/zhejiang/{city}/{county}/"})
            for u in range(1, UNITS + 1):
                unit = f"{county}u{u:03d}"
                units.append(unit)
                rows.append({"id": unit, "name": f"第{c}市第{k}县第{u}单位", "parent": county,
                             "path": f"/zhejiang/{city}/{county}/{unit}/"})
    for row in rows:
        row.update(vip=False, active=True, created_at=now, updated_at=now)
    with db.write() as session:
        session.execute(insert(Organization), rows)
    for offset in range(0, USERS, CHUNK):
        people = []
        for i in range(offset, offset + CHUNK):
            unit = rng.choice(units)
            full_name = rng.choice(SURNAMES) + rng.choice(GIVEN) * rng.randint(1, 2)
            people.append({"name": f"u{i:06d}", "full_name": full_name,
                           "email": f"u{i:06d}@{unit}.gov.cn", "org": unit, "is_admin": False, "vip": False,
                           "org_contact": i % 50 == 0, "active": True, "created_at": now})
        with db.write() as session:
            session.execute(insert(User), people)
    with db.write() as session:
        ids = list(session.scalars(select(Ticket.id)))
        table = Ticket.__table__
        session.connection().execute(update(table).where(table.c.id == bindparam("tid")).values(org=bindparam("unit")),
                                     [{"tid": tid, "unit": rng.choice(units)} for tid in ids])
    return units


def timed(client: Any, path: str, repeat: int, headers: dict[str, str] | None = None) -> tuple[float, Any]:
    response = client.get(path, headers=headers or {})  # warm-up
    assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(path, headers=headers or {})
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000, response


def run(name: str, database: Callable[[], AbstractContextManager[str]], args: argparse.Namespace) -> None:
    rng = random.Random(16)
    with database() as url:
        started = time.perf_counter()
        token = seed(url, args.tickets)
        seed_people(url, rng)
        print(f"{name}: seeded {args.tickets:,} tickets, 11,001 organizations and {USERS:,} users in "
              f"{time.perf_counter() - started:.0f}s")
        app = create_app({"DATABASE_URL": url, "TESTING": True})
        engine_of(app).clock = lambda: NOW
        add_user(engine_of(app).db, "boss", password="boss-password", admin=True)
        api, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
        for label, path in (
                ("users q=substring (one)", "/api/users?q=u012345"),
                ("users q=王 (first page)", "/api/users?q=%E7%8E%8B"),
                ("users org=city", "/api/users?org=c05"),
                ("users org_contact=true", "/api/users?org_contact=true&limit=200"),
                ("orgs parent=county (110)", "/api/orgs?parent=c05k3&limit=200"),
                ("orgs q=第5市第3县第1", "/api/orgs?q=%E7%AC%AC5%E5%B8%82%E7%AC%AC3%E5%8E%BF%E7%AC%AC1"),
                ("kpis everything", "/api/kpis"),
                ("kpis org=province", "/api/kpis?org=zhejiang"),
                ("kpis org=unit", "/api/kpis?org=c05k3u001"),
                ("kpis by org, roots", "/api/kpis?group_by=org"),
                ("kpis by org, province (11)", "/api/kpis?org=zhejiang&group_by=org"),
                ("kpis by org, city (9)", "/api/kpis?org=c05&group_by=org"),
                ("kpis by org, county (110)", "/api/kpis?org=c05k3&group_by=org"),
                ("queue, admin", "/api/tickets?limit=50")):
            ms, response = timed(api, path, args.repeat, headers)
            body = response.get_json()
            note = (f"{len(body['items'])} items" if "items" in body else
                    f"created {body['tickets']['created']:,}" + (f", {len(body['by_org'])} rows" if "by_org" in body
                                                                 else ""))
            print(f"  {label:28} median {ms:7.0f} ms  {note}")
        pages = app.test_client()
        login = pages.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        pages.post("/login", data={"csrf_token": csrf, "name": "boss", "password": "boss-password"})
        for label, path in (("page /admin/users?q=", "/admin/users?q=%E7%8E%8B%E4%BC%9F"),
                            ("page /admin/orgs?parent=county", "/admin/orgs?parent=c05k3"),
                            ("page /dashboard?org=county", "/dashboard?org=c05k3")):
            ms, _ = timed(pages, path, args.repeat)
            print(f"  {label:28} median {ms:7.0f} ms")


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
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
