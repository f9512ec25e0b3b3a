"""The baseline of bench/api.py: the API's database work by hand in Flask + SQLAlchemy Core, nothing else.

No authentication, validation, process rules, routing or SLAs: create = a number from a counter row, one
ticket row and one event row; fire = the ticket row FOR UPDATE (PostgreSQL), then state/version updated and
one event row; list = the 50 newest rows as JSON. SQLite is configured as itsm.store configures it (WAL,
synchronous=NORMAL, BEGIN IMMEDIATE for writes). Served like the real app:

    BENCH_DATABASE_URL=... gunicorn --pythonpath bench 'api_baseline:create_app()'

after `setup(url)` has created the tables.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
    update,
)

metadata = MetaData()
counters = Table("counters", metadata, Column("name", String(20), primary_key=True),
                 Column("value", Integer, nullable=False))
tickets = Table("tickets", metadata, Column("id", Integer, primary_key=True),
                Column("number", String(20), nullable=False, unique=True), Column("state", String(40), nullable=False),
                Column("fields", JSON, nullable=False), Column("version", Integer, nullable=False))
events = Table("events", metadata, Column("id", Integer, primary_key=True),
               Column("ticket_id", ForeignKey("tickets.id"), nullable=False, index=True),
               Column("kind", String(20), nullable=False), Column("at", DateTime(timezone=True), nullable=False),
               Column("data", JSON, nullable=False))


def connect(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get("write") else "BEGIN")

    return engine


def setup(url: str) -> None:
    engine = connect(url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(counters).values(name="INC", value=0))
    engine.dispose()


def as_json(row: Any) -> dict[str, Any]:
    return {"id": row.id, "number": row.number, "state": row.state, "fields": row.fields, "version": row.version}


def create_app() -> Flask:
    app = Flask(__name__)
    engine = connect(os.environ["BENCH_DATABASE_URL"])
    writer = engine.execution_options(write=True)

    @app.get("/api/health")
    def health() -> Any:
        return jsonify({"status": "ok"})

    @app.post("/api/tickets")
    def create() -> Any:
        fields = request.get_json()["fields"]
        with writer.begin() as connection:
            value = connection.execute(update(counters).where(counters.c.name == "INC")
                                       .values(value=counters.c.value + 1).returning(counters.c.value)).scalar_one()
            row = connection.execute(insert(tickets).values(number=f"INC{value:07d}", state="new", fields=fields,
                                                            version=1).returning(*tickets.c)).one()
            connection.execute(insert(events).values(ticket_id=row.id, kind="create", at=datetime.now(UTC),
                                                     data={"to": "new", "fields": fields}))
        return jsonify(as_json(row)), 201

    @app.post("/api/tickets/<number>/transitions/<transition>")
    def fire(number: str, transition: str) -> Any:
        changes = (request.get_json(silent=True) or {}).get("fields") or {}
        with writer.begin() as connection:
            row = connection.execute(select(tickets).where(tickets.c.number == number).with_for_update()).one()
            row = connection.execute(update(tickets).where(tickets.c.id == row.id)
                                     .values(state="in_progress", fields={**row.fields, **changes},
                                             version=row.version + 1).returning(*tickets.c)).one()
            connection.execute(insert(events).values(ticket_id=row.id, kind="transition", at=datetime.now(UTC),
                                                     data={"transition": transition, "to": row.state,
                                                           "changes": changes}))
        return jsonify(as_json(row))

    @app.get("/api/tickets")
    def queue() -> Any:
        limit = int(request.args.get("limit", 50))
        with engine.connect() as connection:
            rows = connection.execute(select(tickets).order_by(tickets.c.id.desc()).limit(limit)).all()
        return jsonify({"items": [as_json(row) for row in rows]})

    return app
