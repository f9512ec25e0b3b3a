"""Semantic diff of two compiled packs (SPEC 7, `itsm diff`): what changed for people and tickets, not
which lines moved. Each change names the process states it touches, so a database can count the open
tickets it affects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import model as m


@dataclass(frozen=True)
class Change:
    action: str  # added, removed, changed
    kind: str  # process, state, transition, field, matrix cell, target, calendar, rule, team, ...
    subject: str  # e.g. "incident.on_hold", "incident_priority[high, low]"
    detail: str = ""  # e.g. "P3 -> P2", "to: resolved -> closed"
    process: str | None = None  # whose open tickets it touches ...
    states: tuple[str, ...] | None = None  # ... in these states (None: every open ticket of the process)
    filters: Mapping[str, str] = field(default_factory=dict)  # ... with these values (priority, fields)
    team: str | None = None  # the open tickets on this team, whatever their process (a removed team)

    def line(self) -> str:
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.action} {self.kind} {self.subject}{detail}"


def diff_packs(old: m.PackSpec, new: m.PackSpec) -> list[Change]:
    changes: list[Change] = []
    _keyed(changes, "process", old.processes, new.processes, lambda a, b: _process(changes, a, b),
           process_of=lambda pid: pid)
    _keyed(changes, "form", old.forms, new.forms, lambda a, b: _form(changes, a, b, _users(new, "form", a.id)))
    _keyed(changes, "priority matrix", old.matrices, new.matrices,
           lambda a, b: _matrix(changes, a, b, _users(new, "matrix", a.id)))
    _keyed(changes, "SLA policy", old.sla_policies, new.sla_policies,
           lambda a, b: _policy(changes, a, b, _users(new, "policy", a.id)))
    _keyed(changes, "calendar", old.calendars, new.calendars, lambda a, b: _calendar(changes, a, b))
    _keyed(changes, "routing", old.routings, new.routings,
           lambda a, b: _routing(changes, a, b, _users(new, "routing", a.id)))
    for team_id in old.teams:
        if team_id not in new.teams:  # its open tickets move (renamed_teams) or publishing refuses
            target = new.renamed_teams.get(team_id)
            changes.append(Change("removed", "team", team_id, f"renamed to {target}" if target else "",
                                  team=team_id))
    _keyed(changes, "team", {k: v for k, v in old.teams.items() if k in new.teams}, new.teams,
           lambda a, b: _team(changes, a, b))
    _keyed(changes, "notification", old.notifications, new.notifications,
           lambda a, b: changes.append(Change("changed", "notification", a.id)) if a != b else None)
    _keyed(changes, "intake", old.intakes, new.intakes, lambda a, b: _intake(changes, a, b))
    return changes


def _intake(changes: list[Change], old: m.IntakeSpec, new: m.IntakeSpec) -> None:
    """Which parts of a mapping changed (positions, which move with any edit above them, are not compared)."""
    def parts(i: m.IntakeSpec) -> dict[str, Any]:
        return {"source": i.source, "process": i.process, "key": i.key, "update": i.update,
                "resolve_when": i.resolve_when.source if i.resolve_when else None, "on_resolve": i.on_resolve,
                "on_reply": i.reply_comment, "unknown_senders": i.unknown_senders,
                **{f"fields.{k}": v for k, v in i.fields.items()}}
    a, b = parts(old), parts(new)
    changed = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    if changed:
        changes.append(Change("changed", "intake", new.id, ", ".join(changed)))  # future tickets only


def _keyed(changes: list[Change], kind: str, old: Mapping[str, Any], new: Mapping[str, Any],
           compare: Callable[[Any, Any], None], process_of: Callable[[str], str | None] = lambda _: None) -> None:
    for key in old:
        if key not in new:
            changes.append(Change("removed", kind, key, process=process_of(key)))
    for key in new:
        if key not in old:
            changes.append(Change("added", kind, key))
        else:
            compare(old[key], new[key])


def _users(pack: m.PackSpec, what: str, ident: str) -> list[str]:
    """Processes of `pack` that use a form, matrix, policy or routing."""
    def uses(p: m.ProcessSpec) -> bool:
        return {"form": p.form == ident, "matrix": p.priority_matrix == ident, "routing": p.routing == ident,
                "policy": any(rule.policy == ident for rule in p.sla)}[what]
    return [p.id for p in pack.processes.values() if uses(p)]


def _process(changes: list[Change], old: m.ProcessSpec, new: m.ProcessSpec) -> None:
    pid = new.id
    for state_id in old.state_by_id:
        if state_id not in new.state_by_id:
            target = new.renamed_states.get(state_id)
            detail = f"renamed to {target}" if target else ""
            changes.append(Change("removed", "state", f"{pid}.{state_id}", detail, pid, (state_id,)))
    for state in new.states:
        before = old.state_by_id.get(state.id)
        if before is None:
            changes.append(Change("added", "state", f"{pid}.{state.id}", process=pid, states=()))
            continue
        for field_id in sorted(set(before.fields) | set(state.fields)):
            a, b = before.fields.get(field_id), state.fields.get(field_id)
            if a != b:
                changes.append(Change("changed", "field flags", f"{pid}.{state.id}.{field_id}",
                                      f"{_flags(a)} -> {_flags(b)}", pid, (state.id,)))
        if before.final != state.final:
            changes.append(Change("changed", "state", f"{pid}.{state.id}", f"final: {before.final} -> {state.final}",
                                  pid, (state.id,)))
    for transition in old.transitions:
        if transition.id not in new.transition_by_id:
            changes.append(Change("removed", "transition", f"{pid}.{transition.id}", process=pid,
                                  states=transition.sources))
    for transition in new.transitions:
        was = old.transition_by_id.get(transition.id)
        if was is None:
            changes.append(Change("added", "transition", f"{pid}.{transition.id}",
                                  f"{', '.join(transition.sources)} -> {transition.target}", pid, transition.sources))
            continue
        details = [f"{name}: {_text(getattr(was, attr))} -> {_text(getattr(transition, attr))}"
                   for name, attr in (("from", "sources"), ("to", "target"), ("roles", "roles"),
                                      ("when", "guard"), ("fields", "written_fields"), ("after", "after"))
                   if _text(getattr(was, attr)) != _text(getattr(transition, attr))]
        if _actions(was.actions) != _actions(transition.actions):
            details.append("actions changed")
        if details:
            changes.append(Change("changed", "transition", f"{pid}.{transition.id}", "; ".join(details), pid,
                                  tuple(dict.fromkeys((*was.sources, *transition.sources)))))
    _triggers(changes, old, new)
    for attr, label in (("priority_matrix", "priority matrix"), ("routing", "routing"), ("form", "form"),
                        ("initial", "initial state"), ("number_prefix", "number prefix")):
        if getattr(old, attr) != getattr(new, attr):
            changes.append(Change("changed", label, pid, f"{getattr(old, attr)} -> {getattr(new, attr)}", pid))
    if [r.policy for r in old.sla] != [r.policy for r in new.sla]:
        changes.append(Change("changed", "SLA policy of", pid, f"{[r.policy for r in old.sla]} -> "
                                                              f"{[r.policy for r in new.sla]}", pid))


def _triggers(changes: list[Change], old: m.ProcessSpec, new: m.ProcessSpec) -> None:
    """Triggers by id (else by position): added, removed, or what changed of one (future events only)."""
    def keyed(process: m.ProcessSpec) -> dict[str, m.TriggerSpec]:
        return {t.id or f"#{i + 1}": t for i, t in enumerate(process.triggers)}

    before, after = keyed(old), keyed(new)
    for key, trigger in after.items():
        was = before.get(key)
        if was is None:
            changes.append(Change("added", "trigger", f"{new.id}.{key}", f"on {trigger.on}", new.id))
            continue
        details = [f"{name}: {_text(a)} -> {_text(b)}" for name, a, b in
                   (("on", was.on, trigger.on), ("when", was.when, trigger.when)) if _text(a) != _text(b)]
        if _actions(was.actions) != _actions(trigger.actions):
            details.append("actions changed")
        if details:
            changes.append(Change("changed", "trigger", f"{new.id}.{key}", "; ".join(details), new.id))
    for key in before:
        if key not in after:
            changes.append(Change("removed", "trigger", f"{new.id}.{key}", process=new.id))


def _form(changes: list[Change], old: m.FormSpec, new: m.FormSpec, processes: list[str]) -> None:
    process = processes[0] if len(processes) == 1 else None
    for field_id in old.by_id:
        if field_id not in new.by_id:
            changes.append(Change("removed", "field", f"{old.id}.{field_id}", process=process))
    for spec in new.fields:
        before = old.by_id.get(spec.id)
        if before is None:
            changes.append(Change("added", "field", f"{new.id}.{spec.id}", spec.type))
            continue
        details = [f"{attr}: {_text(getattr(before, attr))} -> {_text(getattr(spec, attr))}"
                   for attr in ("type", "required", "default", "min", "max", "max_length", "pattern",
                                "visible_when", "required_when", "readonly_when", "audience")
                   if _text(getattr(before, attr)) != _text(getattr(spec, attr))]
        added = [c for c in spec.choice_values if c not in before.choice_values]
        removed = [c for c in before.choice_values if c not in spec.choice_values]
        if added:
            details.append(f"choices added: {', '.join(added)}")
        if removed:
            details.append(f"choices removed: {', '.join(removed)}")
        if details:
            changes.append(Change("changed", "field", f"{new.id}.{spec.id}", "; ".join(details), process))


def _matrix(changes: list[Change], old: m.PriorityMatrix, new: m.PriorityMatrix, processes: list[str]) -> None:
    process = processes[0] if len(processes) == 1 else None
    for key in sorted(set(old.cells) | set(new.cells)):
        a, b = old.cells.get(key), new.cells.get(key)
        if a != b:
            filters = dict(zip(new.inputs, key, strict=False))
            changes.append(Change("changed", "matrix cell", f"{new.id}[{', '.join(key)}]", f"{a} -> {b}", process,
                                  filters=filters))
    if old.level_ids != new.level_ids:
        changes.append(Change("changed", "priority levels", new.id, f"{old.level_ids} -> {new.level_ids}"))
    if old.default != new.default:
        changes.append(Change("changed", "matrix default", new.id, f"{old.default} -> {new.default}"))
    if [(a.when.source, a.steps) for a in old.adjust] != [(a.when.source, a.steps) for a in new.adjust]:
        changes.append(Change("changed", "matrix adjustments", new.id, process=process))


def _policy(changes: list[Change], old: m.SlaPolicy, new: m.SlaPolicy, processes: list[str]) -> None:
    process = processes[0] if len(processes) == 1 else None
    if old.calendar != new.calendar:
        changes.append(Change("changed", "SLA calendar", new.id, f"{old.calendar} -> {new.calendar}", process))
    before = {c.id: c for c in old.clocks}
    for clock in new.clocks:
        previous = before.pop(clock.id, None)
        if previous is None:
            changes.append(Change("added", "SLA clock", f"{new.id}.{clock.id}", process=process))
            continue
        for level in sorted(set(previous.targets) | set(clock.targets)):
            a, b = previous.targets.get(level), clock.targets.get(level)
            if _text(a) != _text(b):
                changes.append(Change("changed", "target", f"{new.id}.{clock.id}.{level}", f"{_text(a)} -> {_text(b)}",
                                      process, filters={"priority": level}))
        for attr in ("start", "stop", "pause", "reset", "cancel"):
            if _text(getattr(previous, attr)) != _text(getattr(clock, attr)):
                changes.append(Change("changed", f"clock {attr}", f"{new.id}.{clock.id}",
                                      f"{_text(getattr(previous, attr))} -> {_text(getattr(clock, attr))}", process))
        if previous.calendars != clock.calendars or previous.warn_at != clock.warn_at:
            changes.append(Change("changed", "clock calendars or warnings", f"{new.id}.{clock.id}", process=process))
    for clock_id in before:
        changes.append(Change("removed", "SLA clock", f"{new.id}.{clock_id}", process=process))


def _calendar(changes: list[Change], old: m.Calendar, new: m.Calendar) -> None:
    if old.timezone != new.timezone:
        changes.append(Change("changed", "calendar time zone", new.id, f"{old.timezone} -> {new.timezone}"))
    for weekday in range(7):
        a, b = old.hours.get(weekday, ()), new.hours.get(weekday, ())
        if a != b:
            name = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[weekday]
            changes.append(Change("changed", "working hours", f"{new.id}.{name}",
                                  f"{' '.join(map(str, a)) or 'none'} -> {' '.join(map(str, b)) or 'none'}"))
    for day in sorted(set(new.holidays) - set(old.holidays)):
        changes.append(Change("added", "holiday", f"{new.id} {day}", str(new.holidays[day])))
    for day in sorted(set(old.holidays) - set(new.holidays)):
        changes.append(Change("removed", "holiday", f"{new.id} {day}", str(old.holidays[day])))
    for day in sorted(set(old.workdays) ^ set(new.workdays)):
        changes.append(Change("added" if day in new.workdays else "removed", "working day", f"{new.id} {day}"))


def _routing(changes: list[Change], old: m.RoutingSpec, new: m.RoutingSpec, processes: list[str]) -> None:
    process = processes[0] if len(processes) == 1 else None
    before = {r.id: r for r in old.rules}
    after = {r.id: r for r in new.rules}
    for rule_id, rule in after.items():
        previous = before.get(rule_id)
        if previous is None:
            changes.append(Change("added", "routing rule", f"{new.id}.{rule_id}", _rule(rule), process))
        elif _rule(previous) != _rule(rule):
            changes.append(Change("changed", "routing rule", f"{new.id}.{rule_id}",
                                  f"{_rule(previous)} -> {_rule(rule)}", process))
    for rule_id, rule in before.items():
        if rule_id not in after:
            changes.append(Change("removed", "routing rule", f"{new.id}.{rule_id}", _rule(rule), process))
    if [r.id for r in old.rules if r.id in after] != [r.id for r in new.rules if r.id in before]:
        changes.append(Change("changed", "routing rule order", new.id, process=process))
    if (old.assignment, old.skills) != (new.assignment, new.skills):
        changes.append(Change("changed", "assignment", new.id, f"{old.assignment} -> {new.assignment}", process))


def _team(changes: list[Change], old: m.TeamSpec, new: m.TeamSpec) -> None:
    members_before = {mm.user for mm in old.members}
    members_after = {mm.user for mm in new.members}
    for user in sorted(members_after - members_before):
        changes.append(Change("added", "team member", f"{new.id}.{user}"))
    for user in sorted(members_before - members_after):
        changes.append(Change("removed", "team member", f"{new.id}.{user}"))
    for attr in ("tier", "escalates_to", "roles", "org_scope", "lead"):
        if getattr(old, attr) != getattr(new, attr):
            changes.append(Change("changed", f"team {attr}", new.id,
                                  f"{_text(getattr(old, attr))} -> {_text(getattr(new, attr))}"))


def _actions(actions: tuple[m.Action, ...]) -> list[tuple[str, str]]:
    """Actions compared by what they do, not where they were written."""
    import dataclasses

    def plain(value: Any) -> Any:
        if hasattr(value, "source"):  # an expression (`when:`): what it says, not where it was written
            return value.source
        return dict(value) if isinstance(value, Mapping) else value

    return [(type(a).__name__, repr({f.name: plain(getattr(a, f.name)) for f in dataclasses.fields(a)
                                     if f.name != "where"})) for a in actions]


def _rule(rule: m.RoutingRule) -> str:
    condition = "default" if rule.default else (rule.when.source if rule.when else "?")
    return f"{condition} => {rule.team}{f' ({rule.user})' if rule.user else ''}"


def _flags(flags: m.FieldFlags | None) -> str:
    if flags is None:
        return "none"
    names = [n for n in ("required", "readonly", "hidden") if getattr(flags, n)]
    return ", ".join(names) or "none"


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, m.Duration):
        return value.text
    if hasattr(value, "source"):
        return str(value.source)
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
