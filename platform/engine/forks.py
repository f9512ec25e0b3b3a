"""Worker processes forked after one start-up (issue 18): the due work of a round shared among the cores.

A sweep is Python per ticket (planning each ticket's SLA step, rendering its notifications and the timeline
they quote), so one process uses one core. The worker starts once (modules imported, the active definitions
compiled, the collector settled: `worker.settle`) and then forks: the processes share what start-up built
(copy-on-write pages) and each opens its own database connections. They share the due work through the
claims every sweep makes (`FOR UPDATE SKIP LOCKED` on due clocks' tickets, timers and outbox messages), so
nothing is done twice, as with workers started apart (SPEC 8). SQLite has one writer at a time: one process.

The processes are forked directly (`os.fork`), each returning its result through a pipe: a process pool's
queues and threads cost some 20 ms a round, which is what a round of a hundred tickets takes.
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from itsm.store import Database

MOST = 4  # processes at most by default, whatever the cores: the database serves them too
T = TypeVar("T")


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
    exception in one is raised here once all have ended (the first one's, with the child's traceback as a
    note). Call it between transactions (no connection of `database` in use) and from a process without
    other threads: a fork copies only the thread that makes it, and whatever locks the others held."""
    children: list[tuple[int, int]] = []
    outcomes: list[tuple[bool, Any]] = []
    try:
        for _ in range(count):
            read, write = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(read)
                os.close(write)
                raise
            if pid == 0:  # the child: never returns into the caller's code
                os.close(read)
                _child(database, work, write)
            os.close(write)
            children.append((pid, read))
        for pid, read in children:
            with os.fdopen(read, "rb", closefd=False) as pipe:
                payload = pipe.read()
            try:
                outcomes.append(pickle.loads(payload))
            except Exception:
                outcomes.append((False, RuntimeError(f"worker process {pid} ended without a result")))
    finally:  # every child waited for and every pipe closed, whatever failed here
        for pid, read in children:
            os.close(read)
            os.waitpid(pid, 0)
    for ok, value in outcomes:
        if not ok:
            raise value
    return [value for _, value in outcomes]


def _child(database: Database, work: Callable[[], object], write: int) -> None:
    code = 0
    try:
        database.forked()
        try:
            payload = pickle.dumps((True, work()))
        except BaseException as exc:  # sent back whole when it pickles, else as its text
            code = 1
            exc.add_note(f"in worker process {os.getpid()}:\n{traceback.format_exc()}")
            try:
                payload = pickle.dumps((False, exc))
            except Exception:
                payload = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")))
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)
