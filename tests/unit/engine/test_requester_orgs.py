"""`requester.org`, `requester.orgs` and `requester.org_name` in the core (SPEC 14): an SLA policy rule, a
routing rule and a matrix adjustment of tests/packs/valid/province select on the requester's organization
and its ancestors, without a database (the requester's facts as the store gives them: the organization's
path and name)."""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path

import pytest
from core_support import MONDAY_9, FakeLookups, person

from itsm.engine.runtime.compiled import CompiledVersion, compile_version
from itsm.engine.runtime.rules import Context, Request, plan
from itsm.engine.runtime.snapshot import UserFacts, org_lineage, user_facts
from itsm.interpreter import load_pack
from itsm.store.orgs import lineage

PROVINCE = Path(__file__).resolve().parents[2] / "packs" / "valid" / "province"  # its scenarios run too

UserRow = namedtuple("UserRow", "name vip org email org_name org_path")  # as store.users.named gives it


@pytest.fixture(scope="module")
def province() -> CompiledVersion:
    pack = load_pack(PROVINCE)
    return compile_version(pack.digest, pack)


def report(compiled: CompiledVersion, requester: UserFacts | None, impact: str = "low") -> dict[str, object]:
    context = Context(compiled, FakeLookups(("rita", "ann", "bob")))
    request = Request("create", person(compiled, "rita"), MONDAY_9, process="report",
                      values={"summary": "打印机无法打印", "impact": impact})
    made = plan(context, None, request, requester)
    assert made is not None
    clock = {change.after.clock: change.after for change in made.clocks}["response"]
    return {"team": made.ticket.team, "priority": made.ticket.priority, "org": made.ticket.org,
            "unit": made.ticket.fields.get("unit"), "target": clock.target_seconds, "policy": clock.policy}


def facts(org: str | None, path: str | None, name: str | None = None) -> UserFacts | None:
    return user_facts(UserRow("rita", False, org, "rita@example.cn", name, path))


def test_a_unit_under_the_province_gets_its_sla_desk_and_priority(province: CompiledVersion) -> None:
    xihu = report(province, facts("xihu", "/zhejiang/hangzhou/xihu/", "西湖区"))
    assert xihu == {"team": "zhejiang_desk", "priority": "P2", "org": "xihu", "unit": "西湖区",
                    "target": 30 * 60, "policy": "province_sla"}  # P3 raised one level: hangzhou is above


def test_the_province_itself_and_a_sibling_city(province: CompiledVersion) -> None:
    top = report(province, facts("zhejiang", "/zhejiang/", "浙江省"))
    assert (top["team"], top["priority"], top["policy"], top["target"]) == ("desk", "P3", "province_sla", 3600)
    ningbo = report(province, facts("ningbo", "/zhejiang/ningbo/", "宁波市"), impact="high")
    assert (ningbo["team"], ningbo["priority"], ningbo["policy"]) == ("zhejiang_desk", "P2", "province_sla")


def test_outside_the_province_and_without_an_organization(province: CompiledVersion) -> None:
    nanjing = report(province, facts("nanjing", "/jiangsu/nanjing/", "南京市"))
    assert nanjing == {"team": "desk", "priority": "P3", "org": "nanjing", "unit": "南京市",
                       "target": 4 * 3600, "policy": "plain_sla"}
    nobody = report(province, facts(None, None))
    assert (nobody["team"], nobody["policy"], nobody["org"]) == ("desk", "plain_sla", None)


def test_a_name_that_starts_like_an_ancestor_is_not_one(province: CompiledVersion) -> None:
    lookalike = report(province, facts("zhejiang_x", "/jiangsu/zhejiang_x/", "浙江路办事处"))
    assert (lookalike["team"], lookalike["policy"]) == ("desk", "plain_sla")


def test_lineage_is_read_off_the_path_as_the_store_reads_it() -> None:
    for path in ("/zhejiang/", "/zhejiang/hangzhou/xihu/", "/a.b/c-d/e_f/330106/"):
        org = path.strip("/").split("/")[-1]
        assert org_lineage(org, path) == lineage(path)
    assert org_lineage("sales", None) == ("sales",)  # an organization named before organizations were records
    assert org_lineage(None, None) == ()
    facts_ = user_facts(UserRow("rita", True, "xihu", None, "西湖区", "/zhejiang/hangzhou/xihu/"))
    assert facts_ == UserFacts("rita", True, "xihu", None, ("xihu", "hangzhou", "zhejiang"), "西湖区")
