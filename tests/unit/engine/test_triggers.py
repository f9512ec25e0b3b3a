"""Process triggers, `when:` on actions, `threshold` in warning actions, the recipients `team_lead` and
`watchers`, and clocks settled after their own actions (SPEC 4, 6): the core with fake look-ups."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from core_support import FakeLookups, User, person

from itsm.engine.runtime import clocks
from itsm.engine.runtime.compiled import CompiledVersion, compile_version
from itsm.engine.runtime.plan import Plan
from itsm.engine.runtime.rules import Context, Request, plan, plan_sla, system_work
from itsm.engine.runtime.snapshot import TicketSnapshot, UserFacts
from itsm.interpreter import load_pack

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

PACK = """kind: pack
id: trig
format: 1
timezone: Europe/Berlin
---
kind: form
id: ticket
fields:
  - {id: summary, type: string, required: true}
  - {id: impact, type: choice, choices: [high, low], default: low}
  - {id: flag, type: boolean}
  - {id: note, type: string}
---
kind: process
id: ticket
form: ticket
number: T
initial: new
priority: {matrix: prio}
routing: desk
sla: sla
states:
  - {id: new}
  - {id: working}
  - {id: done, final: true}
transitions:
  - {id: start, from: new, to: working}
  - id: nudge
    from: working
    to: working
    actions:
      - {set: {note: "high"}, when: "impact == 'high'"}
      - {set: {note: "low"}, when: "impact == 'low'"}
  - {id: finish, from: working, to: done}
triggers:
  - {on: create, when: "impact == 'high'", actions: [{notify: created}]}
  - {on: comment, when: "comment.public and comment.author != requester.name", actions: [{notify: reply}]}
  - {on: update, when: "flag == true", actions: [{set: {note: flagged}}]}
  - {on: transition, when: "event == 'finish'", actions: [{notify: watch}, {comment: "Finished {{ ticket.number }}"}]}
  - {on: sla_warning, when: "threshold == 50", actions: [{notify: lead_half}]}
  - {on: sla_breach, when: "clock == 'resolution'", actions: [{comment: "resolution breached"}]}
---
kind: priority_matrix
id: prio
inputs: [impact]
levels: [P1, P2]
matrix: {high: P1, low: P2}
default: P2
---
kind: routing
id: desk
rules: [{default: true, team: desk, user: ann}]
---
kind: team
id: desk
roles: [agent]
lead: lena
members: [{user: ann}, {user: bob}]
---
kind: notification
id: created
to: [requester]
subject: "{{ ticket.number }} recorded"
---
kind: notification
id: reply
to: [requester]
subject: "{{ ticket.number }}: {{ comment.author }} wrote"
body: "{{ comment.text }}"
---
kind: notification
id: lead_half
to: [team_lead]
subject: "{{ ticket.number }}: {{ clock.threshold }} of {{ clock.id }}"
---
kind: notification
id: watch
to: [watchers, team_lead]
subject: "{{ ticket.number }} finished"
---
kind: sla_policy
id: sla
clocks:
  - id: response
    targets: {default: 4h}
    stop: "state != 'new'"
    warn_at: [50%, 75%]
    on_warning:
      - {comment: "half", when: "threshold == 50"}
      - {comment: "three quarters", when: "threshold == 75"}
    on_breach: [{set: {impact: high}}]
  - id: resolution
    targets: {P1: 1h, P2: 8h}
    stop: "state == 'done'"
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> CompiledVersion:
    folder: Path = tmp_path_factory.mktemp("trig")
    (folder / "pack.yaml").write_text(PACK)
    pack = load_pack(folder)
    return compile_version(pack.digest, pack)


@pytest.fixture
def lookups() -> FakeLookups:
    return FakeLookups(("rita", "ann", "bob", "lena", "wendy"))


@pytest.fixture
def context(compiled: CompiledVersion, lookups: FakeLookups) -> Context:
    return Context(compiled, lookups)


def create(context: Context, impact: str = "low") -> Plan:
    made = plan(context, None, Request("create", person(context.compiled, "rita"), START, process="ticket",
                                       values={"summary": "Printer jams", "impact": impact}), UserFacts("rita"))
    assert made is not None
    return made


def stored(made: Plan) -> TicketSnapshot:
    ticket = made.ticket._replace(id=made.ticket.id or 1, version=made.ticket.version + (1 if made.changed else 0))
    return made.after(ticket)


def ask(context: Context, ticket: TicketSnapshot, kind: str, actor: str = "ann", at: datetime = START,
        **values: Any) -> Plan:
    made = plan(context, ticket, Request(kind, person(context.compiled, actor), at, **values))
    assert made is not None
    return made


def sent(made: Plan) -> list[tuple[str, list[str]]]:
    return [(row["notification"], row["recipients"]) for row in made.outbox]


def test_a_create_trigger_runs_when_its_condition_holds(context: Context) -> None:
    assert sent(create(context, "high")) == [("created", ["user:rita"])]
    assert sent(create(context, "low")) == []


def test_comment_triggers_see_who_wrote_and_whether_it_is_public(context: Context) -> None:
    ticket = stored(create(context))
    reply = ask(context, ticket, "comment", comment="Try turning it off and on")
    assert sent(reply) == [("reply", ["user:rita"])]
    assert reply.outbox[0]["subject"] == "T0000001: ann wrote"
    assert reply.outbox[0]["body"] == "Try turning it off and on"
    assert sent(ask(context, ticket, "comment", comment="Secret", internal=True)) == []
    assert sent(ask(context, ticket, "comment", actor="rita", comment="Still broken")) == []


def test_an_update_trigger_changes_the_ticket_in_the_same_plan(context: Context) -> None:
    ticket = stored(create(context))
    made = ask(context, ticket, "update", values={"flag": True})
    assert made.ticket.fields["note"] == "flagged" and made.events[0]["changes"]["note"] == [None, "flagged"]
    assert ask(context, ticket, "update", values={"note": "x"}).ticket.fields["note"] == "x"


def test_every_action_may_have_a_condition(context: Context) -> None:
    ticket = stored(ask(context, stored(create(context)), "fire", transition="start"))
    assert ask(context, ticket, "fire", transition="nudge").ticket.fields["note"] == "low"
    high = stored(ask(context, ticket, "update", values={"impact": "high"}))
    assert ask(context, high, "fire", transition="nudge").ticket.fields["note"] == "high"


def test_transition_triggers_run_after_the_transition_and_reach_watchers_and_the_lead(
        context: Context, lookups: FakeLookups) -> None:
    lookups.followers[1] = ["wendy", "bob"]
    ticket = stored(ask(context, stored(create(context)), "fire", transition="start"))
    assert sent(ask(context, ticket, "fire", transition="nudge")) == []
    made = ask(context, ticket, "fire", transition="finish")
    # wendy may not see the ticket (not its requester, nor an agent): she is not told about it
    assert sent(made) == [("watch", ["user:bob", "user:lena"])]
    assert [c["text"] for c in made.comments] == ["Finished T0000001"]
    assert made.ticket.state == "done"
    lookups.people["wendy"] = User("wendy", is_admin=True)
    assert sent(ask(context, ticket, "fire", transition="finish")) == [("watch", ["user:wendy", "user:bob",
                                                                                  "user:lena"])]


def test_threshold_scopes_warning_actions_and_triggers_to_one_threshold(context: Context) -> None:
    ticket = create(context)
    half = plan_sla(system_work(context, stored(ticket), START + timedelta(hours=2, minutes=1)))
    assert [c["text"] for c in half.comments] == ["half"]
    assert sent(half) == [("lead_half", ["user:lena"])] and half.outbox[0]["subject"] == "T0000001: 50% of response"
    later = plan_sla(system_work(context, stored(half), START + timedelta(hours=3, minutes=1)))
    assert [c["text"] for c in later.comments] == ["three quarters"] and sent(later) == []


def test_a_clock_is_evaluated_again_after_its_own_actions_change_the_ticket(context: Context) -> None:
    """The response breach raises the impact: P1's 1h resolution target is long past, so the resolution
    clock breaches in the same step (and its SLA trigger runs), not at the next change."""
    ticket = create(context)
    made = plan_sla(system_work(context, stored(ticket), START + timedelta(hours=4, minutes=1)))
    assert made.ticket.priority == "P1" and made.ticket.fields["impact"] == "high"
    by_clock = {change.after.clock: change.after for change in made.clocks}
    assert by_clock["response"].breached and by_clock["resolution"].breached
    assert [c["text"] for c in made.comments] == ["half", "three quarters", "resolution breached"]


@pytest.mark.parametrize("resolution_reads_the_note", [False, True])
def test_clocks_settle_again_only_when_the_actions_changed_what_they_read(
        tmp_path: Path, lookups: FakeLookups, monkeypatch: pytest.MonkeyPatch, resolution_reads_the_note: bool) -> None:
    """The response breach notes it in a field. No clock, SLA rule or priority input reads that field: the
    clocks are evaluated once (another round would find the same). A resolution clock that pauses on it is
    evaluated again, and pauses in the same step."""
    pack = PACK.replace("    on_breach: [{set: {impact: high}}]", "    on_breach: [{set: {note: breached}}]")
    if resolution_reads_the_note:
        stop = "    stop: \"state == 'done'\"\n"
        pack = pack.replace(stop, stop + "    pause: \"note == 'breached'\"\n")
    (tmp_path / "pack.yaml").write_text(pack)
    loaded = load_pack(tmp_path)
    context = Context(compile_version(loaded.digest, loaded), lookups)
    assert ("note" in clocks.settle_reads(loaded)["ticket"]) is resolution_reads_the_note
    ticket = create(context)
    rounds: list[int] = []
    update_clocks = clocks.update_clocks
    monkeypatch.setattr(clocks, "update_clocks", lambda work: rounds.append(1) or update_clocks(work))
    made = plan_sla(system_work(context, stored(ticket), START + timedelta(hours=4, minutes=1)))
    by_clock = {change.after.clock: change.after for change in made.clocks}
    assert made.ticket.fields["note"] == "breached" and by_clock["response"].breached
    assert len(rounds) == (2 if resolution_reads_the_note else 1)
    assert by_clock["resolution"].phase == ("paused" if resolution_reads_the_note else "running")


NOTE_ON_BREACH = ("    on_breach: [{set: {impact: high}}]", "    on_breach: [{set: {note: breached}}]")
NOTE_ON_WARNING = ("""    on_warning:
      - {comment: "half", when: "threshold == 50"}
      - {comment: "three quarters", when: "threshold == 75"}""", "    on_warning: [{set: {note: warned}}]")
STOP_RESOLUTION = "    stop: \"state == 'done'\"\n"
FOLLOWUP = """  - id: followup
    targets: {default: 8h}
    start: "sla.response.status == 'met'"
"""


@pytest.mark.parametrize("variant", ["note read by nobody", "note read by a pause", "a matrix reading sla.*",
                                     "a clock starting on sla.*", "a VIP since the last change"])
def test_settling_once_gives_what_settling_again_gives(tmp_path: Path, lookups: FakeLookups,
                                                       monkeypatch: pytest.MonkeyPatch, variant: str) -> None:
    """Clocks are evaluated once more after their actions changed the ticket only when another round could
    differ: what the change makes is the same as with a round after every change that moved the ticket.
    Clock values (`sla.*`) move with every round, so a pack reading them settles as before; a requester
    made a VIP since the last change moves the priority, recomputed as the next round would."""
    pack, at, vip = PACK, START + timedelta(hours=4, minutes=1), False
    if variant != "a clock starting on sla.*":
        pack = pack.replace(*NOTE_ON_BREACH)
    if variant == "note read by a pause":
        pack = pack.replace(STOP_RESOLUTION, STOP_RESOLUTION + "    pause: \"note == 'breached'\"\n")
    if variant == "a matrix reading sla.*":
        pack = pack.replace("default: P2\n", "default: P2\nadjust:\n  - {when: \"sla.response.status == 'breached'\","
                                             " raise: 1}\n", 1)
    if variant == "a clock starting on sla.*":
        pack, at = pack.replace(*NOTE_ON_WARNING) + FOLLOWUP, START + timedelta(hours=2, minutes=1)
    if variant == "a VIP since the last change":
        pack = pack.replace("default: P2\n", "default: P2\nadjust:\n  - {when: \"requester.vip\", raise: 1}\n", 1)
        vip = True
    (tmp_path / "pack.yaml").write_text(pack)
    loaded = load_pack(tmp_path)
    context = Context(compile_version(loaded.digest, loaded), lookups)
    ticket = stored(create(context))
    if vip:
        ticket = replace(ticket, requester=UserFacts("rita", vip=True))

    def outcome() -> tuple[Any, ...]:
        if variant == "a clock starting on sla.*":  # the response clock is met as the warning's action runs
            made = ask(context, ticket, "fire", transition="start", at=at)
        else:
            made = plan_sla(system_work(context, ticket, at))
        clocks_after = sorted((c.after.clock, c.after.phase, c.after.status, c.after.breached) for c in made.clocks)
        return made.ticket.priority, dict(made.ticket.fields), clocks_after, made.comments, sent(made)

    settled_once = outcome()
    with monkeypatch.context() as patch:  # the rule before: another round whenever the ticket moved
        patch.setattr(clocks, "_read_by_clocks", lambda work, before, after: before != after)
        settled_again = outcome()
    assert settled_once == settled_again
    if variant in ("a matrix reading sla.*", "a VIP since the last change"):
        assert settled_once[0] == "P1"
    if variant == "a clock starting on sla.*":
        assert ("followup", "running", "running", False) in settled_once[2]


def test_the_settling_of_clocks_is_bounded_and_logged(context: Context, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(clocks, "MAX_SETTLE_ROUNDS", 1)
    ticket = create(context)
    with caplog.at_level(logging.WARNING, logger="itsm.engine"):
        made = plan_sla(system_work(context, stored(ticket), START + timedelta(hours=4, minutes=1)))
    assert "still changed the ticket after 1 rounds" in caplog.text
    by_clock = {change.after.clock: change.after for change in made.clocks}
    assert by_clock["response"].breached and not by_clock["resolution"].breached


def test_triggers_are_part_of_the_compiled_process(compiled: CompiledVersion) -> None:
    process = compiled.pack.processes["ticket"]
    assert [t.on for t in process.triggers] == ["create", "comment", "update", "transition", "sla_warning",
                                                "sla_breach"]
    assert compiled.pack.teams["desk"].lead == "lena"
    assert replace(process.triggers[0], id="x").id == "x"  # frozen values, copied not changed
