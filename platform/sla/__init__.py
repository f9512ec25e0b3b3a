"""Service levels (pure): business-calendar arithmetic and SLA clocks (SPEC 6).

No I/O: instants in, instants out. Arithmetic jumps over whole intervals and days (cached per local date),
never minute by minute.
"""

from __future__ import annotations

from .calendar import NoWorkingTime, WorkingCalendar, working_calendar
from .clock import ClockState, ClockUpdate, Conditions, evaluate_clock, target_seconds

__all__ = ["ClockState", "ClockUpdate", "Conditions", "NoWorkingTime", "WorkingCalendar", "evaluate_clock",
           "target_seconds", "working_calendar"]
