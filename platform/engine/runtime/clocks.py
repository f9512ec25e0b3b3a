"""SLA clocks of one ticket in the core (SPEC 6): evaluated after every change and by the worker's sweep.

The arithmetic and the state machine of a clock live in `itsm.sla` (`evaluate_clock`: a frozen state in,
an update out); here they meet the ticket's policy, its clock rows and the warning and breach actions.
Timed transitions (`after:`) are scheduled here too: both count on a calendar.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from itsm.interpreter import model as m
from itsm.interpreter.model import per_spec
from itsm.sla import ClockState, Conditions, evaluate_clock, working_calendar

from .actions import run_actions
from .plan import TimerRow
from .snapshot import ClockRow
from .triggers import run_triggers
from .work import Work

log = logging.getLogger("itsm.engine")
MAX_SETTLE_ROUNDS = 8  # rounds of clock evaluation one change may take before it is logged and left
MARKED = ("state", "priority", "team", "assignee")  # `Work.mark` of the ticket, then its fields


def select_policy(work: Work) -> m.SlaPolicy | None:
    """The process's policy: the first rule whose condition holds (SPEC 4 process `sla`)."""
    for rule in work.process.sla:
        if rule.when is None or rule.when.test(work.context()):
            return work.pack.sla_policies.get(rule.policy)
    return None


def update_clocks(work: Work) -> None:
    """Evaluate every clock of the ticket's policy at `work.now`, then run warning and breach actions."""
    policy = select_policy(work)
    rows = work.clocks
    if policy is None:
        for name, row in rows.items():
            rows[name] = row._replace(next_timer_at=None)  # no policy any more: nothing of these clocks is due
        return
    current = {clock.id for clock in policy.clocks}
    for name, row in rows.items():
        if name not in current:  # a clock the policy no longer has (renamed, removed): never due again
            rows[name] = row._replace(next_timer_at=None)
    context = work.context()
    for clock in policy.clocks:
        row = rows.get(clock.id) or ClockRow(None, clock.id)  # a new ticket, or a clock a new version added
        level = work.ticket.priority
        target = clock.targets.get(level or "") or clock.targets.get("default")
        calendar_id = policy.calendar_for(clock, level)
        calendar = working_calendar(work.pack.calendars[calendar_id])
        conditions = Conditions(
            start=clock.start.test(context) if clock.start is not None else True,
            stop=clock.stop.test(context) if clock.stop is not None else False,
            pause=clock.pause.test(context) if clock.pause is not None else False,
            reset=clock.reset.test(context) if clock.reset is not None else False,
            cancel=clock.cancel.test(context) if clock.cancel is not None else False)
        previous = work.pack.calendars.get(row.calendar) if row.calendar not in (None, calendar_id) else None
        update = evaluate_clock(state_of(row), conditions, work.now, target, calendar, clock.warn_at,
                                counted_on=working_calendar(previous) if previous is not None else None)
        rows[clock.id] = stored(row, update.state, policy.id, calendar_id)
        if update.changed:
            work.note_event("sla", {"clock": clock.id, "status": update.state.status,
                                    "deadline": _iso(update.state.deadline), "breach": update.breach,
                                    "warnings": [f"{w:.0%}" for w in update.warnings]})
        for threshold in update.warnings:
            percent = round(threshold * 100, 4)
            work.extra_template["clock"] = clock_facts(clock, update.state, threshold)
            work.extra_names["threshold"] = percent
            run_actions(work, clock.on_warning)
            del work.extra_names["threshold"]
            run_triggers(work, "sla_warning", {"clock": clock.id, "threshold": percent})
        if update.breach:
            work.extra_template["clock"] = clock_facts(clock, update.state, None)
            run_actions(work, clock.on_breach)
            run_triggers(work, "sla_breach", {"clock": clock.id})
        work.extra_template.pop("clock", None)


def settle(work: Work) -> None:
    """The priority and the clocks after a change, again as long as the clocks' own warning and breach
    actions (and the SLA triggers) change the ticket: a clock's conditions always see the ticket its
    actions left (SPEC 6). Bounded: a pack whose actions keep changing what its clocks read is logged and
    left as the last round made it (docs/decisions.md, "Clocks settle")."""
    for round_ in range(MAX_SETTLE_ROUNDS):
        if round_:  # the change itself recomputed it before; actions may have changed its inputs since
            work.recompute_priority()
        mark = work.mark()
        update_clocks(work)
        after = work.mark()
        if after == mark:
            return
        if not _read_by_clocks(work, mark, after):
            # the next round would first recompute the priority: only a new one (a requester made a VIP since
            # the last change) could make it differ
            level = work.ticket.priority
            work.recompute_priority()
            if work.ticket.priority == level:
                return
    log.warning("%s: the SLA clocks' actions still changed the ticket after %s rounds: check the on_warning, "
                "on_breach and SLA trigger actions of policy '%s'", work.ticket.number or "a new ticket",
                MAX_SETTLE_ROUNDS, getattr(select_policy(work), "id", None))


def _read_by_clocks(work: Work, before: tuple[Any, ...], after: tuple[Any, ...]) -> bool:
    """Whether the actions changed the ticket (`Work.mark`: state, priority, team, assignee, fields) in a name
    the policy's choice, a clock's conditions or the priority's inputs read, or any change at all when one of
    those reads clock values (`sla.*`, which every round moves). If not, and the priority stays, another
    round would find what this one did (every clock at the same instant on the same conditions) and is not
    made: an escalation moves the ticket to another team, which the clocks of most packs never read."""
    reads = settle_reads(work.pack).get(work.process.id)
    if reads is None or "sla" in reads:
        return True
    changed = {name for name, old, new in zip(MARKED, before[:4], after[:4], strict=True) if old != new}
    fields_before, fields_after = before[4], after[4]
    changed.update(name for name in fields_before.keys() | fields_after.keys()
                   if fields_before.get(name) != fields_after.get(name))
    return not reads.isdisjoint(changed)


@per_spec
def settle_reads(pack: m.PackSpec) -> dict[str, frozenset[str]]:
    """Per process, the names (their first part) that its SLA rules, its policies' clock conditions and its
    priority matrix read; the priority always (it picks the targets and calendars)."""
    out = {}
    for process in pack.processes.values():
        expressions: list[Any] = [rule.when for rule in process.sla]
        for rule in process.sla:
            policy = pack.sla_policies.get(rule.policy)
            for clock in policy.clocks if policy is not None else ():
                expressions += [clock.start, clock.stop, clock.pause, clock.reset, clock.cancel]
        names = {"priority"}
        matrix = pack.matrices.get(process.priority_matrix or "")
        if matrix is not None:
            names.update(matrix.inputs)
            expressions += [adjustment.when for adjustment in matrix.adjust]
        names.update(name.split(".", 1)[0] for expression in expressions if expression is not None
                     for name in expression.names)
        out[process.id] = frozenset(names)
    return out


def after_event(work: Work, on: str, names: dict[str, Any] | None = None,
                template: dict[str, Any] | None = None) -> None:
    """The end of every change (SPEC 4, 6): clocks settled, then the event's triggers, then the clocks
    again when the triggers changed the ticket."""
    settle(work)
    mark = work.mark()
    run_triggers(work, on, names, template)
    if work.mark() != mark:
        settle(work)


def state_of(row: ClockRow) -> ClockState:
    return ClockState(phase=row.phase, elapsed=row.elapsed_seconds, since=row.running_since,
                      started_at=row.started_at, stopped_at=row.stopped_at, target_seconds=row.target_seconds,
                      deadline=row.deadline, warnings_fired=row.warnings_fired, breach_fired=row.breach_fired,
                      breached=row.breached, next_timer_at=row.next_timer_at,
                      pauses=tuple((datetime.fromisoformat(a), datetime.fromisoformat(b) if b else None)
                                   for a, b in row.pauses))


def stored(row: ClockRow, state: ClockState, policy: str, calendar: str) -> ClockRow:
    """The row holding `state` (an unchanged row is returned as it is: nothing to write)."""
    new = row._replace(phase=state.phase, status=state.status, policy=policy, calendar=calendar,
                  elapsed_seconds=state.elapsed, running_since=state.since, started_at=state.started_at,
                  stopped_at=state.stopped_at, target_seconds=state.target_seconds, deadline=state.deadline,
                  warnings_fired=state.warnings_fired, breached=state.breached, breach_fired=state.breach_fired,
                  next_timer_at=state.next_timer_at,
                  pauses=tuple((start.isoformat(), end.isoformat() if end else None) for start, end in state.pauses))
    return row if new == row else new


def clock_facts(clock: m.ClockSpec, state: ClockState, threshold: float | None) -> dict[str, Any]:
    return {"id": clock.id, "label": str(clock.label), "status": state.status, "deadline": _iso(state.deadline),
            "percent": state.percent(), "threshold": f"{threshold:.0%}" if threshold is not None else None}


def schedule_timers(work: Work) -> None:
    """After entering a state: the timed transitions out of it, due `after` from now (they replace the
    ticket's earlier ones)."""
    timed = [t for t in work.process.transitions_from(work.ticket.state) if t.after is not None]
    if not timed:
        work.timers = ()
        return
    calendar = working_calendar(work.pack.calendars[timed_calendar(work.pack, work.process)])
    work.timers = tuple(TimerRow("transition", t.id, calendar.deadline(work.now, t.after))
                        for t in timed if t.after is not None)


def timed_calendar(pack: m.PackSpec, process: m.ProcessSpec) -> str:
    """Timed transitions count on the calendar of the process's default SLA policy (docs/decisions.md)."""
    rules = process.sla
    policy = pack.sla_policies.get(rules[-1].policy) if rules else None
    return policy.calendar if policy is not None else "24x7"


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
