"""Routing (pure): first-match rules and member selection strategies."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm.interpreter import load_pack
from itsm.interpreter.model import Member, RoutingRule, RoutingSpec, TeamSpec
from itsm.routing import candidates, choose, route

ROOT = Path(__file__).resolve().parents[3]
TEAM = TeamSpec("desk", "Desk", "L1", ("agent",), None,
                (Member("ann", ("network",)), Member("bob", ("software",)), Member("cid", ("network", "vpn"))))


@pytest.fixture(scope="module")
def routing() -> RoutingSpec:
    return load_pack(ROOT / "definitions").routings["incident_routing"]


def test_first_match_wins_and_the_default_catches_the_rest(routing: RoutingSpec) -> None:
    assert route(routing, {"category": "network", "channel": "portal"}).team == "network_ops"
    assert route(routing, {"service": "erp"}).rule.id == "business_apps"
    vip = route(routing, {"requester": {"vip": True}})
    assert (vip.team, vip.user, vip.rule.id) == ("service_desk", "sam", "vip")
    fallback = route(routing, {"category": "hardware", "requester": {"vip": False}})
    assert fallback.rule.default and fallback.team == "service_desk"


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
