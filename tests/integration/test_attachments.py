"""Attachments through the API (SPEC 10, issue 17) on SQLite and PostgreSQL: byte-for-byte round trips with
Chinese names, the size limit (413, a long body refused before it is read), the allow-list (415), the ticket's
visibility (404 to other requesters and to agents of other processes), internal files, removal by an
administrator (an event, then 410, the bytes deleted when nothing else names them)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.people.users import add_user, create_token
from itsm.web import engine_of
from itsm.web.attachments import FORM_ROOM

from support import api_app, deployed_app

ROOT = Path(__file__).resolve().parents[2]
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40 + b"\x00\r\n\x1a"  # every byte value, CR LF, NUL
NAME = "屏幕截图 2026-03-09 错误.png"


@pytest.fixture()
def app(db_url: str, tmp_path: Path) -> Flask:
    return _with_folder(api_app(db_url), tmp_path / "files")


def _with_folder(app: Flask, folder: Path, **policy: Any) -> Flask:
    """The app's engine keeping files in `folder` (a test's own), with an upload policy if given."""
    from itsm.engine.runtime.file_types import UploadPolicy
    from itsm.store.files import FileStore

    engine = engine_of(app)
    engine.files = FileStore(folder)
    if policy:
        engine.uploads = UploadPolicy.configured(**policy)
    return app


class Api:
    def __init__(self, app: Flask):
        self.client: FlaskClient = app.test_client()
        self.tokens: dict[str, str] = app.config["TOKENS"]

    def __call__(self, method: str, path: str, who: str = "rita", headers: dict[str, str] | None = None,
                 **kwargs: Any) -> Any:
        response = self.client.open(path, method=method, headers={
            "Authorization": f"Bearer {self.tokens[who]}", **(headers or {})}, **kwargs)
        assert response.status_code < 500, response.get_data(as_text=True)
        return response

    def upload(self, number: str, data: bytes, name: str, who: str = "rita", **form: Any) -> Any:
        return self("POST", f"/api/tickets/{number}/attachments", who,
                    data={"file": (io.BytesIO(data), name), **form}, content_type="multipart/form-data")

    def ticket(self, who: str = "rita") -> str:
        response = self("POST", "/api/tickets", who, json={"process": "incident", "fields": LAPTOP})
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["number"])


@pytest.fixture()
def api(app: Flask) -> Api:
    return Api(app)


def error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error", "message", "details"} and body["error"] == code and body["message"], body
    return body


def stored_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_a_file_round_trips_byte_for_byte_with_its_chinese_name(api: Api, app: Flask) -> None:
    number = api.ticket()
    response = api.upload(number, PNG, NAME)
    assert response.status_code == 201
    created = response.get_json()
    digest = hashlib.sha256(PNG).hexdigest()
    assert created == {"id": created["id"], "name": NAME, "size": len(PNG), "content_type": "image/png",
                       "sha256": digest}

    download = api("GET", f"/api/attachments/{created['id']}")
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["Content-Type"] == "image/png"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=UTF-8''{quote(NAME, safe='')}" in disposition  # RFC 5987: the name as sent
    assert f'filename="attachment-{created["id"]}.png"' in disposition  # old clients: an ASCII name
    assert "sandbox" in download.headers["Content-Security-Policy"]
    assert download.headers["ETag"] == f'"{digest}"'
    cached = api("GET", f"/api/attachments/{created['id']}", headers={"If-None-Match": f'"{digest}"'})
    assert cached.status_code == 304 and cached.data == b""

    listed = api("GET", f"/api/tickets/{number}/attachments").get_json()["items"]
    assert [(a["id"], a["name"], a["size"], a["sha256"], a["uploaded_by"], a["internal"], a["ticket"])
            for a in listed] == [(created["id"], NAME, len(PNG), digest, "rita", False, number)]
    events = api("GET", f"/api/tickets/{number}/events").get_json()["items"]
    added = [e for e in events if e["kind"] == "attachment"]
    assert len(added) == 1 and added[0]["actor"] == "rita"
    assert added[0]["data"] == {"id": created["id"], "name": NAME, "size": len(PNG), "content_type": "image/png",
                                "sha256": digest, "internal": False}

    folder = engine_of(app).files.root
    assert stored_files(folder) == [folder / digest[:2] / digest[2:4] / digest]  # content-addressed, no temp
    assert (folder / digest[:2] / digest[2:4] / digest).read_bytes() == PNG
    other = api.ticket("ruth")
    assert api.upload(other, PNG, "copy.png", "ruth").get_json()["sha256"] == digest
    assert stored_files(folder) == [folder / digest[:2] / digest[2:4] / digest]  # the same bytes kept once


def test_what_a_file_may_be(api: Api, app: Flask) -> None:
    number = api.ticket()
    refused = error(api.upload(number, b"MZ\x90\x00 a program", "setup.exe"), 415, "unsupported_media_type")
    assert refused["details"] == [{"field": "file", "message": "type not accepted"}]
    assert "png" in refused["message"] and "pdf" in refused["message"]  # it says what to send instead
    disguised = api.upload(number, b"MZ\x90\x00 a program", "screenshot.png").get_json()
    assert disguised["content_type"] == "application/octet-stream"  # not what its name says: plain bytes
    served = api("GET", f"/api/attachments/{disguised['id']}")
    assert served.headers["Content-Type"] == "application/octet-stream" and served.data == b"MZ\x90\x00 a program"
    binary = api.upload(number, bytes(range(256)) * 4, "switch.bin").get_json()
    assert api("GET", f"/api/attachments/{binary['id']}").data == bytes(range(256)) * 4
    error(api.upload(number, b"<svg onload=alert(1)>", "drawing.svg"), 415, "unsupported_media_type")
    error(api.upload(number, b"no extension", "README"), 415, "unsupported_media_type")
    error(api.upload(number, b"", "empty.txt"), 422, "validation_failed")
    error(api.upload(number, b"text", ""), 400, "bad_request")  # a part without a file name is no file
    missing = error(api("POST", f"/api/tickets/{number}/attachments", data={"internal": "false"},
                        content_type="multipart/form-data"), 400, "bad_request")
    assert missing["details"] == [{"field": "file", "message": "is required"}]
    unknown = error(api.upload(number, b"log line\n", "app.log", comment="x"), 400, "bad_request")
    assert {"field": "comment", "message": "unknown key 'comment'"} in unknown["details"]
    error(api.upload(number, b"log line\n", "app.log", internal="maybe"), 400, "bad_request")
    error(api("POST", f"/api/tickets/{number}/attachments", json={"file": "aGVsbG8="}), 400, "bad_request")

    pdf = api.upload(number, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "../../etc/报告.PDF").get_json()
    assert pdf["name"] == "报告.PDF" and pdf["content_type"] == "application/pdf"  # the path is not kept
    log = api.upload(number, "2026-03-09 错误：连接超时\n".encode("gb18030"), "\u202eexe.log").get_json()
    assert log["name"] == "exe.log" and log["content_type"] == "text/plain"  # no right-to-left override
    served = api("GET", f"/api/attachments/{log['id']}")
    assert served.headers["Content-Type"].startswith("text/plain") and served.headers["Content-Disposition"] \
        .startswith('attachment; filename="exe.log"')
    assert stored_files(engine_of(app).files.root / "tmp") == []  # nothing refused stays behind


def test_files_over_the_limit_are_refused_with_413_without_reading_long_bodies(app: Flask, tmp_path: Path) -> None:
    api = Api(_with_folder(app, tmp_path / "limited", max_bytes="64KiB"))
    number = api.ticket()
    assert api.upload(number, b"a" * 65536, "exactly.txt").status_code == 201
    body = error(api.upload(number, b"a" * 65537, "one-byte-more.txt"), 413, "request_entity_too_large")
    assert body["message"] == "'one-byte-more.txt' is larger than the limit of 64 KB per file"
    assert body["details"] == [{"field": "file", "message": "larger than 64 KB"}]

    class Endless(io.RawIOBase):
        """A client about to send a gigabyte: counts what the server reads of it."""

        size, position, read_bytes = 2**30, 0, 0

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def tell(self) -> int:
            return self.position

        def seek(self, offset: int, whence: int = 0) -> int:
            self.position = self.size + offset if whence == 2 else offset
            return self.position

        def readinto(self, buffer: Any) -> int:
            count = min(len(buffer), self.size - self.position)
            buffer[:count] = b"x" * count
            self.position += count
            Endless.read_bytes += count
            return count

    huge = api("POST", f"/api/tickets/{number}/attachments", input_stream=Endless(),
               content_type="multipart/form-data; boundary=b")
    body = error(huge, 413, "request_entity_too_large")
    assert "64 KB" in body["message"] and Endless.read_bytes == 0  # refused from its Content-Length alone
    streamed = api("POST", f"/api/tickets/{number}/attachments", input_stream=Endless(),
                   content_type="multipart/form-data; boundary=b", headers={"Transfer-Encoding": "chunked"},
                   environ_overrides={"wsgi.input_terminated": True})  # chunked: no length known beforehand
    error(streamed, 413, "request_entity_too_large")
    assert Endless.read_bytes <= 64 * 1024 + FORM_ROOM + 2**16  # read only as far as the limit
    files = stored_files(tmp_path / "limited")
    assert len(files) == 1 and files[0].stat().st_size == 65536  # nothing else reached the folder


def test_the_default_limit_is_20_mib(api: Api) -> None:
    number = api.ticket()
    body = error(api.upload(number, b"\0" * (20 * 2**20 + 1), "dump.zip"), 413, "request_entity_too_large")
    assert "20 MB" in body["message"]


def test_attachments_are_seen_exactly_as_their_ticket(api: Api) -> None:
    number = api.ticket()
    created = api.upload(number, PNG, NAME).get_json()
    for who in ("ruth", "carol"):  # other requesters: the ticket's own 404
        error(api("GET", f"/api/attachments/{created['id']}", who), 404, "not_found")
        error(api("GET", f"/api/tickets/{number}/attachments", who), 404, "not_found")
        error(api.upload(number, PNG, "more.png", who), 404, "not_found")
    error(api("GET", "/api/attachments/999999"), 404, "not_found")
    error(api("GET", f"/api/attachments/{2**70}"), 404, "not_found")
    assert api("GET", f"/api/attachments/{created['id']}", "lars").data == PNG  # an agent of the process

    note = api.upload(number, b"root cause: vendor firmware\n", "notes.txt", "lars", internal="true").get_json()
    error(api.upload(number, b"x\n", "mine.txt", internal="true"), 403, "forbidden")  # requesters: public only
    assert [a["name"] for a in api("GET", f"/api/tickets/{number}/attachments").get_json()["items"]] == [NAME]
    assert [a["name"] for a in api("GET", f"/api/tickets/{number}/attachments", "lars").get_json()["items"]] == [
        NAME, "notes.txt"]
    error(api("GET", f"/api/attachments/{note['id']}"), 404, "not_found")
    events = api("GET", f"/api/tickets/{number}/events").get_json()["items"]
    assert [e["data"]["name"] for e in events if e["kind"] == "attachment"] == [NAME]
    events = api("GET", f"/api/tickets/{number}/events", "lars").get_json()["items"]
    assert [e["data"]["internal"] for e in events if e["kind"] == "attachment"] == [False, True]


def test_agents_of_other_processes_get_404(db_url: str, tmp_path: Path) -> None:
    """The facilities pack: mei (front office) works room bookings, not the technicians' work orders."""
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(ROOT / "tests/packs/valid/facilities"),
                        "TESTING": True, "ATTACHMENTS_DIR": str(tmp_path / "files")})
    db = engine_of(app).db
    for name in ("bob", "wang", "li", "mei"):
        add_user(db, name)
    app.config["TOKENS"] = {name: create_token(db, name) for name in ("bob", "wang", "mei")}
    api = Api(app)
    response = api("POST", "/api/tickets", "bob", json={"process": "work_order", "fields": {
        "location": "A101", "problem": "Lights out", "trade": "electrical", "severity": "urgent"}})
    number = response.get_json()["number"]
    created = api.upload(number, PNG, "lights.png", "bob").get_json()
    assert api("GET", f"/api/attachments/{created['id']}", "wang").data == PNG  # a technician
    error(api("GET", f"/api/attachments/{created['id']}", "mei"), 404, "not_found")
    error(api("GET", f"/api/tickets/{number}/attachments", "mei"), 404, "not_found")
    error(api.upload(number, PNG, "mine.png", "mei"), 404, "not_found")
    error(api("DELETE", f"/api/attachments/{created['id']}", "mei"), 403, "forbidden")  # admins only
    assert stored_files(tmp_path / "files" / "tmp") == []


def test_an_administrator_removes_a_file_with_an_event_and_it_is_gone(api: Api, app: Flask) -> None:
    number = api.ticket()
    first = api.upload(number, PNG, NAME).get_json()
    second = api.upload(number, b"%PDF-1.4 report", "report.pdf").get_json()
    elsewhere = api.upload(api.ticket("ruth"), b"%PDF-1.4 report", "same.pdf", "ruth").get_json()
    folder = engine_of(app).files
    error(api("DELETE", f"/api/attachments/{first['id']}"), 403, "forbidden")  # the requester
    error(api("DELETE", f"/api/attachments/{first['id']}", "lars"), 403, "forbidden")  # an agent

    removed = api("DELETE", f"/api/attachments/{first['id']}", "admin")
    assert removed.status_code == 200
    assert removed.get_json()["removed_by"] == "admin" and removed.get_json()["removed_at"]
    gone = error(api("GET", f"/api/attachments/{first['id']}"), 410, "gone")
    assert gone["message"] == f"attachment {first['id']} was removed by admin"
    error(api("DELETE", f"/api/attachments/{first['id']}", "admin"), 410, "gone")
    error(api("GET", f"/api/attachments/{first['id']}", "ruth"), 404, "not_found")  # still not ruth's to know
    assert not folder.has(first["sha256"])  # no other attachment names these bytes
    assert [a["id"] for a in api("GET", f"/api/tickets/{number}/attachments").get_json()["items"]] == [second["id"]]
    events = api("GET", f"/api/tickets/{number}/events").get_json()["items"]
    assert [(e["kind"], e["actor"], e["data"]["id"]) for e in events if e["kind"].startswith("attachment")] == [
        ("attachment", "rita", first["id"]), ("attachment", "rita", second["id"]),
        ("attachment_removed", "admin", first["id"])]

    api("DELETE", f"/api/attachments/{second['id']}", "admin")
    assert folder.has(second["sha256"])  # ruth's ticket has the same bytes
    assert api("GET", f"/api/attachments/{elsewhere['id']}", "ruth").data == b"%PDF-1.4 report"
    again = api.upload(number, PNG, "again.png").get_json()  # the removed bytes, sent anew, are kept anew
    assert api("GET", f"/api/attachments/{again['id']}").data == PNG


def test_the_same_bytes_sent_to_several_tickets_at_once_are_kept_once(app: Flask) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api = Api(app)
    numbers = [api.ticket() for _ in range(4)]
    data = b"%PDF-1.7 the same manual for everybody" * 100

    def send(number: str) -> Any:
        return Api(app).upload(number, data, "manual.pdf").get_json()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(send, numbers))
    assert {r["sha256"] for r in results} == {hashlib.sha256(data).hexdigest()} and len({r["id"] for r in results}) == 4
    assert len(stored_files(engine_of(app).files.root)) == 1
    for created in results:
        assert api("GET", f"/api/attachments/{created['id']}").data == data
