"""The garbage collector of the long-lived processes is settled once, after start-up (engine/memory.py)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from itsm.engine import memory


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, ...]]]:
    """A process that has not settled yet, with the collector's two calls recorded instead of made."""
    calls: list[tuple[str, tuple[int, ...]]] = []
    monkeypatch.setattr(memory, "_settled", False)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append(("freeze", ())))
    monkeypatch.setattr(gc, "set_threshold", lambda *limits: calls.append(("threshold", limits)))
    return calls


def test_settling_freezes_once_and_collects_young_objects_less_often(fresh: list[tuple[str, tuple[int, ...]]]) -> None:
    older = gc.get_threshold()[1:]
    memory.settle_collector()
    memory.settle_collector()
    assert fresh == [("freeze", ()), ("threshold", (memory.YOUNG_COLLECTIONS_EVERY, *older))]


def test_a_web_process_settles_after_its_first_request(fresh: list[tuple[str, tuple[int, ...]]],
                                                        tmp_path: Path) -> None:
    from itsm.web import create_app

    client = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "TESTING": True}).test_client()
    assert fresh == []  # creating the app settles nothing: the first request has not compiled anything yet
    client.get("/api/health")
    assert [name for name, _ in fresh] == ["freeze", "threshold"]
    client.get("/api/health")
    assert len(fresh) == 2
