"""SLA clock steps against a per-second brute-force reference written from SPEC 6 alone (hypothesis).

The reference knows nothing of `itsm.sla`: it marks each real second that lies in a working window (local
wall times turned into instants by its own search over the zone's offsets: a time in a gap takes the offset
in force before it, a repeated time its first occurrence) and replays a clock second by second. Elapsed is
the number of working seconds the clock ran; the deadline is the end of the second in which elapsed reaches
the target (end-inclusive), the first working instant at or after the start for a target of 0. Steps are
random sequences of condition sets and priority (target) changes, on 24x7 and on an office calendar whose
Sunday window spans Berlin's spring-forward night.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm.interpreter.model import Calendar, Duration, Interval
from itsm.sla import ClockState, Conditions, WorkingCalendar, evaluate_clock

BERLIN = ZoneInfo("Europe/Berlin")
ORIGIN = int(datetime(2026, 3, 26, tzinfo=UTC).timestamp())  # Thursday; Sunday 29 March is spring-forward
HORIZON = 21 * 86400  # the reference's world: 2 days of offset, 12 steps of up to a day, then a deadline
HOURS = {d: (Interval(480, 720), Interval(780, 1020)) for d in range(5)} | {6: (Interval(60, 300),)}
OFFICE_SPEC = Calendar("office", "Office", "Europe/Berlin", MappingProxyType(HOURS))
ALWAYS_SPEC = Calendar("24x7", "24x7", "Europe/Berlin", MappingProxyType({}), always=True)
WARN_AT = (0.5, 0.75)


def instant(day: date, minute: int, zone: ZoneInfo) -> int:
    """SPEC 6 local time → POSIX second, found by trying the offsets the zone uses around that day."""
    wall = datetime(day.year, day.month, day.day) + timedelta(minutes=minute)
    offsets = {(wall + timedelta(hours=h)).replace(tzinfo=UTC).astimezone(zone).utcoffset() for h in range(-36, 37, 6)}
    found = sorted(int((wall - off).replace(tzinfo=UTC).timestamp()) for off in offsets if off is not None
                   and (wall - off).replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None) == wall)
    if found:
        return found[0]  # a repeated time: its first occurrence
    before = (wall - timedelta(days=1)).replace(tzinfo=UTC).astimezone(zone).utcoffset()
    assert before is not None
    return int((wall - before).replace(tzinfo=UTC).timestamp())  # in a gap: the offset before it


def working_seconds(spec: Calendar) -> bytearray:
    marks = bytearray(HORIZON)
    if spec.always:
        return bytearray(b"\x01" * HORIZON)
    first = datetime.fromtimestamp(ORIGIN, UTC).date() - timedelta(days=1)
    for n in range(HORIZON // 86400 + 2):
        day = first + timedelta(days=n)
        for window in spec.hours.get(day.weekday(), ()):
            a = max(instant(day, window.start, BERLIN) - ORIGIN, 0)
            b = min(instant(day, window.end, BERLIN) - ORIGIN, HORIZON)
            if b > a:
                marks[a:b] = b"\x01" * (b - a)
    return marks


WORKING = {"24x7": working_seconds(ALWAYS_SPEC), "office": working_seconds(OFFICE_SPEC)}
CALENDARS = {"24x7": WorkingCalendar(ALWAYS_SPEC), "office": WorkingCalendar(OFFICE_SPEC)}


@dataclass
class RefClock:
    working: bytearray
    phase: str = "not_started"
    counted: list[int] = field(default_factory=list)  # the working seconds the clock ran, in order
    started: int | None = None
    stopped: int | None = None
    last: int = 0
    outcome_breached: bool = False
    warned: int = 0
    breach_fired: bool = False

    def advance(self, now: int) -> None:
        if self.phase == "running":
            self.counted.extend(s for s in range(self.last, now) if self.working[s])
        self.last = now

    def deadline(self, target: int, now: int) -> int:
        """The first instant elapsed reaches `target` if the clock keeps running from `now`."""
        if target == 0:
            assert self.started is not None
            return next(s for s in range(self.started, HORIZON) if self.working[s])
        if len(self.counted) >= target:
            return self.counted[target - 1] + 1
        need = target - len(self.counted)
        for s in range(now, HORIZON):
            if self.working[s]:
                need -= 1
                if need == 0:
                    return s + 1
        raise AssertionError("beyond the reference's horizon")

    def step(self, now: int, c: Conditions, target: int) -> tuple[list[float], bool]:
        self.advance(now)
        warnings: list[float] = []
        if c.cancel:
            if self.phase != "cancelled":
                self.phase = "cancelled"
            return warnings, False
        if c.stop:
            if self.phase in ("running", "paused"):
                elapsed = len(self.counted)
                late = now > self.deadline(target, now) if self.phase == "running" else elapsed > target
                self.phase, self.stopped, self.outcome_breached = "stopped", now, late
                warnings = self.crossed(target)
                breach = late and not self.breach_fired
                self.breach_fired |= late
                return warnings, breach
            return warnings, False
        if c.reset and self.phase != "not_started":
            self.__init__(self.working, last=now)  # type: ignore[misc]
        if self.phase == "stopped":
            self.phase, self.stopped = "running", None
        if self.phase == "not_started" and c.start:
            self.phase, self.started, self.counted = "running", now, []
        if self.phase == "running" and c.pause:
            self.phase = "paused"
        elif self.phase == "paused" and not c.pause:
            self.phase = "running"
        if self.phase not in ("running", "paused"):
            return warnings, False
        warnings = self.crossed(target)
        late = now > self.deadline(target, now) if self.phase == "running" else len(self.counted) > target
        self.outcome_breached |= late
        breach = late and not self.breach_fired
        self.breach_fired |= late
        return warnings, breach

    def crossed(self, target: int) -> list[float]:
        fired = [p for p in WARN_AT[self.warned:] if len(self.counted) >= math.ceil(round(p * target, 9))]
        self.warned += len(fired)
        return fired

    def status(self) -> str:
        if self.phase in ("not_started", "cancelled"):
            return self.phase
        if self.phase == "stopped":
            return "breached" if self.outcome_breached else "met"
        return "breached" if self.outcome_breached else self.phase


CONDITIONS = st.builds(Conditions, start=st.sampled_from([True, True, False]),
                       stop=st.sampled_from([False, False, False, True]), pause=st.sampled_from([False, False, True]),
                       reset=st.sampled_from([False] * 9 + [True]), cancel=st.sampled_from([False] * 12 + [True]))
TARGETS = st.sampled_from([0, 1, 59, 600, 3600, 4 * 3600, 4 * 3600 + 1, 9 * 3600, 20 * 3600])
GAPS = st.one_of(st.integers(0, 3), st.integers(0, 3600), st.integers(0, 12 * 3600),
                 st.sampled_from([4 * 3600, 8 * 3600, 9 * 3600, 24 * 3600]))
STEPS = st.lists(st.tuples(GAPS, CONDITIONS, TARGETS), min_size=1, max_size=12)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar=st.sampled_from(["24x7", "office"]), offset=st.integers(0, 2 * 86400), steps=STEPS)
def test_clock_steps_match_the_reference(calendar: str, offset: int, steps: list[tuple[int, Conditions, int]]) -> None:
    ref = RefClock(WORKING[calendar], last=offset)
    state, now = ClockState(), offset
    for gap, conditions, target in steps:
        now += gap
        when = datetime.fromtimestamp(ORIGIN + now, UTC)
        update = evaluate_clock(state, conditions, when, Duration(f"{target}s", seconds=target), CALENDARS[calendar],
                                WARN_AT)
        warnings, breach = ref.step(now, conditions, target)
        state = update.state
        where = f"at +{now}s, {conditions}, target {target}"
        assert state.status == ref.status(), where
        assert state.elapsed == len(ref.counted), where
        assert update.warnings == warnings, where
        assert update.breach == breach, where
        if ref.phase == "running":
            assert state.deadline == datetime.fromtimestamp(ORIGIN + ref.deadline(target, now), UTC), where
        else:
            assert state.deadline is None, where
        assert state.started_at == (None if ref.started is None or ref.phase == "not_started"
                                    else datetime.fromtimestamp(ORIGIN + ref.started, UTC)), where
        if ref.phase == "stopped":
            assert state.stopped_at == datetime.fromtimestamp(ORIGIN + (ref.stopped or 0), UTC), where
