"""Delivering the outbox (SPEC 8): mail over SMTP and signed webhooks, after commit, with retries.

Messages are claimed a few at a time (status `sending`, claims expiring after CLAIM) in one short
transaction, sent outside any transaction, then their outcomes recorded together (`sent`, a retry, `failed`);
a worker that dies mid-send leaves claims that expire and those messages are sent again (at least once, never
for a change that rolled back: only committed rows exist). Failures retry with exponential backoff; after
MAX_ATTEMPTS a message is `failed`. The mails of a round share one SMTP connection (a server that could not be
reached is not tried again in that round) and its parsed headers; a webhook host whose name did not resolve
is not looked up again in the round; webhooks share one TLS context per process, built at the first TLS
connection.

Settings come from the environment: ITSM_SMTP_HOST (default 127.0.0.1), ITSM_SMTP_PORT (25),
ITSM_SMTP_USER, ITSM_SMTP_PASSWORD, ITSM_SMTP_STARTTLS (1 to use it), ITSM_MAIL_FROM, and
ITSM_WEBHOOK_SECRET (the HMAC-SHA256 key of the X-ITSM-Signature header).

A webhook POSTs the rendered body exactly as written (SPEC 4), so that a chat tool's incoming webhook reads
the JSON the pack wrote; what the platform adds goes into headers (X-ITSM-Delivery, -Notification, -Ticket,
-Signature). Mail carries Date, a unique Message-ID, Auto-Submitted and In-Reply-To/References naming the
ticket's thread (`thread_id`), which mail intake reads back to thread replies (channels/mail.py).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any

from itsm.store import outbox as stored
from itsm.store.users import emails_by_name

if TYPE_CHECKING:
    from collections.abc import Mapping

    from itsm.interpreter.model import TeamSpec

    from ..runtime.engine import Engine

log = logging.getLogger("itsm.delivery")
CLAIM = timedelta(minutes=5)
GROUP = 10  # messages claimed at once: GROUP sends of TIMEOUT each stay well under CLAIM
SEND_WINDOW = (CLAIM / 2).total_seconds()  # no send starts later than this after its group's claim
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
    """Up to `batch` due messages, GROUP at a time: a group is claimed and read in one transaction, sent one
    message after the other outside any transaction (mails over one SMTP connection), and its outcomes are
    recorded in one transaction. The next group is claimed only when the previous one is recorded, so a claim
    waits for at most GROUP sends, never behind other slow sends, and cannot expire before its send is over."""
    result = DeliveryResult()
    mailer, webhooks = Mailer(), Webhooks()
    emails: dict[str, str | None] = {}
    try:
        while batch > 0:
            limit = min(GROUP, batch)
            group = _claim(engine, limit, emails)
            outcomes = _send(engine, group, mailer, webhooks)
            _record(engine, outcomes, result)
            batch -= len(group)
            if len(group) < limit or any(error == RELEASED for _, error in outcomes):
                break  # nothing more is due, or this round ran out of time
    finally:
        mailer.close()
    return result


@dataclass(frozen=True)
class _Claimed:
    message: stored.Message
    ticket_number: str | None
    addresses: list[str]  # a mail's, resolved when it was claimed


RELEASED = "not tried: its claim had grown old"  # the outcome of a message left to the next round


def _claim(engine: Engine, limit: int, emails: dict[str, str | None]) -> list[_Claimed]:
    """Up to `limit` due messages claimed, with their tickets' numbers and their mails' addresses. `emails`:
    the users' addresses read so far in the round (None: the user has none), read once a round."""
    teams = engine.definitions.active().pack.teams  # before the transaction: it may read the active version
    with engine.db.write() as session:
        now = engine.clock()
        found = stored.claim_due(session, now, now + CLAIM, limit)
        wanted = {d.message.id: _recipients(teams, d.message.recipients) for d in found
                  if d.message.channel != "webhook"}
        unknown = {name for _, names in wanted.values() for name in names} - emails.keys()
        if unknown:
            read = emails_by_name(session, unknown)
            emails.update((name, read.get(name)) for name in unknown)
    group = []
    for d in found:
        addresses, names = wanted.get(d.message.id, ([], set()))
        addresses = addresses + [email for name, email in emails.items() if email and name in names]
        group.append(_Claimed(d.message, d.ticket_number, list(dict.fromkeys(addresses))))
    return group


def _send(engine: Engine, group: list[_Claimed], mailer: Mailer, webhooks: Webhooks) -> list[tuple[int, str | None]]:
    """(message id, error: None when sent, RELEASED when not tried) for each message of the group, in order."""
    claimed = time.monotonic()
    outcomes: list[tuple[int, str | None]] = []
    for item in group:
        if time.monotonic() - claimed > SEND_WINDOW:  # slow far sides: leave the rest to the next round
            outcomes.append((item.message.id, RELEASED))
            continue
        error = None
        try:
            if item.message.channel == "webhook":
                webhooks.post(engine, item.message, item.ticket_number)
            elif item.addresses:  # nobody with an address: nothing to send (not an error worth retrying)
                mailer.send(item.message, item.addresses, item.ticket_number)
        except Exception as exc:  # any failure of the far side: retry later
            error = f"{exc.__class__.__name__}: {exc}"
        outcomes.append((item.message.id, error))
    return outcomes


def _record(engine: Engine, outcomes: list[tuple[int, str | None]], result: DeliveryResult) -> None:
    """Each message's outcome, one more attempt counted; a message deleted since its claim is skipped."""
    if not outcomes:
        return
    with engine.db.write() as session:
        present = stored.attempts_of(session, [message_id for message_id, _ in outcomes])
        now = engine.clock()
        done = []
        for message_id, error in outcomes:
            if message_id not in present:
                continue
            if error == RELEASED:
                done.append(stored.Outcome(message_id, "released", at=now))
                continue
            attempts = present[message_id] + 1
            if error is None:
                done.append(stored.Outcome(message_id, "sent", attempts, at=now))
                result.sent += 1
            elif attempts >= MAX_ATTEMPTS:
                done.append(stored.Outcome(message_id, "failed", attempts, error=error))
                result.failed += 1
                log.warning("giving up on outbox message %s after %s attempts: %s", message_id, attempts, error)
            else:
                done.append(stored.Outcome(message_id, "retry", attempts, at=now + backoff(attempts), error=error))
                result.retried += 1
        stored.record(session, done)


def _recipients(teams: Mapping[str, TeamSpec], recipients: list[str]) -> tuple[list[str], set[str]]:
    """The addresses a mail goes to as they are (addresses, team mailboxes) and the users whose address it
    goes to: user:NAME -> that user; team:ID -> the team mailbox, else its members."""
    names: set[str] = set()
    out: list[str] = []
    for recipient in recipients:
        if recipient.startswith("user:"):
            names.add(recipient[5:])
        elif recipient.startswith("team:"):
            team = teams.get(recipient[5:])
            if team is not None and team.email:
                out.append(team.email)
            elif team is not None:
                names.update(m.user for m in team.members)
        elif "@" in recipient:
            out.append(recipient)
    return out, names


def mail_domain() -> str:
    """The domain of ITSM_MAIL_FROM, for Message-IDs and thread ids (localhost when unset)."""
    sender = os.environ.get("ITSM_MAIL_FROM", "itsm@localhost")
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else ""
    return domain or "localhost"


def thread_id(number: str, domain: str | None = None) -> str:
    """The ticket's mail thread: every message about it answers this id, which a reply quotes back."""
    return f"<{number}.ticket@{domain or mail_domain()}>"


def _mail(message: stored.Message, addresses: list[str], number: str | None = None,
          policy: EmailPolicy[EmailMessage] = email_policy.default) -> EmailMessage:
    """The mail of a message (`policy`: the email package's default, or a round's that keeps parsed headers)."""
    domain = mail_domain()
    mail = EmailMessage(policy=policy)
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
    return mail


class RoundHeaders(HeaderRegistry):
    """The email package's header registry, keeping what the mails of a delivery round repeat: it builds a
    class for every header it parses, and parses the same From, MIME headers, Date (to the second) and often
    To and thread ids again for each mail (~0.5 ms a mail). Parsed headers are immutable: the round's mails
    share them, and the bytes sent are those of the default policy."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: dict[str, type[BaseHeader]] = {}
        self.parsed: dict[tuple[str, str], BaseHeader] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        if key not in self.classes:
            self.classes[key] = super().__getitem__(name)
        return self.classes[key]

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if not isinstance(value, str):
            return super().__call__(name, value)
        key = (name, value)
        if key not in self.parsed:
            self.parsed[key] = super().__call__(name, value)
        return self.parsed[key]


class Mailer:
    """One SMTP connection for the mails of a delivery round: opened for the first mail, closed at the end.
    A failed send closes it (that message fails; the next mail opens a new connection). A connection that the
    server dropped since the previous mail (closed, reset, 421) is opened anew for one more try. A connection
    that could not be opened is not tried again in the round: its error is that of every later mail (a server
    that is away would otherwise cost each mail a connection timeout). A mail is composed only once there is
    a connection to send it over."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None
        self.unreachable: Exception | None = None
        self.policy = email_policy.default.clone(header_factory=RoundHeaders())

    def send(self, message: stored.Message, addresses: list[str], number: str | None) -> None:
        smtp, kept = self.smtp, self.smtp is not None
        if smtp is None:
            smtp = self._open()
        mail = _mail(message, addresses, number, self.policy)
        try:
            smtp.send_message(mail)
            return
        except Exception as exc:
            self.close()
            if not kept or not _dropped(exc):
                raise
        smtp = self._open()  # the server had dropped the kept connection: once more on a new one
        try:
            smtp.send_message(mail)
        except Exception:
            self.close()
            raise

    def _open(self) -> smtplib.SMTP:
        if self.unreachable is not None:
            raise self.unreachable
        try:
            self.smtp = _connect()
        except Exception as exc:
            self.unreachable = exc
            raise
        return self.smtp

    def close(self) -> None:
        smtp, self.smtp = self.smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


def _dropped(exc: Exception) -> bool:
    """Whether a send failed because the server had closed the connection rather than for the mail."""
    return (isinstance(exc, smtplib.SMTPServerDisconnected | ConnectionError)
            or getattr(exc, "smtp_code", None) == 421)


def _connect() -> smtplib.SMTP:
    host = os.environ.get("ITSM_SMTP_HOST", "127.0.0.1")
    port = int(os.environ.get("ITSM_SMTP_PORT", "25"))
    smtp = smtplib.SMTP(host, port, timeout=TIMEOUT)
    try:
        if os.environ.get("ITSM_SMTP_STARTTLS") == "1":
            smtp.starttls()
        user = os.environ.get("ITSM_SMTP_USER")
        if user:
            smtp.login(user, os.environ.get("ITSM_SMTP_PASSWORD", ""))
    except Exception:
        smtp.close()
        raise
    return smtp


def troubled_deliveries(engine: Engine, limit: int = 100) -> list[stored.Trouble]:
    """For the admins' page: the newest messages that failed, given up on or waiting for a retry."""
    with engine.db.read() as session:
        return stored.troubled(session, limit)


def retry_delivery(engine: Engine, message_id: int) -> bool:
    """Send a message given up on again (an admin fixed the SMTP settings or the webhook's URL)."""
    with engine.db.write() as session:
        return stored.retry_now(session, message_id, engine.clock())


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The process's TLS context for webhooks: without it every HTTPS request builds its own and reads the
    system's certificates again (~18 ms a webhook)."""
    context = ssl._create_default_https_context()  # what http.client builds per request (verifying)
    context.set_alpn_protocols(["http/1.1"])  # as http.client does for a context of its own
    return context


class _TLSOnConnect(ssl.SSLContext):
    """What urllib is given as its TLS context: http.client takes a context when it sets a connection up but
    uses it only to wrap the socket once connected, so the process's context (`_tls_context`) is built then,
    not for a webhook whose host does not resolve or refuses the connection."""

    def wrap_socket(self, sock: socket.socket, server_side: bool = False, do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: str | bytes | None = None,
                    session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
        return _tls_context().wrap_socket(sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                          server_hostname, session)


@functools.cache
def _opener() -> urllib.request.OpenerDirector:
    """urllib's default opener with the process's TLS context (built at the first TLS connection)."""
    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=_TLSOnConnect(ssl.PROTOCOL_TLS_CLIENT)))


class Webhooks:
    """The webhooks of a delivery round. A host whose name did not resolve is not looked up again in the
    round: that error is every later webhook's to it (each lookup of a missing name asks the DNS server
    again, and one that drops the query keeps the round waiting five seconds)."""

    def __init__(self) -> None:
        self.unresolved: dict[str, urllib.error.URLError] = {}

    def post(self, engine: Engine, message: stored.Message, number: str | None) -> None:
        host = urllib.parse.urlsplit(message.url or "").hostname
        if host in self.unresolved:
            raise self.unresolved[host]
        try:
            _post_webhook(engine, message, number)
        except urllib.error.URLError as exc:
            if host and isinstance(exc.reason, socket.gaierror):
                self.unresolved[host] = exc
            raise


def signature(payload: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def content_type_of(body: str) -> str:
    """A webhook's Content-Type when the pack names none: JSON when the body is JSON (SPEC 4)."""
    try:
        json.loads(body)
    except ValueError:
        return "text/plain; charset=utf-8"
    return "application/json"


def _post_webhook(engine: Engine, message: stored.Message, number: str | None) -> None:
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
    with _opener().open(request, timeout=TIMEOUT) as response:
        if not 200 <= response.status < 300:
            raise RuntimeError(f"HTTP {response.status}")
