"""SLA clocks (SPEC 6): one pure step per change to a ticket, from conditions and the instant.

A clock's phase (not_started, running, paused, stopped, cancelled) is what it is doing; its status is
what people see: running and paused clocks past their deadline show `breached`, stopped clocks `met` or
`breached`. Elapsed time is working time of the clock's calendar, brought up to date at every step.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from itsm.interpreter.model import Duration

from .calendar import WorkingCalendar


@dataclass(frozen=True)
class Conditions:
    start: bool = True
    stop: bool = False
    pause: bool = False
    reset: bool = False
    cancel: bool = False


@dataclass(frozen=True)
class ClockState:
    phase: str = "not_started"  # not_started, running, paused, stopped, cancelled
    elapsed: float = 0.0  # working seconds counted up to `since`
    since: datetime | None = None  # last instant the clock was brought up to date while running
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    target_seconds: float | None = None
    deadline: datetime | None = None
    warnings_fired: int = 0
    breach_fired: bool = False
    breached: bool = False
    next_timer_at: datetime | None = None
    # Intervals the clock did not run since it started (pauses, and stopped time before a reopen); the
    # last one is open (end None) while paused. Needed to date a deadline that already lies in the past.
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()

    @property
    def status(self) -> str:
        if self.phase in ("not_started", "cancelled"):
            return self.phase
        if self.phase == "stopped":
            return "breached" if self.breached else "met"
        return "breached" if self.breached else self.phase

    def percent(self) -> float | None:
        if not self.target_seconds:
            return None if self.target_seconds is None else (100.0 if self.elapsed > 0 else 0.0)
        return round(100.0 * self.elapsed / self.target_seconds, 2)


@dataclass
class ClockUpdate:
    state: ClockState
    warnings: list[float] = field(default_factory=list)  # thresholds crossed by this step, ascending
    breach: bool = False  # on_breach fires now (once per clock)
    changed: bool = False  # the status changed: worth an event


def target_seconds(target: Duration, started_at: datetime, calendar: WorkingCalendar) -> float:
    """Working seconds of a target: `bd` targets are measured from the clock's start (SPEC 6 Nbd)."""
    if not target.business_days:
        return float(target.seconds)
    return calendar.business_days_seconds(started_at.timestamp(), target.business_days)


def evaluate_clock(state: ClockState, conditions: Conditions, now: datetime, target: Duration | None,
                   calendar: WorkingCalendar, warn_at: tuple[float, ...] = (),
                   counted_on: WorkingCalendar | None = None) -> ClockUpdate:
    """One step: bring elapsed up to `now`, apply the conditions by precedence, recompute the deadline.

    `counted_on` is the calendar the clock ran on until now when this step moves it to another (a priority
    with its own calendar): the time up to the change counts on the old one, so the elapsed time is kept.
    """
    before = state.status
    s = _catch_up(state, now, counted_on or calendar)
    if conditions.cancel:
        if s.phase != "cancelled":
            s = _evolve(s, phase="cancelled", since=None, deadline=None, next_timer_at=None, stopped_at=now)
        return ClockUpdate(s, changed=s.status != before)
    if conditions.stop:
        if s.phase in ("running", "paused"):
            was_running = s.phase == "running"
            s = _with_target(_evolve(s, phase="stopped", since=None, stopped_at=now), target, calendar)
            # met when the stop instant is at or before the deadline (SPEC 6)
            late = s.target_seconds is not None and (
                now > _deadline(s, s.target_seconds, now, calendar) if was_running
                else s.elapsed > s.target_seconds)
            breach = late and not s.breach_fired
            crossed: list[float] = []
            if s.target_seconds is not None:  # thresholds passed since the last step fire too (SPEC 6)
                crossed = [warn_at[i] for i in range(s.warnings_fired, len(warn_at))
                           if s.elapsed >= threshold(warn_at[i], s.target_seconds)]
            s = _evolve(s, breached=late, breach_fired=s.breach_fired or late, deadline=None,
                        next_timer_at=None, warnings_fired=s.warnings_fired + len(crossed))
            return ClockUpdate(s, warnings=crossed, breach=breach, changed=True)
        return ClockUpdate(s)
    if conditions.reset and s.phase != "not_started":
        s = ClockState()
    if s.phase == "stopped":  # stop is false again: a reopen continues with the elapsed time kept
        gap = ((s.stopped_at or now, now),)
        s = _evolve(s, phase="running", since=now, stopped_at=None, pauses=s.pauses + gap)
    if s.phase == "not_started" and conditions.start:
        s = _evolve(s, phase="running", since=now, started_at=now, elapsed=0.0, pauses=())
    if s.phase == "running" and conditions.pause:
        s = _evolve(s, phase="paused", since=None, pauses=s.pauses + ((now, None),))
    elif s.phase == "paused" and not conditions.pause:
        closed = s.pauses[:-1] + ((s.pauses[-1][0], now),) if s.pauses else ()
        s = _evolve(s, phase="running", since=now, pauses=closed)
    if s.phase not in ("running", "paused"):
        return ClockUpdate(s, changed=s.status != before)
    s = _with_target(s, target, calendar)
    return _timers(s, now, calendar, warn_at, before)


@functools.lru_cache(maxsize=4096)  # few distinct (threshold, target) pairs; Fraction arithmetic is slow
def threshold(fraction: float, target: float) -> int:
    """SPEC 6: a warning at p% fires when elapsed reaches ⌈p·target⌉, computed exactly (55% of 1800 s is
    990 s, not the 991 that binary floating point gives)."""
    return math.ceil(Fraction(str(fraction)) * Fraction(target))


def _deadline(s: ClockState, target: float, now: datetime, calendar: WorkingCalendar) -> datetime:
    """The instant elapsed reaches the target, for a clock running at `now`.

    Still ahead: `now` plus the remaining working time (end-inclusive). Already reached (a priority change,
    or a target used up at 12:00 seen over lunch): the instant it was reached, found by walking the
    clock's running stretches since its start, pauses excluded.
    """
    remaining = target - s.elapsed
    if remaining > 0:
        return calendar.add(now, remaining)
    if s.started_at is None:
        return calendar.subtract(now, -remaining)
    needed = target
    cursor = s.started_at
    for pause_start, pause_end in (*s.pauses, (now, now)):
        stretch = calendar.between(cursor, pause_start)
        if needed <= stretch:
            return calendar.add(cursor, needed)
        needed -= stretch
        cursor = pause_end or now
    return calendar.subtract(now, -remaining)  # elapsed from another calendar: the best estimate


_STATE_FIELDS = frozenset(ClockState.__dataclass_fields__)


def _evolve(state: ClockState, **changes: Any) -> ClockState:
    """`dataclasses.replace` without its per-field work (ClockState has no __post_init__ and no defaults
    to compute): a clock step makes up to four of these, for every clock of every ticket swept."""
    assert changes.keys() <= _STATE_FIELDS, changes.keys() - _STATE_FIELDS
    new = object.__new__(ClockState)
    new.__dict__.update(state.__dict__)
    new.__dict__.update(changes)
    return new


def _catch_up(state: ClockState, now: datetime, calendar: WorkingCalendar) -> ClockState:
    if state.phase != "running" or state.since is None or now <= state.since:
        return state
    return _evolve(state, elapsed=state.elapsed + calendar.between(state.since, now), since=now)


def _with_target(s: ClockState, target: Duration | None, calendar: WorkingCalendar) -> ClockState:
    seconds = None if target is None or s.started_at is None else target_seconds(target, s.started_at, calendar)
    return _evolve(s, target_seconds=seconds)


def _timers(s: ClockState, now: datetime, calendar: WorkingCalendar, warn_at: tuple[float, ...],
            before: str) -> ClockUpdate:
    """Warnings crossed, breach, deadline and the next instant the worker must look at this clock."""
    if s.target_seconds is None:
        return ClockUpdate(_evolve(s, deadline=None, next_timer_at=None), changed=s.status != before)
    target = s.target_seconds
    thresholds = [threshold(p, target) for p in warn_at]
    crossed = [warn_at[i] for i in range(s.warnings_fired, len(warn_at)) if s.elapsed >= thresholds[i]]
    running = s.phase == "running"
    if running:
        deadline: datetime | None = _deadline(s, target, now, calendar)
        late = now > deadline  # type: ignore[operator]
    else:
        deadline = None  # SPEC 6: while paused the deadline is null
        late = s.elapsed > target
    breach = late and not s.breach_fired
    warnings_fired, breach_fired = s.warnings_fired + len(crossed), s.breach_fired or late
    next_timer = None
    if running:
        # the earliest warning still to come (adding working time is monotonic), or the deadline
        ahead = [thresholds[i] - s.elapsed for i in range(warnings_fired, len(warn_at))]
        candidates = [calendar.add(now, min(ahead))] if ahead else []
        if not breach_fired and deadline is not None:
            candidates.append(deadline)
        next_timer = min(candidates) if candidates else None
    s = _evolve(s, warnings_fired=warnings_fired, breached=s.breached or late, breach_fired=breach_fired,
                            deadline=deadline, next_timer_at=next_timer)
    return ClockUpdate(s, warnings=crossed, breach=breach, changed=s.status != before or bool(crossed) or breach)
