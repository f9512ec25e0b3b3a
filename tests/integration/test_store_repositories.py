"""The store's repository modules on SQLite and PostgreSQL: what each function returns or writes, given plain
values (the engine's decisions are tested through the engine elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from itsm.engine import Engine
from itsm.store import (
    Database,
    OutboxMessage,
    SlaClock,
    Ticket,
    Timer,
    impact,
    intake_keys,
    outbox,
    schedule,
    settings,
    users,
)
from itsm.store.models import utcnow

LAPTOP = {"short_description": "Laptop does not boot", "description": "Black screen since this morning",
          "service": "workplace", "category": "hardware", "impact": "low", "urgency": "medium"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_setting_keeps_its_first_value(db: Database) -> None:
    with db.write() as session:
        assert settings.add_if_absent(session, "k", "first") is True
    with db.write() as session:
        assert settings.add_if_absent(session, "k", "second") is False  # no IntegrityError, no rollback
    with db.read() as session:
        assert settings.value(session, "k") == "first"
        assert settings.value(session, "missing") is None


def test_users_by_address_prefix_and_token(db: Database) -> None:
    with db.write() as session:
        first = users.add(session, "ann", email="Ann@Example.org")
        users.add(session, "ann2", email="ann@example.org")
        users.add(session, "bob")
        session.flush()
        users.add_token(session, first.id, "d" * 64, "ci")
    with db.read() as session:
        found = users.first_with_email(session, "ann@example.org")
        assert found is not None and found.name == "ann"  # the oldest, whatever the case of the address
        assert users.names_starting_with(session, "ann") == {"ann", "ann2"}
        assert users.existing_names(session, ["ann", "zoe", "bob"]) == {"ann", "bob"}
        assert users.emails_by_name(session, ["ann", "bob", "zoe"]) == {"ann": "Ann@Example.org"}
        assert users.emails_by_name(session, []) == {}
        assert users.exists(session, "bob") and not users.exists(session, "zoe")
        row = users.token_with_user(session, "d" * 64)
        assert row is not None and row.name == "ann" and row.last_used_at is None
        assert users.token_with_user(session, "e" * 64) is None
    with db.write() as session:
        users.touch_token(session, "d" * 64, T0)
    with db.engine.connect() as connection:
        row = users.token_with_user(connection, "d" * 64)
        assert row is not None and row.last_used_at == T0


def _message(session: object, due: datetime) -> None:
    session.add(OutboxMessage(created_at=due, notification="n", channel="email", recipients=[],  # type: ignore
                              next_attempt_at=due))


def test_outbox_claims_the_longest_due_messages_once(db: Database) -> None:
    with db.write() as session:
        _message(session, T0 + timedelta(minutes=1))
        _message(session, T0)
        _message(session, T0 + timedelta(minutes=2))
        _message(session, T0 + timedelta(hours=1))  # not due yet
    now = T0 + timedelta(minutes=5)
    with db.write() as session:
        group = outbox.claim_due(session, now, now + timedelta(minutes=5), 2)
        assert [d.message.created_at for d in group] == [T0, T0 + timedelta(minutes=1)]  # longest due first
        assert [(d.message.status, d.ticket_number) for d in group] == [("sending", None)] * 2
        rest = outbox.claim_due(session, now, now + timedelta(minutes=5), 10)
        assert [d.message.created_at for d in rest] == [T0 + timedelta(minutes=2)]
        assert outbox.claim_due(session, now, now + timedelta(minutes=5), 10) == []
    first, second, third = (d.message.id for d in group + rest)
    with db.read() as session:
        claimed = [session.get(OutboxMessage, i) for i in (first, second, third)]
        assert [(m.status, m.next_attempt_at) for m in claimed if m] == [("sending", now + timedelta(minutes=5))] * 3
    with db.write() as session:
        assert outbox.attempts_of(session, [first, second, third, 10_000]) == {first: 0, second: 0, third: 0}
        outbox.record(session, [outbox.Outcome(first, "retry", 1, at=now + timedelta(minutes=1), error="boom"),
                                outbox.Outcome(second, "sent", 1, at=now),
                                outbox.Outcome(third, "released", at=now),  # not tried: due again, no attempt
                                outbox.Outcome(10_000, "failed", 8, error="gone")])  # deleted: matches nothing
    later = now + timedelta(minutes=2)
    with db.write() as session:  # the retry and the released message are due again; the sent one never is
        again = outbox.claim_due(session, later, later + timedelta(minutes=5), 10)
        assert [(d.message.id, d.message.attempts) for d in again] == [(third, 0), (first, 1)]
        rows = {m.id: m for m in session.scalars(select(OutboxMessage))}
    assert (rows[first].last_error, rows[third].last_error) == ("boom", None)
    assert (rows[second].status, rows[second].attempts, rows[second].sent_at, rows[second].last_error) == (
        "sent", 1, now, None)
    assert 10_000 not in rows
    with db.write() as session:
        outbox.record(session, [outbox.Outcome(first, "failed", 8, error="still boom")])
        assert outbox.attempts_of(session, [first]) == {first: 8}
    with db.read() as session:
        failed = session.get(OutboxMessage, first)
        assert failed is not None and (failed.status, failed.last_error) == ("failed", "still boom")
        assert failed.next_attempt_at == later + timedelta(minutes=5)  # as its claim left it


def test_outbox_claims_read_their_tickets_numbers(engine: Engine) -> None:
    number = engine.create(engine.actor("rita"), "incident", LAPTOP)["number"]  # queues its notices
    with engine.db.write() as session:
        _message(session, utcnow())  # and one about no ticket
    with engine.db.write() as session:
        claimed = outbox.claim_due(session, utcnow(), utcnow() + timedelta(minutes=5), 50)
    assert len(claimed) >= 2
    assert {d.ticket_number for d in claimed} == {number, None}
    assert all((d.ticket_number is None) == (d.message.ticket_id is None) for d in claimed)


def test_outbox_claims_skip_messages_another_sender_holds(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: a second claim waits for the first transaction")
    with db.write() as session:
        for second in range(5):
            _message(session, T0 + timedelta(seconds=second))
    now = T0 + timedelta(minutes=1)
    with db.write() as holder:
        held = {d.message.id for d in outbox.claim_due(holder, now, now + timedelta(minutes=5), 3)}
        with db.write() as other:  # the first claim is not committed: its rows stay locked
            taken = {d.message.id for d in outbox.claim_due(other, now, now + timedelta(minutes=5), 10)}
    assert len(held) == 3 and len(taken) == 2 and not held & taken


def test_intake_keys_point_at_tickets(engine: Engine) -> None:
    rita = engine.actor("rita")
    first = engine.create(rita, "incident", LAPTOP)["number"]
    second = engine.create(rita, "incident", LAPTOP)["number"]
    with engine.db.write() as session:
        intake_keys.point_to_number(session, "mail", "<a@b>", first)
        with pytest.raises(LookupError):
            intake_keys.point_to_number(session, "mail", "<c@d>", "INC9999999")
    with engine.db.read() as session:
        assert intake_keys.number_of_key(session, "mail", "<a@b>") == first
        assert intake_keys.ticket_of_key(session, "mail", "<a@b>") == (first, True, "new")
        assert intake_keys.ticket_of_key(session, "other", "<a@b>") is None
    with engine.db.write() as session:
        row = intake_keys.locked(session, "mail", "<a@b>")
        assert row is not None
        assert intake_keys.open_number(session, row.ticket_id) == first
        assert intake_keys.open_number(session, row.ticket_id, {"new"}) is None  # a settled state
        second_id = session.scalar(select(Ticket.id)
                                   .where(Ticket.number == second))
        intake_keys.point(session, "mail", "<a@b>", second_id, T0)
    with engine.db.read() as session:
        assert intake_keys.number_of_key(session, "mail", "<a@b>") == second


def test_impact_counts_and_next_due(engine: Engine) -> None:
    rita = engine.actor("rita")
    numbers = [engine.create(rita, "incident", {**LAPTOP, "impact": level})["number"] for level in ("low", "high")]
    with engine.db.read() as session:
        assert impact.count_open(session, "incident") == 2
        assert impact.count_open(session, "incident", ("new",)) == 2
        assert impact.count_open(session, "incident", ("resolved",)) == 0
        assert impact.count_open(session, "change") == 0
        assert sorted(f["impact"] for f in impact.open_fields(session, "incident")) == ["high", "low"]
        clocks = [c for c in session.scalars(select(SlaClock)) if c.next_timer_at is not None]
        assert clocks  # the incidents' response clocks run from creation
        assert schedule.next_due(session) == min(c.next_timer_at for c in clocks)
    soon = utcnow() - timedelta(days=400)  # before any clock's step
    with engine.db.write() as session:
        ticket_id = session.scalar(select(Ticket.id)
                                   .where(Ticket.number == numbers[0]))
        session.add(Timer(ticket_id=ticket_id, kind="transition", key="close", due_at=soon))
    with engine.db.read() as session:
        assert schedule.next_due(session) == soon
