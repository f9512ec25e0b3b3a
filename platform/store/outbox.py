"""The outbox: messages written in the transaction of the change that caused them, sent after commit.

A message is `pending` until a sender claims it (`sending`, its `next_attempt_at` moved to when the claim
expires), then `sent`, `pending` again (a retry) or `failed`. How long a claim lasts, when to retry and when
to give up are the engine's decisions (`itsm.engine.channels.delivery`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .models import OutboxMessage, Ticket

CLAIMABLE = ("pending", "sending")  # a `sending` message whose claim expired is claimable again


@dataclass(frozen=True)
class Delivery:
    """A message to send and the number of its ticket (None: no ticket, or the ticket is gone)."""

    message: OutboxMessage
    ticket_number: str | None


def claim_due(session: Session, now: datetime, claim_until: datetime, limit: int) -> list[Delivery]:
    """Claim up to `limit` messages due (`next_attempt_at` at or before `now`), longest due first: they become
    `sending` until `claim_until`. Returns them with their tickets' numbers. PostgreSQL skips messages that
    another sender's open transaction holds, so senders never wait on each other nor take the same message;
    SQLite has one writer anyway."""
    query = (select(OutboxMessage).where(OutboxMessage.status.in_(CLAIMABLE), OutboxMessage.next_attempt_at <= now)
             .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    messages = list(session.scalars(query))
    if not messages:
        return []
    session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([message.id for message in messages]))
                    .values(status="sending", next_attempt_at=claim_until))  # the loaded messages follow
    ticket_ids = {message.ticket_id for message in messages if message.ticket_id}
    numbers = {ticket_id: number for ticket_id, number in session.execute(
        select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids)))} if ticket_ids else {}
    return [Delivery(message, numbers.get(message.ticket_id) if message.ticket_id else None) for message in messages]


def load(session: Session, message_ids: Collection[int]) -> dict[int, OutboxMessage]:
    """The messages that still exist, read in one statement: while the caller holds them (the session keeps
    only weak references), the outcome functions below find them in the session without a query each."""
    if not message_ids:
        return {}
    query = select(OutboxMessage).where(OutboxMessage.id.in_(list(message_ids)))
    return {message.id: message for message in session.scalars(query)}


def count_attempt(session: Session, message_id: int) -> int | None:
    """One more attempt at sending the message: its number of attempts now (None: the message is gone)."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return None
    message.attempts += 1
    return message.attempts


def mark_sent(session: Session, message_id: int, at: datetime) -> None:
    _set(session, message_id, status="sent", sent_at=at, last_error=None)


def mark_failed(session: Session, message_id: int, error: str) -> None:
    """Given up on: never claimed again."""
    _set(session, message_id, status="failed", last_error=error)


def retry_at(session: Session, message_id: int, at: datetime, error: str) -> None:
    """Pending again, due at `at`."""
    _set(session, message_id, status="pending", next_attempt_at=at, last_error=error)


def release(session: Session, message_id: int, at: datetime) -> None:
    """Claimed but not tried (its sender ran out of time): pending again, due at `at`, no attempt counted."""
    _set(session, message_id, status="pending", next_attempt_at=at)


def _set(session: Session, message_id: int, **values: object) -> None:
    message = session.get(OutboxMessage, message_id)  # from the session's identity map after `load`
    if message is not None:
        for name, value in values.items():
            setattr(message, name, value)


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
