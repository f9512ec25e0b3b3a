"""The example plugin (plugins/itsm_cmdb): an action and an expression function, enabled by a pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from itsm.engine import ActionFailed, Engine, system_actor
from itsm.store import Comment, Database, Event, OutboxMessage

PACK = Path(__file__).resolve().parents[1] / "packs" / "valid" / "cmdb_plugin"


@pytest.fixture()
def cmdb(db: Database) -> Engine:
    from itsm.interpreter.plugins import installed

    if "cmdb" not in installed():  # a failure, not a skip: these tests are the example plugin's only check
        pytest.fail("the example plugin is not installed: pip install -e plugins/itsm_cmdb (the README's "
                    "setup line and .ci/run do)")
    engine = Engine(db)
    engine.definitions.publish_path(PACK)
    return engine


def test_plugin_action_fills_the_owner_team(cmdb: Engine) -> None:
    number = cmdb.create(system_actor(), "ticket", {"summary": "Laptop fan loud"})["number"]
    ticket = cmdb.fire(system_actor(), number, "classify", {"configuration_item": "LAPTOP-0042"})
    assert ticket["fields"]["owner_team"] == "desktop_support"
    assert cmdb.events(system_actor(), number)[-1]["changes"]["owner_team"] == [None, "desktop_support"]


def test_a_plugin_that_raises_leaves_no_trace(cmdb: Engine, db: Database) -> None:
    number = cmdb.create(system_actor(), "ticket", {"summary": "Unknown box"})["number"]

    def counts() -> tuple[int, ...]:
        with db.read() as session:
            return tuple(session.scalar(select(func.count()).select_from(m)) or 0
                         for m in (Event, Comment, OutboxMessage))

    before = counts()
    with pytest.raises(ActionFailed, match="not in the CMDB"):
        cmdb.fire(system_actor(), number, "classify", {"configuration_item": "NOT-IN-CMDB"})
    ticket = cmdb.get(system_actor(), number)
    assert ticket["state"] == "new" and ticket["version"] == 1 and "configuration_item" not in ticket["fields"]
    assert counts() == before


def test_plugin_functions_are_usable_in_expressions(cmdb: Engine) -> None:
    number = cmdb.create(system_actor(), "ticket", {"summary": "x", "configuration_item": "VPN-GW-1",
                                                     "owner_team": "someone"})["number"]
    assert "close" in cmdb.available_transitions(system_actor(), number)  # ci_owner(...) != null
    other = cmdb.create(system_actor(), "ticket", {"summary": "y", "configuration_item": "UNKNOWN",
                                                    "owner_team": "someone"})["number"]
    assert cmdb.get(system_actor(), other)["transitions"] == ["classify"]


def test_machines_are_built_once_per_process_and_version(cmdb: Engine) -> None:
    compiled = cmdb.definitions.active()
    assert set(compiled.machines) == set(compiled.pack.processes)  # built with the version, one per process
    assert cmdb.definitions.active().machines["ticket"] is compiled.machines["ticket"]
