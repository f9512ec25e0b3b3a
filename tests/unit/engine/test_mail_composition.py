"""The mails of a delivery round share their parsed headers (`delivery.RoundHeaders`): the bytes sent are those
the email package's default policy writes, Chinese subjects, names and addresses encoded alike (RFC 2047)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.generator import BytesGenerator
from email.message import EmailMessage

import pytest

from itsm.engine.channels import delivery
from itsm.store.outbox import Message

T0 = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
MAILS = [  # (subject, body, addresses, ticket number)
    ("SLA 超时：INC0012345 的解决时限已超时（P2）", "您好，\n\n工单已超时。\n", ["zhang.san@example.invalid"],
     "INC0012345"),
    ("Plain subject", "ascii only\n", ["张三 <zhang.san@example.invalid>", "desk@example.invalid"], None),
    ("很长的主题" * 30, "行" * 500, ['"Wang, Wu" <wang@example.invalid>'], "INC0012346"),
    ("Mixed 中文 =?utf-8?q?lookalike?= \"quotes\"", "x" * 1200 + "\n", ["zhang.san@example.invalid"], "INC0012345"),
    ("SLA 超时：INC0012345 的解决时限已超时（P2）", "café\nnaïve\n.\n", ["李四@例子.中国"], "INC0012345"),
]


def _flat(mail: EmailMessage, utf8: bool = False) -> bytes:
    """As smtplib.send_message writes it (`utf8`: to a server that takes SMTPUTF8, for addresses not in ASCII)."""
    out = io.BytesIO()
    BytesGenerator(out, policy=mail.policy.clone(utf8=utf8)).flatten(mail, linesep="\r\n")
    return out.getvalue()


@pytest.mark.parametrize("sender", ["itsm@localhost", "政务服务台 <desk@gov.example.invalid>"])
def test_a_rounds_mails_are_the_bytes_of_the_default_policy(monkeypatch: pytest.MonkeyPatch, sender: str) -> None:
    monkeypatch.setenv("ITSM_MAIL_FROM", sender)
    monkeypatch.setattr(delivery, "format_datetime", lambda _: "Mon, 03 Mar 2025 09:30:00 +0000")
    monkeypatch.setattr(delivery, "make_msgid", lambda idstring, domain: f"<fixed.{idstring}@{domain}>")
    mailer = delivery.Mailer()
    ours = []
    for i, (subject, body, addresses, number) in enumerate(MAILS):
        message = Message(i, T0, None, "sla_breach", "email", [], subject, body, None, "sending", 0, T0)
        reference = delivery._mail(message, addresses, number)  # the email package's default policy
        ours.append(delivery._mail(message, addresses, number, mailer.policy))
        assert _flat(ours[-1]) == _flat(reference) and _flat(ours[-1], True) == _flat(reference, True)
        parsed = message_from_bytes(_flat(ours[-1]), policy=policy.default)
        if "=?" not in subject:  # text that looks like an encoded word is decoded when set, by either policy
            assert parsed["Subject"] == " ".join(subject.split())
        assert parsed.get_content().replace("\r\n", "\n").rstrip("\n") == body.rstrip("\n")  # type: ignore[attr-defined]
    assert ours[0]["From"] is ours[1]["From"] and ours[0]["Date"] is ours[1]["Date"]  # parsed once a round
    assert b"=?utf-8?b?" in _flat(ours[0]).split(b"\r\n\r\n")[0]  # the Chinese subject: encoded words
    assert all(max(map(len, _flat(mail).split(b"\r\n"))) <= 998 for mail in ours)
    if sender != "itsm@localhost":
        assert _flat(ours[0]).startswith(b"From: =?utf-8?b?")
        assert message_from_bytes(_flat(ours[0]), policy=policy.default)["From"] == sender
