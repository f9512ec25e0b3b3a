"""JSON Schema violations in the author's words: one translator for pack documents, API bodies and field values.

A violation is a failed keyword (this package's `Violation`, or a `jsonschema.ValidationError`: they share
the attributes read here). Pack authors write YAML and read "a mapping", "a string"; API clients send
JSON and read "an object", "text": a `Words` says which. No Python type name ever reaches a message.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import did_you_mean
from .schema import ID_PATTERN
from .texts import LANGUAGE_PATTERN
from .validator import is_type

CLIPPED = 40  # characters of a value quoted in a message


class Failure(Protocol):
    """What a translation reads of a failed keyword (Violation and jsonschema's ValidationError)."""

    validator: Any
    validator_value: Any
    instance: Any
    schema: Any
    context: Any
    relative_schema_path: Any

    @property
    def absolute_path(self) -> Any: ...


@dataclass(frozen=True)
class Words:
    """How a translation speaks: the names of JSON types, and where a missing key is reported."""

    types: Mapping[str, str]
    null: str  # a null value, as "got ..." describes it
    whole: str  # an integer value, as "got ..." describes it
    missing_on_field: bool  # "fields.version: is required" (API) vs "missing required key 'version'" (packs)

    def describe(self, value: Any) -> str:
        """A value as "got ..." shows it: its kind, and the value itself when it is short."""
        if value is None:
            return self.null
        if isinstance(value, bool):
            return f"a boolean ({'true' if value else 'false'})"
        if isinstance(value, int):
            return f"{self.whole} ({value})"
        if isinstance(value, float):
            return f"{self.types['number']} ({value})"
        if isinstance(value, str):
            return f"{self.types['string']} ('{clip(value)}')"
        if isinstance(value, list):
            return self.types["array"]
        return self.types["object"]

    def kinds(self, kinds: str | list[str]) -> str:
        """'string' -> 'a string'; ['string', 'null'] -> 'a string or null'; ['boolean', 'null'] -> 'true,
        false or null'."""
        names = [self.types.get(k, k) for k in ([kinds] if isinstance(kinds, str) else kinds)]
        if len(names) > 1:
            names = [name.replace(" or ", ", ") for name in names]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


YAML_WORDS = Words({"string": "a string", "integer": "an integer", "number": "a number", "boolean": "true or false",
                    "object": "a mapping", "array": "a list", "null": "null"}, "nothing (null)", "an integer", False)
JSON_WORDS = Words({"string": "text", "integer": "a whole number", "number": "a number", "boolean": "true or false",
                    "object": "an object", "array": "a list", "null": "null"}, "null", "a number", True)
FORMATS = {"date": "date (YYYY-MM-DD)", "date-time": "date and time with an offset (2026-03-02T10:00:00+01:00)",
           "email": "mail address", "uri": "URL (with a scheme, such as https://)"}


@dataclass(frozen=True)
class Explained:
    """One problem: where (a path into the document), what to say, and whether it concerns a key."""

    path: tuple[str | int, ...]
    message: str
    failure: Failure
    on_key: bool = False


def clip(text: str, width: int = CLIPPED) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def explain(failure: Failure, words: Words) -> Iterator[Explained]:
    """The problems one failed keyword stands for (an unknown-keys failure is one per key)."""
    path = tuple(failure.absolute_path)
    instance = failure.instance
    schema = failure.schema if isinstance(failure.schema, dict) else {}
    if failure.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        for key in instance:
            if key not in known:
                yield Explained((*path, key), f"unknown key '{key}'{did_you_mean(key, known) if known else ''}",
                                failure, on_key=True)
        return
    if failure.validator == "required" and words.missing_on_field:
        for key in failure.validator_value:
            if not (isinstance(instance, dict) and key in instance):
                yield Explained((*path, key), "is required", failure)
        return
    if failure.validator in ("anyOf", "oneOf"):
        yield from _alternatives(failure, words)
        return
    yield Explained(path, message(failure, words), failure)


def _alternatives(failure: Failure, words: Words) -> Iterator[Explained]:
    """The problems of the alternative whose type fits the value, or which types would do."""
    alternatives = failure.validator_value
    fitting = [i for i, alt in enumerate(alternatives) if _type_fits(alt, failure.instance)]
    if len(fitting) == 1:
        for sub in failure.context or []:
            if sub.relative_schema_path and sub.relative_schema_path[0] == fitting[0]:
                yield from explain(sub, words)
        return
    expected = " or ".join(_describe_alternative(alt, words) for alt in alternatives)
    yield Explained(tuple(failure.absolute_path), f"expected {expected}, got {words.describe(failure.instance)}",
                    failure)


def _type_fits(schema: dict[str, Any], instance: Any) -> bool:
    kinds = schema.get("type")
    if kinds is None:
        return True
    return any(is_type(instance, k) for k in ([kinds] if isinstance(kinds, str) else kinds))


def _describe_alternative(schema: dict[str, Any], words: Words) -> str:
    if "enum" in schema:
        return " or ".join(f"'{v}'" for v in schema["enum"])
    kinds = schema.get("type", "value")
    items = schema.get("items")
    if kinds == "array" and isinstance(items, dict) and isinstance(items.get("type"), str):
        noun = words.types.get(items["type"], "value").split(" ", 1)[-1]
        return f"a list of {noun}s" if noun != "text" else "a list of text"
    return words.kinds(kinds)


def message(failure: Failure, words: Words) -> str:
    """One failed keyword (not additionalProperties or anyOf, which `explain` splits) in words."""
    validator, value, instance = failure.validator, failure.validator_value, failure.instance
    schema = failure.schema if isinstance(failure.schema, dict) else {}
    if validator == "required":
        missing = [k for k in value if not (isinstance(instance, dict) and k in instance)]
        return f"missing required key '{missing[0]}'" if missing else "a required key is missing"
    if validator == "type":
        if str(schema.get("pattern", "")).endswith("%$"):
            return f"'{instance}' is not a percentage such as 75%"
        return f"expected {words.kinds(value)}, got {words.describe(instance)}"
    if validator == "enum":
        options = [_literal(v) for v in value]
        return f"'{clip(str(instance))}' is not one of: {', '.join(options)}{did_you_mean(str(instance), options)}"
    if validator == "const":
        return f"expected {value!r}, got {words.describe(instance)}"
    if validator == "pattern":
        return _pattern(value, instance)
    if validator == "propertyNames":
        return f"invalid key '{instance}'"
    if validator in ("minItems", "maxItems"):
        if validator == "minItems":
            return "must not be empty" if value == 1 else f"needs at least {value} items"
        return f"holds at most {value} items"
    if validator == "uniqueItems":
        return "lists a value twice"
    if validator == "minProperties" and "propertyNames" in schema:
        return "an empty mapping: write the text, or one per language such as {zh-CN: 新建, en: New}"
    if validator == "minProperties":
        keys = ", ".join(k for k in schema.get("properties", {}) if k != "args")
        return f"an empty mapping: expected one of {keys}"
    if validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": "at least", "maximum": "at most", "exclusiveMinimum": "more than",
                 "exclusiveMaximum": "less than"}[validator]
        return f"must be {bound} {value}, got {instance}"
    if validator in ("minLength", "maxLength"):
        return f"{'at least' if validator == 'minLength' else 'at most'} {value} characters"
    if validator == "format":
        return f"not a valid {FORMATS.get(value, value)}"
    if validator == "multipleOf":
        return f"must be a multiple of {value}" if value != 1 else "must be a whole number"
    return f"does not satisfy {validator} {value}"


def _literal(value: Any) -> str:
    """A choice as JSON and YAML write it: null, true, text unquoted."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


def _pattern(pattern: str, instance: Any) -> str:
    if pattern == ID_PATTERN:
        return f"invalid id '{instance}': use lowercase letters, digits and _, starting with a letter"
    if pattern == LANGUAGE_PATTERN:
        return (f"'{clip(str(instance))}' is not a language tag: write tags such as zh-CN or en "
                f"(language, then region, joined by -)")
    if pattern.endswith("%$"):
        return f"'{instance}' is not a percentage such as 75%"
    if pattern.startswith("^[A-Z]"):
        return f"invalid number prefix '{instance}': use 1-10 capital letters and digits, such as INC"
    return f"'{clip(str(instance))}' does not match the pattern {pattern}"
