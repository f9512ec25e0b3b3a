"""Priority matrices, business calendars and SLA policies."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import model as m
from .context import TWENTY_FOUR_SEVEN, Compilation, Doc
from .errors import Position, did_you_mean
from .expressions import NameInfo, Scope

_INTERVAL = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RANGE_DAYS = 366


# -- priority matrix ------------------------------------------------------------------------------

def compile_matrix(doc: Doc, comp: Compilation, forms: list[m.FormSpec], scope: Scope) -> m.PriorityMatrix:
    """`forms` are the forms of the processes using the matrix: its inputs must be their choice fields."""
    data = doc.data
    levels: list[m.Level] = []
    for i, raw in enumerate(data["levels"]):
        level_id = raw if isinstance(raw, str) else raw["id"]
        if level_id in [lv.id for lv in levels]:
            doc.error(("levels", i), f"duplicate level '{level_id}'")
            continue
        label = comp.text(doc, ("levels", i, "label"), level_id) if isinstance(raw, dict) else \
            m.Text.plain(level_id, comp.language)
        levels.append(m.Level(level_id, label))
    level_ids = [lv.id for lv in levels]
    inputs: list[str] = data["inputs"]
    choices: list[tuple[str, ...] | None] = [None] * len(inputs)
    for i, name in enumerate(inputs):
        for form in forms:
            spec = form.by_id.get(name)
            if spec is None:
                doc.error(("inputs", i), f"unknown field '{name}' of form '{form.id}'{did_you_mean(name, form.by_id)}")
            elif spec.type != "choice":
                doc.error(("inputs", i), f"'{name}' is a {spec.type} field: matrix inputs are choice fields")
            elif choices[i] is None:
                choices[i] = spec.choice_values
    cells: dict[tuple[str, ...], str] = {}
    walk = _MatrixWalk(doc, comp, forms, inputs, choices, level_ids, cells)
    walk.check(("matrix",), data["matrix"], ())
    default = data.get("default", level_ids[-1] if level_ids else "")
    if "default" in data and default not in level_ids:
        doc.error(("default",), f"unknown level '{default}'{did_you_mean(str(default), level_ids)}")
    adjust = []
    for i, raw in enumerate(data.get("adjust", [])):
        if ("raise" in raw) == ("lower" in raw):
            doc.error(("adjust", i), "an adjustment has either raise or lower")
            continue
        when = comp.expression(doc, ("adjust", i, "when"), scope)
        if when is not None:
            adjust.append(m.Adjustment(when, raw.get("raise", 0) - raw.get("lower", 0), raw.get("id", "")))
    return m.PriorityMatrix(doc.id, tuple(inputs), tuple(levels), m.frozen_map(cells), default, tuple(adjust))


@dataclass
class _MatrixWalk:
    """Checks the nested cells of a matrix against its inputs' choices and its levels."""

    doc: Doc
    comp: Compilation
    forms: list[m.FormSpec]
    inputs: list[str]
    choices: list[tuple[str, ...] | None]
    levels: list[str]
    cells: dict[tuple[str, ...], str]

    def check(self, path: tuple[str | int, ...], node: Any, key: tuple[str, ...]) -> None:
        doc, inputs, levels = self.doc, self.inputs, self.levels
        depth = len(key)
        if depth == len(inputs):
            if node is None:
                doc.error(path, f"no level for {_cell(inputs, key)}: the cell is empty "
                                f"(write one of {', '.join(levels)})")
            elif not isinstance(node, str) or node not in levels:
                doc.error(path, f"unknown level '{node}'{did_you_mean(str(node), levels)}")
            else:
                self.cells[key] = node
            return
        name = inputs[depth]
        allowed = self.choices[depth]
        if node is None:
            shown = ", ".join(f"{v}: ..." for v in allowed or ())
            doc.error(path, f"no levels for {_cell(inputs, key)}: the value is empty (write a mapping of "
                            f"{name} values{f', {{{shown}}}' if shown else ''})", key=depth > 0)
            return
        if not isinstance(node, dict):
            doc.error(path, f"expected a mapping of {name} values, got {node!r}")
            return
        for value, child in node.items():
            if allowed is not None and value not in allowed:
                doc.error((*path, value), f"'{value}' is not a choice of '{name}'{did_you_mean(value, allowed)}",
                          key=True)
                continue
            self.check((*path, value), child, (*key, value))
        if allowed is None:
            return
        for value in allowed:
            if value not in node:
                self._missing(path, depth, value, key)

    def _missing(self, path: tuple[str | int, ...], depth: int, value: str, key: tuple[str, ...]) -> None:
        """A cell the matrix lacks. When an overlay added the choice (a higher layer than the matrix's
        values there), the error is at the overlay's line: the author can fix it there, not in the base."""
        doc, inputs = self.doc, self.inputs
        what = "level" if depth == len(inputs) - 1 else "levels"
        message = f"incomplete matrix: no {what} for {_cell(inputs, (*key, value))}"
        matrix_pos = doc.pos(path, key=depth > 0)
        added = self._choice_pos(inputs[depth], value)
        if added is not None and self.comp.layer(added.file) > self.comp.layer(matrix_pos.file):
            doc.error(path, f"{message}: '{value}' is a choice of {inputs[depth]} this overlay adds here, so the "
                            f"matrix needs {'a level' if what == 'level' else 'levels'} for it: write "
                            f"{'it' if what == 'level' else 'them'} in the overlay (kind: priority_matrix, "
                            f"id: {doc.id}; the matrix is at {matrix_pos})", pos=added)
        else:
            doc.error(path, message, key=depth > 0)

    def _choice_pos(self, field_id: str, value: str) -> Position | None:
        """Where the choice `value` of `field_id` is written in the forms of the matrix's processes."""
        for form in self.forms:
            form_doc = self.comp.of_kind("form").get(form.id)
            if form_doc is None:
                continue
            for i, raw in enumerate(form_doc.data.get("fields", [])):
                if raw.get("id") != field_id:
                    continue
                for j, choice in enumerate(raw.get("choices") or []):
                    written = choice if not isinstance(choice, dict) else choice.get("value")
                    if written == value:
                        return form_doc.pos(("fields", i, "choices", j))
        return None


def _cell(inputs: list[str], key: tuple[str, ...]) -> str:
    return ", ".join(f"{n}={v}" for n, v in zip(inputs, key, strict=False))


# -- calendars ------------------------------------------------------------------------------------

@cache
def _all_zones() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


# Names people write that are not IANA zones, with the zone they mean.
ZONE_ALIASES = {"Asia/Beijing": "Asia/Shanghai", "Asia/Peking": "Asia/Shanghai", "China": "Asia/Shanghai",
                "Asia/Mumbai": "Asia/Kolkata", "Asia/Delhi": "Asia/Kolkata", "India": "Asia/Kolkata",
                "Europe/Frankfurt": "Europe/Berlin", "Europe/Munich": "Europe/Berlin", "CET": "Europe/Berlin",
                "America/San_Francisco": "America/Los_Angeles", "America/Washington": "America/New_York",
                "America/Boston": "America/New_York", "EST": "America/New_York", "PST": "America/Los_Angeles"}


def check_timezone(doc: Doc, path: tuple[str | int, ...], name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError, OSError):
        alias = ZONE_ALIASES.get(name)
        hint = f" (did you mean '{alias}'?)" if alias else did_you_mean(name, _all_zones())
        doc.error(path, f"unknown time zone '{name}'{hint}")
        return False


def compile_calendar(doc: Doc, comp: Compilation, pack_timezone: str) -> m.Calendar:
    data = doc.data
    timezone = data.get("timezone", pack_timezone)
    if "timezone" in data:
        check_timezone(doc, ("timezone",), timezone)
    hours = {}
    for day, intervals in data["hours"].items():
        hours[_WEEKDAYS.index(day)] = _intervals(doc, ("hours", day), intervals)
    holidays: dict[date, m.Text] = {}
    holiday = m.Text.plain("Holiday", comp.language)
    entries: dict[date, int] = {}  # the holidays entry that made each date one, for errors
    for i, raw in enumerate(data.get("holidays", [])):
        path = ("holidays", i)
        if isinstance(raw, str):
            day = _date(doc, path, raw)
            if day:
                holidays[day] = holiday
                entries.setdefault(day, i)
            continue
        name = comp.text(doc, (*path, "name"), "Holiday")
        if "date" in raw:
            if "from" in raw or "to" in raw:
                doc.error(path, "a holiday has either date or from and to")
            day = _date(doc, (*path, "date"), raw["date"])
            if day:
                holidays[day] = name
                entries.setdefault(day, i)
        elif "from" in raw and "to" in raw:
            first, last = _date(doc, (*path, "from"), raw["from"]), _date(doc, (*path, "to"), raw["to"])
            if first and last:
                if last < first:
                    doc.error((*path, "to"), f"the range ends ({last}) before it starts ({first})")
                elif (last - first).days > MAX_RANGE_DAYS:
                    doc.error((*path, "to"), f"a holiday range longer than {MAX_RANGE_DAYS} days")
                else:
                    for n in range((last - first).days + 1):
                        holidays[first + timedelta(days=n)] = name
                        entries.setdefault(first + timedelta(days=n), i)
        else:
            doc.error(path, "a holiday needs date, or from and to")
    workdays: dict[date, tuple[m.Interval, ...]] = {}
    for i, raw in enumerate(data.get("workdays", [])):
        day = _date(doc, ("workdays", i, "date"), raw["date"])
        if day is None:
            continue
        if day in workdays:
            doc.error(("workdays", i, "date"), f"{day} is already listed as a working day")
        if day in holidays:
            doc.warning(("workdays", i, "date"), f"{day} is also a holiday: the working day wins")
        workdays[day] = _intervals(doc, ("workdays", i, "hours"), raw["hours"])
        if not workdays[day]:
            doc.error(("workdays", i, "hours"), "an exceptional working day needs working hours")
    calendar = m.Calendar(doc.id, comp.text(doc, ("name",), doc.id.replace("_", " ").capitalize()), timezone,
                          m.frozen_map(hours), m.frozen_map(holidays), m.frozen_map(workdays))
    _check_working_time(doc, calendar, entries)
    return calendar


def _check_working_time(doc: Doc, calendar: m.Calendar, entries: dict[date, int]) -> None:
    """A calendar without working time makes every SLA deadline on it unreachable: refused here, at load,
    rather than failing each ticket that starts a clock on it."""
    if not any(calendar.hours.values()):
        raw = doc.data["hours"]
        if any(raw.values()):
            return  # its intervals are wrong, and reported: one mistake, one error
        node = doc.node_at(("hours",))
        changed = [child.key_pos for child in node.value.values()
                   if child.key_pos and node.key_pos and child.key_pos.file != node.key_pos.file] \
            if isinstance(node.value, dict) else []
        note = f" (the overlay at {changed[-1]} left none)" if changed else ""
        doc.runtime_error(("hours",), "this calendar has no working time: no day of the week has working hours"
                                      f"{note}; give at least one, such as mon: [\"09:00-17:00\"], or use 24x7",
                          key=True)
        return
    for first, last, holiday in _days_off(calendar, sorted(entries)):
        if (last - first).days + 1 > m.MAX_DAYS_WITHOUT_WORK:
            doc.runtime_error(("holidays", entries[holiday]),
                              f"this calendar has no working time from {first} to {last}: more than "
                              f"{m.MAX_DAYS_WITHOUT_WORK} days in a row without working hours, so no SLA "
                              f"deadline in them could be reached")
            return


def _days_off(calendar: m.Calendar, holidays: list[date]) -> list[tuple[date, date, date]]:
    """The runs of days without working time around holidays: (first, last, the holiday found in it), each
    walked once (the weekly hours have working time, so a run ends within a week of its last holiday)."""
    runs: list[tuple[date, date, date]] = []
    one = timedelta(days=1)
    for day in holidays:
        if (runs and day <= runs[-1][1]) or calendar.intervals_on(day):
            continue  # in the run found already, or also an exceptional working day
        first = last = day
        while first > date.min and not calendar.intervals_on(first - one):
            first -= one
        while last < date.max and not calendar.intervals_on(last + one):
            last += one
        runs.append((first, last, day))
    return runs


def builtin_24x7(timezone: str) -> m.Calendar:
    return m.Calendar(TWENTY_FOUR_SEVEN, m.Text.plain("24x7"), timezone, m.frozen_map({}), always=True)


def _date(doc: Doc, path: tuple[str | int, ...], raw: str) -> date | None:
    if not _DATE.match(raw):
        doc.error(path, f"invalid date '{raw}': use YYYY-MM-DD")
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        doc.error(path, f"invalid date '{raw}': {exc}")
        return None


def _intervals(doc: Doc, path: tuple[str | int, ...], raw: list[str]) -> tuple[m.Interval, ...]:
    parsed: list[tuple[m.Interval, int]] = []
    for i, text in enumerate(raw):
        match = _INTERVAL.match(text.replace(" ", ""))
        if not match:
            doc.error((*path, i), f"invalid working interval '{text}': use HH:MM-HH:MM, such as 09:00-17:00")
            continue
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            doc.error((*path, i), f"invalid time in '{text}': hours 00-23 (24:00 for midnight), minutes 00-59")
            continue
        interval = m.Interval(h1 * 60 + m1, h2 * 60 + m2)
        if interval.start >= interval.end:
            doc.error((*path, i), f"'{text}' ends before it starts: the start must be before the end "
                                  f"(split a night shift over two days)")
            continue
        parsed.append((interval, i))
    parsed.sort(key=lambda p: p[0].start)
    merged: list[m.Interval] = []
    for (interval, i), previous in zip(parsed, [None, *parsed], strict=False):
        if previous is not None and interval.start < previous[0].end:
            doc.error((*path, i), f"'{raw[i]}' overlaps '{raw[previous[1]]}'")
            continue
        if merged and merged[-1].end == interval.start:
            merged[-1] = m.Interval(merged[-1].start, interval.end)
        else:
            merged.append(interval)
    return tuple(merged)


# -- SLA policies ---------------------------------------------------------------------------------

def compile_policy(doc: Doc, comp: Compilation, level_sets: list[tuple[str, ...]], form: m.FormSpec | None,
                   scope: Scope) -> m.SlaPolicy:
    """`level_sets`: the priority levels of each process using the policy, which every clock must cover."""
    data = doc.data
    calendar = data.get("calendar", TWENTY_FOUR_SEVEN)
    if "calendar" in data:
        comp.check_ref(doc, ("calendar",), "calendar", calendar, extra=(TWENTY_FOUR_SEVEN,))
    levels = list(dict.fromkeys(level for levels in level_sets for level in levels))
    clocks = []
    seen: set[str] = set()
    for i, raw in enumerate(data["clocks"]):
        path = ("clocks", i)
        if raw["id"] in seen:
            doc.error((*path, "id"), f"duplicate clock id '{raw['id']}'")
            continue
        seen.add(raw["id"])
        clocks.append(_clock(doc, comp, path, raw, calendar, levels, form, scope))
    return m.SlaPolicy(doc.id, comp.text(doc, ("name",), doc.id.replace("_", " ").capitalize()), calendar,
                       tuple(clocks))


def _clock(doc: Doc, comp: Compilation, path: tuple[str | int, ...], raw: dict[str, Any], calendar: str,
           levels: list[str], form: m.FormSpec | None, scope: Scope) -> m.ClockSpec:
    allowed = [*levels, "default"]
    calendars: dict[str, str] = {}
    for level, cal in raw.get("calendars", {}).items():
        if levels and level not in allowed:
            doc.error((*path, "calendars", level), f"unknown priority level '{level}'{did_you_mean(level, levels)}",
                      key=True)
        if comp.check_ref(doc, (*path, "calendars", level), "calendar", cal, extra=(TWENTY_FOUR_SEVEN,)):
            calendars[level] = cal
    targets: dict[str, m.Duration] = {}
    fallback = calendars.get("default", calendar)  # as SlaPolicy.calendar_for picks a level's calendar
    for level in raw["targets"]:
        if levels and level not in allowed:
            doc.error((*path, "targets", level), f"unknown priority level '{level}'{did_you_mean(level, levels)}",
                      key=True)
            continue
        if level == "default":  # the target of every level without its own, each on its own calendar
            business = fallback != TWENTY_FOUR_SEVEN or any(
                calendars.get(other, fallback) != TWENTY_FOUR_SEVEN for other in levels if other not in raw["targets"])
        else:
            business = calendars.get(level, fallback) != TWENTY_FOUR_SEVEN
        duration = comp.duration(doc, (*path, "targets", level), business)
        if duration is not None:
            targets[level] = duration
    if "default" not in raw["targets"]:
        for level in levels:
            if level not in raw["targets"]:
                doc.error((*path, "targets"), f"no target for priority '{level}' (give one, or a default)")
    warn_at: list[float] = []
    for j, text in enumerate(raw.get("warn_at", [])):
        value = float(text[:-1])
        if value <= 0:
            doc.error((*path, "warn_at", j), f"'{text}' would warn as soon as the clock starts: a warning "
                                             f"threshold is more than 0% (e.g. 50%)")
        elif value >= 100:
            past = "is the deadline itself" if value == 100 else "is past the deadline"
            doc.error((*path, "warn_at", j), f"'{text}' {past}: a warning threshold is less than 100% "
                                             f"(what happens at the deadline goes in on_breach)")
        elif value / 100 in warn_at:
            doc.error((*path, "warn_at", j), f"duplicate threshold '{text}'")
        else:
            warn_at.append(value / 100)
    conditions = {c: comp.expression(doc, (*path, c), scope)
                  for c in ("start", "stop", "pause", "reset", "cancel") if c in raw}
    return m.ClockSpec(
        id=raw["id"], label=comp.text(doc, (*path, "label"), raw["id"].replace("_", " ").capitalize()),
        targets=m.frozen_map(targets), calendars=m.frozen_map(calendars), warn_at=tuple(sorted(warn_at)),
        on_warning=_warning_actions(doc, comp, path, raw, form, scope, warn_at),
        on_breach=comp.actions(doc, (*path, "on_breach"), form, scope) if "on_breach" in raw else (),
        **conditions)


def _warning_actions(doc: Doc, comp: Compilation, path: tuple[str | int, ...], raw: dict[str, Any],
                     form: m.FormSpec | None, scope: Scope, warn_at: list[float]) -> tuple[m.Action, ...]:
    """`on_warning` actions: their `when:` may read `threshold`, the percent just crossed (SPEC 4), and a
    number compared with it must be one of the clock's `warn_at` (else the action would never run)."""
    if "on_warning" not in raw:
        return ()
    own = replace(scope, names={**scope.names, "threshold": NameInfo(kind="number")})
    actions = comp.actions(doc, (*path, "on_warning"), form, own)
    if len(actions) == len(raw["on_warning"]):
        percents = [round(value * 100, 4) for value in sorted(warn_at)]
        for i, action in enumerate(actions):
            comp.thresholds(doc, (*path, "on_warning", i, "when"), action.when, percents,
                            f"the thresholds of clock '{raw['id']}'")
    return tuple(actions)
