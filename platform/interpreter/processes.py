"""Processes: states, transitions, guards, actions, reachability; and the names their expressions see."""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from itertools import pairwise
from typing import Any

from . import model as m
from .context import CLOCK_STATUSES, Compilation, Doc, field_info
from .errors import did_you_mean
from .expressions import NameInfo, Scope
from .forms import check_field_list


def process_names(doc: Doc | None, comp: Compilation, form: m.FormSpec | None,
                  data: dict[str, Any] | None = None) -> dict[str, NameInfo]:
    """Every name an expression of this process may use, with the values it can take where known
    (`data` in place of `doc` for a process whose shape is wrong: see `loose_process`)."""
    data = doc.data if doc is not None else data or {}
    names: dict[str, NameInfo] = {}
    if form is not None:
        names.update({spec.id: field_info(spec) for spec in form.fields})
    matrix = comp.of_kind("priority_matrix").get((data.get("priority") or {}).get("matrix", ""))
    levels = tuple(lv if isinstance(lv, str) else lv["id"] for lv in matrix.data["levels"]) if matrix else None
    teams = tuple(sorted(comp.ids("team")))
    transitions = [t["id"] for t in data.get("transitions", [])]
    text, number, boolean = NameInfo(kind="text"), NameInfo(kind="number"), NameInfo(kind="boolean")
    names.update({
        "state": NameInfo(tuple(s["id"] for s in data.get("states", [])), "text"),
        "priority": NameInfo(levels, "text"),
        "team": NameInfo(teams, "text"),
        "assignee": text,
        "number": text,
        "process": NameInfo(tuple(sorted(comp.ids("process"))), "text"),
        "requester.name": text, "requester.vip": boolean, "requester.org": text,
        "requester.orgs": NameInfo(kind="list"), "requester.org_name": text,
        "requester.teams": NameInfo(teams), "requester.email": text,
        "actor.name": text, "actor.roles": NameInfo(tuple(sorted(comp.roles))), "actor.teams": NameInfo(teams),
        "event": NameInfo(tuple(dict.fromkeys(["create", "update", "comment", *transitions])), "text"),
    })
    names.setdefault("channel", text)
    for policy_id in policy_ids(data):
        policy = comp.of_kind("sla_policy").get(policy_id)
        for clock in policy.data["clocks"] if policy else []:
            names[f"sla.{clock['id']}.status"] = NameInfo(CLOCK_STATUSES, "text")
            names[f"sla.{clock['id']}.percent"] = number
    return names


def policy_ids(data: dict[str, Any]) -> list[str]:
    sla = data.get("sla")
    if isinstance(sla, str):
        return [sla]
    return [rule["policy"] for rule in sla or []]


def compile_process(doc: Doc, comp: Compilation, form: m.FormSpec | None, scope: Scope,
                    business_calendar: bool) -> m.ProcessSpec:
    data = doc.data
    states = _states(doc, comp, form, scope)
    state_ids = [s.id for s in states]
    finals = {s.id for s in states if s.final}
    initial = data["initial"]
    if initial not in state_ids:
        doc.error(("initial",), f"unknown state '{initial}'{did_you_mean(initial, state_ids)}"
                                f"{comp.removal_note(initial)}")
    transitions = _with_required_fields(_transitions(doc, comp, form, scope, state_ids, finals, business_calendar),
                                        states)
    matrix = (data.get("priority") or {}).get("matrix")
    if matrix is not None:
        comp.check_ref(doc, ("priority", "matrix"), "priority_matrix", matrix, "priority matrix")
    if "routing" in data:
        comp.check_ref(doc, ("routing",), "routing", data["routing"])
    renamed = data.get("renamed_states", {})
    for old, new in renamed.items():
        if old in state_ids:
            doc.error(("renamed_states", old), f"state '{old}' still exists: only removed states are renamed",
                      key=True)
        if new not in state_ids:
            doc.error(("renamed_states", old), f"unknown state '{new}'{did_you_mean(new, state_ids)}")
    known = set(state_ids)
    happy = tuple(data.get("happy_path", ()))
    _check_happy_path(doc, happy, state_ids, finals, initial, transitions)
    if initial in known and _state_references_ok(data, known):
        # With a dangling reference, fix that first: reachability would only repeat it in other words.
        _check_reachability(doc, states, transitions, initial)
    return m.ProcessSpec(
        id=doc.id, title=comp.text(doc, ("title",), doc.id.replace("_", " ").capitalize()), form=data["form"],
        initial=initial, states=tuple(states), transitions=tuple(transitions),
        description=comp.text(doc, ("description",)), number_prefix=data.get("number", doc.id[:3].upper()),
        priority_matrix=matrix, sla=_sla_rules(doc, comp, scope), routing=data.get("routing"),
        renamed_states=m.frozen_map(renamed), triage=_triage(doc, comp, form), happy_path=happy,
        triggers=_triggers(doc, comp, form, scope),
        state_by_id=m.frozen_map({s.id: s for s in states}),
        transition_by_id=m.frozen_map({t.id: t for t in transitions}),
        transitions_by_source=m.frozen_map({s.id: tuple(t for t in transitions if s.id in t.sources)
                                            for s in states}))


def _check_happy_path(doc: Doc, happy: tuple[str, ...], state_ids: list[str], finals: set[str], initial: str,
                      transitions: list[m.TransitionSpec]) -> None:
    """`happy_path` (drawn in the diagram) is a real way through: known states, from `initial` to a final
    state, each step a transition of the process."""
    for index, state in enumerate(happy):
        if state not in state_ids:
            doc.error(("happy_path", index), f"unknown state '{state}'{did_you_mean(state, state_ids)}")
            return
    if not happy:
        return
    if happy[0] != initial:
        doc.error(("happy_path", 0), f"the happy path starts at the initial state '{initial}', not '{happy[0]}'")
    if happy[-1] not in finals:
        doc.error(("happy_path", len(happy) - 1), f"the happy path ends in a final state; '{happy[-1]}' is not final")
    for index, (source, target) in enumerate(pairwise(happy), start=1):
        if not any(source in t.sources and t.target == target for t in transitions):
            doc.error(("happy_path", index), f"no transition goes from '{source}' to '{target}'")


def _states(doc: Doc, comp: Compilation, form: m.FormSpec | None, scope: Scope) -> list[m.StateSpec]:
    states: list[m.StateSpec] = []
    first: dict[str, int] = {}
    for index, raw in enumerate(doc.data["states"]):
        path = ("states", index)
        if raw["id"] in first:
            doc.error((*path, "id"), f"duplicate state id '{raw['id']}' (first at line "
                                     f"{doc.pos(('states', first[raw['id']], 'id')).line})")
            continue
        first[raw["id"]] = index
        flags = {}
        for field_id, flag in raw.get("fields", {}).items():
            if form is not None and comp.field_ref(doc, (*path, "fields", field_id), form, field_id, key=True):
                flags[field_id] = m.FieldFlags(**flag)
                locked = [word for word in ("hidden", "readonly") if flag.get(word)]
                if flag.get("required") and locked:
                    said = "hidden" if locked[0] == "hidden" else "read-only"
                    doc.error((*path, "fields", field_id, locked[0]),
                              f"'{field_id}' is required in state '{raw['id']}' and {said} there: nobody could "
                              f"fill it in, so no ticket could enter the state (drop one of the two)", key=True)
        states.append(m.StateSpec(
            id=raw["id"], label=comp.text(doc, (*path, "label"), raw["id"].replace("_", " ").capitalize()),
            description=comp.text(doc, (*path, "description")), final=raw.get("final", False),
            fields=m.frozen_map(flags),
            on_enter=comp.actions(doc, (*path, "on_enter"), form, scope) if "on_enter" in raw else (),
            on_exit=comp.actions(doc, (*path, "on_exit"), form, scope) if "on_exit" in raw else ()))
    return states


def _transitions(doc: Doc, comp: Compilation, form: m.FormSpec | None, scope: Scope, state_ids: list[str],
                 finals: set[str], business_calendar: bool) -> list[m.TransitionSpec]:
    transitions: list[m.TransitionSpec] = []
    first: dict[str, int] = {}
    for index, raw in enumerate(doc.data.get("transitions", [])):
        path = ("transitions", index)
        if raw["id"] in first:
            doc.error((*path, "id"), f"duplicate transition id '{raw['id']}' (first at line "
                                     f"{doc.pos(('transitions', first[raw['id']], 'id')).line})")
            continue
        first[raw["id"]] = index
        sources = _sources(doc, comp, path, raw["from"], state_ids, finals)
        target = raw["to"]
        if target not in state_ids:
            doc.error((*path, "to"), f"unknown state '{target}'{did_you_mean(target, state_ids)}"
                                     f"{comp.removal_note(target)}")
        roles = raw.get("roles")
        for i, role in enumerate(roles or []):
            if role not in comp.roles:
                doc.error((*path, "roles", i), f"unknown role '{role}'{did_you_mean(role, comp.roles)} "
                                               f"(roles come from teams' roles and admin, requester, assignee, team)")
        if form is not None and "fields" in raw:
            check_field_list(doc, (*path, "fields"), form, raw["fields"])
            if roles == ["requester"]:
                for i, field_id in enumerate(raw["fields"]):
                    spec = form.by_id.get(field_id)
                    if spec is not None and spec.for_agents:
                        doc.warning((*path, "fields", i), f"'{field_id}' has `audience: {spec.audience}`: only "
                                    "requesters fire this transition and their forms never show it")
        after = comp.duration(doc, (*path, "after"), business_calendar) if "after" in raw else None
        transitions.append(m.TransitionSpec(
            id=raw["id"], label=comp.text(doc, (*path, "label"), raw["id"].replace("_", " ").capitalize()),
            sources=sources, target=target, description=comp.text(doc, (*path, "description")),
            roles=tuple(roles) if roles is not None else None,
            guard=comp.expression(doc, (*path, "when"), scope) if "when" in raw else None,
            fields=tuple(raw.get("fields", [])),
            actions=comp.actions(doc, (*path, "actions"), form, scope) if "actions" in raw else (),
            after=after))
    return transitions


def _with_required_fields(transitions: list[m.TransitionSpec],
                          states: list[m.StateSpec]) -> list[m.TransitionSpec]:
    """SPEC 4: a transition's form is its `fields:` plus every field its target state flags required, so a
    state can never require a field that no way into it offers."""
    required = {s.id: tuple(f for f, flag in s.fields.items() if flag.required) for s in states}
    return [dataclasses.replace(t, written_fields=t.fields,
                                fields=(*t.fields, *(f for f in required.get(t.target, ()) if f not in t.fields)))
            for t in transitions]


def _sources(doc: Doc, comp: Compilation, path: tuple[str | int, ...], raw: str | list[str],
             state_ids: list[str], finals: set[str]) -> tuple[str, ...]:
    if raw == "*":
        return tuple(s for s in state_ids if s not in finals)
    items = [raw] if isinstance(raw, str) else raw
    sources = []
    for i, state in enumerate(items):
        where = (*path, "from") if isinstance(raw, str) else (*path, "from", i)
        if state == "*":
            doc.error(where, "'*' stands alone: write from: \"*\" for every non-final state")
        elif state not in state_ids:
            doc.error(where, f"unknown state '{state}'{did_you_mean(state, state_ids)}"
                             f"{comp.removal_note(state)}")
        else:
            sources.append(state)
    return tuple(dict.fromkeys(sources))


def trigger_names(comp: Compilation, data: dict[str, Any], on: str) -> dict[str, NameInfo]:
    """The names a trigger on `on` may read beyond the ticket's (SPEC 4): `comment.public`, `comment.author`
    on comments; `clock` (and `threshold`, the percent crossed, on warnings) on SLA events."""
    if on == "comment":
        return {"comment.public": NameInfo(kind="boolean"), "comment.author": NameInfo(kind="text")}
    if on in ("sla_warning", "sla_breach"):
        clocks = tuple(clock["id"] for policy_id in policy_ids(data)
                       if (policy := comp.of_kind("sla_policy").get(policy_id)) is not None
                       for clock in policy.data["clocks"])
        names = {"clock": NameInfo(tuple(dict.fromkeys(clocks)) or None, "text")}
        if on == "sla_warning":
            names["threshold"] = NameInfo(kind="number")
        return names
    return {}


EVENT_NAMES = {"comment.public": ("comment",), "comment.author": ("comment",),
               "clock": ("sla_warning", "sla_breach"), "threshold": ("sla_warning",)}


def _event_names_only(doc: Doc, path: tuple[str | int, ...], expression: Any, on: str) -> None:
    """A name of another event (`comment.public` in a create trigger) would always be null: an error."""
    if expression is None:
        return
    for name in sorted(expression.names):
        events = EVENT_NAMES.get(name)
        if events is not None and on not in events:
            doc.error(path, f"'{name}' is only known to triggers on {' and '.join(events)}: "
                            f"this trigger runs on {on}")


def warn_percents(comp: Compilation, data: dict[str, Any]) -> list[float]:
    """Every `warn_at` percent of the process's SLA policies (50.0 for 50%)."""
    return sorted({float(text[:-1]) for policy_id in policy_ids(data)
                   if (policy := comp.of_kind("sla_policy").get(policy_id)) is not None
                   for clock in policy.data["clocks"] for text in clock.get("warn_at", [])})


def _triggers(doc: Doc, comp: Compilation, form: m.FormSpec | None, scope: Scope) -> tuple[m.TriggerSpec, ...]:
    """`triggers:` (SPEC 4): each `on:` one event, its `when:` and its actions' `when:` over the ticket and
    the names of that event (a name of another event is an error at the line)."""
    triggers: list[m.TriggerSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(doc.data.get("triggers", [])):
        path = ("triggers", index)
        ident = raw.get("id", "")
        if ident and ident in seen:
            doc.error((*path, "id"), f"duplicate trigger id '{ident}' (first at line "
                                     f"{doc.pos(('triggers', seen[ident], 'id')).line})")
            continue
        if ident:
            seen[ident] = index
        on = raw["on"]
        # compiled with the names of every event, so that one read on the wrong event says which it is for
        names = {name: info for event in m.TRIGGER_EVENTS
                 for name, info in trigger_names(comp, doc.data, event).items()}
        every = replace(scope, names={**scope.names, **names})
        when = comp.expression(doc, (*path, "when"), every) if "when" in raw else None
        _event_names_only(doc, (*path, "when"), when, on)
        actions = comp.actions(doc, (*path, "actions"), form, every)
        for i, action in enumerate(actions if len(actions) == len(raw["actions"]) else ()):
            _event_names_only(doc, (*path, "actions", i, "when"), action.when, on)
        if on == "sla_warning":
            allowed, clocks = warn_percents(comp, doc.data), "the thresholds of this process's clocks"
            comp.thresholds(doc, (*path, "when"), when, allowed, clocks)
            for i, action in enumerate(actions if len(actions) == len(raw["actions"]) else ()):
                comp.thresholds(doc, (*path, "actions", i, "when"), action.when, allowed, clocks)
        if on == "sla_warning" and not warn_percents(comp, doc.data):
            doc.warning((*path, "on"), "no clock of this process's SLA policies has warn_at: this trigger "
                                       "never runs")
        triggers.append(m.TriggerSpec(on, actions, when, ident, doc.where(path)))
    return tuple(triggers)


def _triage(doc: Doc, comp: Compilation, form: m.FormSpec | None) -> m.TriageSpec | None:
    """`triage:` (SPEC 16): its fields must be choice fields of the form, each once; `apply` only names them."""
    raw = doc.data.get("triage")
    if raw is None:
        return None
    fields: list[str] = []
    for i, field_id in enumerate(raw.get("fields", [])):
        path = ("triage", "fields", i)
        if field_id in fields:
            doc.error(path, f"field '{field_id}' is listed twice")
        elif form is not None and comp.field_ref(doc, path, form, field_id):
            spec = form.field(field_id)
            if spec.type != "choice":
                doc.error(path, f"field '{field_id}' is a {spec.type} field: triage suggests values of choice "
                                f"fields only")
            else:
                fields.append(field_id)
    if not fields and not raw.get("team", False):
        doc.error(("triage",), "nothing to suggest: name choice fields (fields: [category, ...]) or team: true")
    apply: dict[str, float] = {}
    for field_id, rule in raw.get("apply", {}).items():
        if field_id in fields:
            apply[field_id] = float(rule["above"])
        elif field_id not in raw.get("fields", []):  # a field already reported above is not reported again
            doc.error(("triage", "apply", field_id), f"'{field_id}' is not one of triage.fields "
                                                     f"({', '.join(fields) or 'none'}): only suggested fields are "
                                                     f"applied", key=True)
    minimum = float(raw.get("min_confidence", 0.5))
    for field_id, above in apply.items():
        if above < minimum:
            doc.warning(("triage", "apply", field_id, "above"),
                        f"{above} is below min_confidence {minimum}: the value is set where no suggestion is shown")
    return m.TriageSpec(tuple(fields), bool(raw.get("team", False)), minimum, m.frozen_map(apply))


def _sla_rules(doc: Doc, comp: Compilation, scope: Scope) -> tuple[m.SlaRule, ...]:
    sla = doc.data.get("sla")
    if sla is None:
        return ()
    if isinstance(sla, str):
        comp.check_ref(doc, ("sla",), "sla_policy", sla, "SLA policy")
        return (m.SlaRule(sla),)
    rules = []
    defaults = [i for i, rule in enumerate(sla) if rule.get("default")]
    if not defaults:
        doc.error(("sla",), "no default rule: end the list with {default: true, policy: ...}")
    for extra in defaults[1:]:
        doc.error(("sla", extra, "default"), "a second default rule: only one rule may be the default")
    if len(defaults) == 1 and defaults[0] != len(sla) - 1:
        doc.error(("sla", defaults[0], "default"), "the default rule must be the last rule")
    for i, rule in enumerate(sla):
        comp.check_ref(doc, ("sla", i, "policy"), "sla_policy", rule["policy"], "SLA policy")
        when = None
        if "when" in rule:
            if rule.get("default"):
                doc.error(("sla", i, "when"), "the default rule has no condition", key=True)
            when = comp.expression(doc, ("sla", i, "when"), scope)
        elif not rule.get("default"):
            doc.error(("sla", i), "a rule needs a condition (when) or default: true")
        rules.append(m.SlaRule(rule["policy"], when))
    return tuple(rules)


def _state_references_ok(data: dict[str, Any], state_ids: set[str]) -> bool:
    """Every transition names known states and has an id of its own (a guard or an action with a mistake
    still leaves the graph as written, so reachability is worth reporting alongside it)."""
    raw = data.get("transitions", [])
    if len({t["id"] for t in raw}) != len(raw):
        return False
    for t in raw:
        sources = [] if t["from"] == "*" else [t["from"]] if isinstance(t["from"], str) else t["from"]
        if t["to"] not in state_ids or any(s not in state_ids for s in sources):
            return False
    return True


def _check_reachability(doc: Doc, states: list[m.StateSpec], transitions: list[m.TransitionSpec],
                        initial: str) -> None:
    reached = {initial}
    frontier = [initial]
    while frontier:
        current = frontier.pop()
        for t in transitions:
            if current in t.sources and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    index = {raw["id"]: i for i, raw in enumerate(doc.data["states"])}
    for state in states:
        path = ("states", index[state.id], "id")
        if state.id not in reached:
            doc.error(path, f"state '{state.id}' is unreachable from the initial state '{initial}'")
        if not state.final and not any(state.id in t.sources for t in transitions):
            doc.error(path, f"state '{state.id}' has no way out: add a transition from it or mark it final: true")
