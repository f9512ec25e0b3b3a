"""Working time on a business calendar: deadlines, elapsed time and business days, exact across DST.

A day's working intervals are turned into real instants once (cached per local date): a local opening
time in a spring-forward gap is read with the offset in force before the gap (02:30 -> 03:30), one that
occurs twice is its first occurrence (zoneinfo's fold=0 does both), and "24:00" is the next midnight.
Everything else is arithmetic on POSIX seconds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from itsm.interpreter.model import Calendar, Duration

MAX_SCAN_DAYS = 3 * 366  # a calendar with no working time ahead is an error, not an endless loop
Span = tuple[float, float]  # [start, end) in POSIX seconds


class NoWorkingTime(ValueError):
    pass


class WorkingCalendar:
    """Arithmetic over one compiled calendar; build it with `working_calendar()` to share the day cache."""

    def __init__(self, spec: Calendar):
        self.spec = spec
        self.zone = ZoneInfo(spec.timezone)
        self._days: dict[date, tuple[Span, ...]] = {}
        self._totals: dict[date, float] = {}

    # -- days ---------------------------------------------------------------------------------------

    def spans(self, day: date) -> tuple[Span, ...]:
        spans = self._days.get(day)
        if spans is None:
            spans = tuple((self._instant(day, i.start), self._instant(day, i.end)) for i in self.spec.intervals_on(day))
            spans = tuple((s, e) for s, e in spans if e > s)
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
        remaining = seconds
        day = self.local_date(ts)
        for _ in range(MAX_SCAN_DAYS):
            spans = self.spans(day)
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
        raise NoWorkingTime(f"calendar '{self.spec.id}' has no working time in the {MAX_SCAN_DAYS} days after "
                            f"{datetime.fromtimestamp(ts, UTC).isoformat()}")

    def subtract_seconds(self, ts: float, seconds: float) -> float:
        """The instant `seconds` of working time before `ts`; 0 gives the last working instant at or
        before `ts` (a closing instant counts: end-inclusive, as for deadlines)."""
        if self.spec.always:
            return ts - seconds
        remaining = seconds
        day = self.local_date(ts)
        for _ in range(MAX_SCAN_DAYS):
            for start, end in reversed(self.spans(day)):
                if start >= ts:
                    continue
                finish = end if end < ts else ts
                available = finish - start
                if remaining <= available:
                    return finish - remaining
                remaining -= available
            day -= timedelta(days=1)
        raise NoWorkingTime(f"calendar '{self.spec.id}' has no working time in the {MAX_SCAN_DAYS} days before "
                            f"{datetime.fromtimestamp(ts, UTC).isoformat()}")

    def first_working(self, ts: float) -> float:
        return self.add_seconds(ts, 0)

    def seconds_between(self, a: float, b: float) -> float:
        """Working seconds in [a, b); 0 when b <= a."""
        if b <= a:
            return 0.0
        if self.spec.always:
            return b - a
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
        for _ in range(MAX_SCAN_DAYS):
            if found == days:
                break
            day += timedelta(days=1)
            if self.spans(day):
                found += 1
        else:
            raise NoWorkingTime(f"calendar '{self.spec.id}' has fewer than {days} working days ahead")
        spans = self.spans(day)
        for s, e in spans:
            if offset <= e - s:
                return s + offset
            offset -= e - s
        return spans[-1][1]  # a shorter day: its closing instant

    # -- datetimes at the edges ---------------------------------------------------------------------

    def deadline(self, start: datetime, target: Duration) -> datetime:
        """The deadline of a target starting at `start` (a fresh clock)."""
        ts = start.timestamp()
        end = self.add_business_days(ts, target.business_days) if target.business_days else self.add_seconds(
            ts, target.seconds)
        return _utc(end)

    def add(self, start: datetime, seconds: float) -> datetime:
        return _utc(self.add_seconds(start.timestamp(), seconds))

    def subtract(self, end: datetime, seconds: float) -> datetime:
        return _utc(self.subtract_seconds(end.timestamp(), seconds))

    def between(self, a: datetime, b: datetime) -> float:
        return self.seconds_between(a.timestamp(), b.timestamp())


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


_SHARED: dict[int, WorkingCalendar] = {}


def working_calendar(spec: Calendar) -> WorkingCalendar:
    """A shared WorkingCalendar per compiled calendar, so its day cache survives between calls."""
    shared = _SHARED.get(id(spec))
    if shared is None or shared.spec is not spec:
        if len(_SHARED) > 256:
            _SHARED.clear()
        shared = _SHARED[id(spec)] = WorkingCalendar(spec)
    return shared
