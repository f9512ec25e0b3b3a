"""Working time on a business calendar: deadlines, elapsed time and business days, exact across DST.

A day's working intervals are turned into real instants once (cached per local date): a local opening
time in a spring-forward gap is read with the offset in force before the gap (02:30 -> 03:30), one that
occurs twice is its first occurrence (zoneinfo's fold=0 does both), and "24:00" is the next midnight. A
date the zone skipped altogether has no working time.
Everything else is arithmetic on POSIX seconds. Its answers are remembered per calendar (`MEMORY` of
each kind): a ticket's clocks ask the same ones again when its breach actions change the ticket (the clocks
settle once more) and every warning threshold adds from the same start.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from itsm.interpreter.model import MAX_DAYS_WITHOUT_WORK, Calendar, Duration, per_spec

# this many days in a row without working time: an error, not an endless loop (packs are refused at load
# for it, so only a calendar built by hand gets here)
MAX_EMPTY_DAYS = MAX_DAYS_WITHOUT_WORK
Span = tuple[float, float]  # [start, end) in POSIX seconds
K = TypeVar("K")
MEMORY = 20_000  # answers remembered per calendar and kind (emptied when full)


class NoWorkingTime(ValueError):
    """Too many days in a row without working time to find an instant (packs with such calendars are refused
    at load; the engine's boundary turns this into a typed error all the same)."""


class WorkingCalendar:
    """Arithmetic over one compiled calendar; build it with `working_calendar()` to share the day cache."""

    def __init__(self, spec: Calendar):
        self.spec = spec
        self.zone = ZoneInfo(spec.timezone)
        self._days: dict[date, tuple[Span, ...]] = {}
        self._totals: dict[date, float] = {}
        self._targets: dict[tuple[float, int], float] = {}  # (start, N) -> working seconds of Nbd from start
        self._sums: dict[tuple[float, float], float] = {}  # (start, seconds) -> add_seconds
        self._betweens: dict[tuple[float, float], float] = {}  # (a, b) -> seconds_between

    # -- days ---------------------------------------------------------------------------------------

    def spans(self, day: date) -> tuple[Span, ...]:
        spans = self._days.get(day)
        if spans is None:
            raw = sorted((self._instant(day, i.start), self._instant(day, i.end))
                         for i in self.spec.intervals_on(day))
            if raw and not self.spec.always and self._instant(day, 1440) <= self._instant(day, 0):
                raw = []  # a date the zone skipped (Pacific/Apia 2011-12-30): it has no working time
            merged: list[Span] = []
            for start, end in raw:  # around a DST change two windows can overlap in real time: count once
                if end <= start:
                    continue
                if merged and start <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            spans = tuple(merged)
            if len(self._days) > 20_000:
                self._days.clear()
                self._totals.clear()
            self._days[day] = spans
            self._totals[day] = sum(e - s for s, e in spans)
        return spans

    def total(self, day: date) -> float:
        if day not in self._totals:
            self.spans(day)
        return self._totals[day]

    def _instant(self, day: date, minute: int) -> float:
        if minute >= 1440:
            day, minute = day + timedelta(days=1), minute - 1440
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.timestamp()

    def local_date(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self.zone).date()

    # -- arithmetic on POSIX seconds ----------------------------------------------------------------

    def add_seconds(self, ts: float, seconds: float) -> float:
        """The instant at which `seconds` of working time starting at `ts` are used up (end-inclusive).

        0 gives the first working instant at or after `ts`.
        """
        if self.spec.always:
            return ts + seconds
        found = self._sums.get((ts, seconds))
        if found is None:
            found = _remember(self._sums, (ts, seconds), self._add_seconds(ts, seconds))
        return found

    def _add_seconds(self, ts: float, seconds: float) -> float:
        remaining = seconds
        day = self.local_date(ts)
        guard = _Guard(self.spec.id, ts, "after")
        while True:
            spans = self.spans(day)
            guard.day(bool(spans))
            if spans and spans[0][0] >= ts and remaining > self._totals[day]:
                remaining -= self._totals[day]  # the whole day fits: skip it in one step
            else:
                for start, end in spans:
                    if end <= ts:
                        continue
                    begin = start if start > ts else ts
                    available = end - begin
                    if remaining < available or (remaining == available and remaining > 0):
                        return begin + remaining
                    remaining -= available
            day += timedelta(days=1)

    def subtract_seconds(self, ts: float, seconds: float) -> float:
        """The instant `seconds` of working time before `ts`; 0 gives the last working instant at or
        before `ts` (a closing instant counts: end-inclusive, as for deadlines)."""
        if self.spec.always:
            return ts - seconds
        remaining = seconds
        day = self.local_date(ts)
        guard = _Guard(self.spec.id, ts, "before")
        while True:
            spans = self.spans(day)
            guard.day(bool(spans))
            for start, end in reversed(spans):
                if start >= ts:
                    continue
                finish = end if end < ts else ts
                available = finish - start
                # end-inclusive: using up exactly this interval lands on the previous interval's close
                if remaining < available or (remaining == available and remaining == 0):
                    return finish - remaining
                remaining -= available
            day -= timedelta(days=1)

    def first_working(self, ts: float) -> float:
        return self.add_seconds(ts, 0)

    def seconds_between(self, a: float, b: float) -> float:
        """Working seconds in [a, b); 0 when b <= a."""
        if b <= a:
            return 0.0
        if self.spec.always:
            return b - a
        found = self._betweens.get((a, b))
        if found is None:
            found = _remember(self._betweens, (a, b), self._seconds_between(a, b))
        return found

    def _seconds_between(self, a: float, b: float) -> float:
        total = 0.0
        day, last = self.local_date(a), self.local_date(b)
        while day <= last:
            spans = self.spans(day)
            if spans and spans[0][0] >= a and spans[-1][1] <= b:
                total += self._totals[day]
            else:
                for start, end in spans:
                    lo, hi = max(start, a), min(end, b)
                    if hi > lo:
                        total += hi - lo
            day += timedelta(days=1)
        return total

    def add_business_days(self, ts: float, days: int) -> float:
        """SPEC 6 `Nbd`: the same working-time offset into the Nth following working day, or its closing
        instant when that day is shorter. The offset is counted from the first working instant at or after
        `ts` (a clock started outside working hours begins counting at the next opening)."""
        start = self.first_working(ts)
        day = self.local_date(start)
        offset = sum(min(e, start) - s for s, e in self.spans(day) if s < start)
        found = 0
        guard = _Guard(self.spec.id, ts, "after")
        while found < days:
            day += timedelta(days=1)
            has_time = bool(self.spans(day))
            guard.day(has_time)
            found += has_time
        spans = self.spans(day)
        for s, e in spans:
            if offset <= e - s:
                return s + offset
            offset -= e - s
        return spans[-1][1]  # a shorter day: its closing instant

    # -- datetimes at the edges ---------------------------------------------------------------------

    def business_days_seconds(self, ts: float, days: int) -> float:
        """The working time of `Nbd` from `ts`: up to the same offset into the Nth following working day.
        Remembered per (start, N): a clock's `bd` target is asked again at every step of the clock."""
        seconds = self._targets.get((ts, days))
        if seconds is None:
            seconds = _remember(self._targets, (ts, days), self.seconds_between(ts, self.add_business_days(ts, days)))
        return seconds

    def deadline(self, start: datetime, target: Duration) -> datetime:
        """The deadline of a target starting at `start` (a fresh clock). A `bd` target is turned into
        working time first, so its deadline is end-inclusive like any other (and agrees with the clock)."""
        ts = start.timestamp()
        if target.business_days:
            # the same working-time position as business_days_seconds + add_seconds, in two passes: an
            # end at an opening moves back to the previous closing instant (end-inclusive)
            return _utc(self.subtract_seconds(self.add_business_days(ts, target.business_days), 0))
        return _utc(self.add_seconds(ts, target.seconds))

    def add(self, start: datetime, seconds: float) -> datetime:
        return _utc(self.add_seconds(start.timestamp(), seconds))

    def subtract(self, end: datetime, seconds: float) -> datetime:
        return _utc(self.subtract_seconds(end.timestamp(), seconds))

    def between(self, a: datetime, b: datetime) -> float:
        return self.seconds_between(a.timestamp(), b.timestamp())


class _Guard:
    """Raises NoWorkingTime after too many days in a row without working time."""

    __slots__ = ("calendar", "direction", "empty", "ts")

    def __init__(self, calendar: str, ts: float, direction: str):
        self.calendar, self.ts, self.direction, self.empty = calendar, ts, direction, 0

    def day(self, has_time: bool) -> None:
        self.empty = 0 if has_time else self.empty + 1
        if self.empty > MAX_EMPTY_DAYS:
            raise NoWorkingTime(f"calendar '{self.calendar}' has no working time in the {MAX_EMPTY_DAYS} days "
                                f"{self.direction} {datetime.fromtimestamp(self.ts, UTC).isoformat()}")


def _remember(memory: dict[K, float], key: K, value: float) -> float:
    if len(memory) >= MEMORY:
        memory.clear()
    memory[key] = value
    return value


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@per_spec
def working_calendar(spec: Calendar) -> WorkingCalendar:
    """A shared WorkingCalendar per compiled calendar, so its day cache survives between calls."""
    return WorkingCalendar(spec)
