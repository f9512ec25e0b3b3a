"""Routing (pure): first-match rules and member selection strategies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from itsm.interpreter import load_pack
from itsm.interpreter.model import Expression, Member, PackSpec, RoutingRule, RoutingSpec, TeamSpec
from itsm.routing import candidates, choose, route

ROOT = Path(__file__).resolve().parents[3]
TEAM = TeamSpec("desk", "Desk", "L1", ("agent",), None,
                (Member("ann", ("network",)), Member("bob", ("software",)), Member("cid", ("network", "vpn"))))


@pytest.fixture(scope="module")
def pack() -> PackSpec:
    return load_pack(ROOT / "definitions")


@pytest.fixture(scope="module")
def routing(pack: PackSpec) -> RoutingSpec:
    return pack.routings["incident_routing"]


def test_first_match_wins_and_the_default_catches_the_rest(pack: PackSpec, routing: RoutingSpec) -> None:
    def serves(team: str) -> bool:  # a ticket without an organization: the scoped city desk serves it not
        return pack.teams[team].serves(())

    assert route(routing, {"category": "network", "channel": "portal"}, serves).team == "network_ops"
    assert route(routing, {"service": "erp"}, serves).rule.id == "business_apps"
    vip = route(routing, {"requester": {"vip": True}}, serves)
    assert (vip.team, vip.user, vip.rule.id) == ("service_desk", "sam", "vip")
    fallback = route(routing, {"category": "hardware", "requester": {"vip": False}}, serves)
    assert fallback.rule.default and fallback.team == "service_desk"


def test_a_rule_whose_team_does_not_serve_the_ticket_does_not_match(pack: PackSpec, routing: RoutingSpec) -> None:
    """SPEC 14: the city desk's rule (`when: true`) takes what the specialist rules leave, for Hangzhou's
    organizations only; any other ticket falls through to the next rules, the default last."""
    def serving(*lineage: str) -> Callable[[str], bool]:
        return lambda team: pack.teams[team].serves(lineage)

    hangzhou = serving("hz-finance", "hangzhou", "zhejiang")
    assert route(routing, {"requester": {"vip": True}}, hangzhou).rule.id == "city_desk"
    assert route(routing, {"category": "network"}, hangzhou).team == "network_ops"  # earlier rules first
    assert route(routing, {"requester": {"vip": True}}, serving("nb-finance", "ningbo", "zhejiang")).rule.id == "vip"
    assert route(routing, {}, serving("zhejiang")).rule.default  # the parent is not in the subtree
    assert route(routing, {}, serving()).rule.default  # no organization
    always = Expression("true", frozenset(), _run=lambda context: True)
    spec = RoutingSpec("r", (RoutingRule("city", "a", always), RoutingRule("desk", "b", always),
                             RoutingRule("desk", "z", default=True)), "manual")
    assert route(spec, {}, lambda team: team != "city").rule.id == "b"
    assert route(spec, {}).rule.id == "a"  # no serves: every team serves every ticket


def test_manual_assigns_nobody() -> None:
    spec = RoutingSpec("r", (RoutingRule("desk", default=True),), "manual")
    assert choose(spec, TEAM, {}).user is None


def test_round_robin_walks_the_members_from_the_cursor() -> None:
    spec = RoutingSpec("r", (RoutingRule("desk", default=True),), "round_robin")
    picks, cursor = [], 0
    for _ in range(4):
        choice = choose(spec, TEAM, {}, cursor=cursor)
        picks.append(choice.user)
        cursor = choice.cursor or 0
    assert picks == ["ann", "bob", "cid", "ann"]


def test_least_loaded_prefers_fewest_open_tickets_then_listing_order() -> None:
    spec = RoutingSpec("r", (RoutingRule("desk", default=True),), "least_loaded")
    assert choose(spec, TEAM, {}, loads={"ann": 3, "bob": 1, "cid": 1}).user == "bob"
    assert choose(spec, TEAM, {}, loads={}).user == "ann"


def test_skills_narrow_the_pool_when_someone_has_them() -> None:
    spec = RoutingSpec("r", (RoutingRule("desk", default=True),), "least_loaded", skills="category")
    assert choose(spec, TEAM, {"category": "network"}, loads={"ann": 2, "cid": 1}).user == "cid"
    assert choose(spec, TEAM, {"category": "hardware"}, loads={"ann": 2, "bob": 0}).user == "bob"  # nobody: all
    rr = RoutingSpec("r", (RoutingRule("desk", default=True),), "round_robin", skills="category")
    assert [choose(rr, TEAM, {"category": "network"}, cursor=c).user for c in range(3)] == ["ann", "cid", "ann"]


def test_values_that_are_not_text_match_no_skill_and_never_fail() -> None:
    """A value kept from an older form (a number, an object) cannot be a skill: everyone is in the pool."""
    spec = RoutingSpec("r", (RoutingRule("desk", default=True),), "least_loaded", skills="category")
    for value in ({"a": 1}, [{"a": 1}, "network"], 3, None):
        pool = candidates(spec, TEAM, {"category": value})
        assert pool == (["ann", "cid"] if value == [{"a": 1}, "network"] else ["ann", "bob", "cid"])
