"""A JSON Schema validator for the subset of Draft 2020-12 that the kind schemas use.

Why not `jsonschema` here: loading a large pack spent most of its time in jsonschema's generic machinery
(reference resolution, validator evolution) and a cold `itsm validate` paid ~90 ms just to import it. The
kind schemas use a dozen keywords, so this validator covers exactly those and refuses any other. The tests
check it against `jsonschema` on the default pack and on thousands of mutated documents: same verdicts.
The API checks request bodies with it too, against the schemas its OpenAPI document declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "title", "description", "default", "examples"})
KEYWORDS = frozenset({"$ref", "type", "enum", "const", "pattern", "properties", "additionalProperties",
                      "required", "items", "minItems", "minProperties", "minimum", "maximum", "anyOf",
                      "propertyNames"})


@dataclass
class Violation:
    """One failed keyword, shaped like jsonschema's ValidationError where the error messages need it."""

    validator: str  # the keyword that failed
    validator_value: Any
    instance: Any
    schema: Mapping[str, Any]
    absolute_path: tuple[str | int, ...] = ()
    context: list[Violation] = field(default_factory=list)  # anyOf: the errors of every branch
    relative_schema_path: tuple[Any, ...] = ()  # anyOf context: (branch index, ...)

    @property
    def message(self) -> str:
        return f"does not satisfy {self.validator} {self.validator_value!r}"


def is_type(instance: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(instance, str)
    if kind == "object":
        return isinstance(instance, dict)
    if kind == "array":
        return isinstance(instance, list)
    if kind == "boolean":
        return isinstance(instance, bool)
    if kind == "integer":
        return (isinstance(instance, int) and not isinstance(instance, bool)) or (
            isinstance(instance, float) and instance.is_integer())
    if kind == "number":
        return isinstance(instance, (int, float)) and not isinstance(instance, bool)
    if kind == "null":
        return instance is None
    raise ValueError(f"unknown type {kind!r}")


@cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


class SubsetValidator:
    def __init__(self, schema: Mapping[str, Any]):
        self.schema = schema
        self.defs: Mapping[str, Any] = schema.get("$defs", {})
        _check_keywords(schema)

    def iter_errors(self, instance: Any) -> Iterator[Violation]:
        yield from self._errors(instance, self.schema, ())

    def is_valid(self, instance: Any) -> bool:
        return next(self.iter_errors(instance), None) is None

    def _errors(self, instance: Any, schema: Mapping[str, Any], path: tuple[str | int, ...]) -> Iterator[Violation]:
        ref = schema.get("$ref")
        if ref is not None:
            yield from self._errors(instance, self.defs[ref.rsplit("/", 1)[1]], path)
        for keyword, value in schema.items():
            check = _CHECKS.get(keyword)
            if check is not None:
                yield from check(self, instance, value, schema, path)

    def _type(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        kinds = [value] if isinstance(value, str) else value
        if not any(is_type(instance, k) for k in kinds):
            yield Violation("type", value, instance, schema, path)

    def _enum(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if not any(_equal(instance, v) for v in value):
            yield Violation("enum", value, instance, schema, path)

    def _const(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if not _equal(instance, value):
            yield Violation("const", value, instance, schema, path)

    def _pattern(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if isinstance(instance, str) and not _pattern(value).search(instance):
            yield Violation("pattern", value, instance, schema, path)

    def _properties(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if isinstance(instance, dict):
            for key, sub in value.items():
                if key in instance:
                    yield from self._errors(instance[key], sub, (*path, key))

    def _additional(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if not isinstance(instance, dict):
            return
        known = schema.get("properties", {})
        extra = [k for k in instance if k not in known]
        if value is False:
            if extra:
                yield Violation("additionalProperties", value, instance, schema, path)
        elif isinstance(value, dict):
            for key in extra:
                yield from self._errors(instance[key], value, (*path, key))

    def _required(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if isinstance(instance, dict):
            for key in value:
                if key not in instance:
                    yield Violation("required", [key], instance, schema, path)

    def _items(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if isinstance(instance, list):
            for index, item in enumerate(instance):
                yield from self._errors(item, value, (*path, index))

    def _min_items(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if isinstance(instance, list) and len(instance) < value:
            yield Violation("minItems", value, instance, schema, path)

    def _min_properties(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if isinstance(instance, dict) and len(instance) < value:
            yield Violation("minProperties", value, instance, schema, path)

    def _minimum(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if is_type(instance, "number") and instance < value:
            yield Violation("minimum", value, instance, schema, path)

    def _maximum(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if is_type(instance, "number") and instance > value:
            yield Violation("maximum", value, instance, schema, path)

    def _any_of(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        context: list[Violation] = []
        for index, branch in enumerate(value):
            errors = list(self._errors(instance, branch, path))
            if not errors:
                return
            for error in errors:
                error.relative_schema_path = (index, *error.relative_schema_path)
            context.extend(errors)
        yield Violation("anyOf", value, instance, schema, path, context)

    def _property_names(self, instance: Any, value: Any, schema: Any, path: tuple) -> Iterator[Violation]:
        if isinstance(instance, dict):
            for key in instance:
                yield from self._errors(key, value, path)


_CHECKS = {
    "type": SubsetValidator._type, "enum": SubsetValidator._enum, "const": SubsetValidator._const,
    "pattern": SubsetValidator._pattern, "properties": SubsetValidator._properties,
    "additionalProperties": SubsetValidator._additional, "required": SubsetValidator._required,
    "items": SubsetValidator._items, "minItems": SubsetValidator._min_items,
    "minProperties": SubsetValidator._min_properties, "minimum": SubsetValidator._minimum,
    "maximum": SubsetValidator._maximum,
    "anyOf": SubsetValidator._any_of, "propertyNames": SubsetValidator._property_names,
}


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: true is not 1."""
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _check_keywords(schema: Any, where: str = "#") -> None:
    """Refuse a schema that uses a keyword this validator does not implement (it would be ignored)."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key not in KEYWORDS and key not in ANNOTATIONS:
                raise ValueError(f"{where}: keyword {key!r} is not supported by SubsetValidator")
            if key in ("properties", "$defs"):
                for name, sub in value.items():
                    _check_keywords(sub, f"{where}/{key}/{name}")
            elif key in ("items", "additionalProperties", "propertyNames"):
                _check_keywords(value, f"{where}/{key}")
            elif key == "anyOf":
                for i, sub in enumerate(value):
                    _check_keywords(sub, f"{where}/anyOf/{i}")
