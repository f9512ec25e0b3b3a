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

from itsm.store import clocks, outage, tickets, timers, users
from itsm.store.dialects import serially

from .apply import perform
from .due_clocks import due_count, sweep_due_clocks
from .rules import plan_fire, plan_sla, system_work, timer_applies
from .snapshot import TicketSnapshot
from .store_lookups import snapshot

if TYPE_CHECKING:
    from .engine import Engine

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
    full: bool = False  # a due query filled its batch: more may be due now
    due_clocks: int = 0  # clocks that were due, of the tickets evaluated
    batches: int = 0  # transactions of due work (rounds of the sweep)

    def __add__(self, other: SweepResult) -> SweepResult:
        return SweepResult(self.clocks + other.clocks, self.timers + other.timers, self.skipped + other.skipped,
                           self.failed + other.failed, self.delivered + other.delivered,
                           self.retried + other.retried, self.full or other.full,
                           self.due_clocks + other.due_clocks, self.batches + other.batches)

    def summary(self) -> str:
        """What the sweep did, in a line (`itsm worker --once`, the worker's log)."""
        return (f"{self.due_clocks} due clocks of {self.clocks} tickets, {self.timers} timed transitions, "
                f"{self.skipped} timers no longer applicable, {self.failed} failed, in {self.batches} "
                f"batch{'es' if self.batches != 1 else ''}; {self.delivered} messages sent, "
                f"{self.retried} to retry")


def sweep_due(engine: Engine, batch: int = DEFAULT_BATCH, set_based: bool = True) -> SweepResult:
    """Everything due now (clocks and timed transitions), `batch` tickets (or timers) per transaction, until
    nothing is due. `set_based=False` takes every ticket through the per-ticket path (the reference the
    set-based path is tested against)."""
    total = SweepResult()
    while True:
        result = _sweep_clocks(engine, batch, set_based) + _sweep_timers(engine, batch)
        total = total + result
        total.batches += 1
        if not result.full:  # neither due query filled its batch
            total.full = False
            return total


def _sweep_clocks(engine: Engine, batch: int, set_based: bool = True) -> SweepResult:
    """One batch of tickets with due clocks, set-based (`due_clocks`). Tickets whose actions that path
    cannot write, and a batch whose writes fail, go through the per-ticket path."""
    if not set_based:
        return _clocks_one_by_one(engine, batch=batch)
    try:
        done = sweep_due_clocks(engine, batch, RETRY_AFTER)
    except Exception as exc:  # rolled back: the same batch again, one savepoint per ticket
        if outage(exc):
            raise  # no database to retry on: the caller backs off
        log.warning("set-based SLA batch failed; retrying it ticket by ticket", exc_info=True)
        return _clocks_one_by_one(engine, batch=batch)
    result = SweepResult(clocks=done.done, failed=done.failed, full=done.full, due_clocks=done.due_clocks)
    if done.own_transaction:
        result = result + _clocks_one_by_one(engine, ticket_ids=done.own_transaction)
    return result


def _clocks_one_by_one(engine: Engine, batch: int | None = None, ticket_ids: list[int] | None = None) -> SweepResult:
    """The per-ticket path: up to `batch` tickets with due clocks (or the given tickets), each planned by
    the core and written in a savepoint of its own, so one broken ticket never blocks the others."""
    result = SweepResult()
    with engine.db.write() as session:
        now = engine.clock()
        serially(session)
        if ticket_ids is None:
            ticket_ids, result.full = clocks.due_ticket_ids(session, now, batch or DEFAULT_BATCH)
        rows = tickets.by_ids_locked(session, ticket_ids)
        clock_rows = clocks.of_tickets(session, [row.id for row in rows])
        requesters = users.all_named(session, {row.requester for row in rows})
        context = engine.context(session)
        for row in rows:
            savepoint = session.begin_nested()
            try:
                found = snapshot(session, row, clock_rows.get(row.id, []), requesters.get(row.requester),
                                 requester_known=True)
                perform(session, engine.db, context, plan_sla(system_work(context, found, now)))
                savepoint.commit()
                result.clocks += 1
                result.due_clocks += due_count(clock_rows.get(row.id, []), now)
            except Exception as exc:
                savepoint.rollback()
                log.warning("SLA step of %s failed: %s", row.number, exc)
                clocks.retry_later(session, [row.id], now, now + RETRY_AFTER)
                result.failed += 1
    return result


def _sweep_timers(engine: Engine, batch: int) -> SweepResult:
    result = SweepResult()
    with engine.db.write() as session:
        now = engine.clock()
        due = timers.due(session, now, batch)  # on PostgreSQL another worker takes other timers
        result.full = len(due) >= batch
        if not due:
            return result
        locked = {row.id: row for row in tickets.by_ids_locked(session, list(dict.fromkeys(
            timer["ticket_id"] for timer in due)))}
        current: dict[int, TicketSnapshot] = {}  # tickets as this sweep left them
        context = engine.context(session)
        for timer in due:
            ticket_id = timer["ticket_id"]
            row = locked.get(ticket_id)
            if row is None:
                continue  # another worker holds it
            if not timers.still_due(session, timer["id"]):  # fired, or replaced by one that fired just before
                continue
            savepoint = session.begin_nested()
            try:
                found = current.get(ticket_id) or snapshot(session, row)
                work = system_work(context, found, now)
                # marked before the transition replaces the ticket's timers: the timer a timed self-loop
                # plans again may get this row's id (SQLite reuses the highest rowid once it is deleted)
                timers.mark(session, timer["id"], fired_at=now)
                if timer_applies(work, timer["key"]):
                    current[ticket_id] = perform(session, engine.db, context,
                                                 plan_fire(context, work, timer["key"], {}, None)).snapshot
                    result.timers += 1
                else:
                    result.skipped += 1
                savepoint.commit()
            except Exception as exc:
                savepoint.rollback()
                log.warning("timed transition %s of %s failed: %s", timer["key"], row.number, exc)
                timers.mark(session, timer["id"], due_at=now + RETRY_AFTER)
                result.failed += 1
    return result
