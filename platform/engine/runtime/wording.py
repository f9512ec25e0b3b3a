"""The engine's own words in the texts it writes itself (SPEC 15): `{{ timeline }}`, notices it stores.

Pages say their words through Flask-Babel's catalogs; the engine imports no web framework, so what it puts
into stored text (a timeline line, a cut notification's notice, an empty mail reply) comes from this table,
in zh-CN and en. A language the table lacks falls back to English, a tag matches as `Text.get` matches it
(zh, zh_CN and zh-Hans-CN find zh-CN). Entries with `{name}` are formats; values are filled in as text and
never read as formats themselves. Everything the pack names (states, transitions, fields, teams, clocks)
comes from the pack's own labels, not from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from itsm.interpreter.templates import BODY_CUT, SUBJECT_CUT
from itsm.interpreter.texts import Text

FALLBACK = "en"
LANGUAGES = ("en", "zh-CN")  # the languages of the table below

_TABLE: dict[str, tuple[str, str]] = {  # key: (en, zh-CN)
    # a timeline line: when, who, what
    "moment": ("{time} ({zone})", "{time}（{zone}）"),
    "system": ("system", "系统"),
    "created": ("created", "登记工单"),
    "updated": ("updated", "更新"),
    "transition": ("{transition} ({source} -> {target})", "{transition}（{source} → {target}）"),
    "with_changes": ("{what}: {changes}", "{what}：{changes}"),
    "change": ("{field} = {value}", "{field}为“{value}”"),
    "changes_separator": ("; ", "；"),
    "list_separator": (", ", "、"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "assigned": ("assigned to {team}{user} ({reason})", "分派给{team}{user}（{reason}）"),
    "assigned_user": (", {user}", " / {user}"),
    "no_team": ("no team", "无处理组"),
    "comment": ("comment: {text}", "备注：{text}"),
    "sla": ("SLA {clock}: {status}{breach}", "SLA {clock}：{status}{breach}"),
    "sla_breach": (", breached", "，已超时"),
    "sla_warning": (" (warning at {percents})", "（已达 {percents} 预警）"),
    "escalation_none": ("escalation: no next tier ({team})", "升级：已无上一级处理组（{team}）"),
    "renamed": ("state renamed ({source} -> {target})", "状态改名（{source} → {target}）"),
    "triage": ("set by triage model {model}", "由分派辅助模型 {model} 设置"),
    "other": ("{kind}: {details}", "{kind}：{details}"),
    "attachment": ("attached {name} ({size})", "上传附件：{name}（{size}）"),
    "attachment_removed": ("removed attachment {name}", "删除附件：{name}"),
    "watcher_added": ("{user} follows the ticket", "{user} 关注此工单"),
    "watcher_removed": ("{user} no longer follows the ticket", "{user} 不再关注此工单"),
    "detail": ("{name} {value}", "{name} {value}"),
    # what the engine's event kinds, routing reasons and clock statuses are called
    "kind.escalation": ("escalation", "升级"),
    "kind.review": ("review", "复盘"),
    "kind.link": ("link", "关联"),
    "reason.routing": ("routing", "派单规则"),
    "reason.escalation": ("escalation", "升级"),
    "reason.action": ("action", "流程动作"),
    "reason.review": ("review", "复盘"),
    "reason.manual": ("manual", "人工分派"),
    "reason.renamed_teams": ("team renamed", "处理组改名"),
    "status.not_started": ("not started", "未开始"),
    "status.running": ("running", "计时中"),
    "status.paused": ("paused", "已暂停"),
    "status.met": ("met", "已达标"),
    "status.breached": ("breached", "已超时"),
    "status.cancelled": ("cancelled", "已取消"),
    "status.stopped": ("stopped", "已停止"),
    # the ticket's own columns, when a change names them
    "field.priority": ("Priority", "优先级"),
    "field.team": ("Team", "处理组"),
    "field.assignee": ("Assignee", "处理人"),
    "field.requester": ("Requester", "报障人"),
    # notices the engine stores
    "empty_reply": ("(the mail had no text)", "（邮件没有正文）"),
    "mail_skipped": ("Not kept from the mail: {files}.", "邮件中的以下附件未保存：{files}。"),
    "mail_skipped_file": ("{name} ({reason})", "{name}（{reason}）"),
    "skip.too_large": ("larger than {limit}", "超过 {limit}"),
    "skip.type": ("type not accepted", "文件类型不在允许范围内"),
    "skip.empty": ("empty", "空文件"),
    "skip.name": ("no file name", "缺少文件名"),
    "skip.too_many": ("more than {most} attachments in one mail", "单封邮件附件超过 {most} 个"),
    "subject_cut": (SUBJECT_CUT, "……"),
    "body_cut": (BODY_CUT, "\n\n【以下内容已截断：消息超过 64 KiB】"),
}

WORDS: Mapping[str, Text] = MappingProxyType({
    key: Text((("en", en), ("zh-CN", zh)), FALLBACK) for key, (en, zh) in _TABLE.items()})


@lru_cache(maxsize=256)
def spoken(language: str | None, pack_language: str) -> str:
    """The table's language for a reader of `language`: that one (zh and zh_CN read zh-CN), else the pack's,
    else English, so that the engine's words and the pack's labels (which fall back to the pack's language
    too) say one line in one language."""
    for wanted in (language, pack_language):
        primary = (wanted or "").strip().replace("_", "-").lower().split("-", 1)[0]
        for tag in LANGUAGES:
            if primary and tag.lower().split("-", 1)[0] == primary:
                return tag
    return FALLBACK


def say(key: str, language: str | None, /, **values: Any) -> str:
    """The engine's word `key` in `language` (English when the table lacks it), `values` filled in."""
    if values:
        return _word(key, language).format(**values)
    return _word(key, language)


@lru_cache(maxsize=1024)
def _word(key: str, language: str | None) -> str:
    """A word (or its format), looked up once per language: a sweep's timelines say tens of thousands."""
    return WORDS[key].get(language)


def word_or(key: str, language: str | None, default: str) -> str:
    """`say(key)` for a key the table may not hold (an event kind a plugin made up): else `default`."""
    return say(key, language) if key in WORDS else default


def zone_label(moment: datetime) -> str:
    """The offset of an aware instant as a label: `UTC`, `UTC+8`, `UTC-4`, `UTC+5:30` (docs/decisions.md,
    "Times on the pages"): exact across daylight saving time and read the same in every language."""
    return _offset_label(moment.utcoffset() or timedelta(0))


@lru_cache(maxsize=64)
def _offset_label(offset: timedelta) -> str:
    if not offset:
        return "UTC"
    minutes = int(abs(offset).total_seconds()) // 60
    sign = "-" if offset < timedelta(0) else "+"
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def say_moment(moment: datetime, zone: tzinfo, language: str | None) -> str:
    """`2026-03-09 10:55 (UTC+8)`, in Chinese `2026-03-09 10:55（UTC+8）`, as the pages show instants. (A
    timeline says one per line: the digits are put together without `strftime`, which costs more.)"""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # the store's times are UTC
    local = moment.astimezone(zone)
    return _moment(language) % (local.year, local.month, local.day, local.hour, local.minute, zone_label(local))


@lru_cache(maxsize=64)
def _moment(language: str | None) -> str:
    """The word `moment` as one printf pattern: a line's instant is put together in one step."""
    word = _word("moment", language).replace("%", "%%")
    return word.replace("{time}", "%04d-%02d-%02d %02d:%02d").replace("{zone}", "%s")
