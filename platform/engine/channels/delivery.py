"""Delivering the outbox (SPEC 8): mail over SMTP and signed webhooks, after commit, with retries.

A message is claimed (status `sending`, claim expiring after CLAIM) in one short transaction, sent
outside any transaction, then marked `sent`; a worker that dies mid-send leaves a claim that expires and
the message is sent again (at least once, never for a change that rolled back: only committed rows
exist). Failures retry with exponential backoff; after MAX_ATTEMPTS a message is `failed`.

Settings come from the environment: ITSM_SMTP_HOST (default 127.0.0.1), ITSM_SMTP_PORT (25),
ITSM_SMTP_USER, ITSM_SMTP_PASSWORD, ITSM_SMTP_STARTTLS (1 to use it), ITSM_MAIL_FROM, and
ITSM_WEBHOOK_SECRET (the HMAC-SHA256 key of the X-ITSM-Signature header).

A webhook POSTs the rendered body exactly as written (SPEC 4), so that a chat tool's incoming webhook reads
the JSON the pack wrote; what the platform adds goes into headers (X-ITSM-Delivery, -Notification, -Ticket,
-Signature). Mail carries Date, a unique Message-ID, Auto-Submitted and In-Reply-To/References naming the
ticket's thread (`thread_id`), which mail intake reads back to thread replies (channels/mail.py).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING

from itsm.store import OutboxMessage
from itsm.store import outbox as stored
from itsm.store.users import emails_of

if TYPE_CHECKING:
    from itsm.store.database import Session

    from ..runtime.engine import Engine

log = logging.getLogger("itsm.delivery")
CLAIM = timedelta(minutes=5)
MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(hours=1)
TIMEOUT = 10.0


@dataclass
class DeliveryResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour."""
    return min(BASE_DELAY * (2 ** max(0, attempts - 1)), MAX_DELAY)


def deliver_outbox(engine: Engine, batch: int = 50) -> DeliveryResult:
    """Up to `batch` due messages, each claimed just before it is sent (a claim never waits behind
    other slow sends, so it cannot expire before its own send is over)."""
    result = DeliveryResult()
    for _ in range(batch):
        message_id = _claim_one(engine)
        if message_id is None:
            break
        _deliver_one(engine, message_id, result)
    return result


def _claim_one(engine: Engine) -> int | None:
    with engine.db.write() as session:
        now = engine.clock()
        return stored.claim_next(session, now, now + CLAIM)


def _deliver_one(engine: Engine, message_id: int, result: DeliveryResult) -> None:
    with engine.db.read() as session:
        found = stored.delivery(session, message_id)
        if found is None:
            return
        message, number = found.message, found.ticket_number
        addresses = _addresses(engine, session, message.recipients)
    error = None
    try:
        if message.channel == "webhook":
            _post_webhook(engine, message, number)
        else:
            _send_mail(message, addresses, number)
    except Exception as exc:  # any failure of the far side: retry later
        error = f"{exc.__class__.__name__}: {exc}"
    with engine.db.write() as session:
        attempts = stored.count_attempt(session, message_id)
        if attempts is None:
            return
        now = engine.clock()
        if error is None:
            stored.mark_sent(session, message_id, now)
            result.sent += 1
        elif attempts >= MAX_ATTEMPTS:
            stored.mark_failed(session, message_id, error)
            result.failed += 1
            log.warning("giving up on outbox message %s after %s attempts: %s", message_id, attempts, error)
        else:
            stored.retry_at(session, message_id, now + backoff(attempts), error)
            result.retried += 1


def _addresses(engine: Engine, session: Session, recipients: list[str]) -> list[str]:
    """user:NAME -> that user's address; team:ID -> the team mailbox, else its members'; addresses as-is."""
    pack = engine.definitions.active().pack
    names: set[str] = set()
    out: list[str] = []
    for recipient in recipients:
        if recipient.startswith("user:"):
            names.add(recipient[5:])
        elif recipient.startswith("team:"):
            team = pack.teams.get(recipient[5:])
            if team is not None and team.email:
                out.append(team.email)
            elif team is not None:
                names.update(m.user for m in team.members)
        elif "@" in recipient:
            out.append(recipient)
    if names:
        out.extend(emails_of(session, names))
    return list(dict.fromkeys(out))


def mail_domain() -> str:
    """The domain of ITSM_MAIL_FROM, for Message-IDs and thread ids (localhost when unset)."""
    sender = os.environ.get("ITSM_MAIL_FROM", "itsm@localhost")
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else ""
    return domain or "localhost"


def thread_id(number: str, domain: str | None = None) -> str:
    """The ticket's mail thread: every message about it answers this id, which a reply quotes back."""
    return f"<{number}.ticket@{domain or mail_domain()}>"


def _send_mail(message: OutboxMessage, addresses: list[str], number: str | None = None) -> None:
    if not addresses:
        return  # nobody with an address: nothing to send (not an error worth retrying)
    domain = mail_domain()
    mail = EmailMessage()
    mail["From"] = os.environ.get("ITSM_MAIL_FROM", "itsm@localhost")
    mail["To"] = ", ".join(addresses)
    mail["Subject"] = " ".join(message.subject.split())  # a header is one line, whatever the fields hold
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = make_msgid(f"itsm.{message.id}.{number or 'none'}", domain)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: out-of-office replies are not sent back to it
    if number:
        mail["In-Reply-To"] = thread_id(number, domain)
        mail["References"] = thread_id(number, domain)
    mail["X-ITSM-Notification"] = message.notification
    mail.set_content(message.body)
    host = os.environ.get("ITSM_SMTP_HOST", "127.0.0.1")
    port = int(os.environ.get("ITSM_SMTP_PORT", "25"))
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as smtp:
        if os.environ.get("ITSM_SMTP_STARTTLS") == "1":
            smtp.starttls()
        user = os.environ.get("ITSM_SMTP_USER")
        if user:
            smtp.login(user, os.environ.get("ITSM_SMTP_PASSWORD", ""))
        smtp.send_message(mail)


def troubled_deliveries(engine: Engine, limit: int = 100) -> list[stored.Trouble]:
    """For the admins' page: the newest messages that failed, given up on or waiting for a retry."""
    with engine.db.read() as session:
        return stored.troubled(session, limit)


def retry_delivery(engine: Engine, message_id: int) -> bool:
    """Send a message given up on again (an admin fixed the SMTP settings or the webhook's URL)."""
    with engine.db.write() as session:
        return stored.retry_now(session, message_id, engine.clock())


def signature(payload: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def content_type_of(body: str) -> str:
    """A webhook's Content-Type when the pack names none: JSON when the body is JSON (SPEC 4)."""
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


def _post_webhook(engine: Engine, message: OutboxMessage, number: str | None) -> None:
    """POST the rendered body as written; the notification's content type and headers are read from the
    active pack (a notification removed since the message was written gets the defaults)."""
    if not message.url:
        raise ValueError("webhook message without a url")
    spec = engine.definitions.active().pack.notifications.get(message.notification)
    payload = message.body.encode("utf-8")
    headers = dict(spec.headers) if spec is not None else {}
    headers.update({"Content-Type": (spec.content_type if spec is not None and spec.content_type else None)
                    or content_type_of(message.body),
                    "User-Agent": "itsm-platform", "X-ITSM-Delivery": str(message.id),
                    "X-ITSM-Notification": message.notification})
    if number:
        headers["X-ITSM-Ticket"] = number
    secret = os.environ.get("ITSM_WEBHOOK_SECRET")
    if secret:
        headers["X-ITSM-Signature"] = signature(payload, secret)
    request = urllib.request.Request(message.url, data=payload, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - admin-configured URL
        if not 200 <= response.status < 300:
            raise RuntimeError(f"HTTP {response.status}")
