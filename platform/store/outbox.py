"""The outbox: messages written in the transaction of the change that caused them, sent after commit.

A message is `pending` until a sender claims it (`sending`, its `next_attempt_at` moved to when the claim
expires), then `sent`, `pending` again (a retry) or `failed`. How long a claim lasts, when to retry and when
to give up are the engine's decisions (`itsm.engine.channels.delivery`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.orm import Session

from . import bulk
from .dialects import among
from .models import CLAIMABLE_MESSAGES, OutboxMessage, Ticket

OUTBOX = cast(Table, OutboxMessage.__table__)  # a delivery round's statements: Core, no ORM objects to load
TICKETS = cast(Table, Ticket.__table__)


@dataclass(frozen=True)
class Message:
    """An outbox message as its claim left it: `sending`, the claim expiring at `next_attempt_at`."""

    id: int
    created_at: datetime
    ticket_id: int | None
    notification: str
    channel: str
    recipients: list[str]
    subject: str
    body: str
    url: str | None
    status: str
    attempts: int
    next_attempt_at: datetime


@dataclass(frozen=True)
class Delivery:
    """A message to send and the number of its ticket (None: no ticket, or the ticket is gone)."""

    message: Message
    ticket_number: str | None


CLAIMED = (OUTBOX.c.id, OUTBOX.c.created_at, OUTBOX.c.ticket_id, OUTBOX.c.notification, OUTBOX.c.channel,
           OUTBOX.c.recipients, OUTBOX.c.subject, OUTBOX.c.body, OUTBOX.c.url, OUTBOX.c.attempts)


def claim_due(session: Session, now: datetime, claim_until: datetime, limit: int) -> list[Delivery]:
    """Claim up to `limit` messages due (`next_attempt_at` at or before `now`), longest due first: they become
    `sending` until `claim_until`. Returns them with their tickets' numbers. PostgreSQL skips messages that
    another sender's open transaction holds, so senders never wait on each other nor take the same message;
    SQLite has one writer anyway. A `sending` message whose claim expired is claimable again. The due
    messages are read from `ix_outbox_claimable`, in its order."""
    query = (select(*CLAIMED, TICKETS.c.number).outerjoin(TICKETS, TICKETS.c.id == OUTBOX.c.ticket_id)
             .where(text(f"outbox.{CLAIMABLE_MESSAGES}"), OUTBOX.c.next_attempt_at <= now)
             .order_by(OUTBOX.c.next_attempt_at, OUTBOX.c.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=OUTBOX)
    rows = session.execute(query).all()
    if not rows:
        return []
    session.execute(update(OUTBOX).where(among(session, OUTBOX.c.id, [row.id for row in rows]))
                    .values(status="sending", next_attempt_at=claim_until))
    return [Delivery(Message(row.id, row.created_at, row.ticket_id, row.notification, row.channel,
                             list(row.recipients or []), row.subject, row.body, row.url, "sending", row.attempts,
                             claim_until), row.number) for row in rows]


def attempts_of(session: Session, message_ids: Collection[int]) -> dict[int, int]:
    """id -> attempts so far, of the messages that still exist."""
    if not message_ids:
        return {}
    query = select(OUTBOX.c.id, OUTBOX.c.attempts).where(among(session, OUTBOX.c.id, message_ids))
    return {message_id: attempts for message_id, attempts in session.execute(query)}


@dataclass(frozen=True)
class Outcome:
    """What became of a claimed message. `sent`; `retry`: pending again, due at `at`, its error kept;
    `failed`: given up on, never claimed again; `released`: not tried (its sender ran out of time), pending
    again, due at `at`, its attempts and last error as they were. `attempts`: counted with this one."""

    message_id: int
    kind: str
    attempts: int = 0
    at: datetime | None = None  # sent at (`sent`), due again at (`retry`, `released`)
    error: str | None = None


def _changes(outcome: Outcome) -> dict[str, Any]:
    if outcome.kind == "sent":
        return {"status": "sent", "attempts": outcome.attempts, "sent_at": outcome.at, "last_error": None}
    if outcome.kind == "retry":
        return {"status": "pending", "attempts": outcome.attempts, "next_attempt_at": outcome.at,
                "last_error": outcome.error}
    if outcome.kind == "failed":
        return {"status": "failed", "attempts": outcome.attempts, "last_error": outcome.error}
    if outcome.kind == "released":
        return {"status": "pending", "next_attempt_at": outcome.at}
    raise ValueError(f"unknown outcome {outcome.kind!r}")


def record(session: Session, outcomes: Sequence[Outcome]) -> None:
    """The outcomes of a group of messages: one statement for the outcomes of each kind among them (a
    message deleted since its claim matches no row)."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        by_kind.setdefault(outcome.kind, []).append({"b_id": outcome.message_id, **_changes(outcome)})
    for rows in by_kind.values():
        bulk.update_rows(session.connection(), OUTBOX, ("id",), rows)


@dataclass(frozen=True)
class Trouble:
    """A message that failed at least once: given up on (`failed`) or waiting for its next try."""

    id: int
    created_at: datetime
    notification: str
    channel: str
    ticket_number: str | None
    to: str  # the webhook's URL, or the recipients
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str


def troubled(session: Session, limit: int = 100) -> list[Trouble]:
    """The newest messages that failed, given up on or to be retried, with their tickets' numbers."""
    rows = session.execute(
        select(OutboxMessage, Ticket.number).outerjoin(Ticket, Ticket.id == OutboxMessage.ticket_id)
        .where(OutboxMessage.status.in_(("failed", "pending", "sending")), OutboxMessage.last_error.is_not(None))
        .order_by(OutboxMessage.id.desc()).limit(limit)).all()
    return [Trouble(m.id, m.created_at, m.notification, m.channel, number,
                    (m.url or "") if m.channel == "webhook" else ", ".join(m.recipients or []), m.status, m.attempts,
                    m.next_attempt_at, m.last_error or "") for m, number in rows]


def retry_now(session: Session, message_id: int, now: datetime) -> bool:
    """A failed message sent again at the next delivery round, with its attempts counted afresh."""
    message = session.get(OutboxMessage, message_id)
    if message is None or message.status != "failed":
        return False
    message.status, message.attempts, message.next_attempt_at = "pending", 0, now
    return True


def last_id(session: Session) -> int:
    """The id of the newest message (0: none yet): what a scenario step queued comes after it."""
    return int(session.scalar(select(func.max(OutboxMessage.id))) or 0)


def queued_after(session: Session, message_id: int) -> list[tuple[str, list[str]]]:
    """(notification, recipients) of the messages queued after `message_id`, oldest first."""
    query = (select(OutboxMessage.notification, OutboxMessage.recipients).where(OutboxMessage.id > message_id)
             .order_by(OutboxMessage.id))
    return [(row.notification, list(row.recipients or [])) for row in session.execute(query)]
