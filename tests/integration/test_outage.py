"""The outage test (SPEC 8, issue 13): gunicorn with two workers and `itsm worker` started while PostgreSQL
is unreachable answer only 503 with `Retry-After` while it is away and recover by themselves when it
returns, twice, the second time with their established connections cut; nothing restarts, and the worker
fires due timers after each recovery.

A TCP relay written for the test (tcp_proxy.py) stands between both processes and PostgreSQL. The test
itself talks to PostgreSQL directly, so it can prepare data while the processes cannot reach it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from itsm.engine import Engine
from itsm.engine.people.users import add_user, create_token
from itsm.store import Database, Ticket

from support import DEFINITIONS, Clock, wait_for
from tcp_proxy import Proxy, free_port

BIN = Path(sys.executable).parent
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
LONG_AGO = datetime(2025, 3, 3, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # a Monday


class Reply:
    def __init__(self, status: int, headers: Any, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def request(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> Reply | None:
    """One HTTP request; None when nothing answers on the port yet."""
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    sent = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, headers=headers,
                                  method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(sent, timeout=30) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def resolved_long_ago(db: Database) -> str:
    """A ticket resolved in March 2025: its auto-close timer (3 business days) is long due."""
    engine = Engine(db, clock=Clock(LONG_AGO))
    number = str(engine.create(engine.actor("rita"), "incident", LAPTOP)["number"])
    engine.fire(engine.actor("lars"), number, "start")
    engine.fire(engine.actor("lars"), number, "resolve", {"resolution_code": "fixed", "resolution_notes": "Reseated"})
    return number


def state_of(db: Database, number: str) -> str | None:
    with db.read() as session:
        return session.scalar(select(Ticket.state).where(Ticket.number == number))


@pytest.fixture()
def postgres_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("an outage of a database server: PostgreSQL only (runs when ITSM_TEST_POSTGRES_URL is set)")
    return db_url


@pytest.fixture()
def proxy(postgres_url: str) -> Iterator[Proxy]:
    with Proxy(postgres_url) as relay:
        yield relay


def start(command: list[str], proxy: Proxy, log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ITSM_")}
    env["ITSM_DATABASE_URL"] = proxy.url  # no ITSM_SECRET_KEY: the session secret comes from the database
    with log.open("wb") as output:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)


def test_gunicorn_and_the_worker_ride_out_two_database_outages(postgres_url: str, proxy: Proxy,
                                                                  tmp_path: Path) -> None:
    db = Database(postgres_url)  # the test's own way in, around the proxy
    db.upgrade()
    Engine(db).definitions.publish_path(DEFINITIONS)
    for name in ("rita", "lars"):
        add_user(db, name, password=f"{name}-pw")
    token = create_token(db, "rita")
    first_due = resolved_long_ago(db)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server_log, worker_log = tmp_path / "gunicorn.log", tmp_path / "worker.log"
    assert not proxy.is_up  # the database is unreachable while both start
    server = start([str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}", "itsm.web:create_app()"],
                   proxy, server_log, tmp_path)
    worker = start([str(BIN / "itsm"), "worker", "--interval", "0.5"], proxy, worker_log, tmp_path)
    try:
        def running() -> None:
            assert server.poll() is None, server_log.read_text()
            assert worker.poll() is None, worker_log.read_text()

        def all_unavailable() -> None:
            """Every kind of request, several times (both gunicorn workers): 503 with Retry-After, nothing else."""
            for _ in range(4):
                replies = {"health": request(f"{base}/api/health"),
                           "queue": request(f"{base}/api/tickets", token),
                           "create": request(f"{base}/api/tickets", token, {"process": "incident", "fields": LAPTOP}),
                           "login page": request(f"{base}/login"),
                           "portal": request(f"{base}/portal")}
                for what, reply in replies.items():
                    assert reply is not None, what
                    assert reply.status == 503, (what, reply.status, reply.body)
                    assert reply.headers["Retry-After"] == "5", what
                    if what in ("login page", "portal"):
                        assert b"Service unavailable" in reply.body, what
                    else:
                        assert reply.json()["error"] == "unavailable", what
            running()

        def served() -> bool:
            running()
            reply = request(f"{base}/api/health")
            assert reply is None or reply.status in (200, 503), reply.body
            return reply is not None and reply.status == 200

        def works_again(label: str) -> None:
            for i in range(6):  # spread over both gunicorn workers
                created = request(f"{base}/api/tickets", token,
                                  {"process": "incident", "fields": {**LAPTOP, "short_description": f"{label} {i}"}})
                assert created is not None and created.status == 201, created and created.body
            login_page = request(f"{base}/login")
            assert login_page is not None and login_page.status == 200

        def worker_waits(times: int) -> bool:
            running()
            return worker_log.read_text().count("database unreachable") >= times

        # -- first outage: both processes start without the database ---------------------------------------
        wait_for(lambda: request(f"{base}/api/health"), "gunicorn to answer")
        all_unavailable()
        wait_for(lambda: worker_waits(2), "the worker to wait and try again")
        proxy.up()
        wait_for(served, "gunicorn to serve again after the first outage")
        works_again("first")
        wait_for(lambda: state_of(db, first_due) == "closed", "the worker to fire the first due timer")

        # -- second outage: established connections are cut too ------------------------------------------------
        waits_before = worker_log.read_text().count("database unreachable")
        assert proxy.accepted >= 2  # both processes hold connections now
        proxy.down()
        second_due = resolved_long_ago(db)  # due while the worker cannot see it
        # what a process keeps for a second (the active version's id: Definitions.poll_seconds) may still answer
        # a page without the database; once it is older, every request asks the database, and gets a 503
        time.sleep(1.5)
        all_unavailable()
        wait_for(lambda: worker_waits(waits_before + 1), "the worker to notice the second outage")
        assert state_of(db, second_due) == "resolved"
        proxy.up()
        wait_for(served, "gunicorn to serve again after the second outage")
        works_again("second")
        wait_for(lambda: state_of(db, second_due) == "closed", "the worker to fire the second due timer")

        running()  # neither process restarted, nor did any gunicorn worker
        assert server_log.read_text().count("Booting worker") == 2, server_log.read_text()
        assert "Traceback" not in server_log.read_text() + worker_log.read_text()
    finally:
        for process in (server, worker):
            process.terminate()
        for process in (server, worker):
            process.wait(timeout=30)
        db.dispose()
