"""`{{ timeline }}`: a ticket's history as text in one language, one line per event and public comment (issue 7).

The store gives the entries as they are stored (`snapshot.HistoryEntry`: ids, raw values); this pure formatter
says them in a language (SPEC 15) with the pack's labels (transitions, states, fields and their choices,
teams, priority levels, SLA clocks) and the engine's own words (`wording.py`), at the pack's time zone:

    2026-03-09 10:55 (UTC+1)  nils  Start work (New -> In progress)
    2026-03-09 10:55（UTC+8）  nils  开始处理（待受理 → 处理中）

An id the current pack no longer has (a transition a later version removed) is shown as it is stored.
Internal comments never reach the formatter; comment events are said by the comment rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from itsm.interpreter import model as m

from .file_types import size_text
from .snapshot import HistoryEntry
from .wording import say, say_moment, spoken, word_or

MAX_VALUE = 120  # characters of a field value shown in a timeline line
MAX_COMMENT = 2000  # characters of a comment
QUIET_CHANGES = frozenset({"state"})  # shown by the transition itself
COLUMNS = ("priority", "team", "assignee", "requester")  # the ticket's own columns a change may name


def timeline_text(entries: Iterable[HistoryEntry], pack: m.PackSpec, process: m.ProcessSpec,
                  language: str | None = None) -> str:
    """The entries (oldest first, as given) as lines in `language` (the pack's when None or not spoken)."""
    words = wording(pack, process, spoken(language, pack.language))
    zone, system = words.zone, say("system", words.language)
    moments: dict[datetime, str] = {}  # an instant said once: the events of one change share it
    lines = []
    for entry in entries:
        what = words.entry(entry)
        if what:
            moment = moments.get(entry.at)
            if moment is None:
                moment = moments[entry.at] = say_moment(entry.at, zone, words.language)
            lines.append(f"{moment}  {system if entry.actor == 'system' else entry.actor}  {what}")
    return "\n".join(lines)


_WORDINGS: dict[tuple[int, int, str], tuple[m.PackSpec, Wording]] = {}
_KEPT = 32  # wordings kept (a process's packs in a few languages)


def wording(pack: m.PackSpec, process: m.ProcessSpec, language: str) -> Wording:
    """The `Wording` of a pack's process in a language, made once: a sweep says hundreds of timelines. (Kept
    by identity, since a compiled pack holds dicts; the entry keeps the pack alive, so while it is kept an
    id it holds is this pack's own.)"""
    key = (id(pack), id(process), language)
    kept = _WORDINGS.get(key)
    if kept is None:
        if len(_WORDINGS) >= _KEPT:
            _WORDINGS.clear()
        kept = _WORDINGS[key] = (pack, Wording(pack, process, language))
    return kept[1]


class Wording:
    """How one pack's process says its entries in one language. The lines most histories repeat (clock
    steps, assignments, transitions that changed no field) are said once and remembered (`MEMORY` of them)."""

    MEMORY = 4096

    def __init__(self, pack: m.PackSpec, process: m.ProcessSpec, language: str):
        self.pack = pack
        self.process = process
        self.form = pack.forms.get(process.form)
        self.positions = {spec.id: at for at, spec in enumerate(self.form.fields if self.form is not None else ())}
        self.language = language
        self.zone = ZoneInfo(pack.timezone)
        self._said: dict[tuple[Any, ...], str] = {}
        self._orders: dict[str, tuple[int, str]] = {}  # per field: where its change goes in a line
        self._fields: dict[str, tuple[str, bool]] = {}  # per field: its label, and whether its values are a set

    def entry(self, entry: HistoryEntry) -> str:
        key = _repeated(entry)
        if key is None:
            return self._entry(entry)
        said = self._said.get(key)
        if said is None:
            if len(self._said) >= self.MEMORY:
                self._said.clear()
            said = self._said[key] = self._entry(entry)
        return said

    def _entry(self, entry: HistoryEntry) -> str:
        kind, data, language = entry.kind, entry.data or {}, self.language
        if kind == "comment":  # a comment row says it; the comment event carries no text
            return say("comment", language, text=clip(entry.text, MAX_COMMENT)) if entry.text is not None else ""
        if kind == "create":  # the fields given; a flag left unset says nothing
            changes = {name: change for name, change in (entry.changes or {}).items() if change[1] is not False}
            return self.with_changes(say("created", language), changes)
        if kind == "transition":
            found = self.process.transition_by_id.get(entry.transition or "")
            what = say("transition", language, transition=self.label(found, entry.transition),
                       source=self.state(entry.from_state), target=self.state(entry.to_state))
            return self.with_changes(what, entry.changes)
        if kind == "update":
            return self.with_changes(say("updated", language), entry.changes)
        if kind == "routing":
            team = self.team(data.get("team")) if data.get("team") else say("no_team", language)
            user = say("assigned_user", language, user=data["assignee"]) if data.get("assignee") else ""
            reason = str(data.get("reason") or "routing")
            return say("assigned", language, team=team, user=user,
                       reason=word_or(f"reason.{reason}", language, reason))
        if kind == "sla" and not data.get("clock"):  # what a clock's actions changed (an escalation's team)
            return self.with_changes(say("updated", language), entry.changes) if entry.changes else ""
        if kind == "sla":
            status = str(data.get("status"))
            warnings = data.get("warnings")
            return say("sla", language, clock=self.clock(str(data.get("clock"))),
                       status=word_or(f"status.{status}", language, status) + (say(
                           "sla_warning", language, percents=say("list_separator", language).join(
                               str(w) for w in warnings)) if isinstance(warnings, list) and warnings else ""),
                       breach=say("sla_breach", language) if data.get("breach") and status != "breached" else "")
        if kind == "escalation" and data.get("result") == "no next tier":
            return say("escalation_none", language, team=self.team(data.get("team")))
        if kind == "attachment":
            size = size_text(int(data.get("size") or 0))
            return say("attachment", language, name=clip(data.get("name", "")), size=size)
        if kind == "attachment_removed":
            return say("attachment_removed", language, name=clip(data.get("name", "")))
        if kind == "triage":  # values the triage model set at create (SPEC 16)
            found = data.get("fields")
            fields: dict[str, Any] = found if isinstance(found, dict) else {}
            changes = {name: [None, taken.get("value")] for name, taken in fields.items() if isinstance(taken, dict)}
            return self.with_changes(say("triage", language, model=data.get("model", "?")), changes)
        if kind == "watchers":
            if data.get("added"):
                return say("watcher_added", language, user=str(data["added"]))
            return say("watcher_removed", language, user=str(data.get("removed", "")))
        if kind == "rename":
            return say("renamed", language, source=entry.from_state or "", target=self.state(entry.to_state))
        details = say("list_separator", language).join(
            say("detail", language, name=key, value=clip(value))
            for key, value in sorted(data.items()) if value not in (None, "", [], {}))
        name = word_or(f"kind.{kind}", language, kind)
        return say("other", language, kind=name, details=details) if details else name

    def with_changes(self, what: str, changes: Mapping[str, Any] | None) -> str:
        if not changes:
            return what
        shown = [self.change(name, new) for name, (_, new) in sorted(changes.items(), key=self._change_order)
                 if name not in QUIET_CHANGES and new not in (None, "", [])]
        if not shown:
            return what
        joined = say("changes_separator", self.language).join(shown)
        return say("with_changes", self.language, what=what, changes=joined)

    def change(self, name: str, value: Any) -> str:
        """`Field = value`; remembered for a value from a fixed set (a choice, a team, a priority level, a flag),
        which most changes set, not for free text."""
        known = self._fields.get(name)
        if known is None:
            spec = self.form.by_id.get(name) if self.form is not None else None
            known = self._fields[name] = (self.field(name), name in ("team", "priority") or (
                spec is not None and bool(spec.choices)))
        label, from_a_set = known
        fixed = isinstance(value, bool) or (from_a_set and isinstance(value, (str, int)))
        if fixed:
            said = self._said.get(("change", name, type(value), value))
            if said is not None:
                return said
        shown = value if isinstance(value, str) and not from_a_set else self.value(name, value)
        said = say("change", self.language, field=label, value=clip(shown))
        if fixed:
            if len(self._said) >= self.MEMORY:
                self._said.clear()
            self._said[("change", name, type(value), value)] = said
        return said

    def _change_order(self, item: tuple[str, Any]) -> tuple[int, str]:
        return self.order(item[0])

    def order(self, name: str) -> tuple[int, str]:
        """Changes in the form's order, then the ticket's own columns: the same line whatever order the
        database keeps a JSON object's keys in (PostgreSQL's jsonb sorts them its own way)."""
        found = self._orders.get(name)
        if found is None:
            if name in self.positions:
                found = self._orders[name] = (self.positions[name], "")
            else:
                found = self._orders[name] = (
                    len(self.positions) + (COLUMNS.index(name) if name in COLUMNS else len(COLUMNS)), name)
        return found

    def label(self, spec: Any, fallback: str | None) -> str:
        text = spec.label.get(self.language) if spec is not None else ""
        return text or (fallback or "")

    def state(self, state_id: str | None) -> str:
        return self.label(self.process.state_by_id.get(state_id or ""), state_id)

    def team(self, team_id: Any) -> str:
        team = self.pack.teams.get(str(team_id))
        return (team.name.get(self.language) if team is not None else "") or str(team_id)

    def clock(self, clock_id: str) -> str:
        for policy in self.pack.sla_policies.values():
            for clock in policy.clocks:
                if clock.id == clock_id:
                    return clock.label.get(self.language) or clock_id
        return clock_id

    def field(self, name: str) -> str:
        spec = self.form.by_id.get(name) if self.form is not None else None
        if spec is not None:
            return spec.label.get(self.language) or name
        return word_or(f"field.{name}", self.language, name)

    def value(self, name: str, value: Any) -> str:
        """A stored value as people read it: a choice by its label, a team by its name, a priority level by
        its label, yes or no, a list joined."""
        if isinstance(value, bool):
            return say("yes" if value else "no", self.language)
        if isinstance(value, list):
            return say("list_separator", self.language).join(self.value(name, item) for item in value)
        if name == "team":
            return self.team(value)
        if name == "priority":
            return self.level(str(value))
        spec = self.form.by_id.get(name) if self.form is not None else None
        if spec is not None and spec.choices:
            for choice in spec.choices:
                if choice.value == value:
                    return choice.label.get(self.language) or str(value)
        return str(value)

    def level(self, level_id: str) -> str:
        matrix = self.pack.matrices.get(self.process.priority_matrix or "")
        for level in matrix.levels if matrix is not None else ():
            if level.id == level_id:
                return level.label.get(self.language) or level_id
        return level_id


def _repeated(entry: HistoryEntry) -> tuple[Any, ...] | None:
    """What the line of an entry many histories share depends on (its time and actor apart), or None."""
    kind, data = entry.kind, entry.data
    if entry.changes:
        return None
    if kind == "sla" and data:
        warnings = data.get("warnings")
        return (kind, data.get("clock"), data.get("status"), bool(data.get("breach")),
                tuple(warnings) if isinstance(warnings, list) else warnings)
    if kind == "routing" and data:
        return kind, data.get("team"), data.get("assignee"), data.get("reason")
    if kind == "transition":
        return kind, entry.transition, entry.from_state, entry.to_state
    return None


def clip(value: Any, limit: int = MAX_VALUE) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
