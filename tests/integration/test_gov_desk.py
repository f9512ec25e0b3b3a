"""The Chinese example pack `examples/gov-desk` (issue 15): it validates, its scenarios pass, its teams are made of
the users `itsm serve --demo` creates, every text people read carries its English for the later language maps,
and a demo desk on it speaks Chinese from the portal to the queue, the ticket page and the mail it queues, on
SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator

import yaml
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from itsm.cli import main
from itsm.engine.people.demo import DEMO_PASSWORD, DEMO_USERS, ensure_demo_users
from itsm.interpreter import load_pack
from itsm.store import OutboxMessage
from itsm.web import engine_of

from support import ROOT, deployed_app

GOV_DESK = ROOT / "examples" / "gov-desk"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CJK = re.compile(r"[\u4e00-\u9fff]")
TEXT_KEYS = {"label", "help", "title", "name", "description", "subject", "body", "comment"}


# -- the pack itself ------------------------------------------------------------------------------------

def test_the_cli_validates_the_pack_and_its_scenarios_pass() -> None:
    runner = CliRunner()
    validated = runner.invoke(main, ["validate", str(GOV_DESK)])
    assert validated.exit_code == 0, validated.output
    assert "is valid" in validated.output and "warning" not in validated.output
    tested = runner.invoke(main, ["test", str(GOV_DESK)])
    assert tested.exit_code == 0, tested.output
    assert "8 passed, 0 failed" in tested.output


def test_the_teams_are_made_of_the_demo_users() -> None:
    spec = load_pack(GOV_DESK)
    members = {member.user for team in spec.teams.values() for member in team.members}
    assert members <= {user.name for user in DEMO_USERS}
    tiers = {team.tier for team in spec.teams.values()}
    assert tiers == {"L1", "L2", "L3"}


def _texts(node: yaml.Node) -> Iterator[tuple[int, str | None]]:
    """(line, text) of every text people read under `node`: a plain Chinese string, or (line, None) for a map
    by language that gives both zh-CN and en."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value not in TEXT_KEYS:
                yield from _texts(value)
            elif isinstance(value, yaml.ScalarNode) and CJK.search(value.value):
                yield key.start_mark.line, value.value
            elif isinstance(value, yaml.MappingNode) and {k.value for k, _ in value.value} == {"zh-CN", "en"}:
                yield key.start_mark.line, None
            else:
                yield from _texts(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _texts(item)


def _english_of(lines: list[str], line: int) -> bool:
    """`# en:` on the key's line, or in the block of comment lines right above it."""
    if "# en:" in lines[line]:
        return True
    above = line - 1
    while above >= 0 and lines[above].lstrip().startswith("#"):
        if lines[above].lstrip().startswith("# en:"):
            return True
        above -= 1
    return False


def test_every_text_people_read_is_in_chinese_and_english() -> None:
    """Texts people read are maps by language with both zh-CN and en (`label: {zh-CN: 新建, en: New}`); the
    few that stay plain Chinese (comments that actions write, scenario descriptions) carry their English in a
    `# en:` comment; and `itsm validate` finds no missing translation."""
    missing, maps = [], 0
    for path in sorted(GOV_DESK.rglob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for document in yaml.compose_all(path.read_text(encoding="utf-8")):
            if document is None:
                continue
            if path.parent.name == "scenarios":  # steps hold what people type; only the description is pack text
                document = yaml.MappingNode(document.tag, [(k, v) for k, v in document.value
                                                            if k.value == "description"])
            for line, text in _texts(document):
                if text is None:
                    maps += 1
                elif not _english_of(lines, line):
                    missing.append(f"{path.relative_to(GOV_DESK)}:{line + 1}: {text[:40]}")
    assert maps > 150
    assert missing == []
    spec = load_pack(GOV_DESK)
    assert (spec.language, spec.languages) == ("zh-CN", ("zh-CN", "en"))
    assert [str(w) for w in spec.warnings] == []


def test_the_calendar_cites_the_notices_of_the_years_it_covers() -> None:
    calendar = (GOV_DESK / "calendars" / "office.yaml").read_text(encoding="utf-8")
    spec = load_pack(GOV_DESK)
    years = {day.year for day in spec.calendars["office"].holidays} | {
        day.year for day in spec.calendars["office"].workdays}
    assert years == {2025, 2026}
    for year, number in ((2025, "国办发明电〔2024〕12号"), (2026, "国办发明电〔2025〕7号")):
        assert f"《国务院办公厅关于{year}年部分节假日安排的通知》，{number}" in calendar


# -- a demo desk on it ----------------------------------------------------------------------------------

def _demo_desk(db_url: str) -> Flask:
    """What `itsm serve --demo --pack examples/gov-desk` sets up: the pack published and the demo users."""
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(GOV_DESK), "TESTING": True})
    ensure_demo_users(engine_of(app).db)
    return app


class _Browser:
    """A signed-in demo user whose browser asks for Simplified Chinese."""

    def __init__(self, app: Flask, name: str):
        self.client: FlaskClient = app.test_client()
        self.get("/login")
        signed_in = self.post("/login", {"name": name, "password": DEMO_PASSWORD})
        assert signed_in.status_code == 302

    def get(self, path: str) -> str:
        response = self.client.get(path, headers=ZH)
        assert response.status_code == 200, (path, response.status_code)
        found = TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response.text

    def post(self, path: str, data: dict[str, str]) -> TestResponse:
        response = self.client.post(path, data={"csrf_token": self.token, **data}, headers=ZH)
        assert response.status_code < 500, response.text
        return response


def test_the_demo_desk_is_chinese_from_the_portal_to_the_queue(db_url: str) -> None:
    app = _demo_desk(db_url)
    rita, sam = _Browser(app, "rita"), _Browser(app, "sam")

    portal = rita.get("/portal")
    assert 'lang="zh-CN"' in portal and "省级政务信息化服务台" in portal and "我的工单" in portal
    form = rita.get("/new/incident")
    for label in ("问题概述", "详细描述", "故障类别", "网络故障", "账号权限", "安全事件", "影响范围", "紧急程度"):
        assert label in form, label
    reported = rita.post("/new/incident", {"short_description": "政务外网无法访问", "description": "整层楼无法上网。"})
    assert reported.location.endswith("/tickets/INC0000001")
    assert "政务外网无法访问" in rita.get("/portal")

    queue = sam.get("/queue")
    assert 'lang="zh-CN"' in queue
    for text in ("INC0000001", "政务外网无法访问", "待受理", "一线服务台", "网络组", "待回访"):
        assert text in queue, text
    ticket = sam.get("/tickets/INC0000001")
    assert "受理派单" in ticket and "已登记，等待一线服务台受理、分类定级。" in ticket

    classify = sam.get("/tickets/INC0000001/transitions/classify")
    assert "单位层级" in classify and "省直单位" in classify
    dispatched = sam.post("/tickets/INC0000001/transitions/classify", {
        "category": "network", "unit_level": "city", "impact": "unit", "urgency": "high"})
    assert dispatched.status_code == 302
    dispatched_page = sam.get("/tickets/INC0000001")
    assert "已派单" in dispatched_page and "P2" in dispatched_page  # impact 中 x urgency 高
    assert "响应时限" in dispatched_page and "解决时限" in dispatched_page  # the clocks by their labels
    assert "Response" not in dispatched_page and "SLA 计时 <strong>response" not in dispatched_page
    assert "解决时限" in sam.get("/queue")
    assert "网络组" in sam.get("/queue?team=network_ops")

    with engine_of(app).db.read() as session:
        subjects = [m.subject for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    assert "INC0000001 已派至一线服务台：政务外网无法访问" in subjects  # on record
    assert "INC0000001 已派至网络组：政务外网无法访问" in subjects  # on dispatch
