"""Shared constants of the integration tests (importable as `support`: pytest puts this folder on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from itsm.engine import Engine
from itsm.engine.people.users import add_user, create_token
from itsm.store import Database
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
DEFINITIONS = ROOT / "definitions"
DEMO_USERS = {"rita": {}, "ruth": {}, "carol": {"vip": True}, "lars": {}, "sam": {}, "dana": {}, "nils": {},
              "vera": {}, "dev": {}, "admin": {"admin": True}}


class Clock:
    """A controllable clock for the engine (`Engine(db, clock=Clock(start))`)."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def demo_desk(db: Database, clock: Clock) -> Engine:
    """An engine on `clock` with the default pack published and the demo users created."""
    engine = Engine(db, clock=clock)
    engine.definitions.publish_path(DEFINITIONS)
    for name, flags in DEMO_USERS.items():
        add_user(db, name, **flags)
    return engine


def deployed_app(config: Mapping[str, Any]) -> Flask:
    """`create_app(config)` on a database as a deployment leaves it before the server starts: migrated
    (`itsm db upgrade`) and, when config names a PACK, that pack published (`itsm publish`). Creating the
    app does neither (SPEC 8)."""
    app = create_app(config)
    engine = engine_of(app)
    engine.db.upgrade()
    if config.get("PACK"):
        engine.definitions.publish_path(config["PACK"])
    return app


def api_app(db_url: str) -> Flask:
    """The deployed app on the default pack with the demo users; their API tokens in `config["TOKENS"]`."""
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    db = engine_of(app).db
    for name, flags in DEMO_USERS.items():
        add_user(db, name, **flags)
    app.config["TOKENS"] = {name: create_token(db, name) for name in DEMO_USERS}
    return app


def wait_for(condition: Callable[[], Any], what: str, seconds: float = 120.0, poll: float = 0.05) -> Any:
    """Poll until `condition()` is truthy, with a generous deadline (a busy machine is slow); never a timing
    assertion."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll)


LABELLED = ROOT / "tests" / "data" / "incidents_zh.jsonl"


def labelled_incidents() -> list[dict[str, Any]]:
    """The labelled incident texts of tests/data (issue 19): title, description, service, category, team."""
    import json

    return [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]


def solved_history(engine: Engine, rows: list[dict[str, Any]], requester: str, prefix: str = "HIS") -> list[str]:
    """Closed incidents of the labelled `rows` (their team and choices as agents left them), written straight
    to the tables with their search documents, as bench/triage.py builds 100,000 of them: a desk's history
    in a fraction of a second instead of three engine calls per ticket. Returns their numbers."""
    from itsm.store import tickets
    from itsm.store.search import write_documents

    version = engine.definitions.active_id()
    now = engine.clock()
    numbers, documents = [], []
    with engine.db.write() as session:
        for i, row in enumerate(rows):
            number = f"{prefix}{i:07d}"
            fields = {"short_description": row["title"], "description": row["description"],
                      "service": row["service"], "category": row["category"], "impact": "low", "urgency": "low",
                      "resolution_code": "fixed", "resolution_notes": "Done."}
            ticket_id = tickets.insert_ticket(session, {
                "number": number, "process": "incident", "state": "closed", "is_open": False, "priority": "P5",
                "team": row["team"], "assignee": None, "requester": requester, "fields": fields, "version": 4,
                "definitions_version": version, "created_at": now, "updated_at": now, "state_entered_at": now,
                "closed_at": now, "org": None})
            numbers.append(number)
            documents.append((ticket_id, row["title"], row["description"]))
        write_documents(session, documents)
    return numbers
