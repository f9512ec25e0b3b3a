"""Messages that chat tools and mail clients accept (SPEC 4, issue 14): a webhook POSTs the rendered body as
written, signed; mail carries Date, Message-ID, Auto-Submitted and the ticket's thread; a reply threads by
those headers; quoted originals of Chinese clients are cut; an auto-reply never becomes a comment."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete

from itsm.engine import Engine
from itsm.engine.channels.delivery import signature, thread_id
from itsm.engine.channels.mail import receive_mail, strip_quoted
from itsm.engine.people.users import add_user
from itsm.engine.worker import sweep
from itsm.interpreter import check_pack
from itsm.store import OutboxMessage

from support import DEFINITIONS

CHAT = """kind: notification
id: p1_chat
to: [team]
channel: webhook
url: URL
headers: {X-Robot-Key: abc123}
body: |
  {"msgtype": "text", "text": {"content": {{ ("P1 opened: " ~ ticket.number ~ " " ~ ticket.short_description)
     | tojson }}}}
"""
PLAIN = """kind: notification
id: plain_chat
to: [team]
channel: webhook
url: URL
content_type: text/markdown; charset=utf-8
body: "**{{ ticket.number }}** needs you"
"""


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/robot/send"
    server.shutdown()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(envelope.content)  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture()
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("ITSM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ITSM_SMTP_PORT", str(port))
    monkeypatch.setenv("ITSM_MAIL_FROM", "Service desk <servicedesk@desk.example.invalid>")
    yield box
    controller.stop()


def pack_with(tmp_path: Path, **notifications: str) -> Path:
    pack = tmp_path / "pack"
    shutil.copytree(DEFINITIONS, pack)
    for name, text in notifications.items():
        (pack / "notifications" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return pack


def outbox(engine: Engine, notification: str, number: str, body: str, url: str) -> None:
    """One webhook message of `notification` for ticket `number`, as an action would have written it."""
    from itsm.store import Ticket

    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))
        ticket_id = session.query(Ticket.id).filter(Ticket.number == number).scalar()
        session.add(OutboxMessage(created_at=engine.clock(), ticket_id=ticket_id, notification=notification,
                                  channel="webhook", recipients=[], subject="", body=body, url=url,
                                  status="pending", attempts=0, next_attempt_at=engine.clock()))


def test_a_chat_webhook_receives_the_rendered_body_byte_for_byte_signed(
        engine: Engine, receiver: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_WEBHOOK_SECRET", "s3cret")
    engine.definitions.publish_path(pack_with(tmp_path, p1_chat=CHAT.replace("URL", receiver),
                                              plain_chat=PLAIN.replace("URL", receiver)))
    number = engine.create(engine.actor("rita"), "incident", {"short_description": 'VPN "down" 全部断开'})["number"]
    from itsm.engine.runtime.actions import render

    spec = engine.definitions.active().pack.notifications["p1_chat"]
    rendered = render(spec.body.get(), {"ticket": engine.get(engine.actor("system"), number)["fields"] | {
        "number": number}}, "p1_chat")
    outbox(engine, "p1_chat", number, rendered, receiver)  # what the notify action writes
    assert sweep(engine).delivered == 1
    headers, body = Receiver.received[-1]
    assert body == rendered.encode("utf-8")  # as rendered: no envelope, no escaping
    assert json.loads(body)["text"]["content"].endswith('VPN "down" 全部断开')  # what DingTalk and WeCom read
    assert headers["content-type"] == "application/json"
    assert headers["x-itsm-signature"] == signature(body, "s3cret")
    assert headers["x-robot-key"] == "abc123" and headers["x-itsm-ticket"] == number
    assert headers["x-itsm-notification"] == "p1_chat"

    outbox(engine, "plain_chat", number, f"**{number}** needs you", receiver)
    sweep(engine)
    headers, body = Receiver.received[-1]
    assert body == f"**{number}** needs you".encode() and headers["content-type"] == "text/markdown; charset=utf-8"
    outbox(engine, "gone_since", number, "not JSON at all", receiver)  # a notification no longer in the pack
    sweep(engine)
    assert Receiver.received[-1][1] == b"not JSON at all"
    assert Receiver.received[-1][0]["content-type"] == "text/plain; charset=utf-8"


def test_the_default_packs_chat_notification_renders_json_a_chat_tool_accepts(
        engine: Engine, receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm.engine.runtime.actions import render

    spec = engine.definitions.active().pack.notifications["sla_breach_chat"]
    context = {"ticket": {"number": "INC0000001", "priority": "P1", "team": "network_ops",
                          "short_description": 'Core switch "A" 宕机'}, "clock": {"label": "Response"}}
    body = render(spec.body.get(), context, "sla_breach_chat")
    assert isinstance(json.loads(body)["text"], str) and 'Core switch "A" 宕机' in json.loads(body)["text"]


def test_webhook_settings_are_checked_at_their_line(tmp_path: Path) -> None:
    bad = CHAT.replace("URL", "https://hooks.example.invalid/x").replace(
        "headers: {X-Robot-Key: abc123}", "headers: {X-ITSM-Signature: forged}\ncontent_type: json")
    email = ("kind: notification\nid: mail_with_headers\nto: [requester]\nchannel: email\nsubject: s\n"
             "headers: {X-A: b}\n")
    _, problems = check_pack(pack_with(tmp_path, p1_chat=bad, mail_with_headers=email))
    said = {(p.path, p.message.split(":")[0]) for p in problems if p.position.file.startswith("notifications/")}
    assert ("headers.X-ITSM-Signature", "the header X-ITSM-Signature is set by the platform") in said
    assert ("content_type", "invalid content type 'json'") in said
    assert ("headers", "headers belongs to webhook notifications") in said


def test_mail_carries_date_message_id_auto_submitted_and_the_tickets_thread(
        engine: Engine, mailbox: Mailbox) -> None:
    lars = engine.actor("lars")
    number = engine.create(engine.actor("rita"), "incident", {
        "short_description": "Laptop broken", "service": "workplace", "category": "hardware",
        "impact": "low", "urgency": "low"})["number"]
    engine.fire(lars, number, "start")
    engine.fire(lars, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "New disk"})
    sweep(engine)
    mails = [message_from_bytes(raw, policy=policy.default) for raw in mailbox.messages]
    assert len(mails) >= 2
    # a Message-ID that fits on a line of its own is folded onto it (RFC 5322 FWS; its length varies with the
    # sender's process id): read as intake reads it
    ids = [str(m["Message-ID"]).strip() for m in mails]
    assert len(set(ids)) == len(ids) and all(i.startswith("<") and i.endswith("@desk.example.invalid>") for i in ids)
    for mail in mails:
        assert mail["Date"] is not None and mail["Date"].datetime.tzinfo is not None
        assert mail["Auto-Submitted"] == "auto-generated"
        assert mail["In-Reply-To"] == thread_id(number, "desk.example.invalid") == mail["References"]


def reply(sender: str, subject: str, body: str, message_id: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "servicedesk@desk.example.invalid"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


QQ_REPLY = """打印机还是不行，换了硒鼓也一样。

在 2026年12月6日 星期日 15:20，服务台 <servicedesk@desk.example.invalid> 写道：
> 请更换硒鼓后再试。
"""
FOXMAIL_REPLY = """已经好了，谢谢！

------------------ 原始邮件 ------------------
发件人: "服务台"<servicedesk@desk.example.invalid>;
发送时间: 2026年12月6日(星期日) 下午3:20
主题: INC 已解决
"""
OUTLOOK_ZH = "收到。\n\n发件人: 服务台\n发送时间: 2026年12月6日 15:20\n收件人: 王芳\n主题: 已解决\n\n原文"


def test_a_reply_threads_by_its_headers_though_the_subject_lost_the_number(engine: Engine) -> None:
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "打印机卡纸"})["number"]
    ours = f"<1733500000.77.123.itsm.5.{number}@desk.example.invalid>"  # a Message-ID of one of our mails
    answered = receive_mail(engine, reply("rita@example.invalid", "回复: 您的工单", QQ_REPLY, "<r1@qq.invalid>",
                                          In_Reply_To=ours))
    assert answered == {"action": "commented", "number": number}
    by_thread = receive_mail(engine, reply("rita@example.invalid", "答复", FOXMAIL_REPLY, "<r2@foxmail.invalid>",
                                           References=f"<x@y> {thread_id(number, 'desk.example.invalid')}"))
    assert by_thread == {"action": "commented", "number": number}
    texts = [c["text"] for c in engine.comments(engine.actor("system"), number)]
    assert texts == ["打印机还是不行，换了硒鼓也一样。", "已经好了，谢谢！"]  # the quoted originals cut
    add_user(engine.db, "mallory", email="mallory@example.invalid")
    stranger = receive_mail(engine, reply("mallory@example.invalid", "Re:", "me too", "<r3@x>", In_Reply_To=ours))
    assert stranger["action"] == "created" and stranger["number"] != number  # a thread is no key to a ticket


def test_chinese_clients_quotes_are_cut() -> None:
    assert strip_quoted(QQ_REPLY) == "打印机还是不行，换了硒鼓也一样。"
    assert strip_quoted(FOXMAIL_REPLY) == "已经好了，谢谢！"
    assert strip_quoted(OUTLOOK_ZH) == "收到。"
    assert strip_quoted("-----邮件原件-----\nold") == ""
    assert strip_quoted("发件人说的对，问题已解决") == "发件人说的对，问题已解决"  # not a header line


@pytest.mark.parametrize("headers", [{"Auto_Submitted": "auto-replied"}, {"X_Autoreply": "yes"},
                                     {"Precedence": "auto_reply"}, {"Auto_Submitted": "auto-generated"}])
def test_an_auto_reply_leaves_no_comment_and_opens_no_ticket(engine: Engine, headers: dict[str, str]) -> None:
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "VPN down"})["number"]
    away = receive_mail(engine, reply("rita@example.invalid", f"自动回复: {number} 已受理",
                                      "我正在休假，12月10日返回。", "<away@x>", **headers))
    assert away["action"] == "ignored" and away["number"] is None
    assert engine.comments(engine.actor("system"), number) == []
    fresh = receive_mail(engine, reply("rita@example.invalid", "Out of office", "Back Monday", "<away2@x>",
                                       **headers))
    assert fresh["action"] == "ignored"  # nor a new ticket
    person = receive_mail(engine, reply("rita@example.invalid", f"Re: {number}", "Still down", "<me@x>",
                                        Auto_Submitted="no"))
    assert person == {"action": "commented", "number": number}  # "no" is a person writing
