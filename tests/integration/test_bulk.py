"""`store.bulk` writes what the ORM writes: the same values read back (times in UTC, JSON, booleans,
column defaults, text with tabs, newlines and backslashes), on SQLite and PostgreSQL (COPY, unnest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, select

from itsm.store import Database, Event, OutboxMessage, SlaClock, Ticket
from itsm.store.bulk import insert_rows, update_rows

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=UTC)  # the night the clocks go forward in Berlin
TEXT = 'Tab\there, "quotes", back\\slash, newline\nand München \\N'
TICKETS, CLOCKS = cast(Table, Ticket.__table__), cast(Table, SlaClock.__table__)


def _tickets(db: Database, count: int) -> list[int]:
    with db.write() as session:
        rows = [Ticket(number=f"INC{i:05d}", process="incident", state="new", requester="rita", version=1,
                       definitions_version="v", fields={"n": i}, created_at=AT, updated_at=AT, state_entered_at=AT)
                for i in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def test_inserted_rows_read_back_as_the_orm_writes_them(db: Database) -> None:
    ids = _tickets(db, 3)
    events = [{"ticket_id": i, "at": AT.astimezone(BERLIN) + timedelta(seconds=n), "actor": "system", "kind": "sla",
               "transition": None, "from_state": None, "to_state": None, "changes": {"team": [None, "ü"]},
               "comment": TEXT if n else None, "data": {"n": n, "ok": True, "none": None},
               "definitions_version": "v"} for n, i in enumerate(ids)]
    outbox = [{"created_at": AT, "ticket_id": i, "notification": "n", "channel": "email", "recipients": ["user:a"],
               "subject": TEXT, "body": "", "url": None, "next_attempt_at": AT, "sent_at": None,
               "last_error": None} for i in ids]  # status and attempts left to their column defaults
    with db.write() as session:
        connection = session.connection()
        assert insert_rows(connection, cast(Table, Event.__table__), events) == 3
        assert insert_rows(connection, cast(Table, OutboxMessage.__table__), outbox) == 3
        assert insert_rows(connection, CLOCKS, []) == 0
    with db.read() as session:
        stored = session.scalars(select(Event).order_by(Event.id)).all()
        assert [(e.ticket_id, e.at, e.changes, e.comment, e.data) for e in stored] == [
            (i, AT + timedelta(seconds=n), {"team": [None, "ü"]}, TEXT if n else None,
             {"n": n, "ok": True, "none": None}) for n, i in enumerate(ids)]
        messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [(m.status, m.attempts, m.recipients, m.subject, m.next_attempt_at, m.sent_at) for m in messages] == [
            ("pending", 0, ["user:a"], TEXT, AT, None)] * 3


def test_updates_match_on_keys_bump_the_version_and_count_the_rows(db: Database) -> None:
    ids = _tickets(db, 3)
    rows: list[dict[str, Any]] = [{"b_id": i, "b_version": 1, "team": "desk", "assignee": TEXT, "fields": {"n": -n},
                                   "updated_at": AT + timedelta(hours=n)} for n, i in enumerate(ids)]
    rows[2]["b_version"] = 7  # stale: not written
    with db.write() as session:
        assert update_rows(session.connection(), TICKETS, ("id", "version"), rows, increment="version") == 2
    with db.read() as session:
        stored = session.scalars(select(Ticket).order_by(Ticket.id)).all()
        assert [(t.team, t.assignee, t.fields, t.version, t.updated_at) for t in stored] == [
            ("desk", TEXT, {"n": 0}, 2, AT), ("desk", TEXT, {"n": -1}, 2, AT + timedelta(hours=1)),
            (None, None, {"n": 2}, 1, AT)]


def test_a_clock_row_round_trips(db: Database) -> None:
    [ticket] = _tickets(db, 1)
    clock = {"ticket_id": ticket, "clock": "response", "status": "running", "phase": "running", "policy": "p",
             "calendar": "office", "target_seconds": 7200.0, "elapsed_seconds": 0.5, "started_at": AT,
             "running_since": AT, "stopped_at": None, "deadline": None, "warnings_fired": 1, "breached": False,
             "breach_fired": True, "next_timer_at": AT, "pauses": [[AT.isoformat(), None]]}
    with db.write() as session:
        insert_rows(session.connection(), CLOCKS, [clock])
    with db.read() as session:
        row = session.scalars(select(SlaClock)).one()
        clock_id = row.id
        assert {name: getattr(row, name) for name in clock} == clock
    with db.write() as session:
        assert update_rows(session.connection(), CLOCKS, ("id",), [
            {"b_id": clock_id, "breached": True, "next_timer_at": None, "pauses": []}]) == 1
    with db.read() as session:
        row = session.scalars(select(SlaClock)).one()
        assert (row.breached, row.next_timer_at, row.pauses, row.elapsed_seconds) == (True, None, [], 0.5)


def test_a_computed_default_must_be_given(db: Database) -> None:
    [ticket] = _tickets(db, 1)
    with db.write() as session, pytest.raises(ValueError, match="computed"):
        insert_rows(session.connection(), cast(Table, Event.__table__), [{"ticket_id": ticket, "at": AT}])


def test_sqlite_instants_are_written_as_sqlalchemy_writes_them() -> None:
    """UTCDateTime's one-step SQLite processor gives SQLAlchemy's text (which the indexed `<` compares)."""
    import random

    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from itsm.store.models import UTCDateTime

    dialect = sqlite.dialect()
    fast = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    slow = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert fast is not None and slow is not None and fast(None) is None
    rng = random.Random(7)
    for _ in range(2000):
        zone = ZoneInfo(rng.choice(["Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "UTC"]))
        instant = datetime(rng.randint(2, 9998), 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randrange(365 * 86400), microseconds=rng.randrange(1_000_000))
        assert fast(instant.astimezone(zone)) == slow(instant.replace(tzinfo=None))
    with pytest.raises(ValueError, match="naive"):
        fast(datetime(2026, 1, 1))
