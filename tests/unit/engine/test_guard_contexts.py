"""The transitions a ticket offers (`access.available`) are decided on a context holding only the people and
clocks their guards read (`views.people_and_clocks_read`), and shared by the tickets of a page that are alike
in all their guards read (`offered`): both checked against the reference, every guard tested on the full
context, for guards reading the ticket, the actor, the requester and the clocks."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from core_support import MONDAY_9, PACK, FakeLookups, created, person

from itsm.engine.runtime.access import available, roles
from itsm.engine.runtime.compiled import CompiledVersion, compile_version
from itsm.engine.runtime.rules import Context, Request, plan, working
from itsm.engine.runtime.snapshot import TicketSnapshot, UserFacts
from itsm.engine.runtime.views import PEOPLE_AND_CLOCKS, people_and_clocks_read
from itsm.engine.runtime.work import Work
from itsm.interpreter import load_pack

GUARDED = """  - {id: low_only, from: [working, waiting], to: working, roles: [agent], when: "impact == 'low'"}
  - {id: not_bob, from: working, to: working, when: "actor.name != 'bob'"}
  - {id: for_vip, from: [working, waiting], to: working, roles: [agent, requester], when: "requester.vip"}
  - {id: own, from: working, to: working, when: "requester.name == actor.name"}
  - {id: late, from: [new, working], to: working, roles: [agent], when: "sla.response.status == 'breached'"}
  - id: mixed
    from: [new, working]
    to: working
    when: >-
      (impact == 'high' and sla.response.status != 'breached') or ('agent' in actor.roles and requester.org == 'x')
  - id: on_event
    from: [working, waiting]
    to: working
    roles: [agent]
    when: "event == 'on_event' and state == 'working'"
"""


# guards that read only the ticket and the actor: what they offer is shared by the tickets alike
SHARED = """  - {id: low_only, from: [working, waiting], to: working, roles: [agent], when: "impact == 'low'"}
  - {id: not_bob, from: working, to: working, when: "actor.name != 'bob' and category != 'network'"}
  - {id: on_event, from: [new, working], to: working, roles: [agent], when: "event == 'on_event' and code == 'x'"}
  - {id: ours, from: working, to: working, roles: [team], when: "impact == 'high'"}
  - {id: theirs, from: [working, waiting], to: working, roles: [requester, assignee]}
"""


def compiled_with(folder: Path, transitions: str) -> CompiledVersion:
    marker = "  - id: spawn\n"
    assert marker in PACK
    (folder / "pack.yaml").write_text(PACK.replace(marker, transitions + marker))
    pack = load_pack(folder)
    return compile_version(pack.digest, pack)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> CompiledVersion:
    return compiled_with(tmp_path_factory.mktemp("guarded"), GUARDED)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> CompiledVersion:
    return compiled_with(tmp_path_factory.mktemp("shared"), SHARED)


def reference(work: Work, outcomes: dict[str, set[bool]]) -> list[str]:
    """`available` as it was: each guard tested on the whole context (`outcomes`: what each guard said)."""
    out = []
    for transition in work.process.transitions_from(work.ticket.state):
        if transition.timed and transition.roles is None:
            continue
        if transition.roles is not None and not work.actor.is_system and roles(work).isdisjoint(transition.roles):
            continue
        if transition.guard is not None:
            context = work.context()
            context["event"] = transition.id
            passed = transition.guard.test(context)
            outcomes.setdefault(transition.id, set()).add(passed)
            if not passed:
                continue
        out.append(transition.id)
    return out


def tickets(context: Context) -> list[TicketSnapshot]:
    """New, working and waiting tickets of low and high impact, of a plain and a VIP requester."""
    found = []
    for impact, code in (("low", "x"), ("high", "x"), ("low", None), ("high", "y")):
        new = created(context, {"summary": "Printer jams", "impact": impact, **({"code": code} if code else {})})
        request = Request("fire", person(context.compiled, "ann"), MONDAY_9 + timedelta(minutes=5),
                          transition="start", values={"category": "hardware"})
        made = plan(context, new, request)
        assert made is not None
        started = made.after(made.ticket._replace(version=2))
        request = Request("fire", person(context.compiled, "ann"), MONDAY_9 + timedelta(minutes=9),
                          transition="wait", values={"reason": "parts"})
        made = plan(context, started, request)
        assert made is not None
        waiting = made.after(made.ticket._replace(version=3))
        for ticket in (new, started, waiting):
            found += [ticket, TicketSnapshot(ticket.ticket, ticket.clocks, UserFacts("rita", vip=True, org="x"))]
    return found


def test_only_the_people_and_clocks_an_expression_reads() -> None:
    assert people_and_clocks_read(frozenset({"impact", "state"})) == frozenset()
    assert people_and_clocks_read(frozenset({"actor.name", "impact"})) == {"actor"}
    assert people_and_clocks_read(frozenset({"requester.vip", "sla.response.status", "actor"})) == PEOPLE_AND_CLOCKS


def test_the_offered_transitions_are_those_of_guards_on_the_whole_context(guarded: CompiledVersion) -> None:
    context = Context(guarded, FakeLookups())
    outcomes: dict[str, set[bool]] = {}
    for ticket in tickets(context):
        for name in ("ann", "bob", "rita", "cid", "system"):
            for later in (timedelta(minutes=10), timedelta(minutes=50), timedelta(hours=5)):
                work = working(context, ticket, person(guarded, name), MONDAY_9 + later)
                expected = reference(working(context, ticket, person(guarded, name), MONDAY_9 + later), outcomes)
                assert available(work) == expected, (ticket.ticket.state, name, later)
    # every guard was asked, and said yes somewhere and no somewhere else
    assert set(outcomes) == {"finish", "low_only", "not_bob", "for_vip", "own", "late", "mixed", "on_event"}
    assert {transition: said for transition, said in outcomes.items() if said != {True, False}} == {}


def test_a_partial_context_holds_the_same_values_as_the_whole(guarded: CompiledVersion) -> None:
    context = Context(guarded, FakeLookups())
    ticket = tickets(context)[3]  # started, VIP requester
    work = working(context, ticket, person(guarded, "ann"), MONDAY_9 + timedelta(hours=5))
    whole = work.context()
    for reads in (frozenset(), frozenset({"actor"}), frozenset({"requester", "sla"}), PEOPLE_AND_CLOCKS):
        part = work.context(reads=reads)
        assert {key for key in whole if key not in part} == PEOPLE_AND_CLOCKS - reads
        assert all(part[key] == whole[key] for key in part)


@pytest.mark.parametrize("pack", ["tiny", "guarded", "shared"])
def test_tickets_alike_share_what_they_offer(pack: str, request: pytest.FixtureRequest) -> None:
    """One `offered` per actor's page: each ticket offers what it offers alone, and tickets alike share it."""
    version: CompiledVersion = request.getfixturevalue("compiled" if pack == "tiny" else pack)
    context = Context(version, FakeLookups())
    page = tickets(context)
    page += [TicketSnapshot(t.ticket._replace(team=team, assignee=assignee, requester=requester), t.clocks,
                            t.requester)
             for t in page for team, assignee, requester in (("net", None, "rita"), ("desk", "bob", "una"))]
    for name in ("ann", "bob", "rita", "cid", "system"):
        offered: dict[tuple[object, ...], tuple[str, ...]] = {}
        for ticket in page:
            alone = available(working(context, ticket, person(version, name), MONDAY_9 + timedelta(hours=5)))
            assert available(working(context, ticket, person(version, name), MONDAY_9 + timedelta(hours=5)),
                             offered) == alone, (pack, name, ticket.ticket.state)
        if pack != "guarded":  # every state there has a guard reading the requester or the clocks: no sharing
            assert 0 < len(offered) < len(page)
        else:
            assert offered == {}
