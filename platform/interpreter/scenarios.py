"""Scenarios: process tests (SPEC 4, run by `itsm test`); checked here for references and instants."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from . import model as m
from .context import Compilation, Doc, loose_process
from .durations import DurationError, parse_duration
from .errors import did_you_mean
from .schema import MAX_ORG_ID, ORG_ID_PATTERN

ACTIONS = ("create", "transition", "update", "comment", "watch", "unwatch")
NOTIFIED = ("notified", "not_notified")  # expect keys about the notifications a step queued


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
            doc.error(path, f"a step does at most one of {', '.join(ACTIONS)}; "
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
        for key in NOTIFIED:
            if key in raw.get("expect", {}):
                check_notified(doc, comp, (*path, "expect", key), raw["expect"][key])
        if "expect" in raw and "expect_error" in raw:
            doc.error((*path, "expect_error"), "a step expects a result or an error, not both", key=True)
        steps.append(m.ScenarioStep(
            index=i + 1, where=doc.where(path), at=at, advance=advance, action=actions[0] if actions else None,
            data=m.frozen_map({k: v for k, v in raw.items() if k not in ("expect", "expect_error")}),
            expect=m.frozen_map(raw.get("expect", {})), expect_error=raw.get("expect_error")))
    orgs = data.get("orgs", {})
    check_orgs(doc, orgs)
    for name, attributes in data.get("users", {}).items():
        org = attributes.get("org")
        if org is not None and org not in orgs and not re.fullmatch(ORG_ID_PATTERN, org):
            doc.error(("users", name, "org"), f"'{org}' is not an organization id: lower-case letters a-z, digits "
                                              f"and . _ - (declare it under orgs, or write it so)")
    return m.ScenarioSpec(doc.id, tuple(steps), data.get("description", ""), start,
                          m.frozen_map({k: m.frozen_map(v) for k, v in data.get("users", {}).items()}),
                          m.frozen_map({k: m.frozen_map(v) for k, v in orgs.items()}))


def check_notified(doc: Doc, comp: Compilation, path: tuple[str | int, ...], items: Any) -> None:
    """`notified:` / `not_notified:` (SPEC 4): a list of notification ids, each maybe {id: ID, to: [NAME, ...]}."""
    if not isinstance(items, list):
        doc.error(path, "a list of notification ids, e.g. [created_notice] or [{id: created_notice, to: [carol]}]")
        return
    for i, item in enumerate(items):
        ident = item.get("id") if isinstance(item, dict) else item
        if isinstance(item, dict):
            extra = sorted(set(item) - {"id", "to"})
            if extra:
                doc.error((*path, i, extra[0]), f"unknown key '{extra[0]}' (a notification is {{id: ID, to: "
                                                f"[NAME, ...]}})", key=True)
            to = item.get("to", [])
            if not isinstance(to, list) or not all(isinstance(name, str) for name in to):
                doc.error((*path, i, "to") if "to" in item else (*path, i),
                          "to: a list of user names, team:ID or addresses")
        if not isinstance(ident, str):
            doc.error((*path, i), "a notification id, or {id: ID, to: [NAME, ...]}")
            continue
        comp.check_ref(doc, (*path, i, "id") if isinstance(item, dict) else (*path, i), "notification", ident)


def check_orgs(doc: Doc, orgs: dict[str, dict[str, str]]) -> None:
    """Parents among the scenario's organizations, no organization its own ancestor (SPEC 14)."""
    for org_id, attributes in orgs.items():
        if len(org_id) > MAX_ORG_ID:
            doc.error(("orgs", org_id), f"organization id '{org_id[:40]}...' is longer than {MAX_ORG_ID} "
                                        f"characters", key=True)
        parent = attributes.get("parent")
        if parent is not None and parent not in orgs:
            doc.error(("orgs", org_id, "parent"), f"unknown organization '{parent}'{did_you_mean(parent, orgs)}: "
                                                  f"a parent is one of the scenario's orgs")
            continue
        seen = [org_id]
        while parent is not None and parent in orgs and parent not in seen:
            seen.append(parent)
            parent = orgs[parent].get("parent")
        if parent == org_id:
            doc.error(("orgs", org_id, "parent"),
                      f"organization '{org_id}' would be its own ancestor: {' -> '.join([*seen, org_id])}")
