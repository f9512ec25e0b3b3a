"""Mail intake (issue 7): a new mail opens a ticket for its sender, a reply naming a ticket becomes a comment.

Parsed with the standard library (`email`, policy=default), text/plain preferred over HTML, the quoted
original and the signature cut off. Senders are users matched by mail address; a Message-ID is recorded
once (`intake_keys`, the intake's id as source), so a message delivered twice is not recorded twice.
Which process and fields a mail maps to comes from the pack's intake with `source: email`.

The mail's files (attachments, pasted screenshots, a forwarded mail) are kept on the ticket, new or replied
to, in the same transaction, under the limits of every attachment (`runtime.attachments`): a part that is too
large, of a type not allowed or not what its name says is left out with a note in the comment (in the pack's
language), never failing the mail; a file the ticket has already (the logo of a signature) is not added again.
"""

from __future__ import annotations

import email
import hashlib
import io
import mimetypes
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import Any

from itsm.interpreter import model as m
from itsm.store import User
from itsm.store import users as stored_users
from itsm.store.intake_keys import number_of_key

from ..boundary import guarded
from ..errors import N_, BadRequest, EngineError, NotFound
from ..people.users import add_user
from ..runtime.actors import SYSTEM
from ..runtime.attachments import Upload, attach, receive, receiving
from ..runtime.file_types import size_text
from ..runtime.wording import say
from .intake import MAX_KEY, create_keyed, map_fields, remember, render

MAX_COMMENT = 20_000  # characters of a reply kept as a comment (a forwarded log file is not a comment)
MAX_FILES = 20  # files kept from one mail
SIGNATURES = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"})
# Lines that start the quoted original in replies: English, German, French and Chinese mail clients (NetEase,
# QQ/Foxmail, Tencent Exmail, Alibaba), Outlook in English, German and Chinese.
_QUOTE_HEADERS = [re.compile(p, re.IGNORECASE) for p in (
    r"^on .{1,200}wrote:$", r"^am .{1,200}schrieb .{0,200}:$", r"^le .{1,200}a écrit\s?:$",
    r"^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|原始邮件|邮件原件|原邮件)\s*-{2,}$",
    r"^_{10,}$", r"^(from|发件人)\s*[:：]\s*.+$", r"^在.{1,200}写道\s*[:：]$")]
_OUTLOOK_SENT = re.compile(r"^(sent|date|gesendet|envoyé|发送时间|时间|日期)\s*[:：]", re.IGNORECASE)
# What mail clients and servers put on replies no person wrote (RFC 3834 and the common non-standard ones).
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply")


@dataclass(frozen=True)
class MailFile:
    """A file a mail carries: its name (made up for a pasted image that has none) and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class InboundMail:
    message_id: str
    sender: str  # the From address, lower-case
    sender_name: str
    subject: str
    body: str  # text without the quoted original and the signature
    to: tuple[str, ...]
    date: str
    files: tuple[MailFile, ...] = ()
    references: tuple[str, ...] = ()  # the ids of In-Reply-To and References, which thread a reply
    auto_reply: bool = False  # an out-of-office answer or another message no person wrote

    def context(self) -> dict[str, Any]:
        return {"subject": self.subject, "body": self.body, "from": self.sender, "from_name": self.sender_name,
                "to": list(self.to), "message_id": self.message_id, "date": self.date}


def parse_mail(raw: bytes) -> InboundMail:
    message = email.message_from_bytes(raw, policy=policy.default)
    name, address = parseaddr(str(message.get("From", "")))
    if "@" not in address:
        raise BadRequest(N_("the mail has no From address"))
    message_id = str(message.get("Message-ID", "")).strip().strip("<>")
    if not message_id:  # the same bytes delivered twice are still one mail
        message_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    subject = " ".join(_storable(str(message.get("Subject", ""))).split())
    recipients = tuple(_storable(a) for _, a in getaddresses([str(v) for v in message.get_all("To", [])]) if a)
    references = tuple(re.findall(r"<([^<>\s]{1,400})>", " ".join(
        str(message.get(header, "")) for header in ("In-Reply-To", "References"))))
    return InboundMail(_storable(message_id), _storable(address.lower()), _storable(name or address), subject,
                       strip_quoted(_storable(_text_of(message))), recipients, _storable(str(message.get("Date", ""))),
                       _files_of(message), tuple(_storable(r) for r in references), is_auto_reply(message))


def is_auto_reply(message: Message) -> bool:
    """A message no person wrote (SPEC 4): `Auto-Submitted` other than `no` (RFC 3834), `X-Autoreply` and its
    kin, or `Precedence: auto_reply`. Such a mail never becomes a comment nor a ticket."""
    submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if submitted and submitted.split(";", 1)[0].strip() != "no":
        return True
    if any(message.get(header) is not None for header in _AUTO_HEADERS):
        return True
    return str(message.get("Precedence", "")).strip().lower() == "auto_reply"


def _storable(text: str) -> str:
    """Text every database keeps: no NUL, no lone surrogates (undecodable header bytes become '?')."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _text_of(message: Message) -> str:
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default always gives EmailMessage
        return ""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, UnicodeError):  # an unknown or lying charset: keep what can be read
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(text, str):
        return ""
    return _html_to_text(text) if part.get_content_subtype() == "html" else text


def _files_of(message: Message) -> tuple[MailFile, ...]:
    """The mail's files: every part with a file name or sent as an attachment, and images without a name (a
    screenshot pasted into the text); a forwarded mail as one `.eml` file. Not the body (nor its HTML
    alternative) and not a signature."""
    if not isinstance(message, EmailMessage):  # pragma: no cover - policy.default always gives EmailMessage
        return ()
    body = message.get_body(preferencelist=("plain", "html"))
    found: list[MailFile] = []

    def visit(part: Message) -> None:
        kind = part.get_content_type()
        name = part.get_filename()
        if kind == "message/rfc822" and part is not message:
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else None
            forwarded = inner.as_bytes() if isinstance(inner, Message) else b""
            found.append(MailFile(name or f"message-{len(found) + 1}.eml", forwarded))
            return
        if part.is_multipart():
            for sub in part.get_payload():
                if isinstance(sub, Message):
                    visit(sub)
            return
        if part is body or kind in SIGNATURES:
            return
        if name is None and part.get_content_disposition() != "attachment" and part.get_content_maintype() != "image":
            return  # the HTML alternative of the text, a calendar invitation's data
        payload = part.get_payload(decode=True)
        extension = mimetypes.guess_extension(kind) or ""
        stem = "image" if part.get_content_maintype() == "image" else "attachment"
        found.append(MailFile(name or f"{stem}-{len(found) + 1}{extension}",
                              payload if isinstance(payload, bytes) else b""))

    visit(message)
    return tuple(found)


class _TextOfHtml(HTMLParser):
    BREAKS = {"br", "p", "div", "li", "tr", "h1", "h2", "h3", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        if tag == "blockquote":  # the quoted original of a reply
            self.quote += 1
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(self.skip - 1, 0)
        if tag == "blockquote":
            self.quote = max(self.quote - 1, 0)
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip and not self.quote:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the first quote header (`On ... wrote:`), a signature (`-- `) or the
    quoted original; quoted lines (`>`) elsewhere are dropped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        two = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped  # "On ...\n wrote:"
        if line.rstrip("\n") == "-- " or any(p.match(stripped) or p.match(two)
                                               for p in (*_QUOTE_HEADERS[:3], _QUOTE_HEADERS[6])):
            break
        if any(p.match(stripped) for p in _QUOTE_HEADERS[3:5]):
            break
        if _QUOTE_HEADERS[5].match(stripped) and any(_OUTLOOK_SENT.match(n.strip()) for n in lines[i + 1:i + 4]):
            break  # Outlook: From: / Sent: / To: / Subject: above the original (发件人: / 发送时间: in Chinese)
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def email_intake(pack: m.PackSpec, intake_id: str | None) -> m.IntakeSpec:
    mail_intakes = [i for i in pack.intakes.values() if i.source == "email"]
    if intake_id is None:
        if not mail_intakes:
            raise NotFound(N_("the active pack declares no intake with source: email "
                              "(see definitions/intake/email.yaml)"))
        return mail_intakes[0]
    intake = pack.intakes.get(intake_id)
    if intake is None or intake.source != "email":
        known = ", ".join(i.id for i in mail_intakes) or N_("none")
        raise NotFound(N_("no email intake '%(intake)s' in the active pack (its email intakes: %(known)s)",
                          intake=intake_id, known=known))
    return intake


@guarded
def receive_mail(engine: Any, raw: bytes, intake_id: str | None = None) -> dict[str, Any]:
    """Record one mail: {"action": created|commented|duplicate|rejected, "number", "message"?}."""
    pack = engine.definitions.active().pack
    intake = email_intake(pack, intake_id)
    mail = parse_mail(raw)
    if mail.auto_reply:  # an out-of-office answer to our own mail: recording it would answer it again
        return {"action": "ignored", "number": None,
                "message": "an automatic reply (Auto-Submitted, X-Autoreply): not recorded"}
    key = mail.message_id if len(mail.message_id) <= MAX_KEY else (
        "sha256:" + hashlib.sha256(mail.message_id.encode()).hexdigest())
    known = _keyed_ticket(engine, intake.id, key)
    if known is not None:
        return {"action": "duplicate", "number": known}
    user = _sender(engine, mail, intake)
    if user is None:
        return {"action": "rejected", "number": None,
                "message": f"no user has the address {mail.sender} (itsm user add NAME --email ADDRESS)"}
    context = {"mail": mail.context(), "sender": {"name": user.name, "email": user.email}}
    number = _reply_target(engine, pack, mail, user.name)
    sender = engine.actor(user.name)
    with receiving(engine) as uploads:
        note = _take_files(engine, mail.files, uploads, pack.language)
        if number is not None:
            text = str(render(intake, intake.reply_comment, context)).strip() or say("empty_reply", pack.language)
            if len(text) > MAX_COMMENT:
                text = text[: MAX_COMMENT - 1] + "…"
            if uploads or note:
                attach(engine, sender, number, uploads, comment=f"{text}\n\n{note}" if note else text, skip_known=True)
            else:
                engine.comment(sender, number, text)
            remember(engine, intake.id, key, number)
            return {"action": "commented", "number": number}
        form = pack.forms[pack.processes[intake.process].form]
        fields, dropped = map_fields(intake, form, context)
        number, created = create_keyed(engine, intake, key, fields, requester=user.name, uploader=sender,
                                       uploads=uploads, note=note)
    result: dict[str, Any] = {"action": "created" if created else "duplicate", "number": number}
    if dropped:
        result["dropped"] = dropped
    return result


def _take_files(engine: Any, files: tuple[MailFile, ...], uploads: list[Upload], language: str) -> str | None:
    """Receive the mail's files into `uploads`; the note on those left out, in `language` (None: none was)."""
    skipped = []
    limit = size_text(engine.uploads.max_bytes)
    for index, part in enumerate(files):
        if index >= MAX_FILES:
            reason = say("skip.too_many", language, most=MAX_FILES)
        else:
            try:
                uploads.append(receive(engine, part.name, io.BytesIO(part.data)))
                continue
            except EngineError as exc:
                reason = say(f"skip.{getattr(exc, 'reason', 'type')}", language, limit=limit)
        skipped.append(say("mail_skipped_file", language, name=part.name, reason=reason))
    if not skipped:
        return None
    return say("mail_skipped", language, files=say("list_separator", language).join(skipped))


def _keyed_ticket(engine: Any, source: str, key: str) -> str | None:
    with engine.db.read() as session:
        return number_of_key(session, source, key)


def _sender(engine: Any, mail: InboundMail, intake: m.IntakeSpec) -> User | None:
    with engine.db.read() as session:
        user = stored_users.first_with_email(session, mail.sender)
        if user is not None or intake.unknown_senders != "create":
            return user
        taken = stored_users.names_starting_with(session, _name_of(mail.sender))
    base = _name_of(mail.sender)
    name = next(n for n in (base, *(f"{base}{i}" for i in range(2, 10_000))) if n not in taken and n != SYSTEM)
    return add_user(engine.db, name, email=mail.sender)


def _name_of(address: str) -> str:
    local = re.sub(r"[^a-z0-9._-]+", "_", address.split("@", 1)[0].lower()).strip("._-")
    return (local or "mail_user")[:80]


def _reply_target(engine: Any, pack: m.PackSpec, mail: InboundMail, user_name: str) -> str | None:
    """The open ticket the reply belongs to, if the sender may see it: the thread its In-Reply-To or
    References name (our mails' Message-IDs and thread ids hold the number), else a number in the subject.
    None: the mail opens a new ticket."""
    prefixes = sorted({p.number_prefix for p in pack.processes.values() if p.number_prefix}, key=len, reverse=True)
    if not prefixes:
        return None
    number = f"(?:{'|'.join(map(re.escape, prefixes))})[0-9]{{7,}}"
    threaded = re.compile(rf"^(?:.*\.itsm\.[0-9]+\.({number})|({number})\.ticket)@")
    candidates = [found.group(1) or found.group(2) for found in map(threaded.match, reversed(mail.references))
                  if found is not None]
    candidates += re.findall(rf"(?<![A-Za-z0-9])({number})(?![0-9])", mail.subject)
    for candidate in dict.fromkeys(candidates):
        try:
            view = engine.get(engine.actor(user_name), candidate)
        except EngineError:  # no such ticket, or not the sender's to see: do not reveal which
            continue
        process = pack.processes.get(view["process"])
        if process is not None and view["state"] not in process.final_states:
            return str(candidate)
    return None
