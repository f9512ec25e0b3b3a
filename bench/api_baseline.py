"""The baseline of bench/api.py: the API's database work by hand in Flask + SQLAlchemy Core, nothing else.

It reads and writes what our app reads and writes for the benchmark's three requests, on the same schema
(`itsm.store`'s tables, the same engine settings: SQLite in WAL with `BEGIN IMMEDIATE` for writes), with the
decisions our engine makes written in as constants: no definitions, validation, priority matrix, routing
rules, business calendars, templates, guards or views.

- every request: the bearer token and its user in one statement (a read transaction);
- create: the requester, the number counter (on PostgreSQL committed on a connection of its own, as ours
  does, so concurrent creates do not queue on it), the assignee's open-ticket count (least-loaded routing), the
  ticket row, its search row, four events (create, routing, two SLA starts), one notification in the
  outbox and two SLA clocks, in one write transaction; the ticket as JSON;
- fire: the ticket (FOR UPDATE on PostgreSQL), its requester and clocks, the timed transitions cleared,
  two events, two clock updates and the ticket's update (version checked); the ticket as JSON;
- list: the 50 newest tickets the agent may see, their clocks and their requesters; as JSON.

Served like the real app, on a database prepared as ours is (schema, users, tokens):

    BENCH_DATABASE_URL=... gunicorn --pythonpath bench 'api_baseline:create_app()'
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Flask, abort, jsonify, request
from sqlalchemy import Connection, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from itsm.store import Database
from itsm.store.models import (
    ApiToken,
    Event,
    NumberSequence,
    OutboxMessage,
    SearchDocument,
    SlaClock,
    Ticket,
    Timer,
    User,
)

TOKENS, USERS, SEQUENCES = (cast(Table, t.__table__) for t in (ApiToken, User, NumberSequence))
TICKETS, EVENTS, CLOCKS = (cast(Table, t.__table__) for t in (Ticket, Event, SlaClock))
OUTBOX, TIMERS, SEARCH = (cast(Table, t.__table__) for t in (OutboxMessage, Timer, SearchDocument))
DEFAULTS = {"channel": "api", "affected_users": 1, "major_incident": False, "responded": False,
            "auto_closed": False, "review_requested": False}
VERSION = "baseline"


def ticket_json(row: Mapping[str, Any], clocks: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The ticket's columns and its clocks, as read (times in ISO 8601)."""
    return {**{name: row[name] for name in ("number", "process", "state", "priority", "team", "assignee",
                                            "requester", "fields", "version")},
            "created_at": row["created_at"].isoformat(), "updated_at": row["updated_at"].isoformat(),
            "sla": {c["clock"]: {"status": c["status"], "target_seconds": c["target_seconds"],
                                 "elapsed_seconds": c["elapsed_seconds"], "breached": c["breached"],
                                 "deadline": c["deadline"].isoformat() if c["deadline"] else None} for c in clocks}}


def create_app() -> Flask:
    app = Flask(__name__)
    db = Database(os.environ["BENCH_DATABASE_URL"])
    engine = db.engine
    writer = engine.execution_options(itsm_write=True)
    sqlite_db = engine.dialect.name == "sqlite"
    upsert = sqlite.insert if sqlite_db else postgresql.insert

    def next_number(connection: Connection) -> int:
        increment = (update(SEQUENCES).where(SEQUENCES.c.prefix == "INC")
                     .values(last_value=SEQUENCES.c.last_value + 1).returning(SEQUENCES.c.last_value))
        value = connection.execute(increment).scalar_one_or_none()
        if value is None:  # the first ticket (of both workers, perhaps)
            connection.execute(upsert(SEQUENCES).values(prefix="INC", last_value=0)
                               .on_conflict_do_nothing(index_elements=["prefix"]))
            value = connection.execute(increment).scalar_one()
        return int(value)

    def user() -> Any:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with engine.connect() as connection:
            row = connection.execute(
                select(TOKENS.c.last_used_at, USERS).outerjoin(USERS, USERS.c.id == TOKENS.c.user_id)
                .where(TOKENS.c.token_hash == hashlib.sha256(token.encode()).hexdigest())).first()
        if row is None or row.name is None:
            abort(401)
        return row

    @app.get("/api/health")
    def health() -> Any:
        return jsonify({"status": "ok"})

    @app.post("/api/tickets")
    def create() -> Any:
        actor = user()
        fields = {**DEFAULTS, **request.get_json()["fields"]}
        now = datetime.now(UTC)
        with writer.begin() as connection:
            connection.execute(select(USERS).where(USERS.c.name == actor.name)).one()
            if sqlite_db:
                value = next_number(connection)
            else:  # as ours: the counter commits on a connection of its own, not held for the whole create
                with engine.begin() as own:
                    value = next_number(own)
            connection.execute(select(TICKETS.c.assignee, func.count()).where(
                TICKETS.c.is_open.is_(True), TICKETS.c.assignee.in_(["lars"])).group_by(TICKETS.c.assignee)).all()
            values = {"number": f"INC{value:07d}", "process": "incident", "state": "new", "is_open": True,
                      "priority": "P4", "team": "service_desk", "assignee": "lars", "requester": actor.name,
                      "fields": fields, "version": 1, "definitions_version": VERSION, "created_at": now,
                      "updated_at": now, "state_entered_at": now}
            ticket_id = connection.execute(insert(TICKETS).values(values).returning(TICKETS.c.id)).scalar_one()
            title = fields.get("short_description", "")
            connection.execute(upsert(SEARCH).values(ticket_id=ticket_id, title=title, body="")
                               .on_conflict_do_update(index_elements=["ticket_id"], set_={"title": title, "body": ""}))
            event = {"ticket_id": ticket_id, "at": now, "actor": actor.name, "transition": None, "from_state": None,
                     "comment": None, "definitions_version": VERSION}
            connection.execute(insert(EVENTS), [
                {**event, "kind": "create", "to_state": "new", "changes": {k: [None, v] for k, v in fields.items()},
                 "data": {"channel": "api"}},
                {**event, "kind": "routing", "to_state": None, "changes": {},
                 "data": {"team": "service_desk", "assignee": "lars", "rule": "default"}},
                *({**event, "kind": "sla", "to_state": None, "changes": {},
                   "data": {"clock": clock, "status": "running"}} for clock in ("response", "resolution"))])
            connection.execute(insert(OUTBOX).values(
                created_at=now, ticket_id=ticket_id, notification="assigned_notice", channel="email",
                recipients=["user:lars", "team:service_desk"], subject=f"[P4] {values['number']} assigned: {title}",
                body=f"Hello,\n\nincident {values['number']} is now with service_desk (assignee: lars).\n",
                url=None, status="pending", attempts=0, next_attempt_at=now))
            clocks = [{"ticket_id": ticket_id, "clock": clock, "status": "running", "phase": "running",
                       "policy": "incident_sla", "calendar": "office", "target_seconds": target,
                       "elapsed_seconds": 0.0, "started_at": now, "running_since": now, "deadline": now + due,
                       "warnings_fired": 0, "breached": False, "breach_fired": False, "next_timer_at": now + due,
                       "pauses": []}
                      for clock, target, due in (("response", 14400.0, timedelta(hours=4)),
                                                 ("resolution", 144000.0, timedelta(days=5)))]
            connection.execute(insert(CLOCKS), clocks)
        return jsonify(ticket_json(values, clocks)), 201

    @app.post("/api/tickets/<number>/transitions/<transition>")
    def fire(number: str, transition: str) -> Any:
        actor = user()
        changes = (request.get_json(silent=True) or {}).get("fields") or {}
        now = datetime.now(UTC)
        with writer.begin() as connection:
            query = select(TICKETS).where(TICKETS.c.number == number)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            ticket = connection.execute(query).one()
            connection.execute(select(USERS).where(USERS.c.name == ticket.requester)).one()
            clocks = {c.clock: c for c in connection.execute(select(CLOCKS).where(CLOCKS.c.ticket_id == ticket.id))}
            connection.execute(TIMERS.delete().where(TIMERS.c.ticket_id == ticket.id, TIMERS.c.kind == "transition"))
            event = {"ticket_id": ticket.id, "at": now, "actor": actor.name, "comment": None,
                     "definitions_version": VERSION}
            connection.execute(insert(EVENTS), [
                {**event, "kind": "transition", "transition": transition, "from_state": ticket.state,
                 "to_state": "in_progress", "changes": {"state": [ticket.state, "in_progress"]}, "data": {}},
                {**event, "kind": "sla", "transition": None, "from_state": None, "to_state": None, "changes": {},
                 "data": {"clock": "response", "status": "met"}}])
            connection.execute(update(CLOCKS).where(CLOCKS.c.id == clocks["response"].id).values(
                status="met", phase="stopped", running_since=None, stopped_at=now, deadline=None, next_timer_at=None))
            connection.execute(update(CLOCKS).where(CLOCKS.c.id == clocks["resolution"].id).values(running_since=now))
            fields = {**ticket.fields, **changes, "responded": True}
            ticket = connection.execute(update(TICKETS).where(TICKETS.c.id == ticket.id,
                                                              TICKETS.c.version == ticket.version)
                                        .values(state="in_progress", fields=fields, version=ticket.version + 1,
                                                updated_at=now, state_entered_at=now).returning(*TICKETS.c)).one()
        return jsonify(ticket_json(ticket._mapping, (c._mapping for c in clocks.values())))

    @app.get("/api/tickets")
    def queue() -> Any:
        actor = user()
        limit = int(request.args.get("limit", 50))
        with engine.connect() as connection:
            process = func.coalesce(TICKETS.c.process, "") if sqlite_db else TICKETS.c.process  # as ours does
            visible = ((TICKETS.c.requester == actor.name) | process.in_(["incident", "review"])
                       | (TICKETS.c.assignee == actor.name))
            tickets = list(connection.execute(select(TICKETS).where(visible).order_by(TICKETS.c.id.desc())
                                              .limit(limit + 1)))[:limit]
            clocks: dict[int, list[Any]] = {}
            for clock in connection.execute(select(CLOCKS).where(CLOCKS.c.ticket_id.in_([t.id for t in tickets]))):
                clocks.setdefault(clock.ticket_id, []).append(clock)
            connection.execute(select(USERS).where(USERS.c.name.in_({t.requester for t in tickets}))).all()
        return jsonify({"items": [ticket_json(t._mapping, (c._mapping for c in clocks.get(t.id, [])))
                                  for t in tickets]})

    return app
