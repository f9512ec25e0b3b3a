"""`{{ timeline }}` in the language of the text (SPEC 15): the pure formatter over stored entries, with a
bilingual pack's labels and the engine's own words, and notifications that render it once per language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from core_support import FakeLookups, person

from itsm.engine.runtime.compiled import CompiledVersion, compile_version
from itsm.engine.runtime.rules import Context, Request, plan
from itsm.engine.runtime.snapshot import HistoryEntry, TicketSnapshot, UserFacts
from itsm.engine.runtime.timeline import MAX_COMMENT, timeline_text
from itsm.engine.runtime.wording import say, spoken
from itsm.interpreter import load_pack
from itsm.interpreter.templates import BODY_CUT, MAX_BODY

AT = datetime(2026, 3, 9, 2, 55, tzinfo=UTC)  # 10:55 in Beijing

PACK = """kind: pack
id: desk
name: {zh-CN: 服务台, en: Service desk}
format: 1
timezone: Asia/Shanghai
language: zh-CN
languages: [zh-CN, en]
---
kind: form
id: ticket
fields:
  - {id: summary, type: string, label: {zh-CN: 问题概述, en: Summary}, required: true}
  - id: category
    type: choice
    label: {zh-CN: 故障类别, en: Category}
    choices:
      - {value: network, label: {zh-CN: 网络故障, en: Network}}
      - {value: printer, label: {zh-CN: 打印机, en: Printer}}
  - {id: urgent, type: boolean, label: {zh-CN: 紧急, en: Urgent}}
---
kind: process
id: ticket
title: {zh-CN: 事件, en: Incident}
form: ticket
number: T
initial: new
priority: {matrix: prio}
sla: sla
states:
  - {id: new, label: {zh-CN: 待受理, en: New}}
  - {id: working, label: {zh-CN: 处理中, en: In progress}}
  - {id: done, label: {zh-CN: 已办结, en: Closed}, final: true}
transitions:
  - id: start
    label: {zh-CN: 开始处理, en: Start work}
    from: new
    to: working
    fields: [category]
    actions: [{notify: worked}]
  - id: note
    label: {zh-CN: 记录经过, en: Write down}
    from: working
    to: working
    actions: [{comment: "{{ timeline }}"}]
  - {id: finish, label: {zh-CN: 办结, en: Finish}, from: working, to: done}
---
kind: priority_matrix
id: prio
inputs: [category]
levels: [{id: P1, label: {zh-CN: P1 紧急, en: P1 critical}}, {id: P2, label: {zh-CN: P2 一般, en: P2 normal}}]
matrix: {network: P1, printer: P2}
default: P2
---
kind: team
id: network_ops
name: {zh-CN: 网络组, en: Network operations}
roles: [agent]
members: [{user: nils}]
---
kind: notification
id: worked
to: [requester, team]
channel: email
subject: {zh-CN: "{{ ticket.number }} 处理经过", en: "{{ ticket.number }}: what happened"}
body:
  zh-CN: "处理经过：\\n{{ timeline }}"
  en: "What happened:\\n{{ timeline }}"
---
kind: sla_policy
id: sla
clocks:
  - id: response
    label: {zh-CN: 响应时限, en: Time to respond}
    targets: {P1: 1h, P2: 4h}
    stop: "state != 'new'"
"""

HISTORY = [
    HistoryEntry(AT, "rita", "create", changes={  # as jsonb keeps them: the line says them in the form's order
        "team": [None, "network_ops"], "state": [None, "new"], "urgent": [None, True], "priority": [None, "P1"],
        "summary": [None, "VPN  down\nagain"], "category": [None, "network"]}),
    HistoryEntry(AT, "rita", "routing", data={"reason": "routing", "team": "network_ops", "assignee": "nils"}),
    HistoryEntry(AT, "rita", "comment"),  # the comment event: its row below says it
    HistoryEntry(AT, "rita", "comment", text="Whole floor is offline"),
    HistoryEntry(AT + timedelta(minutes=5), "nils", "transition", "start", "new", "working",
                 changes={"state": ["new", "working"], "category": ["network", "printer"]}),
    HistoryEntry(AT + timedelta(hours=2), "system", "sla", data={"clock": "response", "status": "breached",
                                                                 "breach": True}),
    HistoryEntry(AT + timedelta(hours=2), "system", "escalation", data={"result": "no next tier",
                                                                        "team": "network_ops"}),
    HistoryEntry(AT + timedelta(hours=3), "nils", "transition", "gone", "working", "parked"),  # a later version
    HistoryEntry(AT + timedelta(hours=3), "lars", "link", data={"kind": "duplicate", "to": "T0000007"}),
]

ENGLISH = """\
2026-03-09 10:55 (UTC+8)  rita  created: Summary = VPN down again; Category = Network; Urgent = yes; \
Priority = P1 critical; Team = Network operations
2026-03-09 10:55 (UTC+8)  rita  assigned to Network operations, nils (routing)
2026-03-09 10:55 (UTC+8)  rita  comment: Whole floor is offline
2026-03-09 11:00 (UTC+8)  nils  Start work (New -> In progress): Category = Printer
2026-03-09 12:55 (UTC+8)  system  SLA Time to respond: breached
2026-03-09 12:55 (UTC+8)  system  escalation: no next tier (Network operations)
2026-03-09 13:55 (UTC+8)  nils  gone (In progress -> parked)
2026-03-09 13:55 (UTC+8)  lars  link: kind duplicate, to T0000007"""

CHINESE = """\
2026-03-09 10:55（UTC+8）  rita  登记工单：问题概述为“VPN down again”；故障类别为“网络故障”；紧急为“是”；\
优先级为“P1 紧急”；处理组为“网络组”
2026-03-09 10:55（UTC+8）  rita  分派给网络组 / nils（派单规则）
2026-03-09 10:55（UTC+8）  rita  备注：Whole floor is offline
2026-03-09 11:00（UTC+8）  nils  开始处理（待受理 → 处理中）：故障类别为“打印机”
2026-03-09 12:55（UTC+8）  系统  SLA 响应时限：已超时
2026-03-09 12:55（UTC+8）  系统  升级：已无上一级处理组（网络组）
2026-03-09 13:55（UTC+8）  nils  gone（处理中 → parked）
2026-03-09 13:55（UTC+8）  lars  关联：kind duplicate、to T0000007"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledVersion:
    folder: Path = tmp_path_factory.mktemp("bilingual")
    (folder / "pack.yaml").write_text(PACK, encoding="utf-8")
    pack = load_pack(folder)
    assert not pack.warnings, pack.warnings
    return compile_version(pack.digest, pack)


def lines(compiled: CompiledVersion, language: str | None, entries: list[HistoryEntry] = HISTORY) -> str:
    return timeline_text(entries, compiled.pack, compiled.pack.processes["ticket"], language)


def test_the_timeline_in_english_uses_the_packs_english_labels(compiled: CompiledVersion) -> None:
    assert lines(compiled, "en") == ENGLISH


def test_the_timeline_in_chinese_uses_the_packs_chinese_labels_and_full_width_punctuation(
        compiled: CompiledVersion) -> None:
    assert lines(compiled, "zh-CN") == CHINESE


def test_a_language_is_matched_by_its_tag_and_else_the_packs_language_is_spoken(compiled: CompiledVersion) -> None:
    assert lines(compiled, "zh") == lines(compiled, "zh_CN") == lines(compiled, "zh-Hans-CN") == CHINESE
    assert lines(compiled, "en-GB") == ENGLISH
    assert lines(compiled, "fr") == lines(compiled, None) == CHINESE  # the pack's language: zh-CN
    assert spoken("fr", "de") == "en"  # neither known: the engine's English


def test_long_values_and_comments_are_clipped_and_an_empty_history_is_empty(compiled: CompiledVersion) -> None:
    long = [HistoryEntry(AT, "rita", "update", changes={"summary": ["a", "x" * 500]}),
            HistoryEntry(AT, "rita", "comment", text="y" * 5000)]
    update, comment = lines(compiled, "en", long).splitlines()
    assert update.endswith("updated: Summary = " + "x" * 119 + "…")
    assert comment.endswith("comment: " + "y" * (MAX_COMMENT - 1) + "…")
    assert lines(compiled, "en", []) == ""


def test_a_clocks_warnings_and_what_its_actions_changed_are_said(compiled: CompiledVersion) -> None:
    later = AT + timedelta(hours=1)
    entries = [HistoryEntry(AT, "rita", "sla", data={"clock": "response", "status": "running", "warnings": []}),
               HistoryEntry(later, "system", "sla", data={"clock": "response", "status": "running",
                                                          "breach": False, "warnings": ["50%", "75%"]}),
               HistoryEntry(later, "system", "sla", changes={"team": ["network_ops", "desk"]}),  # an escalation's
               HistoryEntry(later, "system", "sla")]  # nothing to say
    assert lines(compiled, "en", entries).splitlines() == [
        "2026-03-09 10:55 (UTC+8)  rita  SLA Time to respond: running",
        "2026-03-09 11:55 (UTC+8)  system  SLA Time to respond: running (warning at 50%, 75%)",
        "2026-03-09 11:55 (UTC+8)  system  updated: Team = desk"]
    assert lines(compiled, "zh-CN", entries).splitlines()[1:] == [
        "2026-03-09 11:55（UTC+8）  系统  SLA 响应时限：计时中（已达 50%、75% 预警）",
        "2026-03-09 11:55（UTC+8）  系统  更新：处理组为“desk”"]


def test_lines_said_once_are_said_alike_for_every_ticket(compiled: CompiledVersion) -> None:
    """The lines many histories share are remembered per pack, process and language: a second ticket with
    the same steps at other times by other people reads the same words, and another language its own."""
    first = lines(compiled, "en")
    shifted = [entry._replace(at=entry.at + timedelta(days=1), actor="ruth" if entry.actor == "rita" else entry.actor)
               for entry in HISTORY]
    second = lines(compiled, "en", shifted)
    assert second.replace("2026-03-10", "2026-03-09").replace("ruth", "rita") == first == ENGLISH
    assert lines(compiled, "zh-CN", shifted).replace("2026-03-10", "2026-03-09").replace("ruth", "rita") == CHINESE


def stored(compiled: CompiledVersion, lookups: FakeLookups) -> TicketSnapshot:
    """Ticket 1 as stored, with HISTORY as its events and comments."""
    request = Request("create", person(compiled, "rita"), AT, process="ticket", values={"summary": "VPN down"})
    made = plan(Context(compiled, lookups), None, request, UserFacts("rita"))
    assert made is not None
    lookups.histories[1] = HISTORY
    return made.after(made.ticket._replace(id=1, version=1, team="network_ops"))


def test_a_notification_says_the_timeline_in_each_readers_language(compiled: CompiledVersion) -> None:
    lookups = FakeLookups(users=("rita", "nils"))
    lookups.user_locales = {"rita": "zh-CN", "nils": "en"}
    ticket = stored(compiled, lookups)
    fired = plan(Context(compiled, lookups), ticket, Request(
        "fire", person(compiled, "nils"), AT + timedelta(hours=4), transition="start", values={"category": "network"}))
    assert fired is not None
    bodies = {tuple(row["recipients"]): row["body"] for row in fired.outbox}
    assert bodies == {("user:rita",): "处理经过：\n" + CHINESE, ("user:nils",): "What happened:\n" + ENGLISH}
    assert lookups.asked.count("timeline 1") == 1  # the entries are loaded once for both languages


def test_a_single_render_says_the_timeline_in_the_packs_language(compiled: CompiledVersion) -> None:
    lookups = FakeLookups(users=("rita", "nils"))
    ticket = stored(compiled, lookups)
    started = plan(Context(compiled, lookups), ticket, Request(
        "fire", person(compiled, "nils"), AT, transition="start", values={"category": "network"}))
    assert started is not None
    noted = plan(Context(compiled, lookups), started.after(started.ticket._replace(version=2)), Request(
        "fire", person(compiled, "nils"), AT, transition="note"))
    assert noted is not None
    assert [c["text"] for c in noted.comments] == [CHINESE]


def test_a_cut_body_says_so_in_the_readers_language(compiled: CompiledVersion) -> None:
    lookups = FakeLookups(users=("rita", "nils"))
    lookups.user_locales = {"rita": "zh-CN", "nils": "en"}
    ticket = stored(compiled, lookups)
    lookups.histories[1] = [HistoryEntry(AT, "rita", "comment", text=f"{n} " + "z" * 1500) for n in range(60)]
    fired = plan(Context(compiled, lookups), ticket, Request(
        "fire", person(compiled, "nils"), AT, transition="start", values={"category": "network"}))
    assert fired is not None
    bodies = {tuple(row["recipients"]): row["body"] for row in fired.outbox}
    chinese, english = bodies[("user:rita",)], bodies[("user:nils",)]
    assert len(chinese.encode()) <= MAX_BODY and chinese.endswith("\n\n【以下内容已截断：消息超过 64 KiB】")
    assert len(english.encode()) <= MAX_BODY and english.endswith(BODY_CUT)


def test_the_engines_stored_words_exist_in_both_languages() -> None:
    assert say("empty_reply", "zh-CN") == "（邮件没有正文）" and say("empty_reply", "en") == "(the mail had no text)"
    assert say("body_cut", "en") == BODY_CUT and say("body_cut", "zh-CN") != BODY_CUT
    assert say("moment", "zh-CN", time="2026-03-09 10:55", zone="UTC+8") == "2026-03-09 10:55（UTC+8）"


def test_attachments_are_said_in_each_language(compiled: CompiledVersion) -> None:
    entries = [HistoryEntry(AT, "rita", "attachment", data={"id": 1, "name": "错误 截图.png", "size": 348_160,
                                                            "content_type": "image/png", "internal": False}),
               HistoryEntry(AT, "admin", "attachment_removed", data={"id": 1, "name": "错误 截图.png"})]
    assert lines(compiled, "en", entries).splitlines() == [
        "2026-03-09 10:55 (UTC+8)  rita  attached 错误 截图.png (340 KB)",
        "2026-03-09 10:55 (UTC+8)  admin  removed attachment 错误 截图.png"]
    assert lines(compiled, "zh-CN", entries).splitlines() == [
        "2026-03-09 10:55（UTC+8）  rita  上传附件：错误 截图.png（340 KB）",
        "2026-03-09 10:55（UTC+8）  admin  删除附件：错误 截图.png"]
