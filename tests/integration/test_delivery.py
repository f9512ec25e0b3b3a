"""Delivering the outbox: signed webhooks to a local receiver, mail to a local SMTP server, retries."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import delete, select

from itsm.engine import Engine
from itsm.engine.channels.delivery import backoff, signature
from itsm.engine.worker import sweep
from itsm.store import OutboxMessage

from support import DEFINITIONS, Clock


class Receiver(BaseHTTPRequestHandler):
    """Answers 500 to the first `failures` requests, then 204; keeps every request."""

    failures = 0
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        if len(type(self).received) <= type(self).failures:
            self.send_response(500)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def receiver() -> Iterator[str]:
    Receiver.received, Receiver.failures = [], 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), envelope.content.decode()))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture()
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Mailbox]:
    box = Mailbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks readiness by connecting to it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("ITSM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ITSM_SMTP_PORT", str(port))
    yield box
    controller.stop()


def test_a_webhook_that_fails_twice_is_delivered_on_the_third_try_once(engine: Engine, receiver: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_WEBHOOK_SECRET", "s3cret")
    clock = Clock(engine.clock())
    engine.clock = clock
    number = engine.create(engine.actor("rita"), "incident", {"short_description": "Mail is down"})["number"]
    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))  # the create's assignment mail: this test is about one webhook
        session.add(OutboxMessage(created_at=clock.now, notification="sla_breach_chat", channel="webhook",
                                  recipients=[], subject="Breach", body="INC breached", url=receiver,
                                  status="pending", attempts=0, next_attempt_at=clock.now))
    assert sweep(engine).retried == 1
    assert sweep(engine).delivered == 0  # not due again yet: backoff
    clock.now += backoff(1) + timedelta(seconds=1)
    assert sweep(engine).retried == 1
    clock.now += backoff(2) + timedelta(seconds=1)
    assert sweep(engine).delivered == 1
    clock.now += timedelta(hours=2)
    sweep(engine)
    assert len(Receiver.received) == 3  # two failures, one success, nothing after
    headers, body = Receiver.received[-1]
    assert headers["x-itsm-signature"] == signature(body, "s3cret")
    assert json.loads(body)["subject"] == "Breach"
    with engine.db.read() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
        assert row is not None and (row.status, row.attempts) == ("sent", 3)
    del number


def test_notifications_are_mailed_to_the_people_they_name(engine: Engine, mailbox: Mailbox) -> None:
    lars = engine.actor("lars")
    number = engine.create(engine.actor("rita"), "incident", {
        "short_description": "Laptop broken", "service": "workplace", "category": "hardware",
        "impact": "low", "urgency": "low"})["number"]
    engine.fire(lars, number, "start")
    engine.fire(lars, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "New disk"})
    result = sweep(engine)
    assert result.delivered >= 1
    resolved = [m for m in mailbox.messages if "rita@example.invalid" in m[0]]
    assert len(resolved) == 1 and number in resolved[0][1]
    sweep(engine)
    assert len([m for m in mailbox.messages if "rita@example.invalid" in m[0]]) == 1  # never twice


RESOLVED_ZH = '''kind: notification
id: resolved_notice
to: [requester]
channel: email
subject:
  en: "{{ ticket.number }} is resolved"
  zh-CN: "{{ ticket.number }} 已解决"
body:
  en: "We have resolved your incident {{ ticket.number }}."
  zh-CN: "您的工单 {{ ticket.number }} 已解决。"
'''


def test_a_mail_written_in_two_languages_reaches_each_requester_in_theirs(
        engine: Engine, mailbox: Mailbox, tmp_path: Path) -> None:
    from email import message_from_bytes, policy

    from itsm.engine.people.users import set_locale

    pack = tmp_path / "pack"
    shutil.copytree(DEFINITIONS, pack)
    (pack / "notifications" / "resolved_notice.yaml").write_text(RESOLVED_ZH, encoding="utf-8")
    engine.definitions.publish_path(pack)
    set_locale(engine.db, "rita", "zh-CN")  # ruth has no locale: the pack's language, English
    lars = engine.actor("lars")
    numbers = {}
    for name in ("rita", "ruth"):
        numbers[name] = number = engine.create(engine.actor(name), "incident", {
            "short_description": "Laptop broken", "service": "workplace", "category": "hardware",
            "impact": "low", "urgency": "low"})["number"]
        engine.fire(lars, number, "start")
        engine.fire(lars, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "New disk"})
    sweep(engine)
    mails = {to[0]: message_from_bytes(text.encode(), policy=policy.default) for to, text in mailbox.messages
             if to[0] in ("rita@example.invalid", "ruth@example.invalid")}
    chinese, english = mails["rita@example.invalid"], mails["ruth@example.invalid"]
    assert chinese["Subject"] == f"{numbers['rita']} 已解决"
    assert chinese.get_content().strip() == f"您的工单 {numbers['rita']} 已解决。"  # type: ignore[attr-defined]
    assert english["Subject"] == f"{numbers['ruth']} is resolved"
    assert english.get_content().strip() == f"We have resolved your incident {numbers['ruth']}."  # type: ignore[attr-defined]
