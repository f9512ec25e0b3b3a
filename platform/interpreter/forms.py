"""Forms: fields, their types and constraints, and the JSON Schema the API validates input with."""

from __future__ import annotations

import dataclasses
import importlib
import re
from typing import Any

from . import model as m
from .context import RESERVED_NAMES, Compilation, Doc, value_problem
from .errors import did_you_mean
from .expressions import Scope
from .texts import text_of

CONDITIONS = ("visible_when", "required_when", "readonly_when")
_NUMERIC = ("integer", "number", "rating")
_TEXT = ("string", "text", "email", "url", "user", "group")


def compile_form(doc: Doc, comp: Compilation) -> m.FormSpec:
    """The form without its `*_when` conditions, which need the scope of the processes using it."""
    fields: list[m.FieldSpec] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(doc.data["fields"]):
        path = ("fields", index)
        field_id = raw["id"]
        if field_id in seen:
            doc.error((*path, "id"), f"duplicate field id '{field_id}' (first at line "
                                     f"{doc.pos(('fields', seen[field_id], 'id')).line})")
            continue
        seen[field_id] = index
        if field_id in RESERVED_NAMES:
            doc.error((*path, "id"), f"'{field_id}' is a reserved name in expressions: choose another field id")
            continue
        fields.append(_compile_field(doc, comp, path, raw))
    by_id = {f.id: f for f in fields}
    return m.FormSpec(doc.id, comp.text(doc, ("title",), doc.id.replace("_", " ").capitalize()),
                      comp.text(doc, ("description",)), tuple(fields), m.frozen_map(by_id))


def _compile_field(doc: Doc, comp: Compilation, path: tuple[str | int, ...], raw: dict[str, Any]) -> m.FieldSpec:
    kind = raw["type"]
    choices: list[m.Choice] = []
    for i, choice in enumerate(raw.get("choices", [])):
        value = choice if isinstance(choice, str) else choice["value"]
        if value in [c.value for c in choices]:
            doc.error((*path, "choices", i), f"duplicate choice '{value}'")
            continue
        label = comp.text(doc, (*path, "choices", i, "label")) if isinstance(choice, dict) else None
        choices.append(m.Choice(value, label or m.Text.plain(value.replace("_", " ").capitalize(), comp.language)))
    if kind in ("choice", "multichoice") and not choices:
        doc.error((*path, "type"), f"a {kind} field needs choices")
    if choices and kind not in ("choice", "multichoice"):
        doc.error((*path, "choices"), f"choices belong to choice and multichoice fields, not {kind}", key=True)
    for bound in ("min", "max"):
        if bound in raw and kind not in _NUMERIC:
            doc.error((*path, bound), f"{bound} applies to integer, number and rating fields, not {kind}", key=True)
    for bound in ("min_length", "max_length", "pattern"):
        if bound in raw and kind not in _TEXT:
            doc.error((*path, bound), f"{bound} applies to text fields, not {kind}", key=True)
    low, high = raw.get("min"), raw.get("max")
    if kind == "rating":
        low, high = (1 if low is None else low), (5 if high is None else high)
    if low is not None and high is not None and low > high:
        doc.error((*path, "min"), f"min {low:g} is greater than max {high:g}")
    if raw.get("min_length") is not None and raw.get("max_length") is not None \
            and raw["min_length"] > raw["max_length"]:
        doc.error((*path, "min_length"), "min_length is greater than max_length")
    if "pattern" in raw:
        try:
            re.compile(raw["pattern"])
            if backtracks_exponentially(raw["pattern"]):
                doc.error((*path, "pattern"), "this pattern can take exponential time on some texts (a "
                          "repetition inside a repetition, as in (a+)+): a requester could stall the server; "
                          "repeat with a separator that must match, e.g. ^\\w+( \\w+)*$ in place of ^(\\w+ ?)+$")
        except re.error as exc:
            doc.error((*path, "pattern"), f"invalid regular expression: {exc}")
    spec = m.FieldSpec(
        id=raw["id"], type=kind, label=comp.text(doc, (*path, "label"), raw["id"].replace("_", " ").capitalize()),
        help=comp.text(doc, (*path, "help")), required=raw.get("required", False), default=raw.get("default"),
        min=low, max=high, min_length=raw.get("min_length"), max_length=raw.get("max_length"),
        pattern=raw.get("pattern"), choices=tuple(choices), audience=raw.get("audience", "everyone"))
    if spec.for_agents and spec.required:
        doc.error((*path, "required"), "a field only agents fill in cannot always be required: a requester could "
                  "not report; require it in the states that need it (`states[].fields`) or with `required_when`")
    if spec.default is not None:
        problem = value_problem(spec, spec.default)
        if problem:
            doc.error((*path, "default"), problem)
    return spec


def attach_conditions(doc: Doc, comp: Compilation, form: m.FormSpec, scope: Scope) -> m.FormSpec:
    """Compile the fields' `*_when` expressions in the scope of the processes that use the form."""
    index_of = {raw["id"]: i for i, raw in enumerate(doc.data["fields"])}
    fields = []
    for spec in form.fields:
        i = index_of[spec.id]
        raw = doc.data["fields"][i]
        conditions: dict[str, Any] = {c: comp.expression(doc, ("fields", i, c), scope)
                                      for c in CONDITIONS if c in raw}
        fields.append(dataclasses.replace(spec, **conditions) if conditions else spec)
    return dataclasses.replace(form, fields=tuple(fields), by_id=m.frozen_map({f.id: f for f in fields}))


def check_field_list(doc: Doc, path: tuple[str | int, ...], form: m.FormSpec, field_ids: list[str]) -> None:
    for i, field_id in enumerate(field_ids):
        if field_id not in form.by_id:
            doc.error((*path, i), f"unknown field '{field_id}' of form '{form.id}'"
                                  f"{did_you_mean(field_id, form.by_id)}")


def backtracks_exponentially(pattern: str) -> bool:
    """A repetition whose body holds another open-ended repetition and nothing else it must match each time,
    as in `(a+)+`, `(\\w+\\s?)+` or `([a-z]{2,4})+`: Python's regex engine can try exponentially many ways to split
    a near-miss such as 'aaaa...!' (catastrophic backtracking). `([a-z]+\\.)+` passes: each round must match a
    dot. A heuristic over the parsed pattern (Python's own parser); it never refuses a pattern without
    nested repetition."""
    try:  # Python's own (private) regex parser: the check sees the pattern exactly as `re` does
        c, _parser = importlib.import_module("re._constants"), importlib.import_module("re._parser")
    except ImportError:  # pragma: no cover - another Python's layout: no check
        return False
    repeats = {c.MAX_REPEAT, c.MIN_REPEAT}

    def items(seq: Any) -> list[tuple[Any, Any]]:
        return list(seq.data if hasattr(seq, "data") else seq)

    def open_repeat_inside(seq: Any) -> bool:  # a repetition of varying length: a+, a*, a?, a{2,4}
        for op, arg in items(seq):
            if op in repeats and (arg[0] != arg[1] or open_repeat_inside(arg[2])):
                return True
            if op == c.SUBPATTERN and open_repeat_inside(arg[3]):
                return True
            if op == c.BRANCH and any(open_repeat_inside(branch) for branch in arg[1]):
                return True
        return False

    def must_match_each_round(seq: Any) -> bool:
        for op, arg in items(seq):
            if op in (c.LITERAL, c.NOT_LITERAL, c.IN, c.ANY):
                return True
            if op == c.SUBPATTERN and must_match_each_round(arg[3]):
                return True
            if op == c.BRANCH and all(must_match_each_round(branch) for branch in arg[1]):
                return True
        return False

    def walk(seq: Any) -> bool:
        for op, arg in items(seq):
            if op in repeats:
                if arg[1] == c.MAXREPEAT and open_repeat_inside(arg[2]) and not must_match_each_round(arg[2]):
                    return True
                if walk(arg[2]):
                    return True
            elif op == c.SUBPATTERN and walk(arg[3]):
                return True
            elif op == c.BRANCH and any(walk(branch) for branch in arg[1]):
                return True
        return False

    try:
        return walk(_parser.parse(pattern))
    except Exception:  # noqa: BLE001 - a check, never a crash of the loader
        return False


def form_json_schema(form: m.FormSpec, language: str | None = None) -> dict[str, Any]:
    """The JSON Schema of a form's values (SPEC 4: served at /api/forms/ID/schema, used by the API), with
    titles and descriptions in `language` (None: the pack's)."""
    properties: dict[str, Any] = {}
    for spec in form.fields:
        properties[spec.id] = _field_schema(spec, language)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": text_of(form.title, language),
        "type": "object",
        "properties": properties,
        "required": [f.id for f in form.fields if f.required],
        "additionalProperties": False,
    }


def _field_schema(spec: m.FieldSpec, language: str | None) -> dict[str, Any]:
    schema: dict[str, Any] = {"title": text_of(spec.label, language)}
    if spec.help:
        schema["description"] = text_of(spec.help, language)
    kind = spec.type
    if kind in ("choice",):
        schema["enum"] = list(spec.choice_values)
    elif kind == "multichoice":
        schema.update(type="array", items={"enum": list(spec.choice_values)}, uniqueItems=True)
    elif kind in _NUMERIC:
        schema["type"] = "number" if kind == "number" else "integer"
    elif kind == "boolean":
        schema["type"] = "boolean"
    else:
        schema["type"] = "string"
        fmt = {"date": "date", "datetime": "date-time", "email": "email", "url": "uri"}.get(kind)
        if fmt:
            schema["format"] = fmt
    if spec.min is not None:
        schema["minimum"] = spec.min
    if spec.max is not None:
        schema["maximum"] = spec.max
    if spec.min_length is not None:
        schema["minLength"] = spec.min_length
    if spec.max_length is not None:
        schema["maxLength"] = spec.max_length
    if spec.pattern is not None:
        schema["pattern"] = spec.pattern
    if spec.default is not None:
        schema["default"] = spec.default
    if spec.for_agents:  # an annotation for tools: a requester sending it gets a 422 (docs/decisions.md)
        schema["x-audience"] = spec.audience
    return schema
