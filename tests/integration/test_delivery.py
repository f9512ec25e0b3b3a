"""Delivering the outbox: signed webhooks to a local receiver, mail to a local SMTP server, retries."""

from __future__ import annotations

import re
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
    assert body == b"INC breached"  # the body as rendered, no envelope (SPEC 4)
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
    to_rita = [m for m in mailbox.messages if "rita@example.invalid" in m[0]]
    resolved = [m for m in to_rita if "is resolved" in m[1]]
    assert len(resolved) == 1 and number in resolved[0][1]
    assert len(to_rita) == 2  # and the number when it was recorded (trigger created_notice)
    sweep(engine)
    assert len([m for m in mailbox.messages if "rita@example.invalid" in m[0]]) == 2  # never twice


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


RESOLVED_WITH_TIMELINE = '''kind: notification
id: resolved_notice
to: [requester]
channel: email
subject: {zh-CN: "{{ ticket.number }} 已处理完成", en: "{{ ticket.number }} is resolved"}
body:
  zh-CN: |
    处理经过：
    {{ timeline }}
  en: |
    What happened:
    {{ timeline }}
'''


def test_the_timeline_of_a_bilingual_mail_is_in_each_readers_language(engine: Engine, tmp_path: Path) -> None:
    """The gov-desk pack with a resolution mail that quotes `{{ timeline }}`: rita reads Chinese, ruth English;
    each queued body says the ticket's history with the pack's labels and the engine's words in hers."""
    from itsm.engine.people.users import set_locale

    pack = tmp_path / "gov-desk"
    shutil.copytree(DEFINITIONS.parent / "examples" / "gov-desk", pack)
    (pack / "notifications" / "resolved_notice.yaml").write_text(RESOLVED_WITH_TIMELINE, encoding="utf-8")
    engine.definitions.publish_path(pack)
    set_locale(engine.db, "rita", "zh-CN")
    set_locale(engine.db, "ruth", "en")
    sam, nils = engine.actor("sam"), engine.actor("nils")
    numbers = {}
    for name in ("rita", "ruth"):
        numbers[name] = number = engine.create(engine.actor(name), "incident", {
            "short_description": "政务外网无法访问", "description": "整层楼无法上网。"})["number"]
        engine.comment(engine.actor(name), number, "三楼全部断网")
        engine.comment(sam, number, "疑似交换机故障", internal=True)
        engine.fire(sam, number, "classify", {"category": "network", "unit_level": "city", "impact": "unit",
                                              "urgency": "high"})
        engine.fire(nils, number, "start")
        engine.fire(nils, number, "resolve", {"resolution_code": "fixed", "resolution_notes": "更换了交换机。"})
    with engine.db.read() as session:
        bodies = {tuple(row.recipients): row.body for row in session.scalars(
            select(OutboxMessage).where(OutboxMessage.notification == "resolved_notice"))}
    chinese, english = bodies[("user:rita",)], bodies[("user:ruth",)]
    assert chinese.startswith("处理经过：\n") and english.startswith("What happened:\n")
    chinese_words = ("登记工单：", "问题概述为“政务外网无法访问”", "rita  备注：三楼全部断网", "分派给网络组",
                     "受理派单（待受理 → 已派单）：", "故障类别为“网络故障”", "开始处理（已派单 → 处理中）",
                     "SLA 响应时限：")
    english_words = ("created: ", "Short description = 政务外网无法访问", "ruth  comment: 三楼全部断网",
                     "Classify and dispatch (New -> Assigned): ", "Category = Network fault",
                     "assigned to Network team", "Start work (Assigned -> In progress)", "SLA Time to respond: ")
    for text, words in ((chinese, chinese_words), (english, english_words)):
        for word in words:
            assert word in text, (word, text)
        lines = text.splitlines()[1:]
        assert lines and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d[ （(]+UTC\+8[)）]  ", line) for line in lines)
        assert "疑似交换机故障" not in text  # internal comments stay out
        assert "处理完成" not in text and "Resolve" not in text  # the change being made is not stored yet
    assert "（UTC+8）" in chinese and "Start work" not in chinese and "->" not in chinese
    assert "(UTC+8)" in english and "开始处理" not in english


def _refused_url() -> str:
    with socket.socket() as probe:  # a port nothing listens on: connecting is refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def _queue(engine: Engine, channel: str = "webhook", url: str | None = None, recipients: tuple[str, ...] = (),
           attempts: int = 0) -> int:
    with engine.db.write() as session:
        message = OutboxMessage(created_at=engine.clock(), notification="sla_breach_chat", channel=channel,
                                recipients=list(recipients), subject="Breach", body="INC breached", url=url,
                                status="pending", attempts=attempts, next_attempt_at=engine.clock())
        session.add(message)
        session.flush()
        return message.id


def _outcomes(engine: Engine) -> dict[int, tuple[str, int, bool]]:
    """id -> (status, attempts, whether an error is kept) of every message."""
    with engine.db.read() as session:
        return {m.id: (m.status, m.attempts, m.last_error is not None) for m in session.scalars(select(OutboxMessage))}


def test_the_outcomes_of_claimed_groups_are_all_recorded_two_transactions_a_group(
        engine: Engine, receiver: str, mailbox: Mailbox) -> None:
    """12 due messages: a group of 10 and one of 2, each claimed (and read) in one transaction and its
    outcomes written in another; sent, retried and given up on alike. (Commits are counted: a read of which
    pack version is active, made at most once a second, may come on top.)"""
    from sqlalchemy import event

    from itsm.engine.channels.delivery import GROUP, MAX_ATTEMPTS, deliver_outbox

    Receiver.failures = 0
    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))
    refused = _refused_url()
    hooks = [_queue(engine, url=receiver) for _ in range(7)]
    retried = _queue(engine, url=refused)
    given_up = _queue(engine, url=refused, attempts=MAX_ATTEMPTS - 1)
    nobody = _queue(engine, "email", recipients=("user:nobody-with-that-name",))
    mails = [_queue(engine, "email", recipients=("user:rita", "team-lead@example.invalid")),
             _queue(engine, "email", recipients=("user:ruth",))]
    commits: list[str] = []
    listener = lambda *_: commits.append("commit")  # noqa: E731
    event.listen(engine.db.engine, "commit", listener)
    try:
        result = deliver_outbox(engine)
    finally:
        event.remove(engine.db.engine, "commit", listener)
    assert GROUP == 10 and len(commits) == 4  # claim + outcomes, twice
    assert (result.sent, result.retried, result.failed) == (10, 1, 1)
    outcomes = _outcomes(engine)
    assert all(outcomes[i] == ("sent", 1, False) for i in [*hooks, nobody, *mails])
    assert outcomes[retried] == ("pending", 1, True)
    assert outcomes[given_up] == ("failed", MAX_ATTEMPTS, True)
    assert len(Receiver.received) == 7
    assert sorted(sorted(to) for to, _ in mailbox.messages) == [["rita@example.invalid", "team-lead@example.invalid"],
                                                                  ["ruth@example.invalid"]]


def test_a_message_deleted_between_its_claim_and_its_outcome_is_skipped(
        engine: Engine, receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm.engine.channels import delivery

    Receiver.failures = 0
    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))
    first, doomed, last = (_queue(engine, url=receiver) for _ in range(3))
    post = delivery._post_webhook

    def post_and_delete(engine: Engine, message: OutboxMessage, number: str | None) -> None:
        post(engine, message, number)
        if message.id == first:  # while the group is out: an admin deletes a message of it
            with engine.db.write() as session:
                session.execute(delete(OutboxMessage).where(OutboxMessage.id == doomed))

    monkeypatch.setattr(delivery, "_post_webhook", post_and_delete)
    result = delivery.deliver_outbox(engine)
    assert result.sent == 2  # the deleted message was sent (it was claimed) but has no row to record it in
    assert _outcomes(engine) == {first: ("sent", 1, False), last: ("sent", 1, False)}


class ConnectionBox(Mailbox):
    """Accepts `per_connection` mails on a connection, then answers 421 (as servers that limit them do)."""

    def __init__(self, per_connection: int) -> None:
        super().__init__()
        self.per_connection = per_connection
        self.connections: list[object] = []
        self.counts: list[int] = []

    async def handle_MAIL(self, server: object, session: object, envelope: object, address: str,  # noqa: N802
                          options: list[str]) -> str:
        if session not in self.connections:
            self.connections.append(session)
            self.counts.append(0)
        index = self.connections.index(session)
        if self.counts[index] == self.per_connection:
            return "421 4.7.0 Too many messages on this connection"
        self.counts[index] += 1
        envelope.mail_from = address  # type: ignore[attr-defined]
        return "250 OK"


def test_the_mails_of_a_round_share_a_connection_opened_again_when_the_server_drops_it(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm.engine.channels.delivery import deliver_outbox

    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))
    box = ConnectionBox(per_connection=2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("ITSM_SMTP_PORT", str(port))
    try:
        ids = [_queue(engine, "email", recipients=(f"person{i}@example.invalid",)) for i in range(5)]
        result = deliver_outbox(engine)
    finally:
        controller.stop()
    assert result.sent == 5
    assert sorted(to[0] for to, _ in box.messages) == [f"person{i}@example.invalid" for i in range(5)]
    assert box.counts == [2, 2, 1]  # three connections, not five
    assert all(_outcomes(engine)[i] == ("sent", 1, False) for i in ids)


def test_https_webhooks_share_one_tls_context_that_still_verifies_the_server(engine: Engine, tmp_path: Path) -> None:
    """A server whose certificate no trusted CA signed is refused, every time (the context built once per
    process verifies like the one urllib built per request)."""
    import ssl

    from itsm.engine.channels import delivery

    from ldap_server import _certificates

    _, cert, key = _certificates(tmp_path)
    Receiver.received, Receiver.failures = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with engine.db.write() as session:
            session.execute(delete(OutboxMessage))
        ids = [_queue(engine, url=f"https://127.0.0.1:{server.server_address[1]}/hook") for _ in range(2)]
        result = delivery.deliver_outbox(engine)
    finally:
        server.shutdown()
    assert result.retried == 2 and Receiver.received == []
    with engine.db.read() as session:
        errors = [session.get(OutboxMessage, i).last_error for i in ids]  # type: ignore[union-attr]
    assert all(error and "CERTIFICATE_VERIFY_FAILED" in error for error in errors), errors
    assert delivery._opener() is delivery._opener()


def test_a_round_tries_an_smtp_server_that_refuses_once_and_composes_no_mail(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every mail of the round is retried with the error of the one connection tried, as each would have been."""
    from itsm.engine.channels import delivery

    clock = Clock(engine.clock())
    engine.clock = clock
    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))
    monkeypatch.setenv("ITSM_SMTP_PORT", _refused_url().rsplit(":", 1)[1].split("/")[0])
    connects, composed = [], []
    connect, mail = delivery._connect, delivery._mail
    monkeypatch.setattr(delivery, "_connect", lambda: connects.append(1) or connect())
    monkeypatch.setattr(delivery, "_mail", lambda *args: composed.append(1) or mail(*args))
    ids = [_queue(engine, "email", recipients=(f"person{i}@example.invalid",)) for i in range(3)]
    nobody = _queue(engine, "email", recipients=("user:nobody-with-that-name",))
    result = delivery.deliver_outbox(engine)
    assert (result.sent, result.retried, len(connects), len(composed)) == (1, 3, 1, 0)
    with engine.db.read() as session:
        rows = {m.id: m for m in session.scalars(select(OutboxMessage))}
    for i in ids:
        assert (rows[i].status, rows[i].attempts, rows[i].next_attempt_at, rows[i].last_error) == (
            "pending", 1, clock.now + backoff(1), "ConnectionRefusedError: [Errno 111] Connection refused")
    assert rows[nobody].status == "sent"


def test_a_round_looks_a_webhook_host_up_once_and_builds_no_tls_context_for_it(
        engine: Engine, receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhooks to a host whose name does not resolve all fail with that error after one lookup; the TLS
    context is not built for them (nor for a refused connection), only for a TLS connection."""
    from itsm.engine.channels import delivery

    Receiver.failures = 0
    with engine.db.write() as session:
        session.execute(delete(OutboxMessage))
    lookups: list[str] = []
    getaddrinfo = socket.getaddrinfo

    def resolve(host: str, *args: object, **kwargs: object) -> object:
        lookups.append(host)
        if host == "hooks.example.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    delivery._tls_context.cache_clear()
    unresolved = [_queue(engine, url="https://hooks.example.invalid/wecom-robot") for _ in range(3)]
    refused = _queue(engine, url=_refused_url().replace("http:", "https:"))
    answered = _queue(engine, url=receiver)
    result = delivery.deliver_outbox(engine)
    assert (result.sent, result.retried) == (1, 4)
    assert lookups.count("hooks.example.invalid") == 1
    assert delivery._tls_context.cache_info().currsize == 0
    outcomes = _outcomes(engine)
    assert outcomes[answered] == ("sent", 1, False) and outcomes[refused] == ("pending", 1, True)
    with engine.db.read() as session:
        errors = {session.get(OutboxMessage, i).last_error for i in unresolved}  # type: ignore[union-attr]
    assert errors == {"URLError: <urlopen error [Errno -2] Name or service not known>"}
    assert all(outcomes[i] == ("pending", 1, True) for i in unresolved)
