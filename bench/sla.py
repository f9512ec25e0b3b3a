"""SLA benchmark: business-calendar arithmetic per second (pure, in-process).

    python bench/sla.py [--calls N] [--repeat R] [--open N] [--due N] [--runs R] [--backends sqlite,postgresql]

Calendar section: deadlines for week-long targets (40h and 5bd) on an office calendar in Europe/Berlin
(Mon-Fri 08:00-12:00 and 13:00-17:00, the German public holidays of 2026-2027), elapsed working time
(`between`) over a week, and the same on the built-in 24x7 calendar for comparison. Starts are N fixed
pseudo-random instants spread over 2026 (DST changes included). The calendar is shared as in production
(`working_calendar`, whose per-day cache survives between calls) and warmed by one untimed pass; each of R
runs times all N calls. Prints medians (min-max) of calls per second; the goal for deadlines is >= 50,000/s.
The machine is shared, so mind the load average printed first.

Sweep section (`--open`, `--due`, `--backends`): a database of open tickets with two running clocks, of
which `--due` response clocks are past their deadline. Times the due query, then one worker sweep of the
due clocks (breach actions, events, outbox rows; goal < 0.5 s for 1,000), then, apart, one outbox delivery
round (network-bound: with no mail server or webhook target here every send fails and is retried later).
The database is seeded once per backend; with `--runs R` the swept rows are reset between the R sweeps.
PostgreSQL is not analyzed after seeding: a million rows loaded a moment ago have no planner statistics,
which the worker must not depend on (docs/decisions.md).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any

from itsm.engine.runtime.sweep import DEFAULT_BATCH
from itsm.engine.worker import sweep
from itsm.interpreter.model import Calendar, Duration, Interval
from itsm.sla import working_calendar

GOAL_DEADLINES_PER_SECOND = 50_000
OFFICE_DAY = (Interval(8 * 60, 12 * 60), Interval(13 * 60, 17 * 60))
HOLIDAYS = {  # Germany (federal), 2026 and 2027
    "2026-01-01": "New Year", "2026-04-03": "Good Friday", "2026-04-06": "Easter Monday",
    "2026-05-01": "Labour Day", "2026-05-14": "Ascension", "2026-05-25": "Whit Monday",
    "2026-10-03": "German Unity", "2026-12-25": "Christmas", "2026-12-26": "Boxing Day",
    "2027-01-01": "New Year", "2027-03-26": "Good Friday", "2027-03-29": "Easter Monday",
    "2027-05-01": "Labour Day", "2027-05-06": "Ascension", "2027-05-17": "Whit Monday",
    "2027-10-03": "German Unity", "2027-12-25": "Christmas", "2027-12-26": "Boxing Day",
}
OFFICE = Calendar(id="office", name="Office", timezone="Europe/Berlin", hours={d: OFFICE_DAY for d in range(5)},
                  holidays=MappingProxyType({date.fromisoformat(d): name for d, name in HOLIDAYS.items()}))
ALWAYS = Calendar(id="24x7", name="24x7", timezone="Europe/Berlin", hours={}, always=True)
FORTY_HOURS = Duration("40h", seconds=40 * 3600)
FIVE_DAYS = Duration("5bd", business_days=5)
WEEK = timedelta(days=7)


def starts(n: int, seed: int = 2026) -> list[datetime]:
    """N instants in 2026, to the second, fixed by the seed."""
    rng = random.Random(seed)
    year = datetime(2026, 1, 1, tzinfo=UTC)
    return [year + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(n)]


def rate(call: Callable[[datetime], object], instants: Sequence[datetime], repeat: int) -> list[float]:
    """Calls per second of `call` over all instants, once untimed (warm-up), then `repeat` timed runs."""
    for instant in instants:
        call(instant)
    rates = []
    for _ in range(repeat):
        begin = time.perf_counter()
        for instant in instants:
            call(instant)
        rates.append(len(instants) / (time.perf_counter() - begin))
    return rates


def show(label: str, rates: list[float], goal: float | None = None) -> None:
    median = statistics.median(rates)
    verdict = "" if goal is None else (f"  goal >= {goal:,.0f}/s: " + ("met" if median >= goal else "NOT MET"))
    print(f"  {label:<34} {median:>12,.0f}/s  ({min(rates):,.0f}-{max(rates):,.0f}){verdict}")


def calendar_section(args: argparse.Namespace) -> None:
    instants = starts(args.calls)
    office, always = working_calendar(OFFICE), working_calendar(ALWAYS)
    print(f"calendar arithmetic: {args.calls:,} starts over 2026, {args.repeat} runs, median (min-max) calls/s")
    show("office deadline 40h", rate(lambda s: office.deadline(s, FORTY_HOURS), instants, args.repeat),
         GOAL_DEADLINES_PER_SECOND)
    show("office deadline 5bd", rate(lambda s: office.deadline(s, FIVE_DAYS), instants, args.repeat),
         GOAL_DEADLINES_PER_SECOND)
    show("office between (a week)", rate(lambda s: office.between(s, s + WEEK), instants, args.repeat))
    show("24x7 deadline 40h", rate(lambda s: always.deadline(s, FORTY_HOURS), instants, args.repeat))
    show("24x7 between (a week)", rate(lambda s: always.between(s, s + WEEK), instants, args.repeat))


SEED_BASE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SWEEP_AT = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
SEED_FIELDS = {"short_description": "Printer jams", "service": "workplace", "category": "hardware",
               "impact": "medium", "urgency": "medium"}


def seeded_ticket(number: int, version: str) -> dict[str, Any]:
    return {"number": f"INC{number:09d}", "process": "incident", "state": "new", "is_open": True, "priority": "P3",
            "team": "service_desk", "assignee": None, "requester": "rita", "fields": SEED_FIELDS, "version": 1,
            "definitions_version": version, "created_at": SEED_BASE, "updated_at": SEED_BASE,
            "state_entered_at": SEED_BASE}


def seeded_clocks(ticket_id: int, due: bool, spread: int) -> list[dict[str, Any]]:
    """The resolution clock (running, due next week) and the response clock (due now, or next week)."""
    base = SEED_BASE
    common = {"ticket_id": ticket_id, "status": "running", "phase": "running", "policy": "incident_sla",
              "calendar": "office", "elapsed_seconds": 0.0, "started_at": base, "running_since": base,
              "stopped_at": None, "breached": False, "breach_fired": False, "pauses": []}
    return [{**common, "clock": "resolution", "target_seconds": 86400.0, "deadline": base + timedelta(days=3),
             "warnings_fired": 0, "next_timer_at": base + timedelta(days=1, hours=4)},
            {**common, "clock": "response", "target_seconds": 7200.0, "deadline": base + timedelta(hours=2),
             "warnings_fired": 1, "next_timer_at": base + timedelta(hours=2) if due
             else base + timedelta(days=7, seconds=spread)}]


def seed_sweep(db: Any, version: str, n_open: int, n_due: int) -> None:
    """`n_open` open P3 tickets with two running clocks; every (n_open // n_due)th response clock is due."""
    from sqlalchemy import insert, select

    from itsm.store import SlaClock, Ticket

    chunk = 20_000
    for offset in range(0, n_open, chunk):
        count = min(chunk, n_open - offset)
        with db.write() as session:
            session.execute(insert(Ticket), [seeded_ticket(offset + i + 1, version) for i in range(count)])
            first = session.scalar(select(Ticket.id).where(Ticket.number == f"INC{offset + 1:09d}"))
            assert first is not None
            session.execute(insert(SlaClock), [  # the due ones spread over the table
                clock for i in range(count)
                for clock in seeded_clocks(first + i, (offset + i) % (n_open // n_due) == 0, offset + i)])


def reset_sweep(db: Any, version: str, ticket_ids: list[int]) -> None:
    """Undo a sweep: the swept tickets and their clocks as seeded, no events, no outbox rows."""
    from sqlalchemy import bindparam, delete, select, update

    from itsm.store import Event, OutboxMessage, SlaClock, Ticket

    with db.write() as session:
        numbers = dict(session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(ticket_ids))).all())
        tickets, clocks = Ticket.__table__, SlaClock.__table__
        session.execute(update(tickets).where(tickets.c.id == bindparam("b_id")), [
            {"b_id": i, **{k: v for k, v in seeded_ticket(0, version).items() if k != "number"}} for i in numbers])
        session.execute(update(clocks).where(clocks.c.ticket_id == bindparam("b_ticket"),
                                             clocks.c.clock == bindparam("b_clock")), [
            {"b_ticket": c["ticket_id"], "b_clock": c["clock"], **{k: v for k, v in c.items()
                                                                  if k not in ("ticket_id", "clock")}}
            for i in numbers for c in seeded_clocks(i, True, 0)])
        session.execute(delete(Event))
        session.execute(delete(OutboxMessage))


class StatementCount:
    """SQL statements sent to `db` from now until `stop()` (a sweep's round trips: one per batch and table, not
    one per ticket)."""

    def __init__(self, db: Any) -> None:
        from sqlalchemy import event

        self.engine, self.count = db.engine, 0
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        self.count += 1

    def stop(self) -> int:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._seen)
        return self.count


def sweep_section(args: argparse.Namespace) -> None:
    """Worker sweeps over a database holding `--open` open clocks of which `--due` are due (breaches):
    seeded once per backend, swept `--runs` times, the swept rows reset in between."""
    import tempfile
    import uuid
    from pathlib import Path

    from sqlalchemy import create_engine, select, text

    from itsm.engine import Engine
    from itsm.engine.channels.delivery import deliver_outbox
    from itsm.engine.people.users import add_user
    from itsm.store import Database, SlaClock

    root = Path(__file__).resolve().parents[1]
    now = SWEEP_AT
    print(f"worker sweep: {args.open:,} open tickets with two running clocks, {args.due:,} response clocks due "
          f"(breach: escalate + notify); batches of {args.batch}; {args.runs} run(s); times are wall clock")
    for backend in args.backends.split(","):
        schema = None
        folder = tempfile.TemporaryDirectory()
        if backend == "sqlite":
            url = f"sqlite:///{folder.name}/sweep.db"
        else:
            base_url = os.environ.get("ITSM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            try:
                with create_engine(base_url).begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            except Exception as exc:  # noqa: BLE001 - a benchmark reports and goes on
                print(f"  {backend}: skipped ({exc.__class__.__name__}: PostgreSQL unreachable)")
                continue
            url = f"{base_url}?options=-csearch_path%3D{schema}"
        db = Database(url)
        db.upgrade()
        engine = Engine(db, clock=lambda: now)
        engine.definitions.publish_path(root / "definitions")
        add_user(db, "rita")
        version = engine.definitions.active_id()
        started = time.perf_counter()
        seed_sweep(db, version, args.open, args.due)
        print(f"  {backend}: seeded in {time.perf_counter() - started:.1f}s")
        query = select(SlaClock.ticket_id).where(SlaClock.next_timer_at < now).order_by(
            SlaClock.next_timer_at).limit(args.due)
        sweeps, deliveries = [], []
        for run in range(args.runs):
            with db.read() as session:  # what the worker asks first: indexed, so it costs what is due
                timings = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    due_ids = list(session.scalars(query))
                    timings.append(time.perf_counter() - t0)
            statements = StatementCount(db)
            t0, cpu0 = time.perf_counter(), time.process_time()
            result = sweep(engine, batch=args.batch, deliver=False)  # the due clocks: breaches, events, outbox
            sweeps.append(time.perf_counter() - t0)
            cpu = time.process_time() - cpu0  # this process only (not the database server's)
            swept_with = statements.stop()
            t0 = time.perf_counter()
            sent = deliver_outbox(engine)  # then one delivery round; no mail server here, so every send fails
            deliveries.append(time.perf_counter() - t0)
            print(f"  {backend} run {run + 1}: due query {statistics.median(timings) * 1000:.1f} ms for "
                  f"{len(due_ids):,} due of {args.open:,}; sweep of the due clocks {sweeps[-1]:.2f}s (worker CPU "
                  f"{cpu:.2f}s, {swept_with} SQL statements) for {result.clocks:,} tickets "
                  f"({result.clocks / sweeps[-1]:,.0f} tickets/s); "
                  f"then one outbox delivery round {deliveries[-1]:.2f}s "
                  f"({sent.sent + sent.retried + sent.failed} messages, network-bound)")
            if run + 1 < args.runs:
                reset_sweep(db, version, due_ids)
        median = statistics.median(sweeps)
        print(f"  {backend}: sweep of {args.due:,} due clocks, median of {args.runs}: {median:.2f}s "
              f"({min(sweeps):.2f}-{max(sweeps):.2f}); goal < 0.5 s for 1,000: "
              f"{'met' if median < 0.5 * args.due / 1000 else 'NOT MET'}")
        db.dispose()
        if schema is not None:
            with create_engine(base_url).begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        folder.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20_000, help="calls per timed run (default 20,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument("--open", type=int, default=1_000_000, help="open clocks for the sweep (default 1,000,000)")
    parser.add_argument("--due", type=int, default=1_000, help="of which due (default 1,000)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="sweep backends (default both)")
    parser.add_argument("--runs", type=int, default=1, help="sweeps per backend, seeded once (default 1)")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                        help=f"tickets per transaction (default the worker's, {DEFAULT_BATCH})")
    parser.add_argument("--skip-sweep", action="store_true", help="only the calendar arithmetic")
    args = parser.parse_args(argv)

    one, five, fifteen = os.getloadavg()
    print(f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min) on {os.cpu_count()} CPUs")
    print(f"python {sys.version.split()[0]}")
    sections: list[Callable[[argparse.Namespace], None]] = [calendar_section]
    if not args.skip_sweep:
        sections.append(sweep_section)
    for section in sections:
        section(args)
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
