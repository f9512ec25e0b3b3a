"""Business-calendar arithmetic (SPEC 6) with hand-computed expectations.

Each case shows its arithmetic in a comment. Local times are compared as instants, so an expected value may
be written in local time or in UTC, whichever makes the arithmetic plainer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from itsm.interpreter.model import Calendar, Duration, Interval
from itsm.sla import WorkingCalendar, evaluate_clock, working_calendar
from itsm.sla.calendar import NoWorkingTime
from itsm.sla.clock import ClockState, Conditions

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SHANGHAI = ZoneInfo("Asia/Shanghai")
H = 3600

OFFICE_DAY = (Interval(8 * 60, 12 * 60), Interval(13 * 60, 17 * 60))  # 08:00-12:00, 13:00-17:00: 8 h
OFFICE = Calendar(
    id="office", name="Office", timezone="Europe/Berlin",
    hours={d: OFFICE_DAY for d in range(5)},
    holidays=MappingProxyType({date(2026, 4, 3): "Good Friday", date(2026, 4, 6): "Easter Monday",
                               date(2026, 5, 1): "Labour Day"}))

CN_DAY = (Interval(9 * 60, 12 * 60), Interval(13 * 60 + 30, 18 * 60))  # 09:00-12:00, 13:30-18:00: 7.5 h
NATIONAL_DAY = MappingProxyType({date(2026, 10, 1) + timedelta(days=n): "National Day" for n in range(8)})
CN_OFFICE = Calendar(
    id="cn_office", name="CN office", timezone="Asia/Shanghai",
    hours={d: CN_DAY for d in range(5)}, holidays=NATIONAL_DAY,
    workdays=MappingProxyType({date(2026, 9, 27): CN_DAY, date(2026, 10, 10): CN_DAY}))  # Sun, Sat make-up days
CN_SHORT_SATURDAY = Calendar(
    id="cn_short", name="CN office, short make-up Saturday", timezone="Asia/Shanghai",
    hours={d: CN_DAY for d in range(5)}, holidays=NATIONAL_DAY,
    workdays=MappingProxyType({date(2026, 9, 27): CN_DAY, date(2026, 10, 10): (Interval(9 * 60, 12 * 60),)}))


def night(tz: str, interval: Interval | None = None) -> Calendar:
    """One window on Sundays only (01:00-05:00 by default): it spans the DST change on change days."""
    return Calendar(id="night", name="Night", timezone=tz, hours={6: (interval or Interval(60, 300),)})


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=tz)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def hours(n: float) -> Duration:
    return Duration(f"{n}h", seconds=round(n * H))


def bd(n: int) -> Duration:
    return Duration(f"{n}bd", business_days=n)


@pytest.fixture(scope="module")
def office() -> WorkingCalendar:
    return WorkingCalendar(OFFICE)


# -- starting outside working hours ---------------------------------------------------------------------


def test_start_before_opening_counts_from_opening(office: WorkingCalendar) -> None:
    # Mon 2026-03-02 07:00 + 2h: counting begins at 08:00 -> 10:00
    assert office.deadline(at(2026, 3, 2, 7), hours(2)) == at(2026, 3, 2, 10)


def test_start_after_closing_counts_from_next_opening(office: WorkingCalendar) -> None:
    # Mon 18:00 + 2h: nothing left on Monday; Tue 08:00 + 2h -> Tue 10:00
    assert office.deadline(at(2026, 3, 2, 18), hours(2)) == at(2026, 3, 3, 10)


def test_start_on_weekend_counts_from_monday(office: WorkingCalendar) -> None:
    # Sat 2026-03-07 10:00 + 2h: Sat and Sun are not working days; Mon 03-09 08:00 + 2h -> 10:00
    assert office.deadline(at(2026, 3, 7, 10), hours(2)) == at(2026, 3, 9, 10)


def test_start_on_holiday_skips_the_easter_weekend(office: WorkingCalendar) -> None:
    # Good Friday 2026-04-03 10:00 + 1h: Fri holiday, Sat, Sun, Easter Monday holiday; Tue 04-07 08:00 + 1h
    assert office.deadline(at(2026, 4, 3, 10), hours(1)) == at(2026, 4, 7, 9)


def test_deadline_runs_over_holidays(office: WorkingCalendar) -> None:
    # Thu 2026-04-02 16:00 + 3h: Thu 16-17 = 1h (2h left); Fri 04-03 .. Mon 04-06 off; Tue 08:00 + 2h -> 10:00
    assert office.deadline(at(2026, 4, 2, 16), hours(3)) == at(2026, 4, 7, 10)


def test_start_during_lunch_counts_from_afternoon_opening(office: WorkingCalendar) -> None:
    # Mon 12:30 + 1h: lunch until 13:00, then 13:00 + 1h -> 14:00
    assert office.deadline(at(2026, 3, 2, 12, 30), hours(1)) == at(2026, 3, 2, 14)


# -- end-inclusive deadlines ------------------------------------------------------------------------------


def test_deadline_exactly_at_lunch_is_noon_not_afternoon_opening(office: WorkingCalendar) -> None:
    # Mon 10:00 + 2h: 10:00-12:00 uses exactly the rest of the morning -> 12:00 (not 13:00)
    assert office.deadline(at(2026, 3, 2, 10), hours(2)) == at(2026, 3, 2, 12)
    # Mon 08:00 + 4h: the whole morning -> 12:00
    assert office.deadline(at(2026, 3, 2, 8), hours(4)) == at(2026, 3, 2, 12)


def test_deadline_exactly_at_closing_is_closing_not_next_morning(office: WorkingCalendar) -> None:
    # Mon 15:00 + 2h: 15:00-17:00 -> 17:00 (not Tue 08:00)
    assert office.deadline(at(2026, 3, 2, 15), hours(2)) == at(2026, 3, 2, 17)
    # Mon 08:00 + 8h: 4h + 4h, the whole day -> 17:00
    assert office.deadline(at(2026, 3, 2, 8), hours(8)) == at(2026, 3, 2, 17)
    # Fri 2026-03-06 09:00 + 7h: 3h + 4h -> Fri 17:00 (not Mon 08:00)
    assert office.deadline(at(2026, 3, 6, 9), hours(7)) == at(2026, 3, 6, 17)


def test_one_second_more_than_the_morning_spills_past_lunch(office: WorkingCalendar) -> None:
    # 11:59:59 + 1s -> 12:00:00; 11:59:59 + 2s -> 12:00:00 then 13:00:00 + 1s -> 13:00:01
    assert office.add(at(2026, 3, 2, 11, 59, 59), 1) == at(2026, 3, 2, 12)
    assert office.add(at(2026, 3, 2, 11, 59, 59), 2) == at(2026, 3, 2, 13, 0, 1)


def test_deadline_at_midnight_closing_of_a_24_00_window() -> None:
    # Mon 00:00-24:00 only; Mon 2026-03-02 22:00 + 2h -> 24:00 = Tue 00:00 (not next Monday)
    cal = WorkingCalendar(Calendar("late", "Late", "Europe/Berlin", {0: (Interval(0, 1440),)}))
    assert cal.deadline(at(2026, 3, 2, 22), hours(2)) == at(2026, 3, 3, 0)
    # Mon 22:00 + 3h: 2h on Monday, then next Monday 03-09 00:00 + 1h -> 01:00
    assert cal.deadline(at(2026, 3, 2, 22), hours(3)) == at(2026, 3, 9, 1)


def test_adjacent_days_ending_and_starting_at_midnight_are_continuous() -> None:
    # Mon and Tue 00:00-24:00: Mon 23:00 + 2h -> Tue 01:00
    cal = WorkingCalendar(Calendar("d", "D", "Europe/Berlin", {0: (Interval(0, 1440),), 1: (Interval(0, 1440),)}))
    assert cal.deadline(at(2026, 3, 2, 23), hours(2)) == at(2026, 3, 3, 1)
    assert cal.between(at(2026, 3, 2, 23), at(2026, 3, 3, 1)) == 2 * H


# -- target 0 ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "expected"), [
    (at(2026, 3, 2, 10), at(2026, 3, 2, 10)),  # inside working time: the start itself
    (at(2026, 3, 2, 8), at(2026, 3, 2, 8)),  # exactly at opening: opening
    (at(2026, 3, 2, 7), at(2026, 3, 2, 8)),  # before opening: 08:00
    (at(2026, 3, 2, 12), at(2026, 3, 2, 13)),  # exactly at 12:00 (lunch): 13:00
    (at(2026, 3, 2, 12, 30), at(2026, 3, 2, 13)),  # during lunch: 13:00
    (at(2026, 3, 2, 17), at(2026, 3, 3, 8)),  # exactly at closing: next morning
    (at(2026, 3, 7, 10), at(2026, 3, 9, 8)),  # Saturday: Monday 08:00
    (at(2026, 4, 2, 17), at(2026, 4, 7, 8)),  # Thu closing before Easter: Tue 04-07 08:00
])
def test_target_zero_is_first_working_instant_at_or_after_start(office: WorkingCalendar, start: datetime,
                                                                  expected: datetime) -> None:
    assert office.deadline(start, hours(0)) == expected
    assert office.add(start, 0) == expected


# -- elapsed time (between) --------------------------------------------------------------------------------


def test_between_counts_only_working_time(office: WorkingCalendar) -> None:
    # Mon 07:00 -> Mon 18:00: 4h + 4h = 8h
    assert office.between(at(2026, 3, 2, 7), at(2026, 3, 2, 18)) == 8 * H
    # inside lunch: 0
    assert office.between(at(2026, 3, 2, 12), at(2026, 3, 2, 13)) == 0
    # reversed or empty: 0
    assert office.between(at(2026, 3, 2, 11), at(2026, 3, 2, 10)) == 0
    assert office.between(at(2026, 3, 2, 11), at(2026, 3, 2, 11)) == 0
    # Thu 04-02 11:00 -> Tue 04-07 09:00: Thu 1h + 4h, Fri-Mon off, Tue 1h = 6h
    assert office.between(at(2026, 4, 2, 11), at(2026, 4, 7, 9)) == 6 * H


def test_pause_across_weekend(office: WorkingCalendar) -> None:
    # started Fri 2026-03-06 16:00, paused Fri 16:30, resumed Mon 03-09 09:00, now Mon 10:00
    started, paused, resumed, now = at(2026, 3, 6, 16), at(2026, 3, 6, 16, 30), at(2026, 3, 9, 9), at(2026, 3, 9, 10)
    elapsed = office.between(started, paused) + office.between(resumed, now)
    assert elapsed == 30 * 60 + H  # Fri 16:00-16:30 + Mon 09:00-10:00 = 1h30m
    # business pause time: Fri 16:30-17:00 + Mon 08:00-09:00 = 1h30m; the weekend counts nothing
    assert office.between(paused, resumed) == 30 * 60 + H
    assert office.between(started, now) == elapsed + office.between(paused, resumed)  # 1h Fri + 2h Mon = 3h
    # a 4h target has 2h30m left at Mon 10:00: 10:00-12:00 = 2h, then 13:00 + 30m -> 13:30
    assert office.add(now, 4 * H - elapsed) == at(2026, 3, 9, 13, 30)


# -- daylight saving time: Europe/Berlin (2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00) ----------


def test_office_hours_over_spring_forward_weekend(office: WorkingCalendar) -> None:
    # Fri 03-27 16:00 CET + 2h: 1h on Friday; Mon 03-30 08:00 CEST + 1h -> 09:00 CEST
    assert office.deadline(at(2026, 3, 27, 16), hours(2)) == at(2026, 3, 30, 9)
    # elapsed over the weekend is working time only, the lost hour is outside working windows
    assert office.between(at(2026, 3, 27, 16), at(2026, 3, 30, 9)) == 2 * H


def test_office_hours_over_fall_back_weekend(office: WorkingCalendar) -> None:
    # Fri 10-23 16:00 CEST + 2h: 1h on Friday; Mon 10-26 08:00 CET + 1h -> 09:00 CET
    assert office.deadline(at(2026, 10, 23, 16), hours(2)) == at(2026, 10, 26, 9)
    assert office.between(at(2026, 10, 23, 16), at(2026, 10, 26, 9)) == 2 * H


def test_window_across_spring_forward_counts_three_real_hours_berlin() -> None:
    cal = WorkingCalendar(night("Europe/Berlin"))
    # Sun 03-29 01:00 CET = 00:00 UTC; 05:00 CEST = 03:00 UTC: 3h of real seconds
    assert cal.between(at(2026, 3, 28, 12), at(2026, 3, 30)) == 3 * H
    assert cal.deadline(at(2026, 3, 28, 12), hours(3)) == utc(2026, 3, 29, 3)  # 05:00 CEST, end-inclusive
    # 1h30m from the opening: 00:00 UTC + 1h30m = 01:30 UTC = 03:30 CEST (across the gap)
    assert cal.deadline(at(2026, 3, 29, 0), Duration("1h30m", seconds=5400)) == at(2026, 3, 29, 3, 30)
    # 4h: 3h on 03-29, then Sun 04-05 01:00 CEST + 1h -> 02:00 CEST
    assert cal.deadline(at(2026, 3, 29, 0), hours(4)) == at(2026, 4, 5, 2)
    # a normal Sunday (03-22) counts 4h
    assert cal.between(at(2026, 3, 22), at(2026, 3, 23)) == 4 * H


def test_window_across_fall_back_counts_five_real_hours_berlin() -> None:
    cal = WorkingCalendar(night("Europe/Berlin"))
    # Sun 10-25 01:00 CEST = Sat 23:00 UTC; 05:00 CET = 04:00 UTC: 5h of real seconds
    assert cal.between(at(2026, 10, 24, 12), at(2026, 10, 26)) == 5 * H
    assert cal.deadline(at(2026, 10, 24, 12), hours(5)) == utc(2026, 10, 25, 4)  # 05:00 CET
    # 2h from the opening: 23:00 UTC + 2h = 01:00 UTC = 02:00 CET, the second 02:00 of the night
    assert cal.deadline(at(2026, 10, 24, 12), hours(2)) == utc(2026, 10, 25, 1)
    # (an ambiguous local time never compares equal across zones: convert it first)
    second_two = datetime(2026, 10, 25, 2, fold=1, tzinfo=BERLIN).astimezone(UTC)
    assert cal.deadline(at(2026, 10, 24, 12), hours(2)) == second_two


def test_window_across_spring_forward_counts_three_real_hours_new_york() -> None:
    cal = WorkingCalendar(night("America/New_York"))
    # Sun 03-08 01:00 EST = 06:00 UTC; 05:00 EDT = 09:00 UTC: 3h
    assert cal.between(at(2026, 3, 7, 12, tz=NEW_YORK), at(2026, 3, 9, tz=NEW_YORK)) == 3 * H
    assert cal.deadline(at(2026, 3, 7, 12, tz=NEW_YORK), hours(3)) == utc(2026, 3, 8, 9)
    # 1h30m: 06:00 UTC + 1h30m = 07:30 UTC = 03:30 EDT
    assert cal.deadline(at(2026, 3, 8, 0, tz=NEW_YORK), Duration("1h30m", seconds=5400)) == at(
        2026, 3, 8, 3, 30, tz=NEW_YORK)


def test_window_across_fall_back_counts_five_real_hours_new_york() -> None:
    cal = WorkingCalendar(night("America/New_York"))
    # Sun 11-01 01:00 (first occurrence, EDT) = 05:00 UTC; 05:00 EST = 10:00 UTC: 5h
    assert cal.between(at(2026, 10, 31, 12, tz=NEW_YORK), at(2026, 11, 2, tz=NEW_YORK)) == 5 * H
    assert cal.deadline(at(2026, 10, 31, 12, tz=NEW_YORK), hours(5)) == utc(2026, 11, 1, 10)
    # the opening is the first 01:00; 1h30m later = 06:30 UTC = 01:30 EST, the second 01:30
    assert cal.deadline(at(2026, 10, 31, 12, tz=NEW_YORK), hours(1.5)) == utc(2026, 11, 1, 6, 30)
    assert cal.deadline(at(2026, 11, 1, 0, tz=NEW_YORK), hours(0)) == utc(2026, 11, 1, 5)


def test_opening_inside_spring_forward_gap_is_read_an_hour_later() -> None:
    # Sundays 02:30-06:00. On 03-29 02:30 does not exist: read with CET (+1) -> 01:30 UTC = 03:30 CEST;
    # 06:00 CEST = 04:00 UTC: the window is 2h30m
    cal = WorkingCalendar(night("Europe/Berlin", Interval(150, 360)))
    assert cal.deadline(at(2026, 3, 29, 0), hours(0)) == at(2026, 3, 29, 3, 30)
    assert cal.deadline(at(2026, 3, 29, 0), hours(1)) == at(2026, 3, 29, 4, 30)
    assert cal.between(at(2026, 3, 28), at(2026, 3, 30)) == 2.5 * H
    assert cal.between(at(2026, 3, 21), at(2026, 3, 23)) == 3.5 * H  # a normal Sunday: 02:30-06:00
    # New York 03-08: 02:30 read with EST (-5) -> 07:30 UTC = 03:30 EDT
    ny = WorkingCalendar(night("America/New_York", Interval(150, 360)))
    assert ny.deadline(at(2026, 3, 8, 0, tz=NEW_YORK), hours(0)) == at(2026, 3, 8, 3, 30, tz=NEW_YORK)
    assert ny.deadline(at(2026, 3, 8, 0, tz=NEW_YORK), hours(0)) == utc(2026, 3, 8, 7, 30)


def test_windows_either_side_of_the_gap_count_each_real_second_once() -> None:
    # Sundays 01:00-02:30 and 03:00-05:00. On 03-29: 01:00 CET = 00:00 UTC; the closing 02:30 does not exist
    # and reads as 01:30 UTC (= 03:30 CEST, SPEC's gap rule); 03:00 CEST = 01:00 UTC; 05:00 CEST = 03:00 UTC.
    # The windows [00:00, 01:30) and [01:00, 03:00) UTC overlap; the real working time is their union,
    # 00:00-03:00 UTC = 3h (wall clock: 01:00-02:00 CET and 03:00-05:00 CEST), never 3h30m.
    cal = WorkingCalendar(Calendar("split", "Split", "Europe/Berlin",
                                   {6: (Interval(60, 150), Interval(180, 300))}))
    assert cal.between(at(2026, 3, 28, 12), at(2026, 3, 30)) == 3 * H
    assert cal.deadline(at(2026, 3, 29, 0), hours(3)) == utc(2026, 3, 29, 3)  # 05:00 CEST
    assert cal.deadline(at(2026, 3, 29, 0), hours(2)) == utc(2026, 3, 29, 2)  # 04:00 CEST
    # a normal Sunday: 1h30m + 2h
    assert cal.between(at(2026, 3, 22), at(2026, 3, 23)) == 3.5 * H


def test_opening_inside_the_fold_is_its_first_occurrence() -> None:
    # Sundays 02:30-06:00. On 10-25 02:30 occurs twice: the first is 02:30 CEST = 00:30 UTC;
    # 06:00 CET = 05:00 UTC: the window is 4h30m
    cal = WorkingCalendar(night("Europe/Berlin", Interval(150, 360)))
    assert cal.deadline(at(2026, 10, 25, 0), hours(0)) == utc(2026, 10, 25, 0, 30)
    assert cal.deadline(at(2026, 10, 25, 0), hours(1)) == utc(2026, 10, 25, 1, 30)  # = 02:30 CET, the second
    assert cal.between(at(2026, 10, 24), at(2026, 10, 26)) == 4.5 * H
    # New York 11-01, Sundays 01:30-04:00: first 01:30 is EDT = 05:30 UTC; 04:00 EST = 09:00 UTC: 3h30m
    ny = WorkingCalendar(night("America/New_York", Interval(90, 240)))
    assert ny.deadline(at(2026, 11, 1, 0, tz=NEW_YORK), hours(0)) == utc(2026, 11, 1, 5, 30)
    assert ny.between(at(2026, 10, 31, tz=NEW_YORK), at(2026, 11, 2, tz=NEW_YORK)) == 3.5 * H


def test_lord_howe_half_hour_changes() -> None:
    # Lord Howe moves by 30 minutes: +10:30 -> +11:00 at 02:00 on Sun 2026-10-04, back at 02:00 on 04-05.
    lh = ZoneInfo("Australia/Lord_Howe")
    cal = WorkingCalendar(night("Australia/Lord_Howe"))
    # 10-04: 01:00 +10:30 = 14:30 UTC (Sat); 05:00 +11:00 = 18:00 UTC: 3h30m
    assert cal.between(at(2026, 10, 3, tz=lh), at(2026, 10, 5, tz=lh)) == 3.5 * H
    assert cal.deadline(at(2026, 10, 3, tz=lh), hours(1.5)) == utc(2026, 10, 3, 16)  # = 03:00 +11:00
    # 04-05: 01:00 +11:00 = 14:00 UTC; 05:00 +10:30 = 18:30 UTC: 4h30m
    assert cal.between(at(2026, 4, 4, tz=lh), at(2026, 4, 6, tz=lh)) == 4.5 * H
    # an opening at 02:15 on 10-04 does not exist: read with +10:30 -> 15:45 UTC = 02:45 +11:00
    gap = WorkingCalendar(night("Australia/Lord_Howe", Interval(135, 300)))
    assert gap.deadline(at(2026, 10, 3, tz=lh), hours(0)) == utc(2026, 10, 3, 15, 45)
    # an opening at 01:45 on 04-05 occurs twice (01:30-02:00 repeats): the first is +11:00 -> 14:45 UTC
    fold = WorkingCalendar(night("Australia/Lord_Howe", Interval(105, 300)))
    assert fold.deadline(at(2026, 4, 4, tz=lh), hours(0)) == utc(2026, 4, 4, 14, 45)
    assert fold.between(at(2026, 4, 4, tz=lh), at(2026, 4, 6, tz=lh)) == 3.75 * H  # 14:45-18:30 UTC


def test_a_date_the_zone_skipped_has_no_working_time() -> None:
    # Samoa moved across the date line: Thu 2011-12-29 23:59:59 -10:00 was followed by Sat 12-31 00:00 +14:00.
    # Friday 12-30 never happened, so its hours count nothing (read with the gap rule they would land on
    # Saturday and count Saturday's real seconds twice).
    apia = ZoneInfo("Pacific/Apia")
    cal = WorkingCalendar(Calendar("apia", "Apia", "Pacific/Apia", {d: (Interval(540, 1020),) for d in range(7)}))
    assert cal.between(at(2011, 12, 29, tz=apia), at(2012, 1, 1, tz=apia)) == 16 * H  # Thu and Sat, 8h each
    # 20h from Thu 09:00: 8h Thursday, 8h Saturday, 4h Sunday -> Sun 2012-01-01 13:00 +14:00
    assert cal.deadline(at(2011, 12, 29, 9, tz=apia), hours(20)) == at(2012, 1, 1, 13, tz=apia)
    assert cal.deadline(at(2011, 12, 29, 18, tz=apia), hours(0)) == at(2011, 12, 31, 9, tz=apia)
    # 1bd from Thu 10:00 (offset 1h): Saturday is the next working day -> Sat 10:00, i.e. Thu 17:00 + 7h
    assert cal.deadline(at(2011, 12, 29, 10, tz=apia), bd(1)) == at(2011, 12, 31, 10, tz=apia)


# -- 24x7 ------------------------------------------------------------------------------------------------


def test_24x7_counts_real_seconds_across_spring_forward() -> None:
    cal = WorkingCalendar(Calendar("24x7", "24x7", "Europe/Berlin", {}, always=True))
    # Sat 03-28 12:00 CET = 11:00 UTC; + 24h real = Sun 11:00 UTC = 13:00 CEST (wall clock moved 25h)
    assert cal.deadline(at(2026, 3, 28, 12), hours(24)) == at(2026, 3, 29, 13)
    assert cal.deadline(at(2026, 3, 28, 12), Duration("1d", seconds=86400, calendar_days=True)) == at(2026, 3, 29, 13)
    # Sat 12:00 -> Sun 12:00 local is 23h of real time
    assert cal.between(at(2026, 3, 28, 12), at(2026, 3, 29, 12)) == 23 * H
    assert cal.deadline(at(2026, 3, 28, 12, 34, 56), hours(0)) == at(2026, 3, 28, 12, 34, 56)


def test_24x7_counts_real_seconds_across_fall_back() -> None:
    cal = WorkingCalendar(Calendar("24x7", "24x7", "America/New_York", {}, always=True))
    # Sat 10-31 12:00 EDT = 16:00 UTC; + 24h = Sun 16:00 UTC = 11:00 EST
    assert cal.deadline(at(2026, 10, 31, 12, tz=NEW_YORK), hours(24)) == at(2026, 11, 1, 11, tz=NEW_YORK)
    assert cal.between(at(2026, 10, 31, 12, tz=NEW_YORK), at(2026, 11, 1, 12, tz=NEW_YORK)) == 25 * H
    # two weeks: 336h of real time
    assert cal.deadline(at(2026, 10, 31, 12, tz=NEW_YORK), Duration("2w", seconds=14 * 86400, calendar_days=True)) \
        == utc(2026, 11, 14, 16)


# -- Asia/Shanghai: National Day and make-up working days -------------------------------------------------


def test_shanghai_make_up_sunday_counts() -> None:
    cal = WorkingCalendar(CN_OFFICE)
    # Fri 09-25 17:00 + 2h: Fri 17:00-18:00 = 1h; Sat 09-26 off; Sun 09-27 make-up day 09:00 + 1h -> 10:00
    assert cal.deadline(at(2026, 9, 25, 17, tz=SHANGHAI), hours(2)) == at(2026, 9, 27, 10, tz=SHANGHAI)
    # Sat 09-26 00:00 -> Mon 09-28 00:00: the make-up Sunday's 7h30m
    assert cal.between(at(2026, 9, 26, tz=SHANGHAI), at(2026, 9, 28, tz=SHANGHAI)) == 7.5 * H


def test_shanghai_national_day_and_make_up_saturday() -> None:
    cal = WorkingCalendar(CN_OFFICE)
    # Wed 09-30 16:00 + 12h: Wed 16:00-18:00 = 2h (10h left); 10-01..10-08 National Day;
    # Fri 10-09 = 7h30m (2h30m left); Sat 10-10 make-up day 09:00 + 2h30m: 3h morning -> 11:30
    assert cal.deadline(at(2026, 9, 30, 16, tz=SHANGHAI), hours(12)) == at(2026, 10, 10, 11, 30, tz=SHANGHAI)
    # the whole holiday week counts nothing
    assert cal.between(at(2026, 9, 30, 18, tz=SHANGHAI), at(2026, 10, 9, 9, tz=SHANGHAI)) == 0
    # Sat 10-10 make-up day ends at 18:00 exactly (end-inclusive): Sat 13:30 + 4h30m
    assert cal.deadline(at(2026, 10, 10, 13, 30, tz=SHANGHAI), hours(4.5)) == at(2026, 10, 10, 18, tz=SHANGHAI)


def test_workday_wins_over_holiday() -> None:
    # 10-01 is both a holiday and a listed working day: the working day wins (09:00-10:00)
    cal = WorkingCalendar(Calendar("x", "X", "Asia/Shanghai", {d: CN_DAY for d in range(5)}, holidays=NATIONAL_DAY,
                                   workdays=MappingProxyType({date(2026, 10, 1): (Interval(540, 600),)})))
    assert cal.between(at(2026, 10, 1, tz=SHANGHAI), at(2026, 10, 2, tz=SHANGHAI)) == H
    assert cal.deadline(at(2026, 9, 30, 18, tz=SHANGHAI), hours(1)) == at(2026, 10, 1, 10, tz=SHANGHAI)


# -- long targets ----------------------------------------------------------------------------------------


def test_120h_across_national_day_shanghai() -> None:
    cal = WorkingCalendar(CN_OFFICE)
    # 120h = 16 days of 7h30m. From Mon 09-21 09:00: 09-21..09-25 (5), Sun 09-27 (6), 09-28..09-30 (9),
    # National Day 10-01..10-08, Fri 10-09 (10), Sat 10-10 (11), Mon 10-12..Fri 10-16 (16) -> Fri 10-16 18:00
    assert cal.deadline(at(2026, 9, 21, 9, tz=SHANGHAI), hours(120)) == at(2026, 10, 16, 18, tz=SHANGHAI)


def test_120h_across_easter_berlin(office: WorkingCalendar) -> None:
    # 120h = 15 days of 8h. From Mon 03-30 08:00: 03-30..04-02 (4), Good Friday and Easter Monday off,
    # Tue 04-07..Fri 04-10 (8), 04-13..04-17 (13), Mon 04-20, Tue 04-21 (15) -> Tue 04-21 17:00
    assert office.deadline(at(2026, 3, 30, 8), hours(120)) == at(2026, 4, 21, 17)
    # and one more second runs into Wed 04-22 08:00:01
    assert office.add(at(2026, 3, 30, 8), 120 * H + 1) == at(2026, 4, 22, 8, 0, 1)
    assert office.between(at(2026, 3, 30, 8), at(2026, 4, 21, 17)) == 120 * H


def test_long_but_valid_target_is_not_mistaken_for_no_working_time(office: WorkingCalendar) -> None:
    # 10,000h is a valid duration (under the ten-year limit of the language). At 8h a day it needs
    # 1,250 working days, about 4.8 calendar years: there is working time, so there must be a deadline.
    start = at(2026, 3, 2, 8)
    end = office.deadline(start, hours(10_000))
    assert office.between(start, end) == 10_000 * H


# -- Nbd: the same working-time offset into the Nth following working day -----------------------------------


def test_bd_same_offset_next_day(office: WorkingCalendar) -> None:
    # Mon 03-02 10:30: offset 08:00-10:30 = 2h30m; 1bd -> Tue 10:30; 5bd -> Mon 03-09 10:30
    assert office.deadline(at(2026, 3, 2, 10, 30), bd(1)) == at(2026, 3, 3, 10, 30)
    assert office.deadline(at(2026, 3, 2, 10, 30), bd(5)) == at(2026, 3, 9, 10, 30)
    # Fri 03-06 15:00: offset 4h + 2h = 6h; 1bd -> Mon 03-09 at offset 6h = 15:00
    assert office.deadline(at(2026, 3, 6, 15), bd(1)) == at(2026, 3, 9, 15)


def test_bd_skips_holidays(office: WorkingCalendar) -> None:
    # Wed 04-01 14:00: offset 4h + 1h = 5h. Following working days: Thu 04-02 (1), [Fri 04-03, Mon 04-06 off],
    # Tue 04-07 (2), Wed (3), Thu (4), Fri 04-10 (5): offset 5h = 4h morning + 1h -> 14:00
    assert office.deadline(at(2026, 4, 1, 14), bd(5)) == at(2026, 4, 10, 14)
    # Thu 04-02 09:00, 1bd -> Tue 04-07 09:00
    assert office.deadline(at(2026, 4, 2, 9), bd(1)) == at(2026, 4, 7, 9)


def test_bd_offset_at_lunch_is_end_inclusive(office: WorkingCalendar) -> None:
    # Mon 13:00: offset = the whole morning, 4h; 1bd -> Tue at offset 4h = 12:00 (not 13:00)
    assert office.deadline(at(2026, 3, 2, 13), bd(1)) == at(2026, 3, 3, 12)


def test_bd_on_shorter_make_up_day_ends_at_its_closing() -> None:
    cal = WorkingCalendar(CN_SHORT_SATURDAY)
    # Fri 10-09 15:00: offset 3h + 1h30m = 4h30m. 1bd = Sat 10-10 (make-up, 09:00-12:00 = 3h < 4h30m)
    # -> its closing instant 12:00
    assert cal.deadline(at(2026, 10, 9, 15, tz=SHANGHAI), bd(1)) == at(2026, 10, 10, 12, tz=SHANGHAI)
    # 2bd = Mon 10-12 at offset 4h30m: 3h morning + 13:30 + 1h30m -> 15:00
    assert cal.deadline(at(2026, 10, 9, 15, tz=SHANGHAI), bd(2)) == at(2026, 10, 12, 15, tz=SHANGHAI)
    # Fri 10-09 10:00: offset 1h fits the short day -> Sat 10:00
    assert cal.deadline(at(2026, 10, 9, 10, tz=SHANGHAI), bd(1)) == at(2026, 10, 10, 10, tz=SHANGHAI)


def test_bd_over_national_day_and_make_up_sunday() -> None:
    cal = WorkingCalendar(CN_OFFICE)
    # Wed 09-30 10:00 (offset 1h): 10-01..10-08 off, 1bd = Fri 10-09 10:00; 2bd = Sat 10-10 (make-up) 10:00
    assert cal.deadline(at(2026, 9, 30, 10, tz=SHANGHAI), bd(1)) == at(2026, 10, 9, 10, tz=SHANGHAI)
    assert cal.deadline(at(2026, 9, 30, 10, tz=SHANGHAI), bd(2)) == at(2026, 10, 10, 10, tz=SHANGHAI)
    # Fri 09-25 10:00 (offset 1h): Sat 09-26 off; 1bd = Sun 09-27 (make-up) 10:00
    assert cal.deadline(at(2026, 9, 25, 10, tz=SHANGHAI), bd(1)) == at(2026, 9, 27, 10, tz=SHANGHAI)


def test_bd_on_a_day_shortened_by_dst() -> None:
    cal = WorkingCalendar(night("Europe/Berlin"))
    # Sun 03-22 03:00 CET: offset 01:00-03:00 = 2h. 1bd = Sun 03-29 (3h real): 00:00 UTC + 2h -> 02:00 UTC
    assert cal.deadline(at(2026, 3, 22, 3), bd(1)) == utc(2026, 3, 29, 2)
    # Sun 03-22 04:30: offset 3h30m > 3h on 03-29 -> its closing instant 05:00 CEST = 03:00 UTC
    assert cal.deadline(at(2026, 3, 22, 4, 30), bd(1)) == utc(2026, 3, 29, 3)


def test_bd_from_an_opening_is_end_inclusive(office: WorkingCalendar) -> None:
    # Mon 03-02 08:00 (offset 0), 1bd: the target is Mon 08:00 -> Tue 08:00 of working time = 8h, and that
    # much is used up exactly at Mon 17:00; SPEC 6 deadlines are the first instant the target is reached,
    # end-inclusive (closing, not the next opening): Mon 17:00, the same working-time instant as Tue 08:00.
    assert office.deadline(at(2026, 3, 2, 8), bd(1)) == at(2026, 3, 2, 17)
    # A start before opening begins counting at 08:00: the same answer
    assert office.deadline(at(2026, 3, 2, 7), bd(1)) == at(2026, 3, 2, 17)
    # Sat 03-07 10:00 begins counting Mon 03-09 08:00; 1bd -> Mon 17:00
    assert office.deadline(at(2026, 3, 7, 10), bd(1)) == at(2026, 3, 9, 17)


@pytest.mark.parametrize("start", [at(2026, 3, 2, 8), at(2026, 3, 2, 10, 30), at(2026, 3, 2, 13), at(2026, 3, 7, 10),
                                   at(2026, 4, 1, 14), at(2026, 3, 27, 16)])
@pytest.mark.parametrize("days", [1, 3, 5])
def test_bd_deadline_agrees_with_a_clock_started_at_the_same_instant(office: WorkingCalendar, start: datetime,
                                                                      days: int) -> None:
    # WorkingCalendar.deadline (used for timed transitions) and a fresh SLA clock must agree on the deadline
    update = evaluate_clock(ClockState(), Conditions(), start, bd(days), office)
    assert office.deadline(start, bd(days)) == update.state.deadline


# -- a calendar without working time ------------------------------------------------------------------------


def test_calendar_without_working_time_raises_instead_of_hanging() -> None:
    cal = WorkingCalendar(Calendar("never", "Never", "Europe/Berlin", {}))
    with pytest.raises(NoWorkingTime):
        cal.deadline(at(2026, 3, 2, 9), hours(1))
    with pytest.raises(NoWorkingTime):
        cal.deadline(at(2026, 3, 2, 9), hours(0))
    with pytest.raises(NoWorkingTime):
        cal.deadline(at(2026, 3, 2, 9), bd(1))
    assert cal.between(at(2026, 3, 2), at(2026, 4, 2)) == 0


# -- shared instances ------------------------------------------------------------------------------------


def test_working_calendar_is_shared_per_spec() -> None:
    assert working_calendar(OFFICE) is working_calendar(OFFICE)
    assert working_calendar(OFFICE).spec is OFFICE
    assert working_calendar(CN_OFFICE) is not working_calendar(OFFICE)


def test_answers_are_remembered_and_the_memory_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A calendar remembers what it added and counted (a sweep's clocks ask again when they settle once
    more): the same answers as a fresh calendar's, and the memory is emptied when it is full."""
    from itsm.sla import calendar as module

    monkeypatch.setattr(module, "MEMORY", 3)
    kept, fresh = WorkingCalendar(OFFICE), WorkingCalendar(OFFICE)
    start = datetime(2026, 4, 2, 16, 0, tzinfo=BERLIN)  # Thursday before Easter
    for hours in (1, 2, 3, 4, 5, 1, 2):
        assert kept.add(start, hours * H) == WorkingCalendar(OFFICE).add(start, hours * H)
        end = start + timedelta(days=hours)
        assert kept.between(start, end) == fresh.between(start, end)
    assert kept.add(start, 2 * H) == datetime(2026, 4, 7, 9, 0, tzinfo=BERLIN)  # 1 h Thursday, 1 h on Tuesday
    assert 0 < len(kept._sums) <= 3 and 0 < len(kept._betweens) <= 3
