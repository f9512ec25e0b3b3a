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
        assert sorted(users.emails_of(session, ["ann", "bob", "zoe"])) == ["Ann@Example.org"]
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


def test_outbox_claims_the_longest_due_message_once(db: Database) -> None:
    with db.write() as session:
        _message(session, T0 + timedelta(minutes=1))
        _message(session, T0)
        _message(session, T0 + timedelta(hours=1))  # not due yet
    now = T0 + timedelta(minutes=5)
    with db.write() as session:
        first = outbox.claim_next(session, now, now + timedelta(minutes=5))
        second = outbox.claim_next(session, now, now + timedelta(minutes=5))
        assert outbox.claim_next(session, now, now + timedelta(minutes=5)) is None
    with db.read() as session:
        claimed = [session.get(OutboxMessage, first), session.get(OutboxMessage, second)]
        assert [m.next_attempt_at for m in claimed if m] == [now + timedelta(minutes=5)] * 2
        assert claimed[0] is not None and claimed[0].created_at == T0 and claimed[0].status == "sending"
    assert first is not None and second is not None
    with db.write() as session:
        assert outbox.count_attempt(session, first) == 1
        outbox.retry_at(session, first, now + timedelta(minutes=1), "boom")
        assert outbox.count_attempt(session, second) == 1
        outbox.mark_sent(session, second, now)
        assert outbox.count_attempt(session, 10_000) is None
    later = now + timedelta(minutes=2)
    with db.write() as session:  # the retry is due again; the sent message never is
        assert outbox.claim_next(session, later, later + timedelta(minutes=5)) == first
        found = outbox.delivery(session, second)
        assert found is not None and found.message.status == "sent" and found.ticket_number is None


def test_outbox_claims_skip_a_message_another_sender_holds(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: a second claim waits for the first transaction")
    with db.write() as session:
        _message(session, T0)
        _message(session, T0 + timedelta(seconds=1))
    now = T0 + timedelta(minutes=1)
    with db.write() as holder:
        held = outbox.claim_next(holder, now, now + timedelta(minutes=5))
        with db.write() as other:  # the first claim is not committed: its row stays locked
            assert outbox.claim_next(other, now, now + timedelta(minutes=5)) not in (None, held)


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
