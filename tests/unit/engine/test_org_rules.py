"""Which organization ids, names and mail domains are accepted, and which row of a breakdown a ticket of an
organization counts in (`child_on_path`), without a database."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itsm.engine.people.org_admin import clean_domains, name_problem, org_id_problem
from itsm.engine.people.users import is_mail_domain
from itsm.store.orgs import child_on_path, lineage, path_of


@pytest.mark.parametrize("org_id", ["zhejiang", "330100", "hz.xihu", "unit_01", "a-b", "0"])
def test_ids_of_spec_14_are_accepted(org_id: str) -> None:
    assert org_id_problem(org_id) is None


@pytest.mark.parametrize("org_id", ["", "Zhejiang", "_x", ".x", "-x", "a b", "a/b", "a*b", "a%b", "浙江", "a" * 101])
def test_other_ids_are_refused_with_a_reason(org_id: str) -> None:
    assert org_id_problem(org_id)


def test_names_must_say_something_printable() -> None:
    assert name_problem("浙江省", 200) is None
    assert name_problem("   ", 200) == "must not be empty"
    assert name_problem("a\nb", 200) == "holds a control character"
    assert name_problem("x" * 201, 200) == "at most 200 characters"


def test_domains_are_lower_case_without_repeats_and_checked() -> None:
    problems: list[dict[str, object]] = []
    assert clean_domains(["HZ.gov.cn", "hz.gov.cn", "@xh.gov.cn", " 浙江.政务.cn "], problems) == [
        "hz.gov.cn", "xh.gov.cn", "浙江.政务.cn"]
    assert problems == []
    clean_domains(["localhost", "a..b", "-a.org", "a.123", "a b.org"], problems)
    assert len(problems) == 5 and {p["field"] for p in problems} == {"domains"}
    assert is_mail_domain("mail.example.org") and not is_mail_domain("example")


def test_a_ticket_counts_in_the_row_of_the_child_holding_its_organization() -> None:
    assert child_on_path("/zhejiang/hangzhou/xihu/", "/zhejiang/") == "hangzhou"
    assert child_on_path("/zhejiang/hangzhou/", "/zhejiang/") == "hangzhou"
    assert child_on_path("/zhejiang/", "/zhejiang/") == ""  # the parent's own
    assert child_on_path("/jiangsu/nanjing/", "/zhejiang/") is None
    assert child_on_path("/zhejiang_x/a/", "/zhejiang/") is None  # a prefix of the id is not the same id
    assert child_on_path("/zhejiang/hangzhou/", None) == "zhejiang"  # without a parent: the root


IDS = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,6}", fullmatch=True)


@given(st.lists(IDS, min_size=1, max_size=5, unique=True), st.integers(0, 4))
def test_child_on_path_agrees_with_the_lineage(ids: list[str], depth: int) -> None:
    """Reference: the child under a parent at `depth` is the id after it on the path, read off `lineage`."""
    path = None
    for org_id in ids:
        path = path_of(path, org_id)
    assert path is not None
    parent = None
    for org_id in ids[:depth]:
        parent = path_of(parent, org_id)
    from_root = list(reversed(lineage(path)))
    expected = from_root[depth] if depth < len(from_root) else ""
    assert child_on_path(path, parent) == expected
