"""Worker processes forked after one start-up (issue 18): the due work of a round shared among the cores.

A sweep is Python per ticket (planning each ticket's SLA step, rendering its notifications and the timeline
they quote), so one process uses one core. The worker starts once (modules imported, the active definitions
compiled, the collector settled: `worker.settle`) and then forks: the processes share what start-up built
(copy-on-write pages) and each opens its own database connections. They share the due work through the
claims every sweep makes (`FOR UPDATE SKIP LOCKED` on due clocks' tickets, timers and outbox messages), so
nothing is done twice, as with workers started apart (SPEC 8). SQLite has one writer at a time: one process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from itsm.store import Database

MOST = 4  # processes at most by default, whatever the cores: the database serves them too
T = TypeVar("T")
_work: Callable[[], object] | None = None  # what the forked processes run (they inherit it)
_database: Database | None = None


def default_processes(database: Database) -> int:
    """The cores this process may use, up to MOST, on PostgreSQL; 1 on SQLite."""
    if database.is_sqlite:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MOST, cores))


def in_processes(count: int, database: Database, work: Callable[[], T]) -> list[T]:
    """`work()` in `count` processes forked from this one, at the same time: what each returned. An
    exception in one is raised here once all have ended. Call it between transactions (no connection of
    `database` in use); this process only waits meanwhile."""
    global _work, _database
    _work, _database = work, database
    try:
        with ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("fork"),
                                 initializer=_forked) as pool:
            futures = [pool.submit(_run) for _ in range(count)]
            return [future.result() for future in futures]  # type: ignore[misc]
    finally:
        _work = _database = None


def _forked() -> None:
    assert _database is not None
    _database.forked()


def _run() -> object:
    assert _work is not None
    return _work()
