"""SLA clock semantics (SPEC 6) with hand-computed expectations.

Most cases run on a 24x7 calendar in UTC, where working time is wall time and the arithmetic is plain;
the cases that depend on business hours use an office calendar in Berlin, Mon-Fri 08:00-12:00, 13:00-17:00.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from itsm.interpreter.model import Calendar, Duration, Interval
from itsm.sla import ClockState, ClockUpdate, Conditions, WorkingCalendar, evaluate_clock

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
H, M = 3600, 60

ALWAYS = WorkingCalendar(Calendar("24x7", "24x7", "UTC", {}, always=True))
OFFICE = WorkingCalendar(Calendar(
    id="office", name="Office", timezone="Europe/Berlin",
    hours={d: (Interval(480, 720), Interval(780, 1020)) for d in range(5)}))
CN_DAY = (Interval(540, 720), Interval(810, 1080))  # 09:00-12:00, 13:30-18:00
CN_OFFICE = WorkingCalendar(Calendar(
    id="cn", name="CN", timezone="Asia/Shanghai", hours={d: CN_DAY for d in range(5)},
    holidays=MappingProxyType({date(2026, 10, 1) + timedelta(days=n): "National Day" for n in range(8)}),
    workdays=MappingProxyType({date(2026, 10, 10): (Interval(540, 720),)})))  # short make-up Saturday

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday; on 24x7 every second counts


def t(minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(minutes=minutes, seconds=seconds)


def mon(h: int, mi: int = 0, s: int = 0, day: int = 2) -> datetime:
    """Berlin local time in the week of Monday 2026-03-02 (day=3 is Tuesday)."""
    return datetime(2026, 3, day, h, mi, s, tzinfo=BERLIN)


def dur(seconds: int) -> Duration:
    return Duration(f"{seconds}s", seconds=seconds)


HOUR, FOUR_HOURS = dur(H), dur(4 * H)


def step(state: ClockState, now: datetime, target: Duration | None = HOUR, calendar: WorkingCalendar = ALWAYS,
         warn_at: tuple[float, ...] = (), **conditions: bool) -> ClockUpdate:
    return evaluate_clock(state, Conditions(**conditions), now, target, calendar, warn_at)


def run(*steps: tuple[datetime, dict[str, bool]], target: Duration | None = HOUR, calendar: WorkingCalendar = ALWAYS,
        warn_at: tuple[float, ...] = ()) -> list[ClockUpdate]:
    """Evaluate a sequence of (instant, conditions) steps from a fresh clock; every update, in order."""
    state, updates = ClockState(), []
    for now, conditions in steps:
        update = step(state, now, target, calendar, warn_at, **conditions)
        updates.append(update)
        state = update.state
    return updates


# -- start, pause, resume, stop -------------------------------------------------------------------------


def test_start_runs_from_zero() -> None:
    u = step(ClockState(), t(0))
    assert u.state.status == "running" and u.changed
    assert u.state.elapsed == 0 and u.state.started_at == t(0)
    assert u.state.deadline == t(60)  # 00:00 + 1h
    assert u.state.percent() == 0.0


def test_start_false_stays_not_started() -> None:
    u = step(ClockState(), t(0), start=False)
    assert u.state.status == "not_started" and u.state.deadline is None and not u.changed


def test_start_outside_working_hours_counts_from_opening() -> None:
    # Mon 07:00, 4h: counting begins 08:00 -> 12:00 (end-inclusive, before lunch)
    u = step(ClockState(), mon(7), FOUR_HOURS, OFFICE)
    assert u.state.deadline == mon(12)
    # Mon 09:00, 4h: 09:00-12:00 = 3h, 13:00 + 1h -> 14:00
    assert step(ClockState(), mon(9), FOUR_HOURS, OFFICE).state.deadline == mon(14)


def test_pause_and_resume_exclude_the_pause() -> None:
    started, paused, still, resumed, later = run((mon(9), {}), (mon(10), {"pause": True}), (mon(11), {"pause": True}),
                                                 (mon(14), {}), (mon(16), {}), target=FOUR_HOURS, calendar=OFFICE)
    assert started.state.deadline == mon(14)  # 09:00 + 3h + 13:00 + 1h
    # paused at 10:00 with 1h elapsed; while paused the deadline is null and nothing is scheduled
    assert paused.state.status == "paused" and paused.state.elapsed == H and paused.changed
    assert paused.state.deadline is None and paused.state.next_timer_at is None
    assert still.state.elapsed == H and still.state.deadline is None and not still.changed
    # resumed at 14:00: 1h elapsed, 3h left -> 17:00
    assert resumed.state.status == "running" and resumed.state.elapsed == H
    assert resumed.state.deadline == mon(17)
    # 16:00: 1h + 14:00-16:00 = 3h
    assert later.state.elapsed == 3 * H and later.state.percent() == 75.0


def test_stop_exactly_at_deadline_is_met() -> None:
    # 24x7: 00:00 + 1h = 01:00; stopping at 01:00 is met
    *_, stopped = run((t(0), {}), (t(60), {"stop": True}))
    assert stopped.state.status == "met" and not stopped.breach and stopped.changed
    assert stopped.state.deadline is None and stopped.state.stopped_at == t(60)
    assert stopped.state.elapsed == H


def test_stop_one_second_after_deadline_is_breached() -> None:
    *_, stopped = run((t(0), {}), (t(60, 1), {"stop": True}))
    assert stopped.state.status == "breached" and stopped.breach and stopped.state.breached


def test_stop_at_closing_time_deadline_is_met() -> None:
    # Mon 13:00 + 4h = 17:00 (closing); stopping at 17:00 is met
    *_, stopped = run((mon(13), {}), (mon(17), {"stop": True}), target=FOUR_HOURS, calendar=OFFICE)
    assert stopped.state.status == "met" and not stopped.breach


@pytest.mark.parametrize("stop_at", [mon(17, 0, 1), mon(17, 30), mon(7, 59, day=3)])
def test_stop_after_closing_time_deadline_is_breached(stop_at: datetime) -> None:
    # Mon 13:00 + 4h = 17:00; a stop at 17:00:01, 17:30 or Tue 07:59 is after the deadline although no
    # working time passed since: SPEC 6 "met when the stop instant <= the deadline, else breached"
    first, stopped = run((mon(13), {}), (stop_at, {"stop": True}), target=FOUR_HOURS, calendar=OFFICE)
    assert first.state.deadline == mon(17)
    assert stopped.state.status == "breached" and stopped.breach


def test_running_clock_is_breached_once_now_is_past_a_closing_time_deadline() -> None:
    # Mon 13:00 + 4h = 17:00
    first, at_deadline, after, next_day = run((mon(13), {}), (mon(17), {}), (mon(17, 30), {}), (mon(9, day=3), {}),
                                              target=FOUR_HOURS, calendar=OFFICE)
    assert first.state.deadline == mon(17)
    # at 17:00 now == deadline: still running, the deadline stays 17:00
    assert at_deadline.state.status == "running" and not at_deadline.breach
    assert at_deadline.state.deadline == mon(17)
    # at 17:30 now > deadline: breached now, and the deadline does not move to Tue 08:00
    assert after.state.status == "breached" and after.breach
    assert after.state.deadline == mon(17)
    # Tue 09:00: still breached, on_breach not again
    assert next_day.state.status == "breached" and not next_day.breach
    assert next_day.state.deadline == mon(17)


def test_no_target_has_no_deadline() -> None:
    u = step(ClockState(), t(0), target=None)
    assert u.state.status == "running" and u.state.deadline is None and u.state.next_timer_at is None
    assert u.state.percent() is None


# -- precedence at one instant: cancel > stop > reset > pause > start ----------------------------------------


ALL = {"start": True, "stop": True, "pause": True, "reset": True, "cancel": True}


def running_for_30_minutes() -> ClockState:
    return step(ClockState(), t(0)).state


def test_cancel_wins_over_everything() -> None:
    u = step(running_for_30_minutes(), t(30), **ALL)
    assert u.state.status == "cancelled" and u.state.deadline is None and not u.breach and u.changed
    assert u.state.next_timer_at is None
    # cancelled stays cancelled: no outcome, no breach later
    later = step(u.state, t(120))
    assert later.state.status == "cancelled" and not later.breach and later.state.deadline is None


def test_cancel_on_a_clock_not_started() -> None:
    assert step(ClockState(), t(0), cancel=True).state.status == "cancelled"


def test_stop_wins_over_reset_pause_and_start() -> None:
    u = step(running_for_30_minutes(), t(30), **{**ALL, "cancel": False})
    assert u.state.status == "met" and u.state.elapsed == 30 * M  # stopped, not reset: elapsed kept


def test_stop_on_a_clock_not_started_does_not_start_it() -> None:
    # start is true but so is stop: SPEC 6 starts a clock only when stop and cancel are false
    u = step(ClockState(), t(0), stop=True)
    assert u.state.status == "not_started" and u.state.started_at is None


def test_reset_wins_over_pause_and_start() -> None:
    # reset first (a fresh clock, elapsed 0, started now), then pause applies to the fresh clock
    u = step(running_for_30_minutes(), t(30), reset=True, pause=True)
    assert u.state.status == "paused" and u.state.elapsed == 0 and u.state.started_at == t(30)
    assert u.state.deadline is None


def test_pause_wins_over_start() -> None:
    u = step(running_for_30_minutes(), t(30), pause=True)
    assert u.state.status == "paused" and u.state.elapsed == 30 * M and u.state.deadline is None
    # a clock whose start and pause are both true on its first step starts paused
    fresh = step(ClockState(), t(0), pause=True)
    assert fresh.state.status == "paused" and fresh.state.elapsed == 0 and fresh.state.deadline is None


# -- reopen and reset ------------------------------------------------------------------------------------


def test_reopen_continues_with_elapsed_kept() -> None:
    # 24x7, 1h: stop at 00:20 (met, 20m); reopen at 00:50: the stopped 30m count as a pause
    _, stopped, reopened, later = run((t(0), {}), (t(20), {"stop": True}), (t(50), {}), (t(60), {}))
    assert stopped.state.status == "met" and stopped.state.elapsed == 20 * M
    assert reopened.state.status == "running" and reopened.state.elapsed == 20 * M and reopened.changed
    assert reopened.state.deadline == t(90)  # 40m left from 00:50
    assert reopened.state.started_at == t(0)  # the same clock, not a new one
    assert later.state.elapsed == 30 * M


def test_reopen_on_office_calendar() -> None:
    # Mon 09:00, 4h; stop 10:00 (1h); reopen 14:00: 3h left -> 17:00 (the stopped 10:00-14:00 does not count)
    *_, reopened = run((mon(9), {}), (mon(10), {"stop": True}), (mon(14), {}), target=FOUR_HOURS, calendar=OFFICE)
    assert reopened.state.elapsed == H and reopened.state.deadline == mon(17)


def test_reset_gives_a_fresh_clock() -> None:
    # 24x7, 1h, warn 50%: warned at 00:40; reset at 00:50 -> elapsed 0, started 00:50, deadline 01:50
    _, warned, reset, warned_again = run((t(0), {}), (t(40), {}), (t(50), {"reset": True}), (t(80), {}),
                                         warn_at=(0.5,))
    assert warned.warnings == [0.5]
    assert reset.state.status == "running" and reset.state.elapsed == 0 and reset.state.started_at == t(50)
    assert reset.state.deadline == t(110)
    assert warned_again.warnings == [0.5]  # the fresh clock warns again at 30m (01:20)


def test_reset_of_a_breached_clock() -> None:
    # breached at 01:10 (deadline 01:00); reset at 01:15 -> running, deadline 02:15; breaches again after it
    _, breached, reset, again = run((t(0), {}), (t(70), {}), (t(75), {"reset": True}), (t(136), {}))
    assert breached.breach and breached.state.status == "breached"
    assert reset.state.status == "running" and not reset.state.breached and reset.state.deadline == t(135)
    assert again.breach and again.state.status == "breached"


# -- warnings and breach -----------------------------------------------------------------------------------


def test_warnings_fire_once_per_threshold_in_order() -> None:
    # 24x7, 1h, warn 50% (1800 s) and 75% (2700 s)
    updates = run((t(0), {}), (t(29, 59), {}), (t(30), {}), (t(40), {}), (t(45), {}), (t(50), {}),
                  warn_at=(0.5, 0.75))
    assert [u.warnings for u in updates] == [[], [], [0.5], [], [0.75], []]
    assert not any(u.breach for u in updates)


def test_warnings_skipped_past_fire_together_in_ascending_order() -> None:
    _, jumped = run((t(0), {}), (t(50), {}), warn_at=(0.5, 0.75))
    assert jumped.warnings == [0.5, 0.75] and not jumped.breach and jumped.changed


def test_warnings_and_breach_together_when_a_step_skips_past_everything() -> None:
    _, jumped = run((t(0), {}), (t(70), {}), warn_at=(0.5, 0.75))
    assert jumped.warnings == [0.5, 0.75] and jumped.breach and jumped.state.status == "breached"


def test_warning_threshold_is_rounded_up_to_a_whole_second() -> None:
    # target 901 s, 50%: ceil(450.5) = 451
    _, early, due = run((t(0), {}), (t(seconds=450), {}), (t(seconds=451), {}), target=dur(901), warn_at=(0.5,))
    assert early.warnings == [] and due.warnings == [0.5]


def test_warning_threshold_is_exact_for_decimal_percentages() -> None:
    # target 30m = 1800 s, 55%: 0.55 * 1800 = 990 exactly, so ceil = 990 (not 991 from binary floating point)
    first, at_990 = run((t(0), {}), (t(seconds=990), {}), target=dur(1800), warn_at=(0.55,))
    assert first.state.next_timer_at == t(seconds=990)
    assert at_990.warnings == [0.55]


def test_breach_fires_exactly_once() -> None:
    # 24x7, 1h: deadline 01:00
    updates = run((t(0), {}), (t(60), {}), (t(61), {}), (t(70), {}), (t(80), {"stop": True}), (t(90), {}))
    at_deadline, first_late, later, stopped, reopened = updates[1:]
    assert at_deadline.state.status == "running" and not at_deadline.breach  # now == deadline: not yet
    assert first_late.breach and first_late.state.status == "breached" and first_late.changed
    assert not later.breach and later.state.status == "breached"
    assert not stopped.breach and stopped.state.status == "breached"
    assert not reopened.breach


def test_breach_while_paused_is_not_raised_by_the_pause() -> None:
    # 24x7, 1h: paused at 00:50 with 10m left; a week of pause breaches nothing
    *_, paused_long = run((t(0), {}), (t(50), {"pause": True}), (t(7 * 24 * 60), {"pause": True}))
    assert paused_long.state.status == "paused" and not paused_long.breach and paused_long.state.elapsed == 50 * M


# -- priority changes (a smaller target on a later step) --------------------------------------------------------


def test_priority_raised_keeps_start_and_elapsed() -> None:
    # 24x7: started 00:00 with 4h; at 01:00 the target becomes 2h -> deadline 02:00, 50%
    state = step(ClockState(), t(0), FOUR_HOURS).state
    u = step(state, t(60), dur(2 * H))
    assert u.state.started_at == t(0) and u.state.elapsed == H and u.state.target_seconds == 2 * H
    assert u.state.deadline == t(120) and u.state.percent() == 50.0
    assert u.state.status == "running" and not u.breach


def test_priority_raised_keeps_the_pauses() -> None:
    # office: Mon 09:00 with 4h, paused 10:00-11:00; at 11:30 the target becomes 2h:
    # elapsed 1h + 30m = 1h30m, 30m left from 11:30 -> 12:00 (end-inclusive)
    *_, raised = run((mon(9), {}), (mon(10), {"pause": True}), (mon(11), {}), (mon(11, 30), {}),
                     target=FOUR_HOURS, calendar=OFFICE)
    u = step(raised.state, mon(11, 30), dur(2 * H), OFFICE)
    assert u.state.elapsed == 1.5 * H and u.state.deadline == mon(12) and not u.breach


def test_priority_raised_past_the_new_deadline_breaches_at_once() -> None:
    # office: Mon 09:00 with 4h (deadline 14:00); at 11:30 the target becomes 2h: elapsed 2h30m > 2h
    state = step(ClockState(), mon(9), FOUR_HOURS, OFFICE).state
    u = step(state, mon(11, 30), dur(2 * H), OFFICE)
    assert u.breach and u.state.status == "breached" and u.changed
    # the retroactive new deadline is 09:00 + 2h = 11:00, already past
    assert u.state.deadline == mon(11)
    # once only
    assert not step(u.state, mon(11, 45), dur(2 * H), OFFICE).breach


def test_priority_raised_past_the_new_deadline_keeps_the_pauses() -> None:
    # office: Mon 09:00 with 4h, paused 10:00-11:00; at 11:30 the target becomes 45m: elapsed 1h30m > 45m.
    # Retroactively the clock reached 45m at 09:45 (before the pause), so the new deadline is 09:45, not
    # 11:30 - 45m = 10:45 (which lies inside the pause).
    *_, resumed = run((mon(9), {}), (mon(10), {"pause": True}), (mon(11), {}), target=FOUR_HOURS, calendar=OFFICE)
    u = step(resumed.state, mon(11, 30), dur(45 * M), OFFICE)
    assert u.breach and u.state.status == "breached"
    assert u.state.deadline == mon(9, 45)


def test_priority_change_while_paused_breaches_without_deadline() -> None:
    # 24x7: 1h30m elapsed, paused; the target becomes 1h: breached at once, the deadline stays null
    *_, paused = run((t(0), {}), (t(90), {"pause": True}), target=dur(4 * H))
    u = step(paused.state, t(100), HOUR, pause=True)
    assert u.breach and u.state.status == "breached" and u.state.deadline is None


def test_priority_moving_the_clock_to_another_calendar_keeps_the_elapsed_time() -> None:
    # office from Mon 16:00 with 4h; at 20:00 the priority moves it to 24x7 (target 4h): the time up to the
    # change is counted on the office calendar (1h, 16:00-17:00), so 3h are left: 23:00 Berlin
    state = step(ClockState(), mon(16), FOUR_HOURS, OFFICE).state
    berlin_24x7 = WorkingCalendar(Calendar("24x7", "24x7", "Europe/Berlin", {}, always=True))
    u = evaluate_clock(state, Conditions(), mon(20), FOUR_HOURS, berlin_24x7, (), counted_on=OFFICE)
    assert u.state.elapsed == H and u.state.deadline == mon(23) and u.state.status == "running"
    # and back: 24x7 until Tuesday 08:30 counts 12h30m more; 6h30m left on office hours: 08:30-12:00, 13:00-16:00
    back = evaluate_clock(u.state, Conditions(), mon(8, 30, day=3), dur(20 * H), OFFICE, (), counted_on=berlin_24x7)
    assert back.state.elapsed == 13.5 * H and back.state.deadline == mon(16, day=3)


# -- percent and timers ----------------------------------------------------------------------------------------


def test_percent() -> None:
    # 24x7, 3h target: 1h -> 33.33; 4h -> 133.33
    _, third, over = run((t(0), {}), (t(60), {}), (t(240), {}), target=dur(3 * H))
    assert third.state.percent() == 33.33
    assert over.state.percent() == 133.33
    # office, 4h from Mon 09:00: at 13:00 elapsed 09:00-12:00 = 3h (lunch excluded) -> 75.0
    _, office = run((mon(9), {}), (mon(13), {}), target=FOUR_HOURS, calendar=OFFICE)
    assert office.state.elapsed == 3 * H and office.state.percent() == 75.0


def test_next_timer_is_earliest_pending_warning_or_deadline() -> None:
    # 24x7, 4h, warn 50% (2h) and 75% (3h)
    start, half, three_quarters, late = run((t(0), {}), (t(120), {}), (t(180), {}), (t(240, 1), {}),
                                            target=FOUR_HOURS, warn_at=(0.5, 0.75))
    assert start.state.next_timer_at == t(120)
    assert half.warnings == [0.5] and half.state.next_timer_at == t(180)
    assert three_quarters.warnings == [0.75] and three_quarters.state.next_timer_at == t(240)  # the deadline
    assert late.breach and late.state.next_timer_at is None  # nothing pending


def test_next_timer_on_office_calendar_and_while_paused() -> None:
    # Mon 11:00, 4h, warn 50% (2h): 11:00-12:00 = 1h, 13:00 + 1h -> 14:00; deadline 12:00 + 13:00-16:00 -> 16:00
    start, paused = run((mon(11), {}), (mon(11, 30), {"pause": True}), target=FOUR_HOURS, calendar=OFFICE,
                        warn_at=(0.5,))
    assert start.state.next_timer_at == mon(14) and start.state.deadline == mon(16)
    assert paused.state.next_timer_at is None


def test_next_timer_without_warnings_is_the_deadline() -> None:
    u = step(ClockState(), mon(9), FOUR_HOURS, OFFICE)
    assert u.state.next_timer_at == u.state.deadline == mon(14)


# -- business-day targets ------------------------------------------------------------------------------------


def test_bd_target_on_a_clock() -> None:
    # Mon 10:30, 1bd -> Tue 10:30; its working time: 1h30m + 4h + 2h30m = 8h
    u = step(ClockState(), mon(10, 30), Duration("1bd", business_days=1), OFFICE)
    assert u.state.deadline == mon(10, 30, day=3) and u.state.target_seconds == 8 * H


def test_bd_target_on_a_shorter_make_up_day() -> None:
    # Fri 10-09 15:00 (offset 4h30m), 1bd = Sat 10-10 make-up day 09:00-12:00 (3h, shorter) -> its closing 12:00;
    # target working time: Fri 15:00-18:00 = 3h + Sat 3h = 6h
    u = step(ClockState(), datetime(2026, 10, 9, 15, tzinfo=SHANGHAI), Duration("1bd", business_days=1), CN_OFFICE)
    assert u.state.deadline == datetime(2026, 10, 10, 12, tzinfo=SHANGHAI)
    assert u.state.target_seconds == 6 * H


def test_unchanged_step_reports_no_change() -> None:
    state = step(ClockState(), t(0)).state
    u = step(state, t(10))
    assert not u.changed and u.warnings == [] and not u.breach and u.state.elapsed == 10 * M


def test_a_late_stop_fires_the_warnings_it_skipped_past_and_the_breach() -> None:
    """SPEC 6: warnings fire once per threshold, several at once when a change skips past them."""
    from datetime import UTC, datetime, timedelta

    from itsm.interpreter.model import Calendar, Duration
    from itsm.sla import ClockState, Conditions, WorkingCalendar, evaluate_clock

    always = WorkingCalendar(Calendar("24x7", "24x7", "UTC", {}, always=True))
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    target = Duration("1h", seconds=3600)
    running = evaluate_clock(ClockState(), Conditions(), start, target, always, (0.5, 0.75)).state
    stopped = evaluate_clock(running, Conditions(stop=True), start + timedelta(minutes=90), target, always,
                             (0.5, 0.75))
    assert stopped.warnings == [0.5, 0.75] and stopped.breach and stopped.state.status == "breached"
    assert stopped.state.warnings_fired == 2
