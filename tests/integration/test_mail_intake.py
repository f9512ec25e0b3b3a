"""Mail intake: a new mail opens an incident for its sender, a reply naming a ticket becomes a comment,
a Message-ID is recorded once, and the SMTP listener receives mail sent with smtplib (SPEC 10, issue 7)."""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from itsm.cli import main
from itsm.engine import Engine
from itsm.engine.channels.mail import receive_mail, strip_quoted
from itsm.engine.channels.mail_listener import start_listener
from itsm.store import Ticket


def mail(sender: str, subject: str, body: str, message_id: str, html: bool = False) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "servicedesk@example.invalid"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Date"] = "Mon, 09 Mar 2026 10:00:00 +0100"
    message.set_content(body, subtype="html" if html else "plain")
    return message.as_bytes()


REPLY = """Rebooting did not help, the screen stays black.

On Mon, 9 Mar 2026 at 10:20, Service desk <servicedesk@example.invalid> wrote:
> Please reboot the docking station.
> Thanks
"""


def test_a_new_mail_opens_an_incident_and_a_reply_becomes_a_comment(engine: Engine) -> None:
    first = receive_mail(engine, mail("Rita Requester <Rita@Example.invalid>", "Laptop screen stays black",
                                      "Since this morning my screen is black.\n\n-- \nRita, 3rd floor", "<m1@x>"))
    assert first["action"] == "created"
    number = first["number"]
    system = engine.actor("system")
    ticket = engine.get(system, number)
    assert ticket["requester"] == "rita" and ticket["fields"]["channel"] == "email"
    assert ticket["fields"]["short_description"] == "Laptop screen stays black"
    assert ticket["fields"]["description"] == "Since this morning my screen is black."  # signature cut

    reply = receive_mail(engine, mail("rita@example.invalid", f"RE: [{number}] Laptop screen stays black", REPLY,
                                      "<m2@x>"))
    assert reply == {"action": "commented", "number": number}
    comments = engine.comments(system, number)
    assert [(c["author"], c["text"], c["internal"]) for c in comments] == [
        ("rita", "Rebooting did not help, the screen stays black.", False)]
    assert receive_mail(engine, mail("rita@example.invalid", f"RE: [{number}] again", REPLY, "<m2@x>")) == {
        "action": "duplicate", "number": number}  # the same Message-ID delivered twice
    assert len(engine.comments(system, number)) == 1


def test_a_reply_to_someone_elses_ticket_opens_a_new_one_and_unknown_senders_are_refused(engine: Engine) -> None:
    number = receive_mail(engine, mail("rita@example.invalid", "Printer 3 jams again", "Paper jam.", "<a@x>"))["number"]
    other = receive_mail(engine, mail("ruth@example.invalid", f"Re: {number} Printer 3 jams again",
                                      "<p>Mine <b>too</b>!</p><blockquote>Paper jam.</blockquote>", "<b@x>",
                                      html=True))
    assert other["action"] == "created" and other["number"] != number  # ruth may not see rita's ticket
    ticket = engine.get(engine.actor("system"), other["number"])
    assert ticket["requester"] == "ruth" and ticket["fields"]["description"] == "Mine too!"
    refused = receive_mail(engine, mail("mallory@evil.invalid", "Hello", "spam", "<c@x>"))
    assert refused["action"] == "rejected" and "mallory@evil.invalid" in refused["message"]
    with engine.db.read() as session:
        assert len(session.scalars(select(Ticket.number)).all()) == 2


def test_html_only_mail_and_quotes_are_read_sensibly() -> None:
    assert strip_quoted("Thanks!\n\nAm 09.03.2026 um 10:20 schrieb Service desk <sd@x>:\n> old") == "Thanks!"
    assert strip_quoted("Done.\r\n\r\nFrom: Service desk\r\nSent: Monday\r\nTo: Rita\r\n\r\nold") == "Done."
    assert strip_quoted("> quoted\nnew text\n> more") == "new text"


def test_mail_intake_reads_an_eml_file(engine: Engine, db_url: str, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_DATABASE_URL", db_url)
    path = tmp_path / "new.eml"
    path.write_bytes(mail("carol@example.invalid", "VPN drops every ten minutes", "Since the update.", "<e1@x>"))
    result = CliRunner().invoke(main, ["mail-intake", "--file", str(path)])
    assert result.exit_code == 0, result.output
    action, number = result.output.split()
    assert action == "created" and engine.get(engine.actor("system"), number)["requester"] == "carol"
    reply = tmp_path / "reply.eml"
    reply.write_bytes(mail("carol@example.invalid", f"Re: {number}", "It works again.\n> Since the update.",
                           "<e2@x>"))
    result = CliRunner().invoke(main, ["mail-intake", "--file", str(reply)])
    assert result.output == f"commented {number}\n"
    unknown = tmp_path / "unknown.eml"
    unknown.write_bytes(mail("nobody@example.invalid", "Hello there", "?", "<e3@x>"))
    result = CliRunner().invoke(main, ["mail-intake", "--file", str(unknown)])
    assert result.exit_code == 1 and "no user has the address" in result.output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_smtp_listener_records_mail_sent_with_smtplib(engine: Engine) -> None:
    port = free_port()
    controller = start_listener(engine, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail("dana@example.invalid", ["servicedesk@example.invalid"],
                            mail("dana@example.invalid", "Cannot log in to the ERP", "Password rejected.", "<s1@x>"))
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("x@evil.invalid", ["servicedesk@example.invalid"],
                                mail("x@evil.invalid", "Cheap watches", "...", "<s2@x>"))
            assert refused.value.smtp_code == 550
    finally:
        controller.stop()
    with engine.db.read() as session:  # the 250 came after the ticket was committed
        rows = session.execute(select(Ticket.number, Ticket.requester)).all()
    assert [r.requester for r in rows] == ["dana"]
    assert engine.get(engine.actor("system"), rows[0].number)["fields"]["short_description"] == (
        "Cannot log in to the ERP")


def test_unknown_senders_may_get_an_account_and_a_reply_to_a_closed_ticket_opens_a_new_one(
        engine: Engine, tmp_path: Path) -> None:
    from support import DEFINITIONS

    (tmp_path / "pack.yaml").write_text(f"kind: pack\nid: client\nformat: 1\nextends: {DEFINITIONS}\n---\n"
                                        "{kind: intake, id: email, unknown_senders: create}\n")
    engine.definitions.publish_path(tmp_path)
    first = receive_mail(engine, mail("New Person <new.person@example.invalid>", "Badge does not open door 4",
                                      "Since Monday.", "<n1@x>"))
    assert first["action"] == "created"
    system = engine.actor("system")
    assert engine.get(system, first["number"])["requester"] == "new.person"
    again = receive_mail(engine, mail("new.person@example.invalid", "Second thing", "Monitor flickers.", "<n2@x>"))
    assert engine.get(system, again["number"])["requester"] == "new.person"  # the same account, not a new one
    engine.fire(system, first["number"], "cancel", {"resolution_code": "duplicate", "duplicate_of": again["number"]})
    late = receive_mail(engine, mail("new.person@example.invalid", f"Re: {first['number']}", "Still broken",
                                     "<n3@x>"))
    assert late["action"] == "created" and late["number"] not in (first["number"], again["number"])


def test_a_sender_called_system_does_not_become_the_all_roles_system_actor(engine: Engine, tmp_path: Path) -> None:
    from support import DEFINITIONS

    (tmp_path / "pack.yaml").write_text(f"kind: pack\nid: client\nformat: 1\nextends: {DEFINITIONS}\n---\n"
                                        "{kind: intake, id: email, unknown_senders: create}\n")
    engine.definitions.publish_path(tmp_path)
    created = receive_mail(engine, mail("system@example.invalid", "Printer jam", "Tray 2.", "<s1@x>"))
    view = engine.get(engine.actor("system"), created["number"])
    assert view["requester"] == "system2"
    assert not engine.actor("system2").is_system
