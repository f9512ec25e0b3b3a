"""KPIs from the per-day sums (issue 18) give the figures the events give, on SQLite and PostgreSQL.

A seeded history of sixty incidents over four days (fixed at once, escalated and reopened, withdrawn,
rated, recorded by phone, left open), its tickets created at all hours so that periods cut days in two.
Every report is computed twice: from the sums (`kpi_facts`) and from the events (the sums switched off),
and the two must be equal, before and after more changes, after a rebuild, and while the worker catches up.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, insert, select, update

from itsm.engine import Engine
from itsm.engine.reports import kpis
from itsm.engine.reports.kpis import bring_up_to_date, fact_rules, kpi_report, kpi_scope
from itsm.engine.worker import fold_kpis, sweep
from itsm.store import Database, kpi_facts
from itsm.store.bulk import insert_rows
from itsm.store.models import Event, KpiDay, KpiFact, KpiPending, Ticket

from support import Clock, demo_desk

BERLIN = ZoneInfo("Europe/Berlin")
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}
RESOLVE = {"resolution_code": "fixed", "resolution_notes": "Done"}
# What happens to an incident: (who, what, with) steps; "comment" is an internal note; "agent" is someone of
# the team holding the ticket.
SCRIPTS: tuple[tuple[tuple[str, str, dict[str, Any]], ...], ...] = (
    (),
    (("agent", "start", {}),),
    (("agent", "start", {}), ("agent", "resolve", RESOLVE), ("rita", "close", {"satisfaction": 5})),
    (("agent", "start", {}), ("agent", "resolve", RESOLVE), ("rita", "close", {"satisfaction": 2})),
    (("agent", "comment", {}), ("agent", "start", {}), ("agent", "escalate", {"escalation_reason": "Board"}),
     ("agent", "resolve", RESOLVE), ("rita", "reopen", {"reopen_reason": "Again"}), ("agent", "resolve", RESOLVE)),
    (("agent", "start", {}), ("agent", "resolve", RESOLVE), ("rita", "reopen", {"reopen_reason": "No"})),
    (("rita", "withdraw", {}),),
)
PERIODS: tuple[dict[str, str], ...] = (
    {},
    {"from": "2026-03-02", "to": "2026-03-03"},
    {"from": "2026-03-03"},
    {"to": "2026-03-03"},
    {"from": "2026-03-02T10:15:00Z", "to": "2026-03-04T13:00:00+01:00"},
    {"from": "2026-03-03T05:00:00+01:00", "to": "2026-03-03T18:00:00+01:00"},  # within a day
    {"from": "2026-03-02T23:30:00+01:00", "to": "2026-03-03T00:30:00+01:00"},  # across midnight
    {"from": "2026-03-02T23:00:00Z"},  # the desk's midnight (its standard offset)
    {"from": "2026-03-01", "to": "2026-03-05", "team": "service_desk"},
    {"team": "desktop_support"},
    {"process": "incident", "from": "2026-03-03"},
    {"process": "review"},
    {"group_by": "org", "from": "2026-03-03"},  # the dashboard's table by organization
)


@pytest.fixture()
def clock() -> Clock:
    return Clock(datetime(2026, 3, 1, 21, 0, tzinfo=BERLIN))  # a Sunday evening


@pytest.fixture()
def desk(db: Database, clock: Clock) -> Engine:
    engine = demo_desk(db, clock)
    _history(engine, clock, random.Random(18), 60)
    return engine


Scripted = list[tuple[str, list[tuple[str, str, dict[str, Any]]]]]  # (ticket, its script's steps still to come)


def _history(desk: Engine, clock: Clock, rng: random.Random, count: int, running: Scripted | None = None) -> Scripted:
    """`count` incidents, one every 7 minutes to 4 hours, each going through a script; the steps of the
    open ones (and of those `running` from an earlier history) interleaved with the creations."""
    rita, lars = desk.actor("rita"), desk.actor("lars")
    running = [] if running is None else running
    for _ in range(count):
        clock.now += timedelta(minutes=rng.choice((7, 20, 45, 130, 240)))
        if rng.random() < 0.2:
            number = desk.create(lars, "incident", {**LAPTOP, "channel": "phone"}, requester="rita")["number"]
        else:
            number = desk.create(rita, "incident", {**LAPTOP, "urgency": rng.choice(("low", "medium"))})[
                "number"]
        running.append((number, list(rng.choice(SCRIPTS))))
        for _ in range(rng.randint(0, 3)):
            waiting = [item for item in running if item[1]]
            if not waiting:
                break
            ticket, steps = rng.choice(waiting)
            who, what, data = steps.pop(0)
            clock.now += timedelta(minutes=rng.choice((1, 9, 33)))
            if who == "agent":
                team = desk.get(desk.actor("admin"), ticket)["team"]
                who = desk.definitions.active().pack.teams[team].members[0].user
            if what == "comment":
                desk.comment(desk.actor(who), ticket, "Looking into it", internal=True)
            else:
                desk.fire(desk.actor(who), ticket, what, data)
    return running


def both(desk: Engine, monkeypatch: pytest.MonkeyPatch, who: str = "admin",
         **params: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report from the sums (checking that they did answer) and from the events."""
    pack = desk.definitions.active().pack
    actor = desk.actor(who)
    from_sums = kpi_report(desk, actor, params)
    with desk.db.read() as session:
        scope = kpi_scope(pack, actor, params)
        viewer = kpis.viewer_of(session, actor, pack)
        assert kpis.answers_from_sums(session, kpis.replace(scope, viewer=viewer), fact_rules(pack, desk.clock()))
    with monkeypatch.context() as patched:
        patched.setattr(kpis, "answers_from_sums", lambda *_: False)
        from_events = kpi_report(desk, actor, params)
    return from_sums, from_events


def test_the_sums_give_the_figures_of_the_events(desk: Engine, clock: Clock,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    clock.now = datetime(2026, 3, 5, 10, 0, tzinfo=BERLIN)
    everything = None
    for params in PERIODS:
        from_sums, from_events = both(desk, monkeypatch, **params)
        assert from_sums == from_events, params
        if "group_by" in params:
            assert sum(row["tickets"]["created"] for row in from_sums["by_org"]) == from_sums["tickets"]["created"]
            assert any(row["time_to_acknowledge"]["count"] for row in from_sums["by_org"])
        everything = everything or from_sums
    assert everything is not None
    # the history is the mixed one it should be
    assert everything["tickets"]["created"] == 60 and everything["tickets"]["resolved"] > 10
    assert everything["reopen"]["reopened"] > 0 and everything["first_contact_resolution"]["first_contact"] > 0
    assert everything["satisfaction"]["count"] > 0 and everything["channels"].get("phone", 0) > 0
    assert {line["clock"] for line in everything["sla"]} == {"response", "resolution"}
    assert len(everything["by_week"]) == 2  # Monday 2 March and the week before


def test_an_agent_of_the_processes_reads_the_sums(desk: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from_sums, from_events = both(desk, monkeypatch, "lars", **{"from": "2026-03-03"})
    assert from_sums == from_events and from_sums["tickets"]["created"] > 0


def test_changes_reach_the_sums_before_the_next_report(desk: Engine, clock: Clock,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    before, _ = both(desk, monkeypatch)
    _history(desk, clock, random.Random(7), 15)  # more tickets, and steps on the old ones' scripts
    with desk.db.read() as session:
        assert kpi_facts.pending(session) > 0  # the triggers noted what changed
    after, from_events = both(desk, monkeypatch)
    assert after == from_events
    assert after["tickets"]["created"] == before["tickets"]["created"] + 15
    with desk.db.read() as session:
        assert kpi_facts.pending(session) == 0


def test_the_day_sums_are_the_sums_of_the_facts(desk: Engine) -> None:
    kpi_report(desk, desk.actor("admin"), {})
    with desk.db.read() as session:
        facts = [kpi_facts.Fact(*row) for row in session.execute(select(*(
            getattr(KpiFact, name) for name in kpi_facts.Fact._fields)))]
        expected: Counter[tuple[Any, ...]] = Counter()
        for fact in facts:
            for figure, key, amount in kpi_facts.contributions(fact):
                expected[(fact.day, fact.process, fact.team or "", figure, key)] += amount
        stored = {(row.day, row.process, row.team, row.figure, row.key): row.amount
                  for row in session.scalars(select(KpiDay))}
    assert len(facts) == 60
    assert stored == {key: amount for key, amount in expected.items() if amount}


def test_new_rules_rebuild_the_sums(desk: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    first, _ = both(desk, monkeypatch)
    monkeypatch.setattr(kpi_facts, "LAYOUT", kpi_facts.LAYOUT + 1)  # as a new pack version's rules would
    again, from_events = both(desk, monkeypatch)
    assert again == from_events and again["tickets"] == first["tickets"]
    with desk.db.read() as session:
        assert kpi_facts.stored_fingerprint(session) == fact_rules(desk.definitions.active().pack,
                                                                   desk.clock()).fingerprint()


def test_too_much_to_fold_reads_the_events_until_the_worker_caught_up(desk: Engine,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kpis, "FOLD_WHEN_READ", 10)
    monkeypatch.setattr(kpis, "FOLD_BATCH", 7)
    report = kpi_report(desk, desk.actor("admin"), {})  # 60 tickets never counted: the events answer
    pack = desk.definitions.active().pack
    with desk.db.read() as session:
        assert kpi_facts.stored_fingerprint(session) is None  # not rebuilt by a report on a "large" desk
    assert fold_kpis(desk, batches=2) == 14  # the worker's first round: the rebuild, then 2 batches of 7
    with desk.db.read() as session:
        assert kpi_facts.pending(session) == 60 - 14
        assert not kpis.answers_from_sums(session, kpi_scope(pack, desk.actor("admin"), {}),
                                          fact_rules(pack, desk.clock()))
    assert bring_up_to_date(desk, pack, desk.clock()) == 60 - 14
    with desk.db.read() as session:
        assert session.scalar(select(KpiPending.ticket_id)) is None
    from_sums, from_events = both(desk, monkeypatch)
    assert from_sums == from_events == report | {"generated_at": from_sums["generated_at"]}


def _facts(desk: Engine) -> dict[int, kpi_facts.Fact]:
    with desk.db.read() as session:
        return {row[0]: kpi_facts.Fact(*row) for row in session.execute(select(*(
            getattr(KpiFact, name) for name in kpi_facts.Fact._fields)))}


def test_a_fold_writes_only_the_facts_that_changed(desk: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    pack = desk.definitions.active().pack
    bring_up_to_date(desk, pack, desk.clock())
    before = _facts(desk)
    inserted: list[int] = []
    written: list[str] = []

    def recording(connection: Any, table: Any, rows: Any) -> int:
        inserted.extend(row["ticket_id"] for row in rows)
        return insert_rows(connection, table, rows)

    def statement(conn: Any, cursor: Any, sql: str, *_: Any) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "DELETE", "UPDATE")) and "kpi_pending" not in sql:
            written.append(sql)

    monkeypatch.setattr(kpi_facts, "insert_rows", recording)
    event.listen(desk.db.engine, "before_cursor_execute", statement)
    try:
        with desk.db.write() as session:  # every ticket pending again, none changed
            session.execute(insert(KpiPending).from_select(["ticket_id"], select(Ticket.id)))
        assert bring_up_to_date(desk, pack, desk.clock()) == 60
        assert inserted == [] and written == []
        assert _facts(desk) == before
        with desk.db.read() as session:
            changed, waiting, team = session.execute(select(Ticket.id, Ticket.number, Ticket.team).where(
                Ticket.state == "new").order_by(Ticket.id).limit(1)).one()
        desk.fire(desk.actor(pack.teams[team].members[0].user), waiting, "start", {})  # acknowledged now
        with desk.db.write() as session:
            session.execute(insert(KpiPending).from_select(
                ["ticket_id"], select(Ticket.id).where(Ticket.id.not_in(select(KpiPending.ticket_id)))))
        assert bring_up_to_date(desk, pack, desk.clock()) == 60
    finally:
        event.remove(desk.db.engine, "before_cursor_execute", statement)
    assert inserted == [changed]
    assert before[changed].ack_ms is None and _facts(desk)[changed].ack_ms is not None
    from_sums, from_events = both(desk, monkeypatch)
    assert from_sums == from_events


def test_facts_folded_as_tickets_change_are_those_computed_afresh(db: Database, clock: Clock) -> None:
    """On PostgreSQL a fold adds a ticket's new events to its facts (`kpi_facts.count_since`): after rounds of
    steps on old and new tickets, breaches swept and folds between them, the facts are those computed from
    every event (`kpi_facts.compute`, what SQLite's fold does)."""
    desk = demo_desk(db, clock)
    rng = random.Random(11)
    running = _history(desk, clock, rng, 25)
    pack = desk.definitions.active().pack
    for _ in range(6):
        bring_up_to_date(desk, pack, desk.clock())
        running = _history(desk, clock, rng, 4, running)
        clock.now += timedelta(hours=rng.choice((1, 5, 30)))
        sweep(desk, deliver=False)  # warnings, breaches and their escalations: new events on old tickets
    bring_up_to_date(desk, pack, desk.clock())
    folded = _facts(desk)
    with desk.db.read() as session:
        ids = list(session.scalars(select(Ticket.id)))
        afresh = kpi_facts.compute(session, kpi_facts.IdSet.of(ids), fact_rules(pack, desk.clock()))
    assert folded == {fact.ticket_id: fact for fact in afresh}
    assert sum(fact.reopened for fact in afresh) and sum(fact.moved for fact in afresh)
    assert sum(fact.resolve_ms is not None for fact in afresh) and sum(bool(fact.breached) for fact in afresh)


def test_a_new_requester_counts_the_tickets_events_again(desk: Engine) -> None:
    """Whose events acknowledge a ticket depends on its requester: when it changes, the fold counts every
    event of the ticket again, as a rebuild would, instead of adding the new ones to what the old requester
    made of the old ones."""
    pack = desk.definitions.active().pack
    with desk.db.read() as session:
        ticket_id, number, team = session.execute(select(Ticket.id, Ticket.number, Ticket.team)
                                                  .where(Ticket.state == "new").order_by(Ticket.id).limit(1)).one()
    agent = pack.teams[team].members[0].user
    desk.comment(desk.actor(agent), number, "Looking into it")  # acknowledged by the agent
    bring_up_to_date(desk, pack, desk.clock())
    assert _facts(desk)[ticket_id].ack_ms is not None
    with desk.db.write() as session:  # the agent reported it for herself after all
        session.execute(update(Ticket).where(Ticket.id == ticket_id).values(requester=agent))
    bring_up_to_date(desk, pack, desk.clock())
    with desk.db.read() as session:
        afresh = kpi_facts.compute(session, kpi_facts.IdSet.of([ticket_id]), fact_rules(pack, desk.clock()))
    assert [_facts(desk)[ticket_id]] == afresh


def test_a_pending_ticket_notes_its_first_event_not_counted(desk: Engine) -> None:
    pack = desk.definitions.active().pack
    bring_up_to_date(desk, pack, desk.clock())
    with desk.db.read() as session:
        first, second = session.execute(select(Ticket.id, Ticket.number).order_by(Ticket.id).limit(2)).all()
    for _ in range(2):
        desk.comment(desk.actor("lars"), first.number, "Looking into it", internal=True)
    with desk.db.write() as session:  # a change of the row alone (as a clock's would be)
        session.execute(update(Ticket).where(Ticket.id == second.id).values(priority="P1"))
    with desk.db.read() as session:
        since = dict(session.execute(select(KpiPending.ticket_id, KpiPending.since)).all())
        comments = list(session.scalars(select(Event.id).where(Event.ticket_id == first.id, Event.kind == "comment")
                                         .order_by(Event.id)))
    assert since == {first.id: comments[-2], second.id: None}
    bring_up_to_date(desk, pack, desk.clock())
    with desk.db.read() as session:
        assert session.scalar(select(func.count()).select_from(KpiPending)) == 0


def test_a_fold_leaves_a_ticket_whose_event_is_being_written_to_the_next(desk: Engine, db_url: str) -> None:
    """PostgreSQL: a writer adding an event holds the ticket's pending row; a fold meanwhile neither waits
    for it nor forgets the ticket, and the next fold counts the event."""
    if desk.db.is_sqlite:
        pytest.skip("one writer at a time on SQLite: nothing folds while an event is being written")
    pack = desk.definitions.active().pack
    bring_up_to_date(desk, pack, desk.clock())
    with desk.db.read() as session:
        ticket = session.execute(select(Ticket.id, Ticket.requester, Ticket.definitions_version).where(
            Ticket.state == "new").order_by(Ticket.id).limit(1)).one()
        others = list(session.scalars(select(Ticket.id).where(Ticket.id != ticket.id).limit(3)))
    with desk.db.write() as session:  # pending already, as after a clock's change
        session.execute(insert(KpiPending).values([{"ticket_id": one} for one in [ticket.id, *others]]))
    writer = Database(db_url)
    folded: list[int] = []
    with writer.engine.connect() as connection:
        connection.execute(insert(Event).values(
            ticket_id=ticket.id, at=desk.clock(), actor="lars", kind="comment", changes={}, data={},
            definitions_version=ticket.definitions_version))  # an agent's first word: acknowledged, uncommitted
        fold = threading.Thread(target=lambda: folded.append(bring_up_to_date(desk, pack, desk.clock())))
        fold.start()
        fold.join(timeout=10)
        assert not fold.is_alive() and folded == [3]
        connection.commit()
    writer.dispose()
    assert _facts(desk)[ticket.id].ack_ms is None
    assert bring_up_to_date(desk, pack, desk.clock()) == 1
    assert _facts(desk)[ticket.id].ack_ms is not None
    with desk.db.read() as session:
        afresh = kpi_facts.compute(session, kpi_facts.IdSet.of([ticket.id]), fact_rules(pack, desk.clock()))
    assert afresh == [_facts(desk)[ticket.id]]


def test_tickets_pending_before_the_migration_are_counted_from_their_first_event(db: Database) -> None:
    from alembic import command
    from sqlalchemy import text

    from itsm.store.migrate import alembic_config

    command.downgrade(alembic_config(db.engine), "0019_outbox_claims")
    with db.engine.begin() as connection:  # noted by 0016's trigger, with no word of which events are new
        connection.execute(text("INSERT INTO kpi_pending (ticket_id) VALUES (7)"))
    db.upgrade()
    with db.read() as session:
        assert session.execute(select(KpiPending.ticket_id, KpiPending.since)).all() == [(7, 0)]
