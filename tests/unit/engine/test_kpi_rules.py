"""What a KPI counts, decided by the engine without a database: a clock's outcome from the store's counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from itsm.engine.errors import BadRequest
from itsm.engine.reports.kpi_terms import clock_outcomes
from itsm.engine.reports.kpis import parse_instant
from itsm.store.reports import ClockCount


def count(phase: str, status: str, *, breached: bool = False, clocks: int = 5, overdue: int = 0) -> ClockCount:
    return ClockCount("resolution", "P3", phase, status, breached, clocks, overdue)


@pytest.mark.parametrize(("line", "outcomes"), [
    (count("stopped", "met"), {"met": 5}),
    (count("stopped", "breached"), {"breached": 5}),  # stopped late: breached, not met
    (count("stopped", "met", breached=True), {"breached": 5}),
    (count("running", "running"), {"breached": 0, "running": 5}),
    (count("running", "running", overdue=2), {"breached": 2, "running": 3}),  # before the worker noticed
    (count("paused", "paused", overdue=2), {"running": 5}),  # a paused clock's deadline does not pass
    (count("running", "breached", overdue=1), {"breached": 5}),
])
def test_a_clock_is_breached_met_or_running(line: ClockCount, outcomes: dict[str, int]) -> None:
    assert clock_outcomes(line) == outcomes
    assert sum(outcomes.values()) == line.clocks


def test_period_bounds_are_whole_utc_days_or_instants() -> None:
    assert parse_instant("from", "2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_instant("to", "2026-03-01", end=True) == datetime(2026, 3, 2, tzinfo=UTC)
    assert parse_instant("from", "2026-03-01T09:30:00+01:00") == datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    with pytest.raises(BadRequest, match="from must be an ISO date"):
        parse_instant("from", "yesterday")
