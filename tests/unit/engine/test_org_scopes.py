"""Teams with `org_scope` in the core (SPEC 14): routing passes over a rule whose team does not serve the
ticket's organization, escalation passes over such a tier, an `assign` to it is refused, and who sees and
works on a ticket follows the teams' scopes and the contact flag. Organizations come from the fake look-ups."""

from __future__ import annotations

from typing import Any

import pytest
from core_support import MONDAY_9, FakeLookups

from itsm.engine.errors import ActionFailed
from itsm.engine.runtime.access import can_see, is_agent
from itsm.engine.runtime.actors import Actor, actor_for
from itsm.engine.runtime.compiled import CompiledVersion, compile_version
from itsm.engine.runtime.plan import CreateLinked, Plan
from itsm.engine.runtime.rules import Context, Request, plan, working
from itsm.engine.runtime.sight import grants
from itsm.engine.runtime.snapshot import TicketSnapshot, UserFacts
from itsm.interpreter import load_pack

PACK = """kind: pack
id: scoped
format: 1
timezone: Europe/Berlin
---
kind: form
id: ticket
fields:
  - {id: summary, type: string, required: true}
  - {id: category, type: choice, choices: [hardware, network]}
---
kind: form
id: note
fields:
  - {id: about, type: string}
---
kind: process
id: ticket
form: ticket
number: T
initial: open
routing: desk_routing
states: [{id: open}, {id: done, final: true}]
transitions:
  - {id: escalate, from: open, to: open, roles: [agent], actions: [{escalate: next_tier}]}
  - {id: to_city, from: open, to: open, roles: [agent], actions: [{assign: {team: city}}]}
  - {id: reroute, from: open, to: open, roles: [agent], actions: [{assign: route}]}
  - {id: follow_up, from: open, to: open, roles: [agent], actions: [{create: {process: note, fields: {about: x}}}]}
  - {id: finish, from: open, to: done, roles: [agent]}
---
kind: process
id: note
form: note
number: N
initial: open
states: [{id: open}, {id: shut, final: true}]
transitions: [{id: shut, from: open, to: shut, roles: [clerk]}]
---
kind: routing
id: desk_routing
rules:
  - {id: city, when: "true", team: city}
  - {id: province_network, when: "category == 'network'", team: province}
  - {id: default, default: true, team: desk}
assignment: least_loaded
---
kind: team
id: desk
roles: [agent]
escalates_to: jiangsu
members: [{user: ann}]
---
kind: team
id: jiangsu
roles: [agent]
org_scope: jiangsu
escalates_to: province
members: [{user: jay}]
---
kind: team
id: province
roles: [agent]
org_scope: zhejiang
escalates_to: l2
members: [{user: dee}]
---
kind: team
id: city
roles: [agent]
org_scope: hangzhou
escalates_to: province
members: [{user: cid}]
---
kind: team
id: l2
roles: [agent]
members: [{user: eve}]
---
kind: team
id: clerks
roles: [clerk]
members: [{user: cid}]
"""
TREE = {"zhejiang": None, "hangzhou": "zhejiang", "hz-unit": "hangzhou", "ningbo": "zhejiang",
        "nb-unit": "ningbo", "jiangsu": None, "js-unit": "jiangsu"}


class Person:
    def __init__(self, name: str, org: str | None = None, org_contact: bool = False) -> None:
        self.name, self.email, self.is_admin, self.vip = name, None, False, False
        self.org, self.org_contact = org, org_contact


@pytest.fixture(scope="module")
def scoped(tmp_path_factory: pytest.TempPathFactory) -> CompiledVersion:
    folder = tmp_path_factory.mktemp("scoped")
    (folder / "pack.yaml").write_text(PACK)
    pack = load_pack(folder)
    return compile_version(pack.digest, pack)


@pytest.fixture
def tree() -> FakeLookups:
    lookups = FakeLookups(("ann", "jay", "dee", "cid", "eve", "rita"))
    lookups.parents.update(TREE)
    return lookups


@pytest.fixture
def ctx(scoped: CompiledVersion, tree: FakeLookups) -> Context:
    return Context(scoped, tree)


def actor(ctx: Context, name: str, org: str | None = None, org_contact: bool = False) -> Actor:
    return actor_for(Person(name, org, org_contact), ctx.compiled.pack)


def report(ctx: Context, org: str | None, category: str | None = None) -> TicketSnapshot:
    """A ticket rita reports from `org` (id 1, version 1)."""
    values: dict[str, Any] = {"summary": "Broken"} | ({"category": category} if category else {})
    made = plan(ctx, None, Request("create", actor(ctx, "rita", org), MONDAY_9, process="ticket", values=values),
                UserFacts("rita", org=org))
    assert made is not None
    return made.after(made.ticket._replace(id=1, version=1))


def fire(ctx: Context, ticket: TicketSnapshot, transition: str, by: str = "ann") -> Plan:
    made = plan(ctx, ticket, Request("fire", actor(ctx, by), MONDAY_9, transition=transition))
    assert made is not None
    return made


# -- routing ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("org", "category", "team"), [
    ("hz-unit", None, "city"),  # a unit under Hangzhou: the city desk
    ("hangzhou", None, "city"),  # Hangzhou itself
    ("hz-unit", "network", "city"),  # first match wins: the city rule comes first
    ("nb-unit", "network", "province"),  # not Hangzhou: the next rule, whose team serves Zhejiang
    ("nb-unit", None, "desk"),
    ("zhejiang", None, "desk"),  # the city desk does not serve its parent
    ("js-unit", "network", "desk"),  # the province desk does not serve Jiangsu
    (None, "network", "desk"),  # no organization: no scoped team serves it
    ("gone", "network", "desk"),  # an organization the database does not hold: likewise
])
def test_a_rule_whose_team_does_not_serve_the_organization_does_not_match(
        ctx: Context, org: str | None, category: str | None, team: str) -> None:
    ticket = report(ctx, org, category).ticket
    assert (ticket.team, ticket.org) == (team, org)


def test_rerouting_reads_the_ticket_s_own_organization(ctx: Context) -> None:
    ticket = report(ctx, "nb-unit")
    assert fire(ctx, ticket, "reroute").ticket.team == "desk"
    moved = TicketSnapshot(ticket.ticket._replace(org="hz-unit"), ticket.clocks, ticket.requester)
    assert fire(ctx, moved, "reroute").ticket.team == "city"


# -- escalation and assignment ----------------------------------------------------------------------------

def test_escalation_passes_over_a_tier_that_does_not_serve_the_ticket(ctx: Context) -> None:
    made = fire(ctx, report(ctx, "nb-unit"), "escalate")  # desk -> jiangsu (not Zhejiang's) -> province
    assert (made.ticket.team, made.ticket.assignee) == ("province", "dee")
    routing = [e["data"] for e in made.events if e["kind"] == "routing"]
    assert routing == [{"reason": "escalation", "team": "province", "assignee": "dee", "skipped": ["jiangsu"]}]


def test_escalation_to_a_serving_scoped_tier_and_beyond(ctx: Context) -> None:
    assert fire(ctx, report(ctx, "js-unit"), "escalate").ticket.team == "jiangsu"
    at_city = report(ctx, "hz-unit")
    assert at_city.ticket.team == "city"
    assert fire(ctx, at_city, "escalate", by="cid").ticket.team == "province"  # Hangzhou lies in Zhejiang


def test_escalation_with_no_serving_tier_leaves_the_ticket_and_says_so(ctx: Context) -> None:
    made = fire(ctx, report(ctx, None), "escalate")  # desk -> jiangsu, province (scoped) -> l2
    assert made.ticket.team == "l2"
    assert [e["data"]["skipped"] for e in made.events if e["kind"] == "routing"] == [["jiangsu", "province"]]


def test_assigning_a_team_that_does_not_serve_the_ticket_is_refused(ctx: Context) -> None:
    with pytest.raises(ActionFailed, match="serves only organization 'hangzhou'.*not 'nb-unit'") as refused:
        fire(ctx, report(ctx, "nb-unit"), "to_city")
    assert refused.value.status == 409
    with pytest.raises(ActionFailed, match="this ticket has no organization"):
        fire(ctx, report(ctx, None), "to_city")
    hangzhou = report(ctx, "hz-unit")
    at_desk = TicketSnapshot(hangzhou.ticket._replace(team="desk"), hangzhou.clocks, hangzhou.requester)
    assert fire(ctx, at_desk, "to_city").ticket.team == "city"


def test_a_linked_ticket_keeps_its_parent_s_organization(ctx: Context) -> None:
    made = fire(ctx, report(ctx, "hz-unit"), "follow_up", by="cid")
    assert [e for e in made.effects if isinstance(e, CreateLinked)] == [
        CreateLinked("note", {"about": "x"}, "child", "cid", "hz-unit")]
    note = plan(ctx, None, Request("create", actor(ctx, "cid"), MONDAY_9, process="note", requester="cid",
                                   org="hz-unit"), UserFacts("cid"))
    assert note is not None and note.ticket.org == "hz-unit"


# -- who sees and works on a ticket ----------------------------------------------------------------------

def sees(ctx: Context, ticket: TicketSnapshot, who: Actor) -> tuple[bool, bool]:
    work = working(ctx, ticket, who, MONDAY_9)
    return can_see(work), is_agent(work)


@pytest.mark.parametrize(("org", "cid", "dee", "jay", "eve"), [
    # cid: city desk (Hangzhou), dee: province desk (Zhejiang), jay: Jiangsu desk, eve: unscoped L2
    ("hz-unit", True, True, False, True),
    ("nb-unit", False, True, False, True),
    ("zhejiang", False, True, False, True),
    ("js-unit", False, False, True, True),
    (None, False, False, False, True),
])
def test_agents_of_scoped_teams_see_their_subtree_only(ctx: Context, tree: FakeLookups, org: str | None,
                                                       cid: bool, dee: bool, jay: bool, eve: bool) -> None:
    ticket = report(ctx, org)
    ticket = TicketSnapshot(ticket.ticket._replace(team="desk", assignee="ann"), ticket.clocks, ticket.requester)
    for name, expected in (("cid", cid), ("dee", dee), ("jay", jay), ("eve", eve)):
        assert sees(ctx, ticket, actor(ctx, name)) == (expected, expected), name


def test_the_team_that_holds_a_ticket_and_its_people_always_see_it(ctx: Context) -> None:
    ticket = report(ctx, "js-unit")  # routed to the unscoped desk
    held = TicketSnapshot(ticket.ticket._replace(team="city", assignee="ann"), ticket.clocks, ticket.requester)
    assert sees(ctx, held, actor(ctx, "cid")) == (True, True)  # its team holds it, whatever the scope
    assert sees(ctx, held, actor(ctx, "ann")) == (True, True)  # assigned (and an agent of the desk)
    assert sees(ctx, held, actor(ctx, "rita", "js-unit")) == (True, False)  # the requester, not an agent


def test_a_contact_sees_the_subtree_of_its_organization(ctx: Context) -> None:
    for org, expected in (("hz-unit", True), ("hangzhou", True), ("zhejiang", False), ("nb-unit", False),
                          (None, False)):
        ticket = report(ctx, org)
        assert sees(ctx, ticket, actor(ctx, "una", "hangzhou", org_contact=True)) == (expected, False), org
        assert sees(ctx, ticket, actor(ctx, "ulf", "hangzhou")) == (False, False), org  # not a contact


def test_an_unscoped_agent_never_asks_for_the_lineage(ctx: Context, tree: FakeLookups) -> None:
    ticket = report(ctx, "nb-unit")
    tree.asked.clear()
    assert sees(ctx, ticket, actor(ctx, "eve")) == (True, True)
    assert not [line for line in tree.asked if line.startswith("lineage")]


def test_grants_list_each_process_once_unscoped_before_scoped(ctx: Context) -> None:
    pack = ctx.compiled.pack
    assert grants(actor(ctx, "eve"), pack).processes == ("ticket",)
    city = grants(actor(ctx, "cid"), pack)  # the city desk, and the clerks (unscoped) for notes
    assert (city.processes, city.scoped) == (("note",), (("hangzhou", ("ticket",)),))
    both = Actor("x", frozenset({"agent"}), ("city", "province", "l2"))
    assert grants(both, pack).scoped == ()  # l2 sees every ticket: the scopes add nothing
    two = Actor("y", frozenset({"agent"}), ("city", "jiangsu"))
    assert grants(two, pack).scoped == (("hangzhou", ("ticket",)), ("jiangsu", ("ticket",)))


def test_teams_are_compiled_with_their_scope_and_where_it_was_written(scoped: CompiledVersion) -> None:
    city = scoped.pack.teams["city"]
    line = PACK.splitlines().index("org_scope: hangzhou") + 1
    assert (city.org_scope, city.where) == ("hangzhou", f"pack.yaml:{line}:12")
    assert scoped.pack.teams["l2"].org_scope is None
    assert city.serves(("hz-unit", "hangzhou", "zhejiang")) and not city.serves(("zhejiang",))
    assert scoped.pack.teams["l2"].serves(())
