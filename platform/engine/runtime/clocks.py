"""SLA clocks of one ticket, persisted (SPEC 6): evaluated after every change and by the worker.

The arithmetic and the state machine of a clock live in `itsm.sla`; here they meet the ticket's policy,
the stored rows, and the warning and breach actions, which run in the operation's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from itsm.interpreter import model as m
from itsm.sla import ClockState, Conditions, evaluate_clock, working_calendar
from itsm.store import SlaClock, Timer
from itsm.store import queries as q

from .actions import run_actions

if TYPE_CHECKING:
    from .core import Operation


def select_policy(op: Operation) -> m.SlaPolicy | None:
    """The process's policy: the first rule whose condition holds (SPEC 4 process `sla`)."""
    for rule in op.process.sla:
        if rule.when is None or rule.when.test(op.context()):
            return op.pack.sla_policies.get(rule.policy)
    return None


def load_rows(op: Operation) -> dict[str, SlaClock]:
    if op.ticket.id is None:
        return {}
    rows = op.session.scalars(q.CLOCKS_OF_TICKET, {"ticket_id": op.ticket.id})
    return {row.clock: row for row in rows}


def update_clocks(op: Operation) -> None:
    """Evaluate every clock of the ticket's policy at `op.now`, then run warning and breach actions."""
    policy = select_policy(op)
    if policy is None:
        for row in op.clock_rows().values():
            row.next_timer_at = None  # no policy any more: nothing of these clocks is due
        return
    if op.ticket.id is None:
        op.sync()
        op.session.flush()
    rows = op.clock_rows()
    current = {clock.id for clock in policy.clocks}
    for name, row in rows.items():
        if name not in current:  # a clock the policy no longer has (renamed, removed): never due again
            row.next_timer_at = None
    context = op.context()
    for clock in policy.clocks:
        row = rows.get(clock.id)
        if row is None:
            row = rows[clock.id] = op.new_clock_row(clock.id)
        level = op.ticket.priority
        target = clock.targets.get(level or "") or clock.targets.get("default")
        calendar_id = policy.calendar_for(clock, level)
        calendar = working_calendar(op.pack.calendars[calendar_id])
        conditions = Conditions(
            start=clock.start.test(context) if clock.start is not None else True,
            stop=clock.stop.test(context) if clock.stop is not None else False,
            pause=clock.pause.test(context) if clock.pause is not None else False,
            reset=clock.reset.test(context) if clock.reset is not None else False,
            cancel=clock.cancel.test(context) if clock.cancel is not None else False)
        previous = op.pack.calendars.get(row.calendar) if row.calendar not in (None, calendar_id) else None
        update = evaluate_clock(state_of(row), conditions, op.now, target, calendar, clock.warn_at,
                                counted_on=working_calendar(previous) if previous is not None else None)
        store(row, update.state, policy.id, calendar_id)
        if update.changed:
            op.note_event("sla", {"clock": clock.id, "status": update.state.status,
                                  "deadline": _iso(update.state.deadline), "breach": update.breach,
                                  "warnings": [f"{w:.0%}" for w in update.warnings]})
        for threshold in update.warnings:
            op.extra_template["clock"] = clock_facts(clock, update.state, threshold)
            run_actions(op, clock.on_warning)
        if update.breach:
            op.extra_template["clock"] = clock_facts(clock, update.state, None)
            run_actions(op, clock.on_breach)
        op.extra_template.pop("clock", None)


def state_of(row: SlaClock) -> ClockState:
    return ClockState(phase=row.phase, elapsed=row.elapsed_seconds, since=row.running_since,
                      started_at=row.started_at, stopped_at=row.stopped_at, target_seconds=row.target_seconds,
                      deadline=row.deadline, warnings_fired=row.warnings_fired, breach_fired=row.breach_fired,
                      breached=row.breached, next_timer_at=row.next_timer_at,
                      pauses=tuple((datetime.fromisoformat(str(a)), datetime.fromisoformat(b) if b else None)
                                   for a, b in row.pauses or []))


def store(row: SlaClock, state: ClockState, policy: str, calendar: str) -> None:
    row.phase, row.status, row.policy, row.calendar = state.phase, state.status, policy, calendar
    row.elapsed_seconds, row.running_since = state.elapsed, state.since
    row.started_at, row.stopped_at = state.started_at, state.stopped_at
    row.target_seconds, row.deadline = state.target_seconds, state.deadline
    row.warnings_fired, row.breached, row.breach_fired = state.warnings_fired, state.breached, state.breach_fired
    row.next_timer_at = state.next_timer_at
    row.pauses = [[start.isoformat(), end.isoformat() if end else None] for start, end in state.pauses]


def clock_facts(clock: m.ClockSpec, state: ClockState, threshold: float | None) -> dict[str, Any]:
    return {"id": clock.id, "label": clock.label, "status": state.status, "deadline": _iso(state.deadline),
            "percent": state.percent(), "threshold": f"{threshold:.0%}" if threshold is not None else None}


def clock_views(op: Operation, now: datetime) -> dict[str, dict[str, Any]]:
    """SPEC 6 per clock: status, target_seconds, elapsed_seconds, deadline, breached, percent, started_at,
    stopped_at; running clocks are brought up to `now` for display (nothing is stored)."""
    zone = ZoneInfo(op.pack.timezone)
    calendars = op.pack.calendars
    shown: dict[datetime, str] = {}  # a ticket's clocks mostly share their instants: format each once
    worked: dict[tuple[str, datetime], float] = {}  # and their running_since, on the same calendar

    def iso(value: datetime | None) -> str | None:
        if value is None:
            return None
        text = shown.get(value)
        if text is None:
            text = shown[value] = value.astimezone(zone).isoformat()
        return text

    views = {}
    for name, row in op.clock_rows().items():
        status, elapsed, breached = _live(row, now, calendars, worked)
        target = row.target_seconds
        views[name] = {
            "status": status,
            "target_seconds": target,
            "elapsed_seconds": round(elapsed, 3),
            "deadline": iso(row.deadline) if row.phase == "running" else None,
            "breached": breached,
            "percent": round(100.0 * elapsed / target, 2) if target else None,
            "started_at": iso(row.started_at),
            "stopped_at": iso(row.stopped_at),
        }
    return views


def clock_names(op: Operation) -> dict[str, dict[str, Any]]:
    """`sla.CLOCK.status|percent` for expressions (SPEC 5), as the API would show them at the operation's
    instant: a running clock past its deadline is `breached`, and its percent counts the time since its last
    step (the stored figures are those of the ticket's last change)."""
    calendars = op.pack.calendars
    names = {}
    for name, row in op.clock_rows().items():
        status, elapsed, _ = _live(row, op.now, calendars, op.worked)
        target = row.target_seconds
        names[name] = {"status": status, "percent": 100.0 * elapsed / target if target else None}
    return names


def _live(row: SlaClock, now: datetime, calendars: Mapping[str, m.Calendar],
          worked: dict[tuple[str, datetime], float]) -> tuple[str, float, bool]:
    """(status, elapsed seconds, breached) of a clock row brought up to `now`; nothing is stored."""
    phase, elapsed, deadline, since = row.phase, row.elapsed_seconds, row.deadline, row.running_since
    running = phase == "running"
    if running and since is not None and since < now and row.calendar in calendars:
        key = (row.calendar, since)
        extra = worked.get(key)
        if extra is None:
            extra = worked[key] = working_calendar(calendars[row.calendar]).between(since, now)
        elapsed += extra
    breached = row.breached or (running and deadline is not None and now > deadline)
    return ("breached" if breached and (running or phase == "paused") else row.status), elapsed, breached


def schedule_timers(op: Operation) -> None:
    """After a state change: the timed transitions out of the new state, due `after` from entering it."""
    if op.event != "create":  # a new ticket has no timers to replace
        op.session.connection().execute(q.CLEAR_TRANSITION_TIMERS, {"of_ticket": op.ticket.id})
        # the session forgets the timers it holds for them: loaded (the worker's, now deleted rows) or
        # added earlier in this operation (a ticket moved on twice keeps only its last state's timers)
        held = [t for t in (*op.session.identity_map.values(), *op.session.new)
                if isinstance(t, Timer) and t.ticket_id == op.ticket.id and t.kind == "transition"]
        for timer in held:
            op.session.expunge(timer)
    timed = [t for t in op.process.transitions_from(op.ticket.state) if t.after is not None]
    if not timed:
        return
    calendar = working_calendar(op.pack.calendars[timed_calendar(op)])
    for transition in timed:
        assert transition.after is not None
        op.session.add(Timer(ticket_id=op.ticket.id, kind="transition", key=transition.id,
                             due_at=calendar.deadline(op.now, transition.after)))


def timed_calendar(op: Operation) -> str:
    """Timed transitions count on the calendar of the process's default SLA policy (docs/decisions.md)."""
    rules = op.process.sla
    policy = op.pack.sla_policies.get(rules[-1].policy) if rules else None
    return policy.calendar if policy is not None else "24x7"


def _iso(value: datetime | None, zone: ZoneInfo | None = None) -> str | None:
    if value is None:
        return None
    return (value.astimezone(zone) if zone else value).isoformat()
