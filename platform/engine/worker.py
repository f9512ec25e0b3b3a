"""The worker process (SPEC 8): due work of the runtime, then the outbox of the channels, round after round.

`sweep` is one round (what `itsm worker --once` and the tests run); `run_forever` is the `itsm worker` loop.
"""

from __future__ import annotations

import logging
import time

from .channels.delivery import deliver_outbox
from .runtime.engine import Engine
from .runtime.sweep import DEFAULT_BATCH, SweepResult, sweep_due

log = logging.getLogger("itsm.worker")


def sweep(engine: Engine, batch: int | None = None, deliver: bool = True, set_based: bool = True) -> SweepResult:
    """Everything due now, `batch` tickets per transaction, until nothing is due; then the outbox (unless
    `deliver` is off, as in scenarios, which check what would be sent without sending it)."""
    total = sweep_due(engine, batch or DEFAULT_BATCH, set_based)
    if deliver:
        sent = deliver_outbox(engine)
        total.delivered, total.retried = sent.sent, sent.retried + sent.failed
    return total


def run_forever(engine: Engine, interval: float = 5.0, batch: int = DEFAULT_BATCH) -> None:  # pragma: no cover - a loop
    while True:
        started = time.monotonic()
        try:
            result = sweep(engine, batch)
            if result.clocks or result.timers or result.failed:
                log.info("sweep: %s", result)
        except Exception:  # the worker outlives a bad sweep; the next one retries
            log.exception("sweep failed")
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
