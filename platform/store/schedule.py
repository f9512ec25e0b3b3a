"""When the worker next has something to do: the earliest SLA clock step and the earliest unfired timer.

Scenario runs (`itsm test`) move their clock from one due instant to the next; production workers poll.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import SlaClock, Timer


def next_due(session: Session) -> datetime | None:
    """The earliest instant at which a clock has its next step or a timed transition falls due; None when
    nothing is scheduled."""
    clock = session.scalar(select(func.min(SlaClock.next_timer_at)))
    timer = session.scalar(select(func.min(Timer.due_at)).where(Timer.fired_at.is_(None)))
    candidates = [t for t in (clock, timer) if t is not None]
    return min(candidates) if candidates else None
