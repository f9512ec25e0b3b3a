"""Processes forked after start-up (`engine/forks.py`): each runs the work with what this process built,
on connections of its own, and what they return (or raise) comes back here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from itsm.engine.forks import default_processes, in_processes
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
