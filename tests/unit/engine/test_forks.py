"""Processes forked after start-up (`engine/forks.py`): each runs the work with what this process built,
on connections of its own, and what they return (or raise) comes back here."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from itsm.engine.forks import default_processes, in_processes, passed
from itsm.store import Database


def test_the_work_runs_in_forked_processes_that_open_their_own_connections(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'forks.db'}")
    with database.engine.connect() as connection:  # a pooled connection the children must leave alone
        connection.execute(text("SELECT 1"))
    built = {"start-up": os.getpid()}  # what the work reads was made before the fork

    def work() -> tuple[int, int, int]:
        with database.engine.connect() as connection:
            one = connection.execute(text("SELECT 1")).scalar_one()
        return os.getpid(), built["start-up"], one

    results = in_processes(2, database, work)
    assert len(results) == 2 and all(parent == os.getpid() and one == 1 for _, parent, one in results)
    assert os.getpid() not in {pid for pid, _, _ in results}
    with database.engine.connect() as connection:  # this process's pool still works
        assert connection.execute(text("SELECT 2")).scalar_one() == 2


def test_an_exception_in_a_forked_process_is_raised_here(tmp_path: Path) -> None:
    def work() -> None:
        raise ValueError("broken ticket")

    with pytest.raises(ValueError, match="broken ticket") as raised:
        in_processes(2, Database(f"sqlite:///{tmp_path / 'forks.db'}"), work)
    note = "".join(raised.value.__notes__)  # where it happened, for the worker's log
    assert "in worker process" in note and 'raise ValueError("broken ticket")' in note


def test_sqlite_gets_one_process_and_postgresql_the_cores_up_to_four() -> None:
    assert default_processes(Database("sqlite://")) == 1
    assert 1 <= default_processes(Database("postgresql+psycopg://nobody@127.0.0.1:1/none")) <= 4


def test_meanwhile_runs_here_once_every_process_has_passed_while_they_go_on(tmp_path: Path) -> None:
    """What the parent does `meanwhile` (the worker's KPI fold) starts when each process has said it `passed`
    (its sweep committed) and the processes are still at work (delivering); they see what it did."""
    signal = tmp_path / "folded"
    order: list[str] = []

    def work() -> str:
        (tmp_path / f"swept-{os.getpid()}").touch()
        passed()
        passed()  # said once
        deadline = time.monotonic() + 30
        while not signal.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return "saw the fold" if signal.exists() else "waited in vain"

    def meanwhile() -> None:
        order.append(f"{len(list(tmp_path.glob('swept-*')))} swept")
        signal.touch()

    results = in_processes(2, Database(f"sqlite:///{tmp_path / 'forks.db'}"), work, meanwhile)
    assert results == ["saw the fold", "saw the fold"] and order == ["2 swept"]
    passed()  # here, outside any forked process: nothing to say


def test_meanwhile_runs_when_a_process_ends_without_passing(tmp_path: Path) -> None:
    ran: list[bool] = []

    def work() -> None:
        raise ValueError("failed before its sweep committed")

    with pytest.raises(ValueError, match="before its sweep"):
        in_processes(2, Database(f"sqlite:///{tmp_path / 'forks.db'}"), work, lambda: ran.append(True))
    assert ran == [True]


def test_what_a_forked_process_inherited_is_left_out_of_its_collections(tmp_path: Path) -> None:
    """The collector of a forked process never scans what it inherited (it would copy the parent's pages as
    it wrote to each object it looked at): those objects are frozen, its own are collected as usual."""
    import gc

    inherited = [[] for _ in range(1000)]  # tracked containers made before the fork

    def work() -> tuple[int, bool, int]:
        return gc.get_freeze_count(), gc.isenabled(), len(inherited)

    frozen, enabled, seen = in_processes(1, Database(f"sqlite:///{tmp_path / 'forks.db'}"), work)[0]
    assert frozen >= len(inherited) + gc.get_freeze_count() and enabled and seen == 1000


def test_a_process_that_never_says_it_passed_still_hands_over_a_large_result(tmp_path: Path) -> None:
    """A result larger than a pipe holds: the process says it passed before writing it, so the parent,
    waiting for that, goes on to read the result instead of both waiting for each other."""
    ran: list[bool] = []
    results = in_processes(2, Database(f"sqlite:///{tmp_path / 'forks.db'}"), lambda: "x" * 1_000_000,
                           lambda: ran.append(True))
    assert ran == [True] and [len(result) for result in results] == [1_000_000, 1_000_000]


def test_passing_when_the_parent_stopped_waiting_is_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    """A parent unwinding after an error has closed its end: saying "passed" must not fail the process's
    work (its sweep has committed; its deliveries come next)."""
    from itsm.engine import forks

    read, write = os.pipe()
    os.close(read)
    monkeypatch.setattr(forks, "_passing", write)
    passed()
    assert forks._passing is None
    with pytest.raises(OSError):
        os.fstat(write)  # closed
