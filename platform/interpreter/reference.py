"""The language reference in Markdown, generated from the kind schemas (docs/reference.md)."""

from __future__ import annotations

from typing import Any

from .context import BUILTIN_NAMES
from .schema import DEFS, KINDS, SCHEMAS


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"list of {_type(schema['items'])}"
    return str(kind)


def _table(schema: dict[str, Any], heading: str, level: int, out: list[str], seen: set[str]) -> None:
    properties = schema.get("properties", {})
    if not properties:
        return
    out.append(f"{'#' * level} {heading}\n")
    if schema.get("description"):
        out.append(f"{schema['description']}\n")
    required = set(schema.get("required", []))
    out.append("| key | type | required | meaning |\n|---|---|---|---|")
    nested: list[tuple[str, dict[str, Any]]] = []
    for key, sub in properties.items():
        description = (sub.get("description") or "").replace("|", "\\|")
        out.append(f"| `{key}` | {_type(sub)} | {'yes' if key in required else ''} | {description} |")
        items = sub.get("items") if sub.get("type") == "array" else None
        target = items if isinstance(items, dict) and "properties" in items else sub if "properties" in sub else None
        if target is not None:
            nested.append((key, target))
    out.append("")
    for key, target in nested:
        _table(target, f"{heading} › `{key}`", min(level + 1, 6), out, seen)


def reference_markdown() -> str:
    out = ["# Pack language reference\n",
           "Generated from the JSON Schemas of the kinds (`itsm schema --reference docs/reference.md`); "
           "the same schemas validate packs and drive editor completion (`itsm schema --out DIR`). "
           "SPEC.md sections 3-6 give the semantics; docs/decisions.md what they leave open.\n"]
    for kind in KINDS:
        _table(SCHEMAS[kind], f"`{kind}`", 2, out, set())
    out.append("## Shared definitions\n")
    for name in ("text", "expression", "duration", "roles"):
        out.append(f"- **{name}**: {DEFS[name]['description']}")
    out.append("")
    out.append("### Names in expressions\n")
    out.append("Besides the fields of the process's form and `sla.CLOCK.status|percent` of its clocks:\n")
    out.append("| name | holds |\n|---|---|")
    out.extend(f"| `{name}` | {meaning} |" for name, meaning in BUILTIN_NAMES.items())
    out.append("")
    _table(DEFS["action"], "action", 3, out, set())
    return "\n".join(out).rstrip() + "\n"
