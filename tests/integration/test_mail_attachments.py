"""Mail intake keeps attachments (SPEC 10, issue 17): a new mail's files on its new ticket, a reply's on the
ticket it names, under the limits of every attachment; a part too large or of a type not allowed is left out
with a note in the comment, never failing the mail; a signature's logo is not added twice."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from itsm.engine import Engine
from itsm.engine.channels.mail import parse_mail, receive_mail
from itsm.engine.people.users import add_user
from itsm.engine.runtime.attachments import attachments_of, download
from itsm.engine.runtime.file_types import UploadPolicy
from itsm.store import Database
from itsm.store.files import FileStore

from support import DEFINITIONS, DEMO_USERS

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
LOGO = b"\x89PNG\r\n\x1a\n" + b"company logo" * 20


@pytest.fixture()
def desk(db: Database, tmp_path: Path) -> Engine:
    engine = Engine(db, files=FileStore(tmp_path / "files"), uploads=UploadPolicy.configured("16KiB"))
    engine.definitions.publish_path(DEFINITIONS)
    for name, flags in DEMO_USERS.items():
        add_user(db, name, email=f"{name}@example.invalid", **flags)
    return engine


def mail(subject: str, message_id: str, *files: tuple[bytes, str, str, str | None], html: str | None = None) -> bytes:
    """A mail from rita with `files` as (bytes, maintype, subtype, file name or None: a pasted image)."""
    message = EmailMessage()
    message["From"] = "Rita <rita@example.invalid>"
    message["To"] = "servicedesk@example.invalid"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content("The error is in the screenshot.\n\n-- \nRita")
    if html is not None:
        message.add_alternative(html, subtype="html")
    for data, maintype, subtype, name in files:
        if name is None:  # an image pasted into the text: inline, without a file name
            message.add_attachment(data, maintype=maintype, subtype=subtype, disposition="inline")
        else:
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes()


def test_a_new_mail_and_a_reply_keep_their_files(desk: Engine) -> None:
    raw = mail("ERP login fails", "<m1@x>", (PNG, "image", "png", "错误截图.png"), (LOGO, "image", "png", None),
               (b"MZ\x90\x00" * 10, "application", "octet-stream", "fix.exe"),
               (b"\x00" * (16 * 1024 + 1), "application", "zip", "logs.zip"),
               html="<p>The error is in the screenshot.</p>")
    created = receive_mail(desk, raw)
    assert created["action"] == "created"
    number = created["number"]
    rita = desk.actor("rita")
    kept = attachments_of(desk, rita, number)
    assert [(a["name"], a["content_type"], a["uploaded_by"]) for a in kept] == [
        ("错误截图.png", "image/png", "rita"), ("image-2.png", "image/png", "rita")]
    found = download(desk, rita, kept[0]["id"])
    assert found.path.read_bytes() == PNG and found.sha256 == hashlib.sha256(PNG).hexdigest()
    comments = desk.comments(rita, number)
    assert [(c["author"], c["text"]) for c in comments] == [
        ("system", "Not kept from the mail: fix.exe (type not accepted), logs.zip (larger than 16 KB).")]
    events = desk.events(rita, number)
    assert [e["actor"] for e in events if e["kind"] == "attachment"] == ["rita", "rita"]

    reply = mail(f"RE: [{number}] ERP login fails", "<m2@x>", (b"%PDF-1.7 trace", "application", "pdf", "trace.pdf"),
                 (LOGO, "image", "png", None), (b"not a png", "image", "png", "fake.png"))
    assert receive_mail(desk, reply) == {"action": "commented", "number": number}
    kept = attachments_of(desk, rita, number)
    assert [(a["name"], a["content_type"]) for a in kept] == [
        ("错误截图.png", "image/png"), ("image-2.png", "image/png"), ("trace.pdf", "application/pdf"),
        ("fake.png", "application/octet-stream")]  # the logo not again; not a PNG: kept as bytes
    assert desk.comments(rita, number)[-1]["text"] == "The error is in the screenshot."
    assert receive_mail(desk, reply) == {"action": "duplicate", "number": number}  # delivered twice: once
    assert len(attachments_of(desk, rita, number)) == 4
    assert list((desk.files.root / "tmp").iterdir()) == []


def test_a_mail_without_files_is_as_before_and_the_note_follows_the_pack_language(desk: Engine) -> None:
    number = receive_mail(desk, mail("Printer jams", "<p1@x>"))["number"]
    assert attachments_of(desk, desk.actor("rita"), number) == []
    assert desk.comments(desk.actor("rita"), number) == []
    parsed = parse_mail(mail("x", "<p2@x>", (b"BM" + b"\x00" * 60, "image", "bmp", "scan.bmp")))
    assert [(f.name, len(f.data)) for f in parsed.files] == [("scan.bmp", 62)]


def test_a_forwarded_mail_is_kept_as_one_file(desk: Engine) -> None:
    inner = EmailMessage()
    inner["From"] = "vendor@example.invalid"
    inner["Subject"] = "Your case 4711"
    inner.set_content("We are on it.")
    outer = EmailMessage()
    outer["From"] = "rita@example.invalid"
    outer["Subject"] = "FW: Your case 4711"
    outer["Message-ID"] = "<fw@x>"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    number = receive_mail(desk, outer.as_bytes())["number"]
    kept = attachments_of(desk, desk.actor("rita"), number)
    assert [(a["name"], a["content_type"]) for a in kept] == [("message-1.eml", "message/rfc822")]
    assert b"We are on it." in download(desk, desk.actor("rita"), kept[0]["id"]).path.read_bytes()
