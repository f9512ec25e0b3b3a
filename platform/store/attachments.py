"""Attachment rows (`attachments`): which files a ticket has; their bytes are in `store.files`, by sha256.

Who may add, read or remove one is the engine's business (`itsm.engine.runtime.attachments`). `lock_digest`
serialises the writers of one digest, so a removal that deletes the bytes no row names any more cannot race
an upload of the same bytes: SQLite's write transactions hold the whole database already; PostgreSQL takes a
transaction-scoped advisory lock on the digest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from .models import Attachment, Ticket


def insert(session: Session, ticket_id: int, *, name: str, size: int, content_type: str, sha256: str,
           internal: bool, uploaded_by: str, uploaded_at: datetime) -> Attachment:
    row = Attachment(ticket_id=ticket_id, name=name, size=size, content_type=content_type, sha256=sha256,
                     internal=internal, uploaded_by=uploaded_by, uploaded_at=uploaded_at)
    session.add(row)
    session.flush()  # its id, for the event that names it
    return row


def of_ticket(session: Session, ticket_id: int, *, public_only: bool = False) -> Sequence[Attachment]:
    """The ticket's attachments that are not removed, oldest first (without internal ones if `public_only`)."""
    query = (select(Attachment).where(Attachment.ticket_id == ticket_id, Attachment.removed_at.is_(None))
             .order_by(Attachment.id))
    if public_only:
        query = query.where(Attachment.internal.is_(False))
    return session.scalars(query).all()


def with_ticket_number(session: Session, attachment_id: int) -> tuple[Attachment, str] | None:
    """The attachment `attachment_id` (removed or not) and its ticket's number."""
    found = session.execute(select(Attachment, Ticket.number).join(Ticket, Ticket.id == Attachment.ticket_id)
                            .where(Attachment.id == attachment_id)).first()
    return (found[0], found[1]) if found is not None else None


def mark_removed(session: Session, attachment_id: int, by: str, at: datetime) -> bool:
    """Record the removal; False when it was removed already (by someone else, just now)."""
    result = session.execute(update(Attachment).where(Attachment.id == attachment_id,
                                                      Attachment.removed_at.is_(None))
                             .values(removed_at=at, removed_by=by))
    return bool(getattr(result, "rowcount", 0))


def ticket_has(session: Session, ticket_id: int, sha256: str) -> bool:
    """Whether the ticket has an attachment (not removed) with these bytes."""
    return session.scalar(select(Attachment.id).where(Attachment.ticket_id == ticket_id, Attachment.sha256 == sha256,
                                                      Attachment.removed_at.is_(None)).limit(1)) is not None


def digest_in_use(session: Session, sha256: str) -> bool:
    """Whether an attachment that is not removed names these bytes."""
    return bool(session.scalar(select(func.count()).select_from(Attachment)
                               .where(Attachment.sha256 == sha256, Attachment.removed_at.is_(None))))


def lock_digest(session: Session, sha256: str) -> None:
    """Hold the digest until the transaction ends (see the module's docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(bytes.fromhex(sha256[:16]), "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
