"""The requester's organization in expressions (SPEC 14): `requester.org`, `requester.orgs` (a list, nearest
first), `requester.org_name`; a list compared as one value is refused at load with the fix."""

from __future__ import annotations

import pytest

from itsm.interpreter.context import BUILTIN_NAMES, Compilation
from itsm.interpreter.expressions import ExpressionError, NameInfo, Scope, compile_expression
from itsm.interpreter.processes import process_names
from itsm.interpreter.reference import reference_markdown

SCOPE = Scope({"requester.org": NameInfo(kind="text"), "requester.orgs": NameInfo(kind="list"),
               "requester.org_name": NameInfo(kind="text"), "summary": NameInfo(kind="text")})
XIHU = {"requester": {"org": "xihu", "orgs": ["xihu", "hangzhou", "zhejiang"], "org_name": "西湖区"}}
NOBODY = {"requester": {"org": None, "orgs": [], "org_name": None}}


@pytest.mark.parametrize(("source", "xihu", "nobody"), [
    ("'zhejiang' in requester.orgs", True, False),
    ("'jiangsu' in requester.orgs", False, False),
    ("'zhejiang' not in requester.orgs", False, True),
    ("'hangzhou' in requester.orgs and requester.org != 'hangzhou'", True, False),
    ("requester.org in ['xihu', 'binjiang']", True, False),
    ("requester.org_name == '西湖区'", True, False),
    ("len(requester.orgs) >= 3", True, False),
    ("requester.org == null", False, True),
])
def test_values(source: str, xihu: bool, nobody: bool) -> None:
    expression = compile_expression(source, SCOPE)
    assert (expression.evaluate(XIHU), expression.evaluate(NOBODY)) == (xihu, nobody)


@pytest.mark.parametrize(("source", "message"), [
    ("requester.orgs == 'zhejiang'", "'requester.orgs' is a list: write 'zhejiang' in requester.orgs"),
    ("'zhejiang' == requester.orgs", "'requester.orgs' is a list: write 'zhejiang' in requester.orgs"),
    ("requester.orgs != 'zhejiang'", "'requester.orgs' is a list: write 'zhejiang' not in requester.orgs"),
    ("requester.orgs in ['a', 'b']", "'requester.orgs' is a list: write 'a' in requester.orgs or 'b' in "
                                     "requester.orgs"),
    ("requester.orgs not in ['a', 'b']", "'requester.orgs' is a list: write 'a' not in requester.orgs and 'b' "
                                         "not in requester.orgs"),
    ("requester.orgs == 3", "'requester.orgs' is a list: write 'ID' in requester.orgs"),
])
def test_a_list_compared_as_one_value_is_refused(source: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, SCOPE)
    assert caught.value.message == message


def test_a_list_may_still_be_compared_with_null_or_another_name() -> None:
    for source in ("requester.orgs == null", "requester.orgs != summary", "summary in requester.orgs"):
        compile_expression(source, SCOPE)


def test_every_builtin_name_is_in_every_process_scope_and_the_reference() -> None:
    assert set(BUILTIN_NAMES) >= {"requester.org", "requester.orgs", "requester.org_name"}
    assert set(process_names(None, Compilation([]), None, {})) == set(BUILTIN_NAMES)  # no form, no clocks
    reference = reference_markdown()
    for name in BUILTIN_NAMES:
        assert f"| `{name}` |" in reference
