"""The queue's query plans on SQLite: an agent's newest tickets are read newest first and the scan stops
after the page, instead of gathering every visible ticket and sorting them all; the urgency order (the
agents' default) and the others walk their indexes the same way; filters and requesters keep their indexes
(docs/decisions.md, "The API overhead benchmark", "The agents' queue")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from itsm.engine import Engine
from itsm.engine.people.users import add_user
from itsm.store import Database, tickets
from itsm.store.visibility import Viewer

from support import DEFINITIONS

P4 = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
      "impact": "low", "urgency": "medium"}


@pytest.fixture()
def desk(tmp_path: Path) -> Engine:
    db = Database(f"sqlite:///{tmp_path / 'plans.db'}")
    db.upgrade()
    engine = Engine(db)
    engine.definitions.publish_path(DEFINITIONS)
    for name in ("rita", "lars"):
        add_user(db, name)
    for _ in range(30):
        engine.create(engine.actor("rita"), "incident", P4)
    return engine


def page_plan(desk: Engine, who: str, **filters: str) -> str:
    """The plan SQLite chooses for the ticket page of `who` with `filters`."""
    captured: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.startswith("SELECT tickets.id") and "ORDER BY tickets." in statement:
            captured.append((statement, parameters))

    event.listen(desk.db.engine, "before_cursor_execute", keep)
    try:
        items, _ = desk.list_tickets(desk.actor(who), filters, limit=10)
    finally:
        event.remove(desk.db.engine, "before_cursor_execute", keep)
    assert len(items) == 10 and len(captured) == 1
    statement, parameters = captured[0]
    with desk.db.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(row[-1] for row in rows)


def test_an_agents_queue_reads_newest_first_without_sorting(desk: Engine) -> None:
    plan = page_plan(desk, "lars", sort="-created")
    assert "TEMP B-TREE" not in plan and "MULTI-INDEX OR" not in plan, plan
    assert desk.list_tickets(desk.actor("lars"), {"sort": "-created"}, limit=30)[0][0]["number"] == "INC0000030"


@pytest.mark.parametrize(("sort", "index"), [("urgency", "ix_tickets_urgency"), ("priority", "ix_tickets_open_rank"),
                                             ("-updated", "ix_tickets_open_updated"),
                                             ("created", "ix_tickets_open_created")])
def test_every_order_of_an_agents_queue_walks_its_index(desk: Engine, sort: str, index: str) -> None:
    plan = page_plan(desk, "lars", sort=sort)
    assert index in plan and "TEMP B-TREE" not in plan and "MULTI-INDEX OR" not in plan, plan


def test_filters_and_requesters_keep_their_indexes(desk: Engine) -> None:
    assert "ix_tickets_process_state" in page_plan(desk, "lars", state="new", sort="-created")
    assert "ix_tickets_requester" in page_plan(desk, "rita")


def test_a_priority_filter_reads_the_open_tickets_of_that_priority_in_order(desk: Engine) -> None:
    """`priority=` in the agents' default order walks the open tickets of that priority in that order and
    stops after the page (issue 18: PostgreSQL read all 10,001 open P2 tickets and sorted them)."""
    assert desk.list_tickets(desk.actor("lars"), {}, limit=1)[0][0]["priority"] == "P4"
    plan = page_plan(desk, "lars", priority="P4")
    assert "ix_tickets_open_priority_urgency" in plan and "TEMP B-TREE" not in plan, plan


def statement_plan(desk: Engine, run: Any) -> str:
    """The plan SQLite chooses for the one statement `run(session)` sends."""
    captured: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    with desk.db.read() as session:
        session.connection()
        event.listen(desk.db.engine, "before_cursor_execute", keep)
        try:
            run(session)
        finally:
            event.remove(desk.db.engine, "before_cursor_execute", keep)
    statement, parameters = captured[-1]
    with desk.db.engine.connect() as connection:
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(row[-1] for row in rows)


@pytest.mark.parametrize("status", ["breached", "at_risk"])
def test_sla_filters_read_the_open_clocks_from_their_index(desk: Engine, status: str) -> None:
    """`sla=breached` and `sla=at_risk` read the running and paused clocks from the partial index that holds
    every column they test, never every clock ever (issue 18: a sequential scan of 2M clocks)."""
    now = desk.clock()
    plan = statement_plan(desk, lambda session: tickets.page(
        session, 10, {}, None, tickets.sla_status_condition(status, now), None))
    assert "COVERING INDEX ix_sla_clocks_open" in plan and "SCAN sla_clocks" not in plan, plan


def test_a_requesters_page_reads_each_branch_through_its_index(desk: Engine) -> None:
    """A requester's tickets and those assigned to her, each read through its index: no walk of every
    ticket (issue 18: PostgreSQL walked a million tickets newest first for one OR)."""
    viewer = Viewer("rita", "sqlite")
    plan = statement_plan(desk, lambda session: tickets.page(session, 10, {}, viewer, None, None))
    assert "ix_tickets_requester" in plan and "ix_tickets_assignee_open" in plan, plan
    assert "SCAN tickets" not in plan, plan
