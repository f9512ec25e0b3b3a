"""One translator of JSON Schema violations: packs read YAML words, API clients JSON words, never Python's."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from itsm.interpreter.validator import SubsetValidator
from itsm.interpreter.violations import JSON_WORDS, YAML_WORDS, explain

BODY = {"type": "object", "additionalProperties": False, "required": ["process"], "properties": {
    "process": {"type": "string"}, "fields": {"type": ["object", "null"]}, "version": {"type": "integer", "minimum": 1},
    "kind": {"enum": ["known_error", "related"]}, "tags": {"type": "array", "items": {"type": "string"}},
    "limit": {"type": "integer", "minimum": 1, "maximum": 20}}}
PYTHON_NAMES = re.compile(r"\b(dict|NoneType|int|str|float|bool)\b|'(dict|int|str|float|list|bool)'")


def problems(instance: Any, words: Any = JSON_WORDS) -> list[tuple[str, str]]:
    return [(".".join(map(str, p.path)), p.message)
            for error in SubsetValidator(BODY).iter_errors(instance) for p in explain(error, words)]


def test_api_words_name_the_field_and_the_kind_of_value() -> None:
    assert problems({"fields": 3, "extra": 1, "version": "2"}) == [
        ("extra", "unknown key 'extra'"), ("process", "is required"),
        ("fields", "expected an object or null, got a number (3)"),
        ("version", "expected a whole number, got text ('2')")]
    assert problems({"process": None, "kind": "knwon_error", "tags": ["a", 2], "limit": 99}) == [
        ("process", "expected text, got null"),
        ("kind", "'knwon_error' is not one of: known_error, related (did you mean 'known_error'?)"),
        ("tags.1", "expected text, got a number (2)"), ("limit", "must be at most 20, got 99")]


def test_pack_words_stay_those_of_yaml() -> None:
    assert problems({"fields": 3, "version": True}, YAML_WORDS) == [
        ("", "missing required key 'process'"), ("fields", "expected a mapping or null, got an integer (3)"),
        ("version", "expected an integer, got a boolean (true)")]


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                       max_size=3), max_leaves=5)
BODIES = st.dictionaries(st.sampled_from(["process", "fields", "version", "kind", "tags", "limit", "extra"]),
                         JSON_VALUES, max_size=5) | JSON_VALUES


@settings(max_examples=300, deadline=None)
@given(BODIES)
def test_jsonschema_and_the_subset_validator_read_the_same_and_no_python_names_leak(body: Any) -> None:
    ours = problems(body)
    theirs = [(".".join(map(str, p.path)), p.message) for error in Draft202012Validator(BODY).iter_errors(body)
              for p in explain(error, JSON_WORDS)]
    assert sorted(ours) == sorted(theirs)
    for _, text in ours:
        # values quoted in parentheses may say anything, and so may the sender's own keys ("unknown key 'list'")
        said = re.sub(r"^unknown key '[^']*'", "", text.split("(", 1)[0])
        assert not PYTHON_NAMES.search(said), text


@pytest.mark.parametrize(("schema", "value", "expected"), [
    ({"type": "string", "format": "date"}, "2026-13-01", None),  # formats are checked by the engine's checker
    ({"type": "string", "maxLength": 3}, "abcd", "at most 3 characters"),
    ({"type": "string", "minLength": 2}, "a", "at least 2 characters"),
    ({"type": "array", "uniqueItems": True}, ["a", "a"], "lists a value twice"),
    ({"type": "string", "pattern": "^[0-9]+$"}, "12a", "'12a' does not match the pattern ^[0-9]+$"),
])
def test_field_keywords_read_as_words(schema: dict[str, Any], value: Any, expected: str | None) -> None:
    found = [p.message for error in Draft202012Validator(schema).iter_errors(value) for p in explain(error, JSON_WORDS)]
    assert found == ([expected] if expected else [])
