"""A server that survives its database (SPEC 8): starting needs no database, an outage answers 503 with
`Retry-After`, and both the web app and the worker recover by themselves when the database returns.

The whole story across processes (gunicorn, `itsm worker`, a proxy that cuts PostgreSQL off) is
test_outage.py; here each piece is checked in-process, on SQLite and PostgreSQL where both apply.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from sqlalchemy import exc as sa_exc

from itsm.engine import Engine, system_actor
from itsm.engine.people.settings import SESSION_SECRET
from itsm.engine.people.users import add_user, create_token
from itsm.engine.worker import Backoff, run_forever
from itsm.store import NOT_MIGRATED, UNREACHABLE, Database, Setting, Ticket, User, outage
from itsm.web import create_app, engine_of

from support import DEFINITIONS, Clock, deployed_app, wait_for
from tcp_proxy import Proxy, free_port

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
CMDB_PACK = Path(__file__).resolve().parents[1] / "packs" / "valid" / "cmdb_plugin"
LONG_AGO = datetime(2025, 3, 3, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Monday


def unreachable_urls(tmp_path: Path) -> dict[str, str]:
    return {"postgresql": "postgresql+psycopg://itsm:secret@127.0.0.1:1/itsm",  # nothing listens on port 1
            "sqlite": f"sqlite:///{tmp_path / 'not' / 'yet' / 'itsm.db'}"}  # a folder that does not exist


def assert_unavailable(response: Any, page: bool = False) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "5"
    if page:
        assert response.mimetype == "text/html" and "Service unavailable" in response.text
    else:
        body = response.get_json()
        assert body["error"] == "unavailable" and body["details"] == [] and body["message"]


def login(client: FlaskClient, name: str, password: str) -> Any:
    token = TOKEN.search(client.get("/login").text)
    assert token is not None
    return client.post("/login", data={"csrf_token": token.group(1), "name": name, "password": password})


def secret_rows(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Setting.key).where(Setting.key == SESSION_SECRET)))


# -- the web app ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_app_starts_without_its_database_and_answers_503(backend: str, tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": unreachable_urls(tmp_path)[backend], "TESTING": True})  # connects to nothing
    client = app.test_client()
    health = client.get("/api/health")
    assert_unavailable(health)
    assert "cannot be reached" in health.get_json()["message"] and "secret" not in health.text
    bearer = {"Authorization": "Bearer itsm_whatever"}
    assert_unavailable(client.get("/api/tickets", headers=bearer))
    assert_unavailable(client.post("/api/tickets", json={"process": "incident", "fields": LAPTOP}, headers=bearer))
    assert_unavailable(client.get("/login"), page=True)
    assert_unavailable(client.post("/login", data={"name": "rita", "password": "pw"}), page=True)  # not a CSRF 400
    assert_unavailable(client.get("/no/such/page"), page=True)
    assert not (tmp_path / "not").exists()  # nothing was created either


def test_a_database_that_appears_later_is_served_without_a_restart(tmp_path: Path) -> None:
    url = unreachable_urls(tmp_path)["sqlite"]
    app = create_app({"DATABASE_URL": url, "TESTING": True})
    client = app.test_client()
    assert_unavailable(client.get("/login"), page=True)  # the session secret could not be read: read it later
    (tmp_path / "not" / "yet").mkdir(parents=True)
    db = Database(url)
    db.upgrade()
    Engine(db).definitions.publish_path(DEFINITIONS)
    add_user(db, "rita", password="rita-pw")
    health = client.get("/api/health")
    assert health.status_code == 200 and health.get_json()["database"] == "reachable"
    assert health.get_json()["definitions_version"]
    assert login(client, "rita", "rita-pw").status_code == 302
    assert client.get("/portal").status_code == 200
    assert secret_rows(db) == [SESSION_SECRET]


def test_an_unmigrated_database_answers_503_naming_the_command(db_url: str) -> None:
    app = create_app({"DATABASE_URL": db_url, "TESTING": True})
    client = app.test_client()
    health = client.get("/api/health")
    assert_unavailable(health)
    assert "itsm db upgrade" in health.get_json()["message"]
    assert_unavailable(client.get("/login"), page=True)
    engine_of(app).db.upgrade()
    health = client.get("/api/health")
    assert health.status_code == 200 and health.get_json() == {"status": "ok", "database": "reachable",
                                                                "definitions_version": None}
    engine_of(app).definitions.publish_path(DEFINITIONS)
    assert client.get("/api/health").get_json()["definitions_version"]


def test_the_session_secret_is_read_on_first_use_and_shared_by_every_worker(db_url: str) -> None:
    first = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    db = engine_of(first).db
    add_user(db, "rita", password="rita-pw")
    second = create_app({"DATABASE_URL": db_url, "TESTING": True})  # another gunicorn worker
    assert secret_rows(db) == []  # creating the apps read and wrote nothing
    browser = first.test_client()
    assert login(browser, "rita", "rita-pw").status_code == 302
    assert secret_rows(db) == [SESSION_SECRET]
    cookie = browser.get_cookie("itsm_session")
    assert cookie is not None
    other = second.test_client()
    other.set_cookie("itsm_session", cookie.value)
    assert other.get("/portal").status_code == 200  # signed by the first, accepted by the second


def test_with_itsm_secret_key_nothing_secret_is_stored(db_url: str) -> None:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True,
                        "SECRET_KEY": "a-key-from-the-environment-" + "x" * 20})
    add_user(engine_of(app).db, "rita", password="rita-pw")
    browser = app.test_client()
    assert login(browser, "rita", "rita-pw").status_code == 302
    assert browser.get("/portal").status_code == 200
    assert secret_rows(engine_of(app).db) == []


def test_pages_and_error_pages_while_the_database_is_away_are_503s(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a database server to cut off: PostgreSQL only")
    with Proxy(db_url) as proxy:
        proxy.up()
        app = deployed_app({"DATABASE_URL": proxy.url, "PACK": str(DEFINITIONS), "TESTING": True,
                            "SECRET_KEY": "k" * 32})
        add_user(engine_of(app).db, "rita", password="rita-pw")
        browser = app.test_client()
        assert login(browser, "rita", "rita-pw").status_code == 302
        assert browser.get("/no/such/page").status_code == 404
        proxy.down()
        seen: set[int] = set()

        def unavailable(path: str) -> bool:  # the pack's name comes from a cache for up to a second
            response = browser.get(path)
            seen.add(response.status_code)
            return response.status_code == 503

        wait_for(lambda: unavailable("/no/such/page"), "a 503 for the 404 page")  # it shows the pack's name
        assert seen <= {404, 503}
        assert_unavailable(browser.get("/portal"), page=True)
        proxy.up()
        assert wait_for(lambda: browser.get("/portal").status_code == 200, "the portal again")


def test_stale_pooled_connections_are_replaced_before_use(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a pool of server connections: PostgreSQL only")
    name = f"itsm_stale_{uuid.uuid4().hex[:8]}"
    url = f"{db_url}&application_name={name}"
    app = deployed_app({"DATABASE_URL": url, "PACK": str(DEFINITIONS), "TESTING": True})
    add_user(engine_of(app).db, "rita")
    bearer = {"Authorization": f"Bearer {create_token(engine_of(app).db, 'rita')}"}
    client = app.test_client()
    assert client.get("/api/tickets", headers=bearer).status_code == 200  # the pool holds a connection now
    admin = create_engine(db_url)
    with admin.begin() as connection:  # the server drops them (a restart, a failover, an idle cut)
        killed = connection.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                         "WHERE application_name = :name"), {"name": name}).scalar()
    admin.dispose()
    assert killed
    assert client.get("/api/tickets", headers=bearer).status_code == 200  # pinged, replaced: no error at all


def test_a_database_lost_while_an_action_runs_is_an_outage_not_a_failed_action(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a database server to cut off: PostgreSQL only")
    import itsm_cmdb

    with Proxy(db_url) as proxy:
        proxy.up()
        db = Database(proxy.url)
        db.upgrade()
        engine = Engine(db)
        engine.definitions.publish_path(CMDB_PACK)
        number = engine.create(system_actor(), "ticket", {"summary": "Laptop fan loud"})["number"]

        def lookup_in_the_lost_database(context: Any, args: Any) -> None:  # as `assign` asks for a user
            proxy.down()
            context.op.lookups.user_exists("dana")  # the core's reads beyond its snapshot go to the store

        monkeypatch.setitem(itsm_cmdb.plugin.actions, "cmdb_owner", lookup_in_the_lost_database)
        engine = Engine(db)  # plugin actions are looked up once per engine and pack
        with pytest.raises(sa_exc.OperationalError) as lost:  # not ActionFailed: a 503, not a 409
            engine.fire(system_actor(), number, "classify", {"configuration_item": "LAPTOP-0042"})
        assert outage(lost.value) == UNREACHABLE
        monkeypatch.undo()
        proxy.up()
        engine = Engine(db)  # plugin actions are looked up once per engine and pack
        ticket = engine.fire(system_actor(), number, "classify", {"configuration_item": "LAPTOP-0042"})
        assert ticket["fields"]["owner_team"] == "desktop_support" and ticket["version"] == 2
        db.dispose()


# -- the worker -----------------------------------------------------------------------------------------

def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success() -> None:
    backoff = Backoff(first=1.0, cap=30.0)
    assert [backoff.next_delay() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.reset() == 7 and backoff.next_delay() == 1


def resolved_long_ago(db: Database) -> str:
    """A ticket resolved in March 2025: its auto-close timer (3 business days) is long due."""
    engine = Engine(db, clock=Clock(LONG_AGO))
    if not db.has_tables():
        db.upgrade()
    if not engine.definitions.versions():
        engine.definitions.publish_path(DEFINITIONS)
        add_user(db, "rita")
        add_user(db, "lars")
    number = engine.create(engine.actor("rita"), "incident", LAPTOP)["number"]
    engine.fire(engine.actor("lars"), number, "start")
    engine.fire(engine.actor("lars"), number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Reseated"})
    return str(number)


def state_of(db: Database, number: str) -> str | None:
    with db.read() as session:
        return session.scalar(select(Ticket.state).where(Ticket.number == number))


def test_the_worker_waits_for_its_database_with_backoff_then_fires_due_timers(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = unreachable_urls(tmp_path)["sqlite"]
    stop = threading.Event()
    worker = threading.Thread(target=run_forever, args=(Engine(Database(url)), 0.05),
                              kwargs={"stop": stop, "backoff": Backoff(first=0.01, cap=0.04)}, daemon=True)
    caplog.set_level(logging.INFO, logger="itsm.worker")
    worker.start()
    try:
        def waits() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.name == "itsm.worker" and r.levelno == logging.WARNING]

        wait_for(lambda: len(waits()) >= 4, "four failed tries")
        assert [re.search(r"trying again in ([\d.]+) s", m).group(1) for m in waits()[:4]] == [  # type: ignore[union-attr]
            "0.01", "0.02", "0.04", "0.04"]
        assert "database unreachable (unable to open database file)" in waits()[0]
        # the database appears complete (a ticket resolved long ago in it), as a restored server would: built
        # beside, then moved into place, so the worker never sweeps it half-made (its clocks are long overdue)
        (tmp_path / "staging" / "yet").mkdir(parents=True)
        staging = Database(f"sqlite:///{tmp_path / 'staging' / 'yet' / 'itsm.db'}")
        number = resolved_long_ago(staging)
        staging.dispose()
        (tmp_path / "staging").rename(tmp_path / "not")
        db = Database(url)
        wait_for(lambda: state_of(db, number) == "closed", "the auto-close timer to fire")
        assert worker.is_alive()
        wait_for(lambda: any("database reachable again" in r.getMessage() for r in caplog.records),
                 "the worker to say it reached the database again")  # logged once the sweep returns
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()


# -- what tells an outage from a bug ----------------------------------------------------------------------

def raised(url: str, *statements: str) -> BaseException:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    except Exception as exc:  # the error is what the test looks at
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{statements} did not fail")


def test_outage_tells_a_database_away_or_unmigrated_from_a_bug(db_url: str, tmp_path: Path) -> None:
    for url in unreachable_urls(tmp_path).values():
        assert outage(raised(url, "SELECT 1")) == UNREACHABLE
    assert outage(raised(db_url, "SELECT * FROM tickets")) == NOT_MIGRATED
    assert outage(raised(db_url, "SELEC 1")) is None  # a syntax error is a bug
    assert outage(raised(db_url, "CREATE TABLE twice (id INTEGER PRIMARY KEY)",
                         "INSERT INTO twice VALUES (1), (1)")) is None  # a constraint: not an outage either
    assert outage(sa_exc.TimeoutError("QueuePool limit reached")) == UNREACHABLE
    assert outage(sqlite3.OperationalError("no such table: tickets")) == NOT_MIGRATED
    assert outage(ValueError("connection failed")) is None
    # a read replica cancelled the statement while replaying the primary (docs/scale.md): try again later
    cancelled = psycopg.errors.SerializationFailure("canceling statement due to conflict with recovery")
    assert outage(cancelled) == UNREACHABLE


# -- the development server still sets everything up ----------------------------------------------------------

def test_itsm_serve_demo_migrates_and_publishes_in_an_empty_folder(tmp_path: Path) -> None:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ITSM_")}  # sqlite:///itsm.db
    server = subprocess.Popen([str(Path(sys.executable).with_name("itsm")), "serve", "--demo", "--pack",
                               str(DEFINITIONS), "--port", str(port)], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def health() -> bytes | None:
            assert server.poll() is None, "itsm serve exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as response:
                    return bytes(response.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return None

        assert b'"definitions_version":"' in wait_for(health, "itsm serve to answer", seconds=90)
        db = Database(f"sqlite:///{tmp_path / 'itsm.db'}")
        with db.read() as session:
            assert session.scalar(select(User.name).where(User.name == "rita")) == "rita"  # the demo users
        db.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)
