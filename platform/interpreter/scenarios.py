"""Scenarios: process tests (SPEC 4, run by `itsm test`); checked here for references and instants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import model as m
from .context import Compilation, Doc, loose_process
from .durations import DurationError, parse_duration
from .errors import did_you_mean

ACTIONS = ("create", "transition", "update", "comment")


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 instant with an offset (a local time without one is ambiguous)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def compile_scenario(doc: Doc, comp: Compilation, processes: dict[str, m.ProcessSpec]) -> m.ScenarioSpec:
    data = doc.data
    start = None
    if "start" in data:
        start = parse_instant(data["start"])
        if start is None:
            doc.error(("start",), f"invalid instant '{data['start']}': use ISO 8601 with an offset, "
                                  f"such as 2026-03-02T10:00:00+01:00")
    transitions = sorted({t.id for p in processes.values() for t in p.transitions}
                         | {t for raw in comp.broken.get("process", {}).values()
                            for t in loose_process(raw)["transition_ids"]})
    steps = []
    created = 0
    for i, raw in enumerate(data["steps"]):
        path = ("steps", i)
        actions = [a for a in ACTIONS if a in raw and not (a == "comment" and "transition" in raw)]
        if len(actions) > 1:
            doc.error(path, f"a step does at most one of create, transition, update, comment; "
                            f"this one has {', '.join(actions)}")
        if "at" in raw and "advance" in raw:
            doc.error((*path, "advance"), "a step moves the clock with at or advance, not both", key=True)
        at = None
        if "at" in raw:
            at = parse_instant(raw["at"])
            if at is None:
                doc.error((*path, "at"), f"invalid instant '{raw['at']}': use ISO 8601 with an offset")
        advance = None
        if "advance" in raw:
            try:
                advance = parse_duration(raw["advance"])
                if advance.business_days:
                    raise DurationError(f"advance moves wall-clock time: '{raw['advance']}' is not allowed "
                                        f"(use d or h)")
            except DurationError as exc:
                doc.error((*path, "advance"), str(exc))
        if "create" in raw:
            created += 1
            comp.check_ref(doc, (*path, "create", "process"), "process", raw["create"]["process"])
        elif created == 0 and actions:
            doc.error(path, "no ticket yet: the first action of a scenario creates one")
        if "transition" in raw and raw["transition"] not in transitions:
            doc.error((*path, "transition"), f"unknown transition '{raw['transition']}'"
                                             f"{did_you_mean(raw['transition'], transitions)}"
                                             f"{comp.removal_note(raw['transition'])}")
        if "ticket" in raw and raw["ticket"] > created:
            doc.error((*path, "ticket"), f"ticket {raw['ticket']} is not created yet ({created} so far)")
        if "expect" in raw and "expect_error" in raw:
            doc.error((*path, "expect_error"), "a step expects a result or an error, not both", key=True)
        steps.append(m.ScenarioStep(
            index=i + 1, where=doc.where(path), at=at, advance=advance, action=actions[0] if actions else None,
            data=m.frozen_map({k: v for k, v in raw.items() if k not in ("expect", "expect_error")}),
            expect=m.frozen_map(raw.get("expect", {})), expect_error=raw.get("expect_error")))
    return m.ScenarioSpec(doc.id, tuple(steps), data.get("description", ""), start,
                          m.frozen_map({k: m.frozen_map(v) for k, v in data.get("users", {}).items()}),
                          _organizations(doc))


def _organizations(doc: Doc) -> tuple[tuple[str, str, str | None], ...]:
    """The scenario's organizations, parents before children; a parent or a user's organization that is not
    declared, and cycles, are errors (when the scenario declares organizations at all)."""
    declared: dict[str, dict[str, Any]] = doc.data.get("organizations") or {}
    if not declared:
        return ()
    for org_id, raw in declared.items():
        parent = raw.get("parent")
        if parent is not None and parent not in declared:
            doc.error(("organizations", org_id, "parent"), f"unknown organization '{parent}'"
                                                           f"{did_you_mean(parent, declared)}")
    for name, raw in (doc.data.get("users") or {}).items():
        org = raw.get("org")
        if org is not None and org not in declared:
            doc.error(("users", name, "org"), f"unknown organization '{org}'{did_you_mean(org, declared)} "
                                              f"(declare it under organizations)")
    ordered: list[tuple[str, str, str | None]] = []
    placed: set[str] = set()
    for org_id in declared:
        chain: list[str] = []
        current: str | None = org_id
        while current is not None and current in declared and current not in placed:
            if current in chain:
                doc.error(("organizations", org_id, "parent"),
                          f"organization cycle: {' -> '.join([*chain[chain.index(current):], current])}")
                return ()
            chain.append(current)
            current = declared[current].get("parent")
        for item in reversed(chain):
            placed.add(item)
            ordered.append((item, declared[item].get("name") or item, declared[item].get("parent")))
    return tuple(ordered)
