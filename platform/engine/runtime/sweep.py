"""Due work (SPEC 8): SLA warnings and breaches, timed transitions (`after:`), auto-close.

Due work is found by indexed instant queries (`sla_clocks.next_timer_at`, `timers.due_at`), so a sweep
costs in proportion to what is due, not to what is open; due clocks are handled set-based, a batch at a
time (`due_clocks`), with a per-ticket path here for what that cannot do. Each batch locks its tickets with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of workers share the work and nothing fires twice
(a clock's `breach_fired` and a timer's `fired_at` commit with the actions they caused). SQLite has one
writer at a time: run one worker there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError

from itsm.store import SlaClock, Ticket, Timer, User

from .actors import system_actor
from .clocks import update_clocks
from .due_clocks import sweep_due_clocks

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .core import Engine

log = logging.getLogger("itsm.worker")
RETRY_AFTER = timedelta(minutes=5)  # a ticket whose due work failed is looked at again after this
# Tickets per transaction. A batch holds its tickets' locks (SQLite: the write lock) while it runs, about
# a quarter of a second for 500 breaches; fewer, larger batches save a commit and five look-ups each.
DEFAULT_BATCH = 500


@dataclass
class SweepResult:
    clocks: int = 0  # tickets whose due clocks were evaluated
    timers: int = 0  # timed transitions fired
    skipped: int = 0  # timers that no longer applied (state left, guard false)
    failed: int = 0
    delivered: int = 0  # outbox messages sent
    retried: int = 0  # outbox messages that failed this time (retried later, or given up)

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(self.clocks + other.clocks, self.timers + other.timers, self.skipped + other.skipped,
                           self.failed + other.failed)


def sweep_due(engine: Engine, batch: int = DEFAULT_BATCH, set_based: bool = True) -> SweepResult:
    """Everything due now (clocks and timed transitions), in batches, until nothing is due. `set_based=False`
    takes every ticket through the per-ticket path (the reference the set-based path is tested against)."""
    total = SweepResult()
    while True:
        result = _sweep_clocks(engine, batch, set_based) + _sweep_timers(engine, batch)
        total = total + result
        if result.clocks + result.timers + result.skipped + result.failed < batch:
            return total


def _locked_tickets(session: Session, ids: list[int]) -> list[Ticket]:
    query = select(Ticket).where(Ticket.id.in_(ids)).order_by(Ticket.id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _sweep_clocks(engine: Engine, batch: int, set_based: bool = True) -> SweepResult:
    """One batch of tickets with due clocks, set-based (`due_clocks`). Tickets whose actions that path
    cannot write, and a batch whose writes fail, go through the per-ticket path."""
    if not set_based:
        return _clocks_one_by_one(engine, batch=batch)
    try:
        done = sweep_due_clocks(engine, batch, RETRY_AFTER)
    except Exception:  # rolled back: the same batch again, one savepoint per ticket
        log.warning("set-based SLA batch failed; retrying it ticket by ticket", exc_info=True)
        return _clocks_one_by_one(engine, batch=batch)
    result = SweepResult(clocks=done.done, failed=done.failed)
    if done.own_transaction:
        result = result + _clocks_one_by_one(engine, ticket_ids=done.own_transaction)
    return result


def _clocks_one_by_one(engine: Engine, batch: int | None = None, ticket_ids: list[int] | None = None) -> SweepResult:
    """The per-ticket path: the tickets of up to `batch` due clocks (or the given tickets) through the ORM,
    each in a savepoint of its own, so one broken ticket never blocks the others."""
    result = SweepResult()
    with engine.db.write() as session:
        now = engine.clock()
        if ticket_ids is None:
            due = (select(SlaClock.ticket_id).where(SlaClock.next_timer_at < now).order_by(SlaClock.next_timer_at)
                   .limit(batch))
            if session.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)  # other workers take the next rows, not these
            ticket_ids = list(dict.fromkeys(session.scalars(due)))
        tickets = _locked_tickets(session, ticket_ids)
        rows: dict[int, dict[str, SlaClock]] = {}
        for row in session.scalars(select(SlaClock).where(SlaClock.ticket_id.in_([t.id for t in tickets]))):
            rows.setdefault(row.ticket_id, {})[row.clock] = row
        requesters = {u.name: u for u in session.scalars(
            select(User).where(User.name.in_({t.requester for t in tickets})))}
        session.autoflush = False  # one UPDATE per ticket, flushed in its savepoint
        for ticket in tickets:
            savepoint = session.begin_nested()
            try:
                op = engine.operation(session, system_actor(), ticket)
                op.preload(rows.get(ticket.id, {}), requesters.get(ticket.requester))
                op.event = "sla"
                update_clocks(op)
                op.finish("sla")
                session.flush()
                savepoint.commit()
                result.clocks += 1
            except Exception as exc:
                savepoint.rollback()
                log.warning("SLA step of %s failed: %s", ticket.number, exc)
                for row in session.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket.id,
                                                                  SlaClock.next_timer_at < now)):
                    row.next_timer_at = now + RETRY_AFTER
                result.failed += 1
    return result


def _sweep_timers(engine: Engine, batch: int) -> SweepResult:
    result = SweepResult()
    with engine.db.write() as session:
        now = engine.clock()
        due_query = (select(Timer).where(Timer.fired_at.is_(None), Timer.due_at <= now)
                     .order_by(Timer.due_at).limit(batch))
        if session.get_bind().dialect.name == "postgresql":
            due_query = due_query.with_for_update(skip_locked=True)  # another worker takes other timers
        due = list(session.scalars(due_query))
        if not due:
            return result
        tickets = {t.id: t for t in _locked_tickets(session, list(dict.fromkeys(d.ticket_id for d in due)))}
        session.autoflush = False  # one UPDATE per ticket, flushed after each timer
        for timer in due:
            ticket = tickets.get(timer.ticket_id)
            if ticket is None:
                continue  # another worker holds it
            if timer not in session:  # replaced by another timer of this ticket that fired just before
                continue
            try:
                session.refresh(timer)  # fired (or replaced) while we waited for the ticket's lock?
            except InvalidRequestError:  # replaced: the row is gone
                session.expunge(timer)
                continue
            if timer.fired_at is not None:
                continue
            savepoint = session.begin_nested()
            try:
                op = engine.operation(session, system_actor(), ticket)
                transition = op.process.transition_by_id.get(timer.key)
                guard_ok = transition is not None and ticket.state in transition.sources and (
                    transition.guard is None or transition.guard.test(op.context(event=transition.id)))
                if guard_ok:
                    op.fire(timer.key, {}, None)
                    session.flush()
                    result.timers += 1
                else:
                    result.skipped += 1
                timer.fired_at = now
                savepoint.commit()
            except Exception as exc:
                savepoint.rollback()
                log.warning("timed transition %s of %s failed: %s", timer.key, ticket.number, exc)
                timer.due_at = now + RETRY_AFTER
                result.failed += 1
    return result
