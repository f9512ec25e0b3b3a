"""Times in the reader's time zone, labelled, and CSV downloads with a byte-order mark (SPEC 15), on SQLite
and PostgreSQL: a ticket created at 02:00 UTC reads 10:00 (UTC+8) for a user in Asia/Shanghai and 02:00 (UTC)
for one in UTC on the queue, the ticket page and the portal; users without a zone read the pack's; the "my
settings" page stores a zone and refuses what is none; `itsm user add --timezone`; the API keeps ISO 8601."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine import BadRequest, Engine, NotFound
from itsm.engine.people.users import add_user, set_timezone
from itsm.store import users as stored
from itsm.web import engine_of
from itsm.web.extension import install

from support import DEFINITIONS, Clock, deployed_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CREATED = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 03:00 in Berlin (the pack's zone)
PEOPLE = {"rita": {"timezone": "Asia/Shanghai"}, "lars": {"timezone": "Asia/Shanghai"}, "sam": {"timezone": "UTC"},
          "dana": {}, "admin": {"admin": True, "timezone": "Asia/Shanghai"}}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    """The default pack (Europe/Berlin), whose channel field also offers a choice written in Chinese, and whose
    incident form has a datetime field."""
    folder = tmp_path / "pack"
    shutil.copytree(DEFINITIONS, folder)
    form = folder / "forms" / "incident.yaml"
    portal = "      - {value: portal, label: Self-service portal}\n"
    assert portal in form.read_text()
    text = form.read_text().replace(portal, portal + "      - {value: 微信公众号, label: 微信公众号}\n")
    service = "  - id: service\n"
    assert service in text
    noticed = "  - id: noticed_at\n    label: Noticed at\n    type: datetime\n\n"  # an optional datetime field
    form.write_text(text.replace(service, noticed + service))
    return folder


@pytest.fixture()
def app(db_url: str, pack: Path) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(pack), "TESTING": True})
    install(app, Engine(engine_of(app).db, clock=Clock(CREATED)))
    for name, flags in PEOPLE.items():
        add_user(engine_of(app).db, name, password=f"{name}-pw", **flags)
    return app


class Browser:
    def __init__(self, app: Flask, name: str, headers: dict[str, str] | None = None):
        self.client: FlaskClient = app.test_client()
        self.headers = headers or EN
        self.token = ""
        self.get("/login")
        assert self.post("/login", {"name": name, "password": f"{name}-pw"}).status_code == 302

    def get(self, path: str) -> Any:
        response = self.client.get(path, headers=self.headers)
        found = TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.post(path, data={"csrf_token": self.token, **data}, headers=self.headers)


def _ticket(app: Flask) -> str:
    engine = engine_of(app)
    created = engine.create(engine.actor("rita"), "incident", {"short_description": "打印机损坏，无法打印",
                                                               "impact": "low", "urgency": "low"}, channel="portal")
    return str(created["number"])


def test_a_ticket_created_at_two_utc_reads_ten_in_shanghai_and_two_in_utc_labelled(app: Flask) -> None:
    number = _ticket(app)
    shanghai, utc, berlin = Browser(app, "lars"), Browser(app, "sam"), Browser(app, "dana")
    queue = shanghai.get("/queue").text
    assert "12-06 10:00 (UTC+8)" in queue and "02:00" not in queue
    page = shanghai.get(f"/tickets/{number}").text
    assert "2026-12-06 10:00 (UTC+8)" in page  # opened, updated, the timeline
    assert f'datetime="{engine_of(app).get(engine_of(app).actor("lars"), number)["created_at"]}"' in page
    assert "12-06 02:00 (UTC)" in utc.get("/queue").text
    assert "2026-12-06 02:00 (UTC)" in utc.get(f"/tickets/{number}").text
    assert "2026-12-06 03:00 (UTC+1)" in berlin.get(f"/tickets/{number}").text  # no zone chosen: the pack's
    assert "2026-12-06 10:00 (UTC+8)" in Browser(app, "rita").get("/portal").text


def test_the_label_reads_chinese_in_chinese_and_sla_deadlines_are_in_the_readers_zone(app: Flask) -> None:
    number = _ticket(app)
    view = engine_of(app).get(engine_of(app).actor("lars"), number)
    deadline = next(clock["deadline"] for clock in view["sla"].values() if clock.get("deadline"))
    in_shanghai = datetime.fromisoformat(deadline).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    page = Browser(app, "lars", ZH).get(f"/tickets/{number}").text
    assert "2026-12-06 10:00（UTC+8）" in page
    assert f"{in_shanghai}（UTC+8）" in page  # the SLA panel's deadline
    assert f"{in_shanghai[5:]}（UTC+8）" in Browser(app, "lars", ZH).get("/queue").text  # the queue's SLA cell


def test_a_time_typed_into_a_form_means_the_readers_zone_and_reads_back_in_each_readers(app: Flask) -> None:
    rita = Browser(app, "rita")
    form = rita.get("/new/incident").text
    assert "In your time zone, Asia/Shanghai" in form
    created = rita.post("/new/incident", {"short_description": "Printer jammed", "impact": "low", "urgency": "low",
                                          "noticed_at": "2026-12-06T09:30"})
    assert created.status_code == 302, created.text
    number = created.location.rsplit("/", 1)[1]
    engine = engine_of(app)
    assert engine.get(engine.actor("rita"), number)["fields"]["noticed_at"] == "2026-12-06T09:30:00+08:00"
    assert "2026-12-06 01:30 (UTC)" in Browser(app, "sam").get(f"/tickets/{number}").text  # the field


def test_the_api_keeps_iso_8601_with_offsets(app: Flask) -> None:
    from itsm.engine.people.users import create_token

    number = _ticket(app)
    token = create_token(engine_of(app).db, "lars")
    body = app.test_client().get(f"/api/tickets/{number}", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["created_at"] == "2026-12-06T03:00:00+01:00"  # the pack's zone, as before: the user's is for pages


def test_my_settings_store_a_zone_and_refuse_what_is_none(app: Flask) -> None:
    dana = Browser(app, "dana")
    page = dana.get("/settings")
    assert page.status_code == 200 and '<option value="Asia/Shanghai">' in page.text
    assert page.text.index('value="Asia/Shanghai"') < page.text.index('value="Africa/Abidjan"')  # this desk's first
    assert "Europe/Berlin" in page.text  # empty means the pack's, and the page says which that is
    refused = dana.post("/settings", {"timezone": "Asia/Beijing"})
    assert refused.status_code == 400 and "Did you mean Asia/Shanghai?" in refused.text
    assert dana.post("/settings", {"timezone": "Mars/Olympus"}).status_code == 400
    saved = dana.post("/settings", {"timezone": "asia/shanghai"})
    assert saved.status_code == 302
    with engine_of(app).db.read() as session:
        assert stored.by_name(session, "dana").timezone == "Asia/Shanghai"  # type: ignore[union-attr]
    assert "Times are now shown in Asia/Shanghai" in dana.get("/settings").text
    number = _ticket(app)
    assert "2026-12-06 10:00 (UTC+8)" in dana.get(f"/tickets/{number}").text
    assert dana.post("/settings", {"timezone": ""}).status_code == 302
    with engine_of(app).db.read() as session:
        assert stored.by_name(session, "dana").timezone is None  # type: ignore[union-attr]
    chinese = Browser(app, "dana", ZH)
    chinese.get("/settings")
    chinese = chinese.post("/settings", {"timezone": "Asia/Beijing"})
    assert chinese.status_code == 400 and "不是可识别的时区" in chinese.text


def test_set_timezone_checks_the_name_and_the_user(app: Flask) -> None:
    db = engine_of(app).db
    assert set_timezone(db, "sam", "europe/berlin") == "Europe/Berlin"
    with pytest.raises(BadRequest, match="unknown time zone 'localtime'"):
        set_timezone(db, "sam", "localtime")  # the server's own zone is no zone a person lives in
    with pytest.raises(NotFound):
        set_timezone(db, "nobody", "UTC")
    with pytest.raises(BadRequest, match="did you mean 'Asia/Shanghai'"):
        add_user(db, "li", timezone="Asia/Shangai")


def test_a_stored_zone_this_installation_does_not_know_falls_back_to_the_packs(app: Flask) -> None:
    with engine_of(app).db.write() as session:
        stored.set_timezone(session, "sam", "Atlantis/Capital")  # written by hand, or an older tzdata's
    number = _ticket(app)
    assert "2026-12-06 03:00 (UTC+1)" in Browser(app, "sam").get(f"/tickets/{number}").text


def test_the_admin_versions_and_the_dashboard_period_are_in_the_readers_zone(app: Flask) -> None:
    admin = Browser(app, "admin")
    assert "(UTC+8)</td>" in admin.get("/admin/").text
    page = admin.get("/dashboard?from=2026-12-01&to=2026-12-31").text
    assert "2026-12-01 00:00 (UTC+8)" in page and "2027-01-01 00:00 (UTC+8)" in page  # the reader's days
    assert "from=2026-12-01T00:00:00%2B08:00" in page  # and the CSV link asks for the same days


def test_kpi_csv_starts_with_the_byte_order_mark_and_round_trips_chinese(app: Flask) -> None:
    engine = engine_of(app)
    engine.create(engine.actor("lars"), "incident", {"short_description": "公众号无法登录", "impact": "low",
                                                     "urgency": "low", "channel": "微信公众号"})
    from itsm.engine.people.users import create_token

    token = create_token(engine.db, "admin")
    month = "from=2026-12-01T00:00:00%2B08:00&to=2027-01-01T00:00:00%2B08:00"  # as the dashboard's link asks
    response = app.test_client().get(f"/api/kpis?format=csv&{month}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="kpis_2026-12-01_2026-12-31.csv"'
    data = response.get_data()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["metric", "dimension", "value"]
    assert ["tickets_by_channel", "channel=微信公众号", "1"] in rows


def test_itsm_user_add_takes_a_timezone_and_refuses_what_is_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from itsm.cli import main
    from itsm.store import Database

    url = f"sqlite:///{tmp_path / 'itsm.db'}"
    monkeypatch.setenv("ITSM_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(main, ["user", "add", "wang", "--timezone", "Asia/Shanghai"]).exit_code == 0
    refused = runner.invoke(main, ["user", "add", "li", "--timezone", "Beijing"])
    assert refused.exit_code == 1 and "unknown time zone 'Beijing'" in refused.output
    db = Database(url)
    with db.read() as session:
        assert stored.by_name(session, "wang").timezone == "Asia/Shanghai"  # type: ignore[union-attr]
        assert stored.by_name(session, "li") is None
    db.dispose()
