"""First pass: every document against the JSON Schema of its kind, in the author's words."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

from .errors import DefinitionError, did_you_mean, format_path
from .schema import ID_PATTERN, KINDS, SCHEMAS, remove_document_schema
from .source import Node, SourceDocument, to_plain
from .validator import SubsetValidator, Violation, is_type

_TYPE_NAMES = {"string": "a string", "integer": "an integer", "number": "a number",
               "boolean": "true or false", "object": "a mapping", "array": "a list", "null": "null"}


def describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ('{_clip(value)}')"
    if isinstance(value, list):
        return "a list"
    return "a mapping"


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@cache
def _validator(kind: str) -> SubsetValidator:
    return SubsetValidator(SCHEMAS[kind])


@cache
def _remove_validator(kind: str) -> SubsetValidator:
    return SubsetValidator(remove_document_schema(kind))


def locate(root: Node, path: Sequence[str | int]) -> Node:
    """The deepest node along `path` (the node itself when the whole path exists)."""
    node = root
    for part in path:
        value = node.value
        if isinstance(value, dict) and isinstance(part, str) and part in value:
            node = value[part]
        elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
            node = value[part]
        else:
            break
    return node


def check_shape(doc: SourceDocument) -> list[DefinitionError]:
    """Problems with the shape of one document; [] when it matches its kind's schema."""
    node = doc.node
    if not isinstance(node.value, dict):
        return [DefinitionError(node.pos, "-", "-",
                                f"a document must be a mapping with kind and id, not {describe(to_plain(node))}")]
    kind_node = node.value.get("kind")
    subject = doc.subject
    if kind_node is None:
        return [DefinitionError(node.pos, subject, "-",
                                f"missing key 'kind' (one of: {', '.join(KINDS)})")]
    kind = kind_node.value
    if kind not in KINDS:
        return [DefinitionError(kind_node.pos, subject, "kind",
                                f"unknown kind '{kind}'{did_you_mean(str(kind), KINDS)}")]
    instance = to_plain(node)
    if instance.get("remove") is True:
        validator = _remove_validator(kind)
    else:
        validator = _validator(kind)
    problems: list[DefinitionError] = []
    for error in validator.iter_errors(instance):
        problems.extend(_explain(error, node, subject))
    return problems


def _explain(error: Violation, root: Node, subject: str) -> Iterator[DefinitionError]:
    path = list(error.absolute_path)
    node = locate(root, path)
    where = format_path(path)
    validator = error.validator
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}

    if validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        for key in instance:
            if key in known:
                continue
            child = node.value.get(key) if isinstance(node.value, dict) else None
            pos = child.key_pos if child is not None and child.key_pos else node.pos
            hint = did_you_mean(key, known) if known else ""
            yield DefinitionError(pos, subject, format_path([*path, key]), f"unknown key '{key}'{hint}")
        return
    if validator in ("anyOf", "oneOf"):
        yield from _explain_alternatives(error, root, subject)
        return
    message = _message(error, schema, instance)
    if message.startswith("expected "):
        message += _quote_hint(error, node)
    yield DefinitionError(node.pos, subject, where, message)


def _explain_alternatives(error: Violation, root: Node, subject: str) -> Iterator[DefinitionError]:
    """Report the errors of the alternative whose type fits the value, or say which types would do."""
    alternatives = error.validator_value
    instance = error.instance
    fitting = [i for i, alt in enumerate(alternatives) if _type_fits(alt, instance)]
    if len(fitting) == 1:
        index = fitting[0]
        for sub in error.context or []:
            if sub.relative_schema_path and sub.relative_schema_path[0] == index:
                yield from _explain(sub, root, subject)
        return
    path = list(error.absolute_path)
    expected = " or ".join(_describe_alternative(alt) for alt in alternatives)
    node = locate(root, path)
    yield DefinitionError(node.pos, subject, format_path(path),
                          f"expected {expected}, got {describe(instance)}" + _quote_hint(error, node))


def _quote_hint(error: Violation, node: Node) -> str:
    """YAML reads an unquoted 1 or 2.0 as a number where text was meant (a choice value, a label)."""
    instance = error.instance
    if isinstance(instance, bool) or not isinstance(instance, int | float):
        return ""
    if error.validator == "type":
        wanted = [error.validator_value]
    elif error.validator in ("anyOf", "oneOf"):
        wanted = [alt.get("type") for alt in error.validator_value if isinstance(alt, dict)]
    else:
        return ""
    if not any(w == "string" or (isinstance(w, list) and "string" in w) for w in wanted):
        return ""
    return f" (write '{node.source or instance}' in quotes for text)"


def _type_fits(schema: dict[str, Any], instance: Any) -> bool:
    kinds = schema.get("type")
    if kinds is None:
        return True
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return any(is_type(instance, k) for k in kinds)


def _describe_alternative(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " or ".join(f"'{v}'" for v in schema["enum"])
    kinds = schema.get("type", "value")
    if kinds == "array" and isinstance(schema.get("items"), dict) and "type" in schema["items"]:
        return f"a list of {_TYPE_NAMES.get(schema['items']['type'], 'values')}s".replace("a strings", "strings")
    kinds = [kinds] if isinstance(kinds, str) else kinds
    return " or ".join(_TYPE_NAMES.get(k, k) for k in kinds)


def _message(error: Violation, schema: dict[str, Any], instance: Any) -> str:
    validator = error.validator
    value = error.validator_value
    if validator == "required":
        missing = [k for k in value if not (isinstance(instance, dict) and k in instance)]
        return f"missing required key '{missing[0]}'" if missing else error.message
    if validator == "type":
        if str(schema.get("pattern", "")).endswith("%$"):
            return f"'{instance}' is not a percentage such as 75%"
        kinds = [value] if isinstance(value, str) else value
        expected = " or ".join(_TYPE_NAMES.get(k, k) for k in kinds)
        return f"expected {expected}, got {describe(instance)}"
    if validator == "enum":
        options = [str(v) for v in value]
        return f"'{instance}' is not one of: {', '.join(options)}{did_you_mean(str(instance), options)}"
    if validator == "const":
        return f"expected {value!r}, got {describe(instance)}"
    if validator == "pattern":
        if value == ID_PATTERN:
            return f"invalid id '{instance}': use lowercase letters, digits and _, starting with a letter"
        if value.endswith("%$"):
            return f"'{instance}' is not a percentage such as 75%"
        if value.startswith("^[A-Z]"):
            return f"invalid number prefix '{instance}': use 1-10 capital letters and digits, such as INC"
        return f"'{instance}' does not match the pattern {value}"
    if validator == "propertyNames":
        return f"invalid key '{instance}'"
    if validator == "minItems":
        return "must not be empty" if value == 1 else f"needs at least {value} items"
    if validator == "minProperties":
        keys = ", ".join(k for k in schema.get("properties", {}) if k != "args")
        return f"an empty mapping: expected one of {keys}"
    if validator == "minimum":
        return f"must be at least {value}, got {instance}"
    return error.message
