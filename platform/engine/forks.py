"""Worker processes forked after one start-up (issue 18): the due work of a round shared among the cores.

A sweep is Python per ticket (planning each ticket's SLA step, rendering its notifications and the timeline
they quote), so one process uses one core. The worker starts once (modules imported, the active definitions
compiled, the collector settled: `worker.settle`) and then forks: the processes share what start-up built
(copy-on-write pages, which the collector leaves alone: it never scans what a process inherited) and each
opens its own database connections. They share the due work through the claims every sweep makes (`FOR
UPDATE SKIP LOCKED` on due clocks' tickets, timers and outbox messages), so nothing is done twice, as with
workers started apart (SPEC 8). SQLite has one writer at a time: one process.

The processes are forked directly (`os.fork`), each returning its result through a pipe: a process pool's
queues and threads cost some 20 ms a round, which is what a round of a hundred tickets takes. A process may
also say, through a pipe of its own, that it has `passed` a point: then the parent does its own part of the
round (`meanwhile`: the worker folds the KPI sums once every sweep has committed, while the processes deliver).
"""

from __future__ import annotations

import gc
import os
import pickle
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from itsm.store import Database

MOST = 4  # processes at most by default, whatever the cores: the database serves them too
T = TypeVar("T")
_passing: int | None = None  # in a forked process whose parent waits for it to pass a point: the pipe to say so


def passed() -> None:
    """Say to the parent that this process has passed the point its `meanwhile` waits for (a no-op in a
    process not forked by `in_processes`, or once said)."""
    global _passing
    if _passing is not None:
        fd, _passing = _passing, None
        try:
            os.write(fd, b".")
        except OSError:  # the parent stopped waiting (it is unwinding after an error): nothing to tell
            pass
        finally:
            os.close(fd)


def default_processes(database: Database) -> int:
    """The cores this process may use, up to MOST, on PostgreSQL; 1 on SQLite."""
    if database.is_sqlite:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(MOST, cores))


def in_processes(count: int, database: Database, work: Callable[[], T],
                 meanwhile: Callable[[], object] | None = None) -> list[T]:
    """`work()` in `count` processes forked from this one, at the same time: what each returned. With
    `meanwhile`, that runs here as soon as every process has called `passed()` (or ended), while they go on.
    An exception in one is raised here once all have ended (the first one's, with the child's traceback as a
    note). Call it between transactions (no connection of `database` in use) and from a process without
    other threads: a fork copies only the thread that makes it, and whatever locks the others held."""
    children: list[tuple[int, int]] = []
    passing: list[int] = []
    outcomes: list[tuple[bool, Any]] = []
    try:
        for _ in range(count):
            pipes: list[int] = []  # result (read, write), then passing (read, write)
            try:
                pipes += os.pipe()
                pipes += os.pipe()
                pid = os.fork()
            except OSError:  # no file descriptor or process left: what was opened is closed
                for fd in pipes:
                    os.close(fd)
                raise
            read, write, read_passed, write_passed = pipes
            if pid == 0:  # the child: never returns into the caller's code
                os.close(read)
                os.close(read_passed)
                _child(database, work, write, write_passed)
            children.append((pid, read))
            passing.append(read_passed)
            os.close(write)
            os.close(write_passed)
        if meanwhile is not None:
            for fd in passing:
                os.read(fd, 1)  # "." once it passed; b"" when it ended without
            meanwhile()
        for pid, read in children:
            with os.fdopen(read, "rb", closefd=False) as pipe:
                payload = pipe.read()
            try:
                outcomes.append(pickle.loads(payload))
            except Exception:
                outcomes.append((False, RuntimeError(f"worker process {pid} ended without a result")))
    finally:  # every child waited for and every pipe closed, whatever failed here
        for fd in passing:
            os.close(fd)
        for pid, read in children:
            os.close(read)
            os.waitpid(pid, 0)
    for ok, value in outcomes:
        if not ok:
            raise value
    return [value for _, value in outcomes]


def _child(database: Database, work: Callable[[], object], write: int, write_passed: int) -> None:
    global _passing
    code = 0
    try:
        _passing = write_passed
        # what the parent held is never scanned here: a collection would write to every inherited object it
        # looks at, copying the parent's pages one by one (a round of 1,000 breaches took ~9 % longer)
        gc.freeze()
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
        passed()  # if the work did not say so: the parent may be waiting for it before it reads the result
        with os.fdopen(write, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)
