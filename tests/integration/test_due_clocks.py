"""The worker's set-based sweep of due clocks gives exactly what the per-ticket path gives: the same events,
outbox rows, comments, links, ticket fields, teams, assignees and versions, and clock rows.

Each case builds the same history twice, in two databases of the test's kind, sweeps one set-based and
the other ticket by ticket (`set_based=False`, the engine's reference path), and compares everything.
Small batches make assignments cross batch boundaries.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text

from itsm.engine import Engine
from itsm.engine.people.users import add_user
from itsm.engine.runtime.sweep import SweepResult
from itsm.engine.worker import shared_round, sweep
from itsm.store import Comment, Database, Event, Link, OutboxMessage, SlaClock, Ticket

from support import DEFINITIONS, DEMO_USERS, Clock

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = datetime(2026, 3, 2, 9, 0, tzinfo=BERLIN)
BASE = {"service": "workplace", "category": "hardware", "impact": "medium", "urgency": "medium"}
OVERLAY = """kind: pack
id: sweep_overlay
format: 1
timezone: Europe/Berlin
extends: {base}
---
kind: routing
id: incident_routing
assignment: round_robin
---
kind: notification
id: sla_warning
subject: "Running out: {{{{ 100 // ((ticket.short_description | length) - 6) }}}} {{{{ ticket.number }}}}"
---
kind: sla_policy
id: incident_sla
clocks:
  - id: response
    on_warning:
      - notify: sla_warning
      - comment: "Response time running out on {{{{ ticket.number }}}} ({{{{ clock.threshold }}}})"
    on_breach:
      - escalate: next_tier
      - set: {{major_incident: true, known_error: "{{{{ clock.id }}}} breached"}}
      - notify: sla_breach
  - id: resolution
    on_breach:
      - escalate: next_tier
      - create:
          process: review
          link: child
          fields: {{incident: "{{{{ ticket.number }}}}", summary: "{{{{ ticket.short_description }}}}", owner: system}}
"""


@contextmanager
def _fallbacks() -> Iterator[list[str]]:
    """Messages of batches the worker had to redo ticket by ticket."""
    taken: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "ticket by ticket" in record.getMessage():
                taken.append(f"{record.getMessage()}: {record.exc_info[1] if record.exc_info else ''}")

    handler = Collect()
    logging.getLogger("itsm.worker").addHandler(handler)
    try:
        yield taken
    finally:
        logging.getLogger("itsm.worker").removeHandler(handler)


@pytest.fixture()
def reference_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same kind as `db_url`."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'reference.db'}"
        return
    base = os.environ["ITSM_TEST_POSTGRES_URL"]
    schema = f"itsm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _history(url: str, pack: Path, set_based: bool, users: dict[str, dict[str, Any]] | None = None,
             talk: bool = False) -> tuple[dict[str, Any], list[SweepResult]]:
    """Tickets in many situations, swept at three instants; then everything the database holds. `users`:
    the demo users' flags (their locales); `talk`: public and internal comments on the tickets first."""
    db = Database(url)
    db.upgrade()
    clock = Clock(MONDAY_9)
    desk = Engine(db, clock=clock)
    desk.definitions.publish_path(pack)
    for name, flags in (users or DEMO_USERS).items():
        add_user(db, name, **flags)
    system, rita, carol = desk.actor("system"), desk.actor("rita"), desk.actor("carol")

    def create(actor: Any, description: str, **fields: Any) -> str:
        return str(desk.create(actor, "incident", {**BASE, "short_description": description, **fields})["number"])

    create(rita, "Printer jams on floor 3")  # P3 on the office calendar: warning and breach due at once
    create(carol, "VIP laptop will not boot")  # routed to sam by the VIP rule
    create(rita, "Broken", category="software")  # the overlay's warning template fails on this one
    create(rita, "VPN down for the whole site", category="network", impact="high", urgency="high")  # P1, 24x7
    create(rita, "ERP posting fails", service="erp")  # application support, whose next tier is the last
    started = create(rita, "Monitor flickers")
    desk.fire(system, started, "start")  # response met; resolution keeps running
    held = create(rita, "Docking station missing")
    desk.fire(system, held, "start")
    desk.fire(system, held, "hold", {"hold_reason": "awaiting_vendor", "vendor_reference": "V-1"})  # paused
    if talk:
        for number in (started, held, "INC0000001"):
            desk.comment(rita, number, f"Any news on {number}?")
            desk.comment(desk.actor("lars"), number, f"Internal: vendor called about {number}", internal=True)
    results = []
    for minutes in (70, 100, 30):  # 10:10 (P1 breached), 11:50 (warnings, breaches), 12:20
        clock.now += timedelta(minutes=minutes)
        create(rita, f"Keyboard missing keys {minutes}", urgency="low")  # more tickets on the members' loads
        results.append(sweep(desk, batch=2, deliver=False, set_based=set_based))
    clock.now = datetime(2026, 3, 5, 16, 0, tzinfo=BERLIN)  # resolution clocks warn and breach
    results.append(sweep(desk, batch=3, deliver=False, set_based=set_based))
    clock.now += timedelta(minutes=10)
    results.append(sweep(desk, batch=3, deliver=False, set_based=set_based))
    with db.read() as session:
        numbers = dict(session.execute(select(Ticket.id, Ticket.number)).all())
        state = {
            "tickets": [(t.number, t.process, t.state, t.priority, t.team, t.assignee, t.fields, t.version,
                         t.updated_at, t.is_open) for t in session.scalars(select(Ticket).order_by(Ticket.number))],
            "events": [(numbers[e.ticket_id], e.at, e.actor, e.kind, e.transition, e.from_state, e.to_state,
                        e.changes, e.comment, e.data, e.definitions_version)
                       for e in session.scalars(select(Event).order_by(Event.id))],
            "outbox": [(numbers.get(o.ticket_id or 0), o.created_at, o.notification, o.channel, o.recipients,
                        o.subject, o.body, o.url, o.status, o.attempts, o.next_attempt_at)
                       for o in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))],
            "comments": [(numbers[c.ticket_id], c.at, c.author, c.text, c.internal)
                         for c in session.scalars(select(Comment).order_by(Comment.id))],
            "links": sorted((numbers[k.source_id], numbers[k.target_id], k.kind)
                            for k in session.scalars(select(Link))),
            "clocks": sorted((numbers[c.ticket_id], c.clock, c.status, c.phase, c.policy, c.calendar,
                              c.target_seconds, c.elapsed_seconds, c.started_at, c.running_since, c.stopped_at,
                              c.deadline, c.warnings_fired, c.breached, c.breach_fired, c.next_timer_at,
                              c.pauses) for c in session.scalars(select(SlaClock))),
        }
    db.dispose()
    return state, results


def _same_history(pack: Path, db_url: str, reference_url: str, **options: Any) -> tuple[dict[str, Any],
                                                                                     list[SweepResult]]:
    with _fallbacks() as taken:
        fast, fast_results = _history(db_url, pack, set_based=True, **options)
    assert not taken, taken  # the set-based writes went through: no batch was redone ticket by ticket
    slow, slow_results = _history(reference_url, pack, set_based=False, **options)
    for table in fast:
        assert fast[table] == slow[table], table
    assert [(r.clocks, r.failed) for r in fast_results] == [(r.clocks, r.failed) for r in slow_results]
    return fast, fast_results


def test_set_based_sweep_matches_the_per_ticket_path(db_url: str, reference_url: str) -> None:
    state, results = _same_history(DEFINITIONS, db_url, reference_url)
    assert sum(r.clocks for r in results) >= 10 and not any(r.failed for r in results)
    kinds = [e[3] for e in state["events"]]
    assert "escalation" in kinds and "routing" in kinds  # escalated, and one at the last tier
    breaches = [e for e in state["events"] if e[3] == "sla" and e[9].get("breach")]
    assert len(breaches) == len({(e[0], e[9]["clock"]) for e in breaches})  # each breach fired once
    notices = {o[2] for o in state["outbox"]}
    assert {"sla_warning", "sla_breach", "sla_breach_chat"} <= notices


def test_set_based_sweep_matches_with_comments_fields_round_robin_links_and_a_failing_action(
        db_url: str, reference_url: str, tmp_path: Path) -> None:
    pack = tmp_path / "overlay"
    pack.mkdir()
    (pack / "pack.yaml").write_text(OVERLAY.format(base=DEFINITIONS))
    state, results = _same_history(pack, db_url, reference_url)
    assert any(r.failed for r in results)  # "Broken": its warning template divides by zero
    broken = next(t for t in state["tickets"] if t[6]["short_description"] == "Broken")
    fired = [e for e in state["events"] if e[0] == broken[0] and (e[9].get("warnings") or e[9].get("breach"))]
    assert broken[7] == 1 and not fired  # left as it was: no event, no change, looked at again later
    assert state["comments"] and state["links"]  # comment actions; reviews created by the per-ticket path
    assert any(t[6].get("known_error") == "response breached" for t in state["tickets"])


def test_set_based_sweep_matches_when_escalations_share_out_by_load(db_url: str, reference_url: str,
                                                                     tmp_path: Path) -> None:
    """least_loaded within a batch: each escalation counts the ones before it, as the per-ticket path does."""
    pack = tmp_path / "two_members"
    pack.mkdir()
    (pack / "pack.yaml").write_text(
        f"kind: pack\nid: two_members\nformat: 1\ntimezone: Europe/Berlin\nextends: {DEFINITIONS}\n---\n"
        "kind: team\nid: desktop_support\nmembers:\n  - {user: dana, skills: [hardware, software]}\n"
        "  - {user: ruth, skills: [hardware, software]}\n")
    state, _ = _same_history(pack, db_url, reference_url)
    escalated = {t[5] for t in state["tickets"] if t[4] == "desktop_support"}
    assert escalated == {"dana", "ruth"}


TIMELINE_OVERLAY = """kind: pack
id: timeline_overlay
format: 1
timezone: Europe/Berlin
extends: {base}
---
kind: notification
id: sla_breach
to: [assignee, team, "user:sam", "user:dana", "user:admin"]
subject:
  en: "SLA BREACHED: {{{{ clock.label }}}} of {{{{ ticket.number }}}}"
  zh-CN: "SLA 超时：{{{{ ticket.number }}}}"
body:
  en: |
    {{{{ ticket.number }}}} so far:
    {{{{ timeline }}}}
  zh-CN: |
    {{{{ ticket.number }}}} 处理经过：
    {{{{ timeline }}}}
"""


def test_set_based_sweep_matches_with_timelines_in_each_readers_language(db_url: str, reference_url: str,
                                                                         tmp_path: Path) -> None:
    """A batch reads its tickets' histories and its readers' languages once, for all of its tickets: the
    breach mails quote each ticket's own timeline (its public comments, not the internal ones) in each
    reader's language, exactly as the per-ticket path writes them."""
    pack = tmp_path / "timelines"
    pack.mkdir()
    (pack / "pack.yaml").write_text(TIMELINE_OVERLAY.format(base=DEFINITIONS), encoding="utf-8")
    users = {**DEMO_USERS, "sam": {"locale": "zh-CN"}, "dana": {"locale": "zh_CN"}, "admin": {"admin": True,
                                                                                              "locale": "en"}}
    state, results = _same_history(pack, db_url, reference_url, users=users, talk=True)
    assert any(r.clocks >= 2 for r in results)  # batches of several tickets quoting their timelines
    breaches = [o for o in state["outbox"] if o[2] == "sla_breach"]
    chinese = [o for o in breaches if o[5].startswith("SLA 超时")]
    english = [o for o in breaches if o[5].startswith("SLA BREACHED")]
    assert chinese and english and len(chinese) + len(english) == len(breaches)
    assert all("user:sam" in o[4] and "user:admin" not in o[4] for o in chinese)
    assert all("user:admin" in o[4] and "user:sam" not in o[4] for o in english)
    for number in {o[0] for o in breaches}:  # each ticket's messages quote its own history, and only its own
        quoted = [o[6] for o in breaches if o[0] == number]
        assert all(number in body and "Internal:" not in body for body in quoted)
        assert all(f"Any news on {other}?" not in body for body in quoted for other in {o[0] for o in breaches}
                   if other != number)
    talked = [o[6] for o in breaches if "Any news on" in o[6]]
    assert talked and any("备注：Any news on" in body for body in talked)  # a comment line in Chinese


def test_a_batch_reads_the_same_histories_as_one_ticket_at_a_time(engine: Engine) -> None:
    """`histories` (a batch's timelines in two statements) gives each ticket what `history` gives it."""
    from itsm.engine.runtime.store_lookups import histories, history

    rita, lars = engine.actor("rita"), engine.actor("lars")
    numbers = [engine.create(rita, "incident", {**BASE, "short_description": f"Scanner {i} offline"})["number"]
               for i in range(3)]
    engine.fire(engine.actor("system"), numbers[1], "start")
    engine.comment(rita, numbers[1], "Still offline")
    engine.comment(lars, numbers[1], "Cable replaced", internal=True)
    with engine.db.read() as session:
        ids = list(session.scalars(select(Ticket.id).where(Ticket.number.in_(numbers)).order_by(Ticket.id)))
        together = histories(session, [*ids, 999_999])
        assert together == {**{ticket_id: history(session, ticket_id) for ticket_id in ids}, 999_999: []}
    texts = [entry.text for entry in together[ids[1]] if entry.text is not None]  # comment rows, not events
    assert texts == ["Still offline"] and len(together[ids[1]]) > len(together[ids[0]])


def test_a_batch_whose_writes_fail_is_redone_ticket_by_ticket(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm.engine.runtime import due_clocks

    clock = Clock(MONDAY_9)
    desk = Engine(db, clock=clock)
    desk.definitions.publish_path(DEFINITIONS)
    add_user(db, "rita")
    numbers = [desk.create(desk.actor("rita"), "incident", {**BASE, "short_description": f"Printer {i} jams"})
               ["number"] for i in range(3)]

    def refuse(self: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(due_clocks.ClockBatch, "write", refuse)
    clock.now += timedelta(hours=3)
    with _fallbacks() as taken:
        result = sweep(desk, deliver=False)
    assert taken and result.clocks == 3 and result.failed == 0
    system = desk.actor("system")
    assert all(desk.get(system, n)["team"] == "desktop_support" for n in numbers)
    with db.read() as session:
        breaches = session.scalars(select(OutboxMessage.notification)
                                   .where(OutboxMessage.notification == "sla_breach")).all()
    assert len(breaches) == 3


def _tickets_with_two_due_clocks(db: Database, count: int) -> tuple[Engine, Clock]:
    """`count` incidents created ten days apart, so that each one's two clocks (response, resolution) are
    both overdue, one after the other by due time."""
    clock = Clock(MONDAY_9)
    desk = Engine(db, clock=clock)
    desk.definitions.publish_path(DEFINITIONS)
    add_user(db, "rita")
    for i in range(count):
        desk.create(desk.actor("rita"), "incident", {**BASE, "short_description": f"Printer {i} jams"})
        clock.now += timedelta(days=10)
    return desk, clock


def test_one_sweep_clears_every_due_clock_when_tickets_have_two(db: Database) -> None:
    """A batch takes tickets, not clock rows: 6 tickets with two due clocks each, batches of 4 tickets,
    are two batches (4 and 2 tickets), and the sweep goes on until no clock is due (it used to stop after
    the first batch, half done, when a batch counted clock rows)."""
    desk, clock = _tickets_with_two_due_clocks(db, 6)
    with db.read() as session:
        due = session.scalars(select(SlaClock.ticket_id).where(SlaClock.next_timer_at <= clock.now)
                              .order_by(SlaClock.next_timer_at)).all()
    assert len(due) == 12 and due[:4] == [due[0], due[0], due[2], due[2]]  # each ticket's two, in turn
    result = sweep(desk, batch=4, deliver=False)
    assert (result.clocks, result.due_clocks, result.batches, result.full) == (6, 12, 2, False)
    with db.read() as session:
        assert session.scalars(select(SlaClock.id).where(SlaClock.next_timer_at <= clock.now)).all() == []


def test_a_round_shared_among_forked_processes_fires_every_due_clock_once(db: Database) -> None:
    """On PostgreSQL a round with enough due tickets is shared among processes forked for it: each claims
    batches of its share, and together they fire every due clock exactly once; then every ticket is folded
    into the KPI sums, once. On SQLite (one writer) the round stays in this process."""
    desk, clock = _tickets_with_two_due_clocks(db, 24)
    result, folded = shared_round(desk, batch=500, processes=2, share=8)
    assert (result.clocks, result.due_clocks, result.failed, folded) == (24, 48, 0, 24)
    # one batch here; there each of two processes claims its share, at least once
    assert result.batches == 1 if db.is_sqlite else result.batches >= 2
    with db.read() as session:
        assert session.scalars(select(SlaClock.id).where(SlaClock.next_timer_at <= clock.now)).all() == []
        breaches = session.scalars(select(OutboxMessage.ticket_id)
                                   .where(OutboxMessage.notification == "sla_breach")).all()
        sla_events = session.execute(select(Event.ticket_id, Event.data["clock"].as_string())
                                     .where(Event.kind == "sla", Event.data["breach"].as_boolean())).all()
    assert len(breaches) == 48 and len(set(breaches)) == 24  # both clocks of each ticket, once each
    assert len(sla_events) == len(set(sla_events)) == 48


def test_worker_once_clears_every_due_clock_and_says_what_it_did(db_url: str, db: Database,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`itsm worker --once` with tickets holding two due clocks each: one run fires every one of them
    (both breaches of every ticket are in the outbox) and its line says how many clocks of how many tickets,
    in how many batches."""
    from click.testing import CliRunner

    from itsm.cli import main

    _tickets_with_two_due_clocks(db, 7)  # in March 2026: long overdue by the real clock the command runs on
    monkeypatch.setenv("ITSM_DATABASE_URL", db_url)
    monkeypatch.setenv("ITSM_SMTP_PORT", "1")  # nothing listens: messages wait for a retry
    result = CliRunner().invoke(main, ["worker", "--once", "--batch", "3"])
    assert result.exit_code == 0, result.output
    *_, line, kpis = result.output.splitlines()
    assert kpis == "KPI sums: 7 changed tickets counted"  # and folded into the KPI sums (issue 18)
    assert line.startswith("swept: 14 due clocks of 7 tickets, 0 timed transitions, 0 timers no longer "
                           "applicable, 0 failed, in 3 batches;"), line
    with db.read() as session:
        assert session.scalars(select(SlaClock.id).where(SlaClock.next_timer_at.is_not(None),
                                                         SlaClock.breach_fired.is_(False))).all() == []
        breaches = session.scalars(select(OutboxMessage.ticket_id)
                                   .where(OutboxMessage.notification == "sla_breach")).all()
    assert len(breaches) == 14 and len(set(breaches)) == 7
