"""Durations (SPEC 6): Ns, Nm, Nh and combinations; Nbd; Nd and Nw only where the clock counts on 24x7."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm.interpreter import load_pack
from itsm.interpreter.durations import DurationError, parse_duration
from itsm.interpreter.errors import PackError

PACK = """kind: pack
id: durations
format: 1
timezone: Europe/Berlin
---
kind: form
id: ticket
fields: [{id: impact, type: choice, choices: [high, medium, low]}]
---
kind: process
id: ticket
form: ticket
number: T
initial: new
priority: {matrix: prio}
sla: sla
states: [{id: new}, {id: done, final: true}]
transitions: [{id: finish, from: new, to: done}]
---
kind: priority_matrix
id: prio
inputs: [impact]
levels: [P1, P2, P3]
matrix: {high: P1, medium: P2, low: P3}
default: P3
---
kind: calendar
id: office
hours: {mon: ["08:00-12:00", "13:00-17:00"]}
---
kind: sla_policy
id: sla
calendar: office
clocks:
  - id: resolution
    stop: "state == 'done'"
"""


@pytest.mark.parametrize(("text", "seconds"), [("45s", 45), ("15m", 900), ("2h", 7200), ("1h30m", 5400),
                                               ("2h15m30s", 8130), ("90m", 5400), ("1d", 86400), ("2w", 1209600),
                                               ("1w2d3h", 788400)])
def test_seconds_minutes_hours_and_combinations(text: str, seconds: int) -> None:
    assert parse_duration(text).seconds == seconds and parse_duration(text).business_days == 0


def test_business_days() -> None:
    assert parse_duration("3bd").business_days == 3 and parse_duration("3bd").seconds == 0


@pytest.mark.parametrize("text", ["1.5h", "30m1h", "1h1h", "1bd2h", "h", "", "1 h", "2x"])
def test_malformed_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


def load(tmp_path: Path, clock: str) -> list[str]:
    (tmp_path / "pack.yaml").write_text(PACK + clock)
    try:
        load_pack(tmp_path)
    except PackError as exc:
        return [p.message for p in exc.errors]
    return []


def test_days_on_a_business_calendar_suggest_bd_or_h(tmp_path: Path) -> None:
    errors = load(tmp_path, "    targets: {P1: 2h, P2: 1w, P3: 1d12h}\n")
    assert errors == ["'1w' counts 24-hour days, which only the 24x7 calendar has: "
                      "use 7bd for working days or 168h of working time",
                      "'1d12h' counts 24-hour days, which only the 24x7 calendar has: "
                      "use bd for whole working days or 36h of working time"]


def test_days_are_allowed_where_the_priority_counts_on_24x7(tmp_path: Path) -> None:
    assert load(tmp_path, "    targets: {P1: 1d, P2: 2bd, P3: 1w}\n    calendars: {P1: 24x7, P3: 24x7}\n") == []
    assert load(tmp_path, "    targets: {P1: 4h, default: 2w}\n    calendars: {default: 24x7}\n") == []
    errors = load(tmp_path, "    targets: {P1: 4h, default: 2d}\n    calendars: {default: 24x7, P2: office}\n")
    assert len(errors) == 1 and errors[0].startswith("'2d' counts 24-hour days")  # P2 takes 2d on office


def test_a_default_calendar_applies_to_levels_without_their_own(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(PACK + "    targets: {default: 1d}\n"
                                               "    calendars: {default: 24x7, P2: office}\n")
    with pytest.raises(PackError):
        load_pack(tmp_path)  # P2 would take 1d on office hours
    (tmp_path / "pack.yaml").write_text(PACK + "    targets: {default: 1d, P2: 8h}\n"
                                               "    calendars: {default: 24x7, P2: office}\n")
    policy = load_pack(tmp_path).sla_policies["sla"]
    clock = policy.clocks[0]
    assert [policy.calendar_for(clock, level) for level in ("P1", "P2", "P3", None)] == ["24x7", "office", "24x7",
                                                                                         "24x7"]
