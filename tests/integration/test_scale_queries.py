"""The history-scanning queries rewritten for seed scale (issue 18) give exactly what their reference gives.

- A requester's and a unit contact's page is the newest of each visibility branch merged
  (`visibility.own_branches`); the reference is one `sees` condition over every ticket.
- The queue's `sla=` filters read the running and paused clocks (`ix_sla_clocks_open`); the reference is the
  former EXISTS over every clock. An open queue filtered by `sla=breached` first walks its order testing
  each ticket's clocks (`tickets.page`'s `sla_test`); the reference is the same page read as a set.

Both on SQLite and PostgreSQL, over a desk where the people hold tickets as requesters, as assignees and
as contacts, with clocks met, running, paused, warned and breached.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, exists, select, text

from itsm.engine import Engine
from itsm.engine.people.demo import ensure_demo_orgs
from itsm.engine.people.users import add_user
from itsm.engine.worker import sweep
from itsm.store import Database, SlaClock, Ticket, orgs, tickets
from itsm.store.tickets import SLA_FILTERS, SORT_KEYS, TICKETS
from itsm.store.visibility import Viewer, own_branches, sees, subtree_of

from support import Clock, demo_desk

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
BASE = {"service": "workplace", "category": "hardware", "impact": "medium", "urgency": "medium"}


@pytest.fixture()
def desk(db: Database) -> tuple[Engine, Clock]:
    """Tickets of rita, una (the Ningbo finance bureau's contact), hana and carol in several states; rita
    holds some as an assignee too (a requester is rarely one: the branch must still find them)."""
    clock = Clock(MONDAY_9)
    engine = demo_desk(db, clock)
    ensure_demo_orgs(db)
    for name, org, contact in (("una", "nb-finance", True), ("hana", "hz-education", False),
                               ("rosa", "nb-finance", False), ("hugo", None, False)):
        add_user(db, name, org=org, org_contact=contact)
    system = engine.actor("system")
    for i in range(36):
        who = ("rita", "una", "hana", "carol", "rosa", "ruth")[i % 6]
        number = engine.create(engine.actor(who), "incident", {**BASE, "short_description": f"Printer {i} jams",
                                                             "urgency": ("high", "medium", "low")[i % 3]})["number"]
        clock.advance(minutes=20)
        worker = engine.actor(engine.get(system, number)["assignee"])
        if i % 4 in (1, 2):
            engine.fire(worker, number, "start")
        if i % 4 == 2:
            engine.fire(worker, number, "hold", {"hold_reason": "awaiting_user"})
        if i % 7 == 0:
            with db.write() as session:  # rita as an assignee (as an admin might set it)
                session.execute(TICKETS.update().where(TICKETS.c.number == number).values(assignee="rita"))
        if i % 9 == 4:
            clock.advance(hours=6)
            sweep(engine, deliver=False)  # warnings and breaches of the older tickets
    clock.advance(hours=3)
    return engine, clock


def _viewer(db: Database, name: str, contact: str | None = None) -> Viewer:
    with db.read() as session:
        tree = subtree_of(session, orgs.paths_of(session, [contact])[contact]) if contact is not None else None
        return Viewer(name, session.get_bind().dialect.name, contact=tree)


def _reference(db: Database, viewer: Viewer, limit: int, equal: dict[str, str], sla: Any,
               before: int | None) -> list[int]:
    query = select(TICKETS.c.id).where(sees(viewer), *tickets.page_conditions(equal, None, sla))
    if before is not None:
        query = query.where(TICKETS.c.id < before)
    with db.read() as session:
        return list(session.scalars(query.order_by(TICKETS.c.id.desc()).limit(limit)))


def _paged(db: Database, viewer: Viewer, limit: int, equal: dict[str, str], sla: Any, before: int | None) -> list[int]:
    with db.read() as session:
        after = None if before is None else (before,)  # the key of `-created`: the id to continue below
        return [row.id for row in tickets.page(session, limit, equal, viewer, sla, after)]


@pytest.mark.parametrize("who", ["rita", "una", "hana", "lars"])
def test_a_persons_page_is_the_newest_of_its_branches_merged(db: Database, desk: tuple[Engine, Clock],
                                                             who: str) -> None:
    engine, clock = desk
    viewer = _viewer(db, who, "nb-finance" if who == "una" else None)
    assert own_branches(viewer) is not None
    if who == "una":
        assert viewer.contact is not None and viewer.contact.ids == ("nb-finance",)
    found_any = False
    for equal in ({}, {"state": "in_progress"}, {"state": "new"}, {"requester": who}):
        for sla in (None, *(tickets.sla_status_condition(status, clock.now) for status in SLA_FILTERS)):
            for limit in (1, 3, 50):
                before = None
                for _ in range(40):  # every page, following the cursor
                    expected = _reference(db, viewer, limit, equal, sla, before)
                    assert _paged(db, viewer, limit, equal, sla, before) == expected
                    found_any = found_any or bool(expected)
                    if len(expected) < limit:
                        break
                    before = expected[-1]
    assert found_any


def test_an_agent_and_a_province_contact_keep_the_one_condition(db: Database, desk: tuple[Engine, Clock]) -> None:
    """An agent's processes and a large subtree match densely: their pages stay one walk, newest first."""
    with db.read() as session:
        dialect = session.get_bind().dialect.name
        province = subtree_of(session, "/zhejiang/", few=2)
    assert own_branches(Viewer("lars", dialect, teams=("service_desk",), processes=("incident",))) is None
    assert province.ids is None and own_branches(Viewer("una", dialect, contact=province)) is None


def _old_sla_condition(status: str, now: datetime) -> Any:
    """The queue's SLA filter as it was before the open clocks' index: EXISTS over every clock."""
    overdue = (SlaClock.phase == "running") & (SlaClock.deadline < now)
    breached = SlaClock.phase.in_(("running", "paused")) & (SlaClock.breached.is_(True) | overdue)
    condition = {
        "breached": breached,
        "at_risk": (SlaClock.phase == "running") & (SlaClock.warnings_fired > 0) & ~breached,
        "running": (SlaClock.phase == "running") & ~breached,
        "paused": SlaClock.phase == "paused",
    }[status]
    return exists().where((SlaClock.ticket_id == Ticket.id) & condition)


@pytest.mark.parametrize("status", SLA_FILTERS)
def test_sla_filters_read_the_open_clocks_and_find_what_the_scan_found(db: Database, desk: tuple[Engine, Clock],
                                                                       status: str) -> None:
    engine, clock = desk
    with db.read() as session:
        phases = set(session.scalars(select(SlaClock.phase)))
        assert {"running", "paused", "stopped"} <= phases
        assert session.scalar(select(SlaClock.id).where(SlaClock.breached.is_(True)).limit(1)) is not None
        assert session.scalar(select(SlaClock.id).where(SlaClock.warnings_fired > 0).limit(1)) is not None
        for now in (clock.now, clock.now + timedelta(hours=30), clock.now + timedelta(days=30)):
            new = set(session.scalars(select(TICKETS.c.id).where(tickets.sla_status_condition(status, now))))
            old = set(session.scalars(select(TICKETS.c.id).where(_old_sla_condition(status, now))))
            assert new == old
    found = engine.list_tickets(engine.actor("lars"), {"sla": status}, 100)[0]
    assert {t["number"] for t in found} == {row.number for row in _rows_with(db, status, clock.now)}


def _rows_with(db: Database, status: str, now: datetime) -> list[Any]:
    with db.read() as session:
        return list(session.execute(select(TICKETS.c.number).where(_old_sla_condition(status, now))))


AGENT = {"teams": ("service_desk",), "processes": ("incident",)}


@pytest.mark.parametrize("sort", list(SORT_KEYS))
def test_a_breached_queue_walked_in_order_gives_the_pages_of_the_set(db: Database, desk: tuple[Engine, Clock],
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      sort: str) -> None:
    """Every page of an open queue filtered by `sla=breached`, forwards and backwards, is the page the set
    form gives: when the first WALK pages in order hold a page (one statement) and when they do not (the
    walk, then the set)."""
    engine, clock = desk
    now = clock.now
    condition, test = tickets.sla_status_condition("breached", now), tickets.sla_status_test("breached", now)
    assert test is not None and tickets.sla_status_test("at_risk", now) is None
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    outcomes = set()
    with db.read() as session:
        dialect = session.get_bind().dialect.name
        breached = set(session.scalars(select(TICKETS.c.id).where(condition, TICKETS.c.is_open)))
        assert len(breached) >= 4 and session.scalar(select(TICKETS.c.id).where(TICKETS.c.is_open, ~condition))
        for viewer in (None, Viewer("lars", dialect, **AGENT)):
            for walk in (1, 3):
                monkeypatch.setattr(tickets, "WALK", walk)
                for limit in (1, 2, 4):
                    key, seen = None, []
                    for _ in range(40):
                        expected = tickets.page(session, limit, {}, viewer, condition, key, sort=sort, open_only=True)
                        statements.clear()
                        found = tickets.page(session, limit, {}, viewer, condition, key, sort=sort, open_only=True,
                                             sla_test=test)
                        outcomes.add(len(statements))
                        assert [row.id for row in found] == [row.id for row in expected]
                        seen += [row.id for row in found]
                        if key is not None:  # back from this page's start: the previous rows, nearest first
                            back = tickets.page(session, limit, {}, viewer, condition, key, sort=sort,
                                                backwards=True, open_only=True)
                            assert [row.id for row in tickets.page(
                                session, limit, {}, viewer, condition, key, sort=sort, backwards=True,
                                open_only=True, sla_test=test)] == [row.id for row in back]
                        if len(found) < limit:
                            break
                        key = tickets.sort_key(sort, found[-1])
                    assert set(seen) == breached
    assert outcomes == {1, 2}  # pages found by the walk alone, and walks that fell back to the set


def test_the_walk_tests_each_ticket_it_reads(db: Database, desk: tuple[Engine, Clock]) -> None:
    """The agent's `sla=breached` queue sends the walk first, and the database keeps the clocks' test a
    test of each ticket read (through the clocks' (ticket_id, clock) key), not a join with every breached
    clock: that is what lets the walk stop after a page."""
    engine, clock = desk
    captured: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        engine.list_tickets(engine.actor("lars"), {"sla": "breached"}, 2)
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    statement, parameters = next(one for one in captured if "FROM sla_clocks" in one[0])
    postgres = db.url.get_backend_name() == "postgresql"
    with db.engine.connect() as connection:
        rows = connection.exec_driver_sql(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement,
                                          parameters).all()
    plan = "\n".join(str(row[-1]) for row in rows)
    if postgres:
        assert "SubPlan" in plan and "Hash" not in plan and "sla_clocks_ticket_id_clock_key" in plan, plan
    else:
        assert "CORRELATED" in plan and "sqlite_autoindex_sla_clocks" in plan, plan


def test_kpis_per_ticket_match_the_joins(db: Database, desk: tuple[Engine, Clock],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL reads a short period's events and clocks per ticket (a LATERAL through their indexes);
    every figure is the one the joins give, for periods, a team and the breakdown by organization."""
    from itsm.engine.reports.kpis import kpi_report
    from itsm.store import reports

    engine, clock = desk
    if db.url.get_backend_name() != "postgresql":
        pytest.skip("the per-ticket reading is PostgreSQL's (SQLite has no LATERAL)")
    admin = engine.actor("admin")
    day = clock.now.date()
    since = str(day - timedelta(days=2))
    for params in ({"from": since, "to": str(day + timedelta(days=1))}, {"from": since, "team": "service_desk"},
                   {"from": since, "org": "ningbo", "group_by": "org"}):
        monkeypatch.setattr(reports, "_per_ticket", lambda session, scope: False)
        joined = kpi_report(engine, admin, params)
        monkeypatch.setattr(reports, "_per_ticket", lambda session, scope: True)
        per_ticket = kpi_report(engine, admin, params)
        joined.pop("generated_at"), per_ticket.pop("generated_at")
        assert per_ticket == joined and joined["tickets"]["created"] > 0, params


def test_routing_a_new_ticket_reads_whether_the_teams_members_exist_in_one_statement(
        db: Database, desk: tuple[Engine, Clock]) -> None:
    """Routing passes over team members the database lacks: it asks about every member of the team. A create
    reads them all (every team's members) in one statement, not one per member (150 of them at the seed's L1)."""
    engine, _ = desk
    asked: list[str] = []

    def keep(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.match(r"SELECT users\.(id|name)\s+FROM users\s+WHERE users\.name", statement):  # exists?
            asked.append(statement)

    event.listen(db.engine, "before_cursor_execute", keep)
    try:
        made = engine.create(engine.actor("rita"), "incident", {**BASE, "short_description": "Printer jams again"})
    finally:
        event.remove(db.engine, "before_cursor_execute", keep)
    assert made["assignee"] is not None
    members = engine.definitions.active().pack.teams[made["team"]].members
    assert len(members) > 1 and len(asked) == 1, asked


def test_the_planner_counts_a_dozen_events_a_ticket(db: Database, desk: tuple[Engine, Clock]) -> None:
    """ANALYZE guesses `events.ticket_id`'s distinct values from a sample, and a ticket's events lie together:
    it guessed 83,000 tickets for a million, and planned a sweep's histories read at 136 events a ticket (a
    parallel scan compiled by JIT, four times the index's time). Migration 0021 sets the tickets at a
    twelfth of the events, which ANALYZE keeps whatever it sees (here a ticket has fewer events)."""
    if db.url.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL's column statistics (SQLite keeps none unless asked)")
    with db.engine.begin() as connection:
        connection.execute(text("ANALYZE events"))
        tickets_seen, events = connection.execute(text("SELECT count(DISTINCT ticket_id), count(*) FROM events")).one()
        distinct = connection.execute(text(
            "SELECT n_distinct FROM pg_stats WHERE schemaname = current_schema() AND tablename = 'events' "
            "AND attname = 'ticket_id'")).scalar_one()
    assert tickets_seen / events > 0.1 and distinct == pytest.approx(-0.08)
