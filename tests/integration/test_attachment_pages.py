"""Attachments on the pages (issue 17) on SQLite and PostgreSQL: a requester reports with a screenshot, the
ticket page lists files with size, who and when (images as thumbnails served inline, everything else only as
a download), agents add internal files, an administrator removes one (the timeline says so, the file answers
410), and nobody else reaches a file. (tests/browser drives the same pages in Chromium.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from itsm.engine.people.users import add_user
from itsm.web import engine_of

from support import DEFINITIONS, deployed_app

PEOPLE = {"rita": {}, "ruth": {}, "lars": {}, "admin": {"admin": True}}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
REPORT = {"short_description": "ERP shows error 500", "service": "erp", "category": "software",
          "impact": "medium", "urgency": "medium"}


@pytest.fixture()
def app(db_url: str, tmp_path: Path) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True,
                        "ATTACHMENTS_DIR": str(tmp_path / "files")})
    for name, flags in PEOPLE.items():
        add_user(engine_of(app).db, name, password=f"{name}-pw", **flags)
    return app


class Person:
    def __init__(self, app: Flask, name: str):
        self.client = app.test_client()
        self.token = ""
        self.get("/login")
        response = self.post("/login", {"name": name, "password": f"{name}-pw"})
        assert response.status_code == 302

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        found = TOKEN.search(response.text) if response.mimetype == "text/html" else None
        if found:
            self.token = found.group(1)
        assert response.status_code < 500
        return response

    def post(self, path: str, data: dict[str, Any]) -> Any:
        response = self.client.post(path, data={"csrf_token": self.token, **data}, content_type="multipart/form-data")
        assert response.status_code < 500, response.text
        return response


def report(person: Person, *files: tuple[bytes, str]) -> Any:
    person.get("/new/incident")
    return person.post("/new/incident", {**REPORT, "attachments": [(_stream(data), name) for data, name in files]})


def _stream(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def attachment_ids(page: str) -> list[int]:
    return [int(i) for i in dict.fromkeys(re.findall(r'href="/attachments/(\d+)"', page))]


def test_a_requester_reports_with_a_screenshot_and_sees_it_listed(app: Flask) -> None:
    rita = Person(app, "rita")
    form = rita.get("/new/incident").text
    assert 'enctype="multipart/form-data"' in form and 'type="file"' in form and 'accept=".png,.jpg' in form
    created = report(rita, (PNG, "错误截图.png"), (b"2026-03-09 10:00 ERROR 500\n", "erp.log"))
    assert created.status_code == 302
    number = created.location.rsplit("/", 1)[1]
    page = rita.get(f"/tickets/{number}").text
    first, second = attachment_ids(page)
    assert "错误截图.png" in page and "erp.log" in page and "1 KB" in page and "27 B" in page
    assert f'<img src="/attachments/{first}?inline=1"' in page  # a thumbnail for the image only
    assert f'/attachments/{second}?inline=1' not in page
    assert "Attached" in page and "rita" in page

    image = rita.get(f"/attachments/{first}?inline=1")
    assert image.data == PNG and image.headers["Content-Disposition"].startswith("inline;")
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    log = rita.get(f"/attachments/{second}?inline=1")  # anything but an image is a download, always
    assert log.headers["Content-Disposition"] == "attachment; filename=\"erp.log\"; filename*=UTF-8''erp.log"
    assert Person(app, "ruth").get(f"/attachments/{first}").status_code == 404  # an HTML 404, as for the ticket
    fake = report(rita, (b"<html><script>alert(1)</script>", "photo.png")).location.rsplit("/", 1)[1]
    page = rita.get(f"/tickets/{fake}").text
    (fake_id,) = attachment_ids(page)
    assert "?inline=1" not in page  # no thumbnail for what is not an image
    shown = rita.get(f"/attachments/{fake_id}?inline=1")
    assert shown.headers["Content-Type"] == "application/octet-stream"
    assert shown.headers["Content-Disposition"].startswith("attachment;")


def test_a_refused_file_keeps_the_report_and_says_why(app: Flask) -> None:
    rita = Person(app, "rita")
    response = report(rita, (b"MZ\x90\x00", "tool.exe"))
    assert response.status_code == 422
    assert "files of type .exe are not accepted" in response.text
    assert "Choose your files again" in response.text and "ERP shows error 500" in response.text  # values kept
    with engine_of(app).db.read() as session:
        from sqlalchemy import func, select

        from itsm.store import Attachment, Ticket

        assert session.scalar(select(func.count()).select_from(Ticket)) == 0  # no ticket without its file
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0


def test_agents_add_internal_files_and_an_administrator_removes_one(app: Flask) -> None:
    rita, lars, admin = Person(app, "rita"), Person(app, "lars"), Person(app, "admin")
    number = report(rita, (PNG, "screen.png")).location.rsplit("/", 1)[1]
    lars.get(f"/tickets/{number}")
    added = lars.post(f"/tickets/{number}/attachments", {"attachments": (_stream(b"firmware 1.2.3\n"), "fw.txt"),
                                                         "internal": "on"})
    assert added.status_code == 302 and added.location.endswith("#attachments")
    assert "fw.txt" in lars.get(f"/tickets/{number}").text
    page = rita.get(f"/tickets/{number}").text
    assert "fw.txt" not in page and "screen.png" in page  # internal: agents only, timeline included
    assert rita.post(f"/tickets/{number}/attachments", {"attachments": (_stream(b"x"), "x.txt"),
                                                        "internal": "on"}).status_code == 403
    no_file = rita.post(f"/tickets/{number}/attachments", {})
    assert no_file.status_code == 302 and "Choose a file to attach" in rita.get(f"/tickets/{number}").text
    no_token = rita.client.post(f"/tickets/{number}/attachments", data={"attachments": (_stream(PNG), "a.png")},
                                content_type="multipart/form-data")
    assert no_token.status_code == 400  # CSRF

    screen = attachment_ids(admin.get(f"/tickets/{number}").text)[0]
    assert "Remove screen.png" in admin.get(f"/tickets/{number}").text
    assert "Remove screen.png" not in lars.get(f"/tickets/{number}").text  # administrators only
    assert lars.post(f"/attachments/{screen}/remove", {}).status_code == 403
    removed = admin.post(f"/attachments/{screen}/remove", {})
    assert removed.status_code == 302
    page = rita.get(f"/tickets/{number}").text
    assert "Removed the attachment screen.png." in page and f'href="/attachments/{screen}"' not in page
    assert rita.get(f"/attachments/{screen}").status_code == 410
