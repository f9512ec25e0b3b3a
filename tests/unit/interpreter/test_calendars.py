"""Calendars must have working time (issue 13): refused at load, at the calendar's line, never at runtime."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from itsm.interpreter import check_pack, load_pack
from itsm.interpreter.model import MAX_DAYS_WITHOUT_WORK
from itsm.sla import working_calendar

VALID = Path(__file__).resolve().parents[2] / "packs" / "valid"
PACK = "kind: pack\nid: demo\nformat: 1\ntimezone: Europe/Berlin\n"


def errors(root: Path, files: dict[str, str]) -> list[str]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    spec, problems = check_pack(root)
    assert (spec is None) == any(p.is_error for p in problems)
    return [str(p) for p in problems if p.is_error]


@pytest.mark.parametrize("hours", ["{}", "{sat: [], sun: []}", "\n  mon: []\n  tue: []"])
def test_a_calendar_without_weekly_hours_is_refused_at_its_hours_key(tmp_path: Path, hours: str) -> None:
    calendar = f"kind: calendar\nid: office\nhours: {hours}\n"
    found = errors(tmp_path, {"pack.yaml": PACK, "calendars/office.yaml": calendar})
    assert len(found) == 1
    assert found[0].startswith("calendars/office.yaml:3:1: error: calendar/office: hours: this calendar has no "
                               "working time: no day of the week has working hours; give at least one")


def test_exceptional_working_days_alone_are_not_enough(tmp_path: Path) -> None:
    found = errors(tmp_path, {"pack.yaml": PACK + "---\nkind: calendar\nid: office\nhours: {}\n"
                              "workdays: [{date: 2026-09-27, hours: ['09:00-12:00']}]\n"})
    assert [line.split(": ")[3] for line in found] == ["hours"]


def test_wrong_intervals_are_one_mistake_not_two(tmp_path: Path) -> None:
    found = errors(tmp_path, {"pack.yaml": PACK + "---\nkind: calendar\nid: office\nhours: {mon: ['17:00-09:00']}\n"})
    assert len(found) == 1 and "ends before it starts" in found[0]


def test_an_overlay_that_removes_every_hour_is_named(tmp_path: Path) -> None:
    (tmp_path / "base").symlink_to(VALID / "overlay_base")
    days = "".join(f"  {day}: []\n" for day in ("mon", "tue", "wed", "thu", "fri"))
    found = errors(tmp_path / "client", {"pack.yaml": "kind: pack\nid: c\nformat: 1\nextends: ../base\n---\n"
                                         f"kind: calendar\nid: office\nhours:\n{days}"})
    assert found == ["../base/pack.yaml:50:1: error: calendar/office: hours: this calendar has no working time: "
                     "no day of the week has working hours (the overlay at pack.yaml:13:3 left none); give at least "
                     "one, such as mon: [\"09:00-17:00\"], or use 24x7"]


def test_holidays_may_close_the_office_for_up_to_three_years(tmp_path: Path) -> None:
    def pack(last: str) -> str:
        return (PACK + "---\nkind: calendar\nid: office\nhours: {mon: ['09:00-17:00']}\nholidays:\n"
                "  - {from: 2026-01-06, to: 2026-12-31}\n  - {from: 2027-01-01, to: 2027-12-31}\n"
                f"  - {{from: 2028-01-01, to: 2028-12-31}}\n  - {{from: 2029-01-01, to: {last}}}\n")

    assert errors(tmp_path / "ok", {"pack.yaml": pack("2029-01-01")}) == []  # 2026-01-06 .. 2029-01-07: 1098 days
    found = errors(tmp_path / "long", {"pack.yaml": pack("2029-01-08")})
    assert found == [f"pack.yaml:10:5: error: calendar/office: holidays[0]: this calendar has no working time from "
                     f"2026-01-06 to 2029-01-14: more than {MAX_DAYS_WITHOUT_WORK} days in a row without working "
                     f"hours, so no SLA deadline in them could be reached"]


def test_the_longest_accepted_closure_still_has_deadlines(tmp_path: Path) -> None:
    """The load check and the runtime guard agree: what loads gets a deadline."""
    (tmp_path / "pack.yaml").write_text(
        PACK + "---\nkind: calendar\nid: office\nhours: {mon: ['09:00-17:00']}\nholidays:\n"
        "  - {from: 2026-01-06, to: 2026-12-31}\n  - {from: 2027-01-01, to: 2027-12-31}\n"
        "  - {from: 2028-01-01, to: 2028-12-31}\n  - {from: 2029-01-01, to: 2029-01-01}\n", encoding="utf-8")
    calendar = working_calendar(load_pack(tmp_path).calendars["office"])
    start = datetime(2026, 1, 6, 8, tzinfo=UTC)
    assert calendar.add(start, 3600) == datetime(2029, 1, 8, 9, tzinfo=UTC)  # Monday 2029-01-08, 10:00 Berlin
