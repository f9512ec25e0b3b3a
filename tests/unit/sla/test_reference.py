"""The fast calendar arithmetic against a brute-force reference, on generated calendars (SPEC 6).

The reference knows nothing of the implementation: it marks every real UTC minute that lies inside a working
window and counts minutes. A window's real start and end come from its local opening and closing times by
SPEC 6's rule, which is what `datetime.combine(day, time, tzinfo=zone).timestamp()` does (fold=0: a time
in a spring-forward gap is read with the offset before the gap, a repeated time is its first occurrence;
24:00 is the next midnight). Windows that overlap in real time (possible around a gap) count once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import accumulate
from types import MappingProxyType
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from itsm.interpreter.model import Calendar, Duration, Interval
from itsm.sla import WorkingCalendar, target_seconds

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Australia/Lord_Howe"]
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
YEAR_MINUTES = 365 * 24 * 60
SPAN_DAYS = 42  # the reference looks this far ahead of a start; a case needing more is discarded
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _transitions(zone: str) -> list[int]:
    """Minutes since YEAR_START at which the zone's UTC offset changes in 2026 (found by a 15-minute scan)."""
    tz, found = ZoneInfo(zone), []
    previous = YEAR_START.astimezone(tz).utcoffset()
    for minute in range(15, YEAR_MINUTES, 15):
        offset = (YEAR_START + timedelta(minutes=minute)).astimezone(tz).utcoffset()
        if offset != previous:
            found.append(minute)
            previous = offset
    return found


DST_CHANGES = {zone: _transitions(zone) for zone in ZONES}
# boundaries that often fall on or near the DST changes and on typical office hours
INTERESTING_MINUTES = [0, 30, 60, 90, 105, 120, 135, 150, 165, 180, 210, 240, 300, 480, 540, 720, 780, 810, 1020,
                       1080, 1410, 1440]


# -- the reference ----------------------------------------------------------------------------------------


class Reference:
    """Working minutes of `calendar` from the local day before `start_day` for `days` days, by brute force."""

    def __init__(self, calendar: Calendar, start_day: date, days: int = SPAN_DAYS):
        zone = ZoneInfo(calendar.timezone)
        first = start_day - timedelta(days=1)
        self.base = int(datetime.combine(first, time(0), tzinfo=zone).timestamp()) // 60 - 24 * 60
        size = (days + 4) * 24 * 60
        working = bytearray(size)
        for n in range(days + 2):
            day = first + timedelta(days=n)
            if calendar.always:
                windows: tuple[Interval, ...] = (Interval(0, 1440),)
            elif day in calendar.workdays:
                windows = calendar.workdays[day]
            elif day in calendar.holidays:
                windows = ()
            else:
                windows = calendar.hours.get(day.weekday(), ())
            for window in windows:
                begin = self._minute(day, window.start, zone)
                end = self._minute(day, window.end, zone)
                begin, end = max(begin, 0), min(end, size)
                if end > begin:  # mark each minute of the window (a window ending before it begins has none)
                    working[begin:end] = b"\x01" * (end - begin)
        self.working = working
        self.counts = [0, *accumulate(working)]  # counts[m]: working minutes before minute m

    def _minute(self, day: date, local_minute: int, zone: ZoneInfo) -> int:
        if local_minute == 1440:
            day, local_minute = day + timedelta(days=1), 0
        local = datetime.combine(day, time(local_minute // 60, local_minute % 60), tzinfo=zone)
        seconds = int(local.timestamp())
        assert seconds % 60 == 0
        return seconds // 60 - self.base

    def index(self, ts: int) -> int:
        assert ts % 60 == 0
        return ts // 60 - self.base

    def seconds_between(self, a: int, b: int) -> int:
        if b <= a:
            return 0
        i, j = self.index(a), self.index(b)
        assert 0 <= i <= j < len(self.working)
        return (self.counts[j] - self.counts[i]) * 60

    def add_minutes(self, start: int, minutes: int) -> int | None:
        """End-inclusive: the end of the `minutes`-th working minute at or after `start`; for 0, the start of
        the first working minute at or after `start`. None when the span is too short."""
        i = self.index(start)
        if minutes == 0:
            j = self.working.find(1, i)
            return None if j < 0 else (j + self.base) * 60
        goal = self.counts[i] + minutes
        if goal > self.counts[-1]:
            return None
        # the first m with counts[m] == goal: the minute m-1 completes the target
        lo, hi = i, len(self.counts) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if self.counts[mid] >= goal:
                hi = mid
            else:
                lo = mid + 1
        return (lo + self.base) * 60


# -- strategies --------------------------------------------------------------------------------------------

boundary = st.one_of(st.integers(0, 1440), st.sampled_from(INTERESTING_MINUTES))


@st.composite
def day_intervals(draw: st.DrawFn, min_size: int = 0) -> tuple[Interval, ...]:
    """1-3 (or none) non-overlapping, non-touching intervals on minute boundaries, as a compiled calendar has."""
    count = draw(st.integers(min_size, 3))
    points = sorted(set(draw(st.lists(boundary, min_size=2 * count, max_size=2 * count))))
    if len(points) % 2:
        points = points[:-1]
    return tuple(Interval(points[k], points[k + 1]) for k in range(0, len(points), 2))


@st.composite
def starts(draw: st.DrawFn, zone: str) -> int:
    """A POSIX second on a minute boundary in 2026, often within three days of one of the zone's DST changes."""
    changes = DST_CHANGES[zone]
    if changes and draw(st.booleans()):
        minute = draw(st.sampled_from(changes)) + draw(st.integers(-3 * 24 * 60, 3 * 24 * 60))
    else:
        minute = draw(st.integers(0, YEAR_MINUTES - 1))
    return int(YEAR_START.timestamp()) + 60 * minute


@st.composite
def cases(draw: st.DrawFn) -> tuple[Calendar, int]:
    zone = draw(st.sampled_from(ZONES))
    start = draw(starts(zone))
    if draw(st.integers(0, 19)) == 0:
        return Calendar("24x7", "24x7", zone, {}, always=True), start
    start_day = datetime.fromtimestamp(start, ZoneInfo(zone)).date()
    days = st.integers(-1, 21).map(lambda n: start_day + timedelta(days=n))
    hours = draw(st.dictionaries(st.integers(0, 6), day_intervals(min_size=1), min_size=1, max_size=7))
    holidays = draw(st.dictionaries(days, st.just("holiday"), max_size=4))
    workdays = draw(st.dictionaries(days, day_intervals(min_size=1), max_size=3))
    calendar = Calendar("generated", "Generated", zone, hours, MappingProxyType(holidays), MappingProxyType(workdays))
    return calendar, start


def weekly_minutes(calendar: Calendar) -> int:
    return 7 * 1440 if calendar.always else sum(i.end - i.start for day in calendar.hours.values() for i in day)


def reference_for(calendar: Calendar, start: int, days: int = SPAN_DAYS) -> Reference:
    return Reference(calendar, datetime.fromtimestamp(start, ZoneInfo(calendar.timezone)).date(), days)


# -- properties --------------------------------------------------------------------------------------------


@SETTINGS
@given(cases(), st.integers(0, 10 * 24 * 60), st.data())
def test_seconds_between_matches_reference(case: tuple[Calendar, int], pause_minutes: int, data: st.DataObject) -> None:
    calendar, start = case
    # a pause that begins at the start or a little later, as between() is used for elapsed and pause time
    a = start + 60 * data.draw(st.integers(0, 3 * 24 * 60))
    b = a + 60 * pause_minutes
    reference = reference_for(calendar, start)
    assert WorkingCalendar(calendar).seconds_between(a, b) == reference.seconds_between(a, b)


@SETTINGS
@given(cases(), st.data())
def test_add_seconds_matches_reference(case: tuple[Calendar, int], data: st.DataObject) -> None:
    calendar, start = case
    # targets from 0 to about three working days (a working day taken as a fifth of the week)
    target = data.draw(st.integers(0, max(1, min(3 * weekly_minutes(calendar) // 5, 3 * 1440))))
    expected = reference_for(calendar, start).add_minutes(start, target)
    assume(expected is not None)
    assert WorkingCalendar(calendar).add_seconds(start, target * 60) == expected


@SETTINGS
@given(cases(), st.data())
def test_between_of_add_is_the_target(case: tuple[Calendar, int], data: st.DataObject) -> None:
    calendar, start = case
    target = 60 * data.draw(st.integers(0, max(1, min(3 * weekly_minutes(calendar) // 5, 3 * 1440))))
    assume(reference_for(calendar, start).add_minutes(start, target // 60) is not None)  # within the horizon
    fast = WorkingCalendar(calendar)
    end = fast.add_seconds(start, target)
    assert fast.seconds_between(start, end) == target
    if target:  # end-inclusive: not one second later than needed
        assert fast.seconds_between(start, end - 1) == target - 1


near_change = st.sampled_from([*range(0, 361, 15), 1440])  # on the change's night: in, around and after it


@st.composite
def dst_cases(draw: st.DrawFn) -> tuple[Calendar, int]:
    """Windows opening or closing in and around a gap or a fold, on the day of a change, starts just before."""
    zone = draw(st.sampled_from([z for z in ZONES if DST_CHANGES[z]]))
    change = YEAR_START + timedelta(minutes=draw(st.sampled_from(DST_CHANGES[zone])))
    change_day = change.astimezone(ZoneInfo(zone)).date()

    @st.composite
    def night_intervals(draw: st.DrawFn) -> tuple[Interval, ...]:
        count = draw(st.integers(1, 3))
        points = sorted(set(draw(st.lists(near_change, min_size=2 * count, max_size=2 * count))))
        points = points[:len(points) - len(points) % 2]
        return tuple(Interval(points[k], points[k + 1]) for k in range(0, len(points), 2))

    hours = {change_day.weekday(): draw(night_intervals())}
    if draw(st.booleans()):
        hours.update({d: (Interval(480, 1020),) for d in range(7) if d != change_day.weekday()})
    calendar = Calendar("night", "Night", zone, hours)
    start = int(change.timestamp()) - 60 * draw(st.integers(0, 2 * 1440))
    return calendar, start


@SETTINGS
@given(dst_cases(), st.integers(0, 2 * 1440), st.integers(0, 3 * 1440))
def test_windows_around_dst_changes_match_reference(case: tuple[Calendar, int], target: int, span: int) -> None:
    calendar, start = case
    reference, fast = reference_for(calendar, start, days=16), WorkingCalendar(calendar)
    assert fast.seconds_between(start, start + 60 * span) == reference.seconds_between(start, start + 60 * span)
    expected = reference.add_minutes(start, target)
    assume(expected is not None)
    assert fast.add_seconds(start, 60 * target) == expected


# -- business days (SPEC 6 `Nbd`) ----------------------------------------------------------------------------


def business_days_reference(reference: Reference, calendar: Calendar, start: int, n: int) -> int | None:
    """The working minutes of `Nbd` from `start`, from SPEC 6's words: counting begins at the first working
    minute at or after `start`; its offset is the working time already behind it on its local day; the
    target ends at the same offset into the Nth following day that has working time, or at that day's
    closing when it is shorter. None when that lies beyond the reference's horizon."""
    zone = ZoneInfo(calendar.timezone)
    first = reference.working.find(1, reference.index(start))
    if first < 0:
        return None
    by_day: dict[date, list[int]] = {}
    for m in range(len(reference.working)):
        if reference.working[m]:
            by_day.setdefault(datetime.fromtimestamp((m + reference.base) * 60, zone).date(), []).append(m)
    day = datetime.fromtimestamp((first + reference.base) * 60, zone).date()
    offset = sum(1 for m in by_day[day] if m < first)
    following = sorted(d for d in by_day if d > day)
    if len(following) <= n or following[n - 1] >= following[-1]:  # the last day may be cut by the horizon
        return None
    minutes = by_day[following[n - 1]]
    end = minutes[0] if offset == 0 else minutes[min(offset, len(minutes)) - 1] + 1
    return reference.counts[end] - reference.counts[first]


@SETTINGS
@given(cases(), st.integers(1, 5))
def test_business_days_match_reference(case: tuple[Calendar, int], n: int) -> None:
    calendar, start = case
    assume(not calendar.always)
    reference = reference_for(calendar, start)
    minutes = business_days_reference(reference, calendar, start, n)
    assume(minutes is not None)
    assert minutes is not None
    fast = WorkingCalendar(calendar)
    when = datetime.fromtimestamp(start, UTC)
    assert target_seconds(Duration(f"{n}bd", business_days=n), when, fast) == 60 * minutes
    deadline = reference.add_minutes(start, minutes)
    assert deadline is not None
    assert fast.deadline(when, Duration(f"{n}bd", business_days=n)).timestamp() == deadline
