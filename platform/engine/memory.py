"""Garbage collection in the long-lived processes: the worker and the web server's workers (issue 18).

CPython collects young objects every 700 allocations, and each collection scans what survived the last
ones again. A sweep's batch keeps hundreds of tickets' histories alive until it ends, a dashboard request
30,000 KPI facts: at 700 the collector scanned them again and again (0.6 of the 1.7 s a sweep of 1,000
breaches took; 120 of the dashboard's CPU milliseconds). Once a process has started (its modules imported,
the active definitions compiled), what it holds is frozen out of the collector's scans for good, and
young objects are collected every `YOUNG_COLLECTIONS_EVERY` allocations. Reference counting frees
everything else as before; only cycles wait a little longer.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTIONS_EVERY = 50_000  # CPython's default: 700
_settled = False


def settle_collector() -> None:
    """Freeze what the process holds now and collect young objects less often; once per process (later
    calls do nothing, so a web worker can call it after every request)."""
    global _settled
    if _settled:
        return
    _settled = True
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTIONS_EVERY, *gc.get_threshold()[1:])
