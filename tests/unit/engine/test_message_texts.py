"""Engine messages said in any language (itsm.engine.errors.Text): English as before, the template and values
for the web layer's `gettext`."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

from itsm.engine.errors import N_, Conflict, Text, ValidationFailed, any_of, field_problems, joined, say

PLATFORM = Path(__file__).resolve().parents[3] / "platform"
CHINESE = {"no ticket %(number)s": "不存在工单 %(number)s", "%(field)s is required": "“%(field)s”为必填项",
           "%(field)s: %(problem)s": "%(field)s：%(problem)s", "; ": "；",
           "%(first)s or %(rest)s": "%(first)s 或 %(rest)s"}


def chinese(template: str) -> str:
    return CHINESE.get(template, template)


def test_a_text_is_its_english_string() -> None:
    text = N_("no ticket %(number)s", number="INC0000042")
    assert text == "no ticket INC0000042" and str(text) == "no ticket INC0000042" and type(str(text)) is str
    assert f"{text}!" == "no ticket INC0000042!" and text.template == "no ticket %(number)s"
    assert N_("100%") == "100%"  # no values: the template is the text, a % needs no doubling
    assert pickle.loads(pickle.dumps(text)).say(chinese) == "不存在工单 INC0000042"


def test_say_translates_the_frame_and_keeps_the_values() -> None:
    assert N_("no ticket %(number)s", number="INC0000042").say(chinese) == "不存在工单 INC0000042"
    nested = N_("%(field)s: %(problem)s", field="impact", problem=N_("%(field)s is required", field="Impact"))
    assert nested == "impact: Impact is required" and nested.say(chinese) == "impact：“Impact”为必填项"
    assert say("a pack's own label", chinese) == "a pack's own label" and say(3, chinese) == 3
    assert say(nested, None) is nested


def test_lists_are_said_in_the_readers_language() -> None:
    sources = any_of(["new", "assigned", "in_progress"])
    assert sources == "new or assigned or in_progress" and say(sources, chinese) == "new 或 assigned 或 in_progress"
    assert any_of(["new"]) == "new" and not isinstance(any_of(["new"]), Text)  # a pack id is never looked up
    problems = [{"field": "a", "message": N_("%(field)s is required", field="A")}, {"field": "b", "message": "x"}]
    both = field_problems(problems)
    assert both == "a: A is required; b: x" and say(both, chinese) == "a：“A”为必填项；b：x"
    assert joined(["plain", "strings"]) == "plain; strings" and not isinstance(joined(["plain"]), Text)
    assert pickle.loads(pickle.dumps(both)) == both


def test_the_error_body_is_english_or_in_the_language_asked_for() -> None:
    error = ValidationFailed(N_("no ticket %(number)s", number="INC1"),
                             [{"field": "x", "message": N_("%(field)s is required", field="X")}, {"field": "y"}])
    assert str(error) == error.message == "no ticket INC1"
    assert error.to_dict() == {"error": "validation_failed", "message": "no ticket INC1",
                               "details": [{"field": "x", "message": "X is required"}, {"field": "y"}]}
    assert error.to_dict(chinese) == {"error": "validation_failed", "message": "不存在工单 INC1",
                                      "details": [{"field": "x", "message": "“X”为必填项"}, {"field": "y"}]}
    assert Conflict("a plugin's plain message").to_dict(chinese)["message"] == "a plugin's plain message"


def test_every_engine_message_is_marked_with_a_literal_template() -> None:
    """`pybabel extract` finds N_("...") only: a template in a variable would never reach the catalogs."""
    unmarked = []
    for path in PLATFORM.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "N_":
                first = node.args[0] if node.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    unmarked.append(f"{path.relative_to(PLATFORM)}:{node.lineno}")
    assert not unmarked
