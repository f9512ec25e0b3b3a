"""The worker process (SPEC 8): due work of the runtime, then the outbox of the channels, round after round.

`sweep` is the due work and the deliveries of a round (what the tests run); `one_round` adds the KPI fold,
and `shared_round` shares a large round among processes forked for it (`forks.py`): what `itsm worker
--once` runs, and `run_forever`, the `itsm worker` loop, round after round.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from functools import partial

from itsm.store import NOT_MIGRATED, UNREACHABLE, clocks, outage, outage_line

from .channels.delivery import deliver_outbox
from .errors import NotFound
from .forks import in_processes, passed
from .memory import settle_collector
from .reports.kpis import bring_up_to_date
from .reports.triage import retrain_due
from .runtime.engine import Engine
from .runtime.sweep import DEFAULT_BATCH, SweepResult, sweep_due

log = logging.getLogger("itsm.worker")
RETRAIN_CHECK = 600.0  # seconds between two looks at whether a triage model is due for retraining
KPI_SECONDS = 5.0  # how long a round may fold changed tickets into the KPI sums (a rebuild spreads over rounds)
SHARE = 100  # due tickets a process is forked for at least (two at 200): fewer are done sooner than forked


class Retrainer:
    """Triage models retrained beside the sweeps (SPEC 16): every RETRAIN_CHECK seconds, in a thread of its
    own, so that a training over many tickets never holds up due SLA timers; one training at a time."""

    def __init__(self, engine: Engine, every: float = RETRAIN_CHECK):
        self.engine, self.every = engine, every
        self.last: float | None = None
        self.thread: threading.Thread | None = None

    def poke(self) -> None:
        now = time.monotonic()
        if (self.last is not None and now - self.last < self.every) or (self.thread and self.thread.is_alive()):
            return
        self.last = now
        self.thread = threading.Thread(target=self._run, name="itsm-triage-training", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            retrain_due(self.engine)
        except Exception as exc:  # the next look tries again; sweeps go on regardless
            if outage(exc) is None:
                log.exception("triage training failed")
            else:
                log.warning("triage training skipped: the database is away (%s)", outage_line(exc))


def settle(engine: Engine) -> None:
    """Once the worker has started: the active definitions compiled, then the garbage collector settled
    (`memory.settle_collector`: what is loaded by then is never scanned again)."""
    compile_active(engine)
    settle_collector()


def compile_active(engine: Engine) -> None:
    """The active definitions compiled now (at start-up, before a fork), if there are any and the database
    is there: otherwise the first sweep that finds a pack loads it, or the worker waits (`run_forever`)."""
    try:
        engine.definitions.active()
    except NotFound:
        pass
    except Exception as exc:
        if outage(exc) is None:
            raise


def sweep(engine: Engine, batch: int | None = None, deliver: bool = True, set_based: bool = True) -> SweepResult:
    """Everything due now, `batch` tickets per transaction, until nothing is due; then the outbox (unless
    `deliver` is off, as in scenarios, which check what would be sent without sending it)."""
    total = sweep_due(engine, batch or DEFAULT_BATCH, set_based)
    passed()  # committed: a round shared among processes may fold it while this process delivers
    if deliver:
        sent = deliver_outbox(engine)
        total.delivered, total.retried = sent.sent, sent.retried + sent.failed
    return total


def fold_kpis(engine: Engine, batches: int | None = None, seconds: float | None = None) -> int:
    """Fold the tickets changed since the last round into the KPI sums, or rebuild them under a new pack
    version: all of them, `batches` batches or for about `seconds`; how many tickets (issue 18)."""
    try:
        pack = engine.definitions.active().pack
    except NotFound:  # nothing published yet: no rules to count by
        return 0
    return bring_up_to_date(engine, pack, engine.clock(), batches=batches, seconds=seconds)


def one_round(engine: Engine, batch: int | None = None, kpi_seconds: float | None = None) -> tuple[SweepResult, int]:
    """A sweep with its deliveries, then the KPI fold (for about `kpi_seconds`, or all of it): the sweep's
    result and the tickets folded."""
    result = sweep(engine, batch)
    return result, fold_kpis(engine, seconds=kpi_seconds)


def shared_round(engine: Engine, batch: int | None = None, processes: int = 1,
                 kpi_seconds: float | None = None, share: int = SHARE) -> tuple[SweepResult, int]:
    """`one_round`, its sweep and deliveries shared among up to `processes` processes forked for it when
    enough tickets are due (`share` for each process at least; one process on SQLite), every process
    claiming batches of an even share of them (at most `batch`); the KPI fold here, once all of them
    have committed their sweeps, while they deliver. The due tickets are counted first; what falls due
    meanwhile is left to whichever process looks last."""
    batch = batch or DEFAULT_BATCH
    due = 0
    if processes > 1 and not engine.db.is_sqlite:
        compile_active(engine)  # here, before the fork, not in each process (a publish since the last round)
        with engine.db.read() as session:
            due = clocks.due_tickets(session, engine.clock(), processes * max(batch, share))
    count = min(processes, due // share)
    if count <= 1:
        return one_round(engine, batch, kpi_seconds)
    folded = 0

    def fold() -> None:
        nonlocal folded
        folded = fold_kpis(engine, seconds=kpi_seconds)

    total = SweepResult()
    for result in in_processes(count, engine.db, partial(sweep, engine, min(batch, math.ceil(due / count))), fold):
        total = total + result
    return total, folded


@dataclass
class Backoff:
    """Exponential waits while the database is away: `first`, twice that, ... up to `cap` seconds."""

    first: float = 1.0
    cap: float = 30.0
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        return min(self.cap, self.first * 2 ** min(self.failures - 1, 32))

    def reset(self) -> int:
        """Back to `first`; how many tries had failed."""
        failures, self.failures = self.failures, 0
        return failures


def run_forever(engine: Engine, interval: float = 5.0, batch: int = DEFAULT_BATCH,
                stop: threading.Event | None = None, backoff: Backoff | None = None,
                retrainer: Retrainer | None = None, processes: int = 1) -> None:
    """A round every `interval` seconds until `stop` is set, shared among up to `processes` processes when
    much is due (`shared_round`; never while a triage model is being trained in a thread of this one:
    a fork copies only the thread that makes it, and whatever locks the others held). While the database
    is away (or not migrated yet) the worker waits with exponential backoff and tries again, from the start
    as later (SPEC 8). Triage models are retrained as solved tickets accumulate (`Retrainer`)."""
    stop = stop or threading.Event()
    backoff = backoff or Backoff()
    retrainer = retrainer or Retrainer(engine)
    while not stop.is_set():
        started = time.monotonic()
        try:
            training = retrainer.thread is not None and retrainer.thread.is_alive()
            result, folded = shared_round(engine, batch, 1 if training else processes, KPI_SECONDS)
        except Exception as exc:
            reason = outage(exc)
            if reason is None:  # the worker outlives a bad sweep; the next one retries
                log.exception("sweep failed")
            else:
                delay = backoff.next_delay()
                log.warning("database %s (%s); trying again in %g s", _REASONS.get(reason, reason),
                            outage_line(exc), delay)
                stop.wait(delay)
                continue
        else:
            failures = backoff.reset()
            if failures:
                log.info("database reachable again after %d failed tr%s", failures, "y" if failures == 1 else "ies")
            if result.clocks or result.timers or result.failed or result.delivered or result.retried:
                log.info("sweep: %s", result.summary())
            if folded:
                log.info("KPI sums: %d changed tickets counted", folded)
            retrainer.poke()
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


_REASONS = {UNREACHABLE: "unreachable", NOT_MIGRATED: "has no tables yet (run `itsm db upgrade`)"}
