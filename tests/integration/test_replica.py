"""Search on a read replica (issue 18, `ITSM_REPLICA_DATABASE_URL`).

Which database a request reads is seen in the SQL each engine runs (SQLAlchemy's `before_cursor_execute`):
full-text search and suggestions for typed text read tickets on the replica only; creates, transitions, a
ticket's page, the plain queue and the KPIs (which fold changed tickets into their sums first: a write)
never touch it. On SQLite and PostgreSQL the "replica" is a read-only engine on the same database (so a
write sent to it fails, as on a standby); on PostgreSQL a real streaming replica is started too
(`streaming_replica.py`: a primary and a `pg_basebackup -R` copy of their own, 3-8 s to start on this
machine; that test took 5-11 s in all).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from test_pages import Browser

from itsm.engine.people.users import add_user, create_token
from itsm.store import Database
from itsm.web import create_app, engine_of
from itsm.web.extension import current_engine, replica_engine, search_engine

from streaming_replica import StreamingPair, missing_binaries, streaming_pair, wait_for_replay
from support import DEFINITIONS, DEMO_USERS, deployed_app

LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
READS_TICKETS = re.compile(r"\b(FROM|JOIN)\s+\"?(tickets|events|sla_clocks|ticket_search)\b", re.IGNORECASE)
# requests that scan history and write nothing: answered from the replica
REPLICA_API = [("GET", "/api/tickets?q=laptop", None), ("GET", "/api/suggestions?text=laptop+does+not+boot", None),
               ("POST", "/api/suggestions", {"text": "laptop does not boot"}),
               ("POST", "/api/triage", {"process": "incident", "fields": {"short_description": "laptop broken"}})]
REPLICA_PAGES = [("GET", "/queue?q=laptop", None),
                 ("POST", "/forms/suggestions", {"_process": "incident", "short_description": "laptop does not boot"})]
# the KPIs bring their sums up to date before answering (`web.extension.kpi_engine`), and the plain queue
PRIMARY_PAGES = ["/dashboard", "/dashboard/kpis.csv", "/queue"]


class Statements:
    """The SQL statements each of the app's two engines ran since the last `clear()`."""

    def __init__(self, app: Flask):
        with app.app_context():
            self.engines = {"primary": current_engine().db.engine, "replica": replica_engine().db.engine}
        assert self.engines["primary"] is not self.engines["replica"]
        self.ran: dict[str, list[str]] = {name: [] for name in self.engines}
        for name, engine in self.engines.items():
            event.listen(engine, "before_cursor_execute", self._recorder(name))

    def _recorder(self, name: str) -> Any:
        def record(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            self.ran[name].append(statement)
        return record

    def clear(self) -> None:
        for statements in self.ran.values():
            statements.clear()

    def reading_tickets(self, name: str) -> list[str]:
        return [s for s in self.ran[name] if READS_TICKETS.search(s)]


def replica_app(primary_url: str, replica_url: str) -> Flask:
    """The default pack published on the primary, rita and lars with API tokens, lars with a password."""
    app = deployed_app({"DATABASE_URL": primary_url, "REPLICA_DATABASE_URL": replica_url, "PACK": str(DEFINITIONS),
                        "TESTING": True})
    db = engine_of(app).db
    for name, flags in DEMO_USERS.items():
        add_user(db, name, password="lars-pw" if name == "lars" else None, **flags)
    app.config["TOKENS"] = {name: create_token(db, name) for name in ("rita", "lars")}
    return app


def call(app: Flask, method: str, path: str, body: Any = None, who: str = "lars") -> Any:
    response = app.test_client().open(path, method=method, json=body,
                                      headers={"Authorization": f"Bearer {app.config['TOKENS'][who]}"})
    assert response.status_code in (200, 201), (path, response.status_code, response.text[:500])
    return response


def create_tickets(app: Flask) -> list[str]:
    """Three incidents by rita (routed to lars's service desk), one of them started by lars."""
    numbers = [call(app, "POST", "/api/tickets", {"process": "incident", "fields": {
        **LAPTOP, "short_description": f"Laptop {n} does not boot"}}, "rita").get_json()["number"] for n in range(3)]
    call(app, "POST", f"/api/tickets/{numbers[0]}/transitions/start", {})
    return numbers


def assert_read_on(statements: Statements, name: str, what: str) -> None:
    """`what` read tickets on `name` and only there."""
    other = "replica" if name == "primary" else "primary"
    assert statements.reading_tickets(name), f"{what} read no tickets on the {name}"
    assert not statements.reading_tickets(other), (what, statements.reading_tickets(other))


def assert_writes_and_own_reads_on_the_primary(app: Flask, statements: Statements) -> list[str]:
    statements.clear()
    numbers = create_tickets(app)
    call(app, "GET", f"/api/tickets/{numbers[0]}")  # right after one's own write: the primary's answer
    call(app, "GET", "/api/tickets")  # the plain queue
    call(app, "GET", f"/api/tickets/{numbers[0]}/suggestions")
    call(app, "GET", "/api/kpis")
    call(app, "GET", "/api/kpis?format=csv")
    assert statements.ran["replica"] == [] and statements.reading_tickets("primary")
    return numbers


# -- the choice of engine, on SQLite and PostgreSQL --------------------------------------------------------

@pytest.fixture()
def app(db_url: str) -> Flask:
    """`ITSM_REPLICA_DATABASE_URL` naming the same database: a second, read-only engine on it."""
    return replica_app(db_url, db_url)


def test_search_reads_the_replica_writes_reports_and_own_reads_the_primary(app: Flask) -> None:
    statements = Statements(app)
    assert_writes_and_own_reads_on_the_primary(app, statements)
    for method, path, body in REPLICA_API:
        statements.clear()
        call(app, method, path, body)
        assert_read_on(statements, "replica", path)
    browser = Browser(app, "lars")
    for path in PRIMARY_PAGES:
        statements.clear()
        assert browser.get(path).status_code == 200
        assert_read_on(statements, "primary", path)
    for method, path, data in REPLICA_PAGES:
        response = browser.get(path) if method == "GET" else browser.post(path, data or {})
        assert response.status_code == 200, (path, response.text[:500])
        statements.clear()
        response = browser.get(path) if method == "GET" else browser.post(path, data or {})
        assert_read_on(statements, "replica", path)


def test_the_replica_engine_refuses_writes(app: Flask, db_url: str) -> None:
    """A write sent to the replica fails at once, even on a database that would take it (PostgreSQL: every
    transaction READ ONLY; SQLite: `query_only`)."""
    with app.app_context():
        replica = replica_engine()
    with pytest.raises(RuntimeError, match="read-only"):
        replica.create(replica.actor("rita"), "incident", LAPTOP)
    with pytest.raises(DBAPIError), replica.db.read() as session:
        session.execute(text("DELETE FROM tickets"))
    read_only = Database(db_url, read_only=True)
    with read_only.read() as session:
        assert session.execute(text("SELECT count(*) FROM users")).scalar_one() == len(DEMO_USERS)
    read_only.dispose()


def test_without_a_replica_every_request_reads_the_primary(tmp_path: Any) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "REPLICA_DATABASE_URL": None})
    with app.app_context():
        assert replica_engine() is current_engine() and search_engine({"q": "vpn"}) is current_engine()


# -- a real streaming replica (PostgreSQL) ----------------------------------------------------------------

@pytest.fixture()
def pair() -> Iterator[StreamingPair]:
    if not os.environ.get("ITSM_TEST_POSTGRES_URL"):
        pytest.skip("ITSM_TEST_POSTGRES_URL is not set (CI sets it)")
    missing = missing_binaries()
    if missing:  # CI has PostgreSQL: a missing program is a failure there, never a skip
        pytest.fail(f"a streaming replica needs {', '.join(missing)} (ITSM_PG_BIN names the folder)")
    with streaming_pair() as started:
        yield started


def test_a_streaming_replica_answers_search_as_the_primary_would(pair: StreamingPair) -> None:
    app = replica_app(pair.primary_url, pair.replica_url)
    primary_only = create_app({"DATABASE_URL": pair.primary_url, "TESTING": True})  # the same answers, read there
    primary_only.config["TOKENS"] = app.config["TOKENS"]
    statements = Statements(app)
    with app.app_context():
        with replica_engine().db.read() as session:  # the replica is a standby of the primary
            assert session.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is True
        with current_engine().db.read() as session:
            assert session.execute(text("SELECT pg_is_in_recovery()")).scalar_one() is False

    numbers = assert_writes_and_own_reads_on_the_primary(app, statements)
    wait_for_replay(pair)
    for method, path, body in REPLICA_API:
        statements.clear()
        answer = call(app, method, path, body)
        assert_read_on(statements, "replica", path)
        assert answer.get_json() == call(primary_only, method, path, body).get_json(), path
    found = call(app, "GET", "/api/tickets?q=laptop").get_json()["items"]
    assert sorted(item["number"] for item in found) == sorted(numbers)  # every ticket replayed is searchable
    for application in (app, primary_only):
        with application.app_context():
            replica_engine().db.dispose()
            current_engine().db.dispose()
