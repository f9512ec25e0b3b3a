"""First pass: every document against the JSON Schema of its kind, in the author's words."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache

from .errors import DefinitionError, did_you_mean, format_path
from .schema import KINDS, SCHEMAS, remove_document_schema
from .source import Node, SourceDocument, to_plain
from .validator import SubsetValidator, Violation
from .violations import YAML_WORDS, Failure, explain


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
        got = YAML_WORDS.describe(to_plain(node))
        return [DefinitionError(node.pos, "-", "-", f"a document must be a mapping with kind and id, not {got}")]
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
    for problem in explain(error, YAML_WORDS):
        node = locate(root, problem.path)
        if problem.on_key:
            parent = locate(root, problem.path[:-1])
            child = parent.value.get(problem.path[-1]) if isinstance(parent.value, dict) else None
            pos = child.key_pos if child is not None and child.key_pos else parent.pos
        elif isinstance(node.value, dict) and isinstance(problem.failure.instance, str) \
                and problem.failure.instance in node.value and problem.failure.validator == "pattern":
            pos = node.value[problem.failure.instance].key_pos or node.pos  # a key (propertyNames) at its line
        else:
            pos = node.pos
        message = problem.message
        if message.startswith("expected "):
            message += _quote_hint(problem.failure, node)
        yield DefinitionError(pos, subject, format_path(problem.path), message)


def _quote_hint(error: Failure, node: Node) -> str:
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
