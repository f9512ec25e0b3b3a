"""`itsm init`: the files of a new client overlay, with commented examples of the common changes."""

from __future__ import annotations

import json
import re
from typing import Any

from itsm.interpreter.model import FieldSpec, PackSpec

PACK = """\
# Client overlay on {base_name}. Documents here are merged onto the base pack by kind and id: mappings
# key by key, lists of items with `id` item by item (new ids are appended), everything else replaces.
# `{{id: x, remove: true}}` deletes an item; `{{kind: k, id: x, remove: true}}` deletes a document.
# Check your changes with `itsm validate .` and `itsm test .`, review them with
# `itsm diff {extends} .`, and publish with `itsm publish .`.
kind: pack
id: {ident}
name: {title}
format: 1
extends: {extends}
{examples}"""

EXAMPLES = """
# === Common changes, ready to uncomment ==========================================================
#
# A new state with the transitions into and out of it, and a field required when resolving (the
# flags of a state apply to the form of the transition entering it):
# ---
# kind: process
# id: {process}
# states:
#   - {{id: awaiting_approval, label: Awaiting approval}}
#   - {{id: {last_state}, fields: {{{some_field}: {{required: true}}}}}}
# transitions:
#   - {{id: request_approval, from: {some_state}, to: awaiting_approval, roles: [{role}]}}
#   - {{id: approve, from: awaiting_approval, to: {some_state}, roles: [{role}]}}
{matrix}{calendar}{routing}"""

MATRIX = """#
# One cell of the priority matrix:
# ---
# kind: priority_matrix
# id: {matrix}
# matrix:
#   {cell}
"""

CALENDAR = """#
# A client holiday:
# ---
# kind: calendar
# id: {calendar}
# holidays:
#   - {{id: client_day, date: 2026-06-15, name: Client day}}
"""

ROUTING = """#
# A routing rule. New rules are appended after the base's rules unless they say `before: ID` or
# `after: ID`, and the default rule must stay last: put yours before it (or before any other rule).
# ---
# kind: routing
# id: {routing}
# rules:
#   - {{id: client_rule, before: {default}, when: "requester.vip", team: {team}}}
"""

SCENARIO = """\
# A first scenario: run it with `itsm test .` (see the base pack's scenarios for more).
kind: scenario
id: {ident}_smoke
description: A ticket can be created in the client's pack.
start: 2026-03-02T10:00:00+01:00
steps:
  - create:
      process: {process}
      fields: {fields}
    expect:
      state: {initial}
"""


def overlay_files(base: PackSpec, ident: str, extends: str) -> dict[str, str]:
    process = next(iter(base.processes.values()), None)
    examples = ""
    if process is not None:
        form = base.forms[process.form]
        non_final = [s.id for s in process.states if not s.final]
        resolving = next((s.id for s in process.states if "resolv" in s.id), non_final[-1])
        entering = [f for t in process.transitions if t.target == resolving for f in t.fields
                    if not process.state(resolving).fields.get(f, None)]
        text_fields = entering or [f.id for f in form.fields if f.type in ("string", "text")]
        values = {"process": process.id, "some_state": non_final[min(1, len(non_final) - 1)],
                  "last_state": resolving, "role": next(
                      (r for t in process.transitions for r in t.roles or () if r not in ("requester",)), "agent"),
                  "some_field": text_fields[-1] if text_fields else "notes"}
        matrix = base.matrices.get(process.priority_matrix or "")
        matrix_text = ""
        if matrix is not None and matrix.cells:
            key, level = next(iter(matrix.cells.items()))
            cell = level  # one level of nesting per input after the first
            for value in reversed(key[1:]):
                cell = f"{{{value}: {cell}}}"
            cell = f"{key[0]}: {cell}"
            matrix_text = MATRIX.format(matrix=matrix.id, cell=cell)
        calendar = next((c for c in base.calendars.values() if not c.always), None)
        routing = base.routings.get(process.routing or "")
        team = next(iter(base.teams), "service_desk")
        default_rule = next((r for r in routing.rules if r.default), None) if routing else None
        routing_text = (ROUTING.format(routing=routing.id, team=team, default=default_rule.id)
                        if routing and default_rule else "")
        examples = EXAMPLES.format(**values, matrix=matrix_text,
                                   calendar=CALENDAR.format(calendar=calendar.id) if calendar else "",
                                   routing=routing_text)
    files = {"pack.yaml": PACK.format(base_name=base.name, extends=extends, ident=ident,
                                      title=ident.replace("_", " ").title(), examples=examples)}
    if process is not None:
        form = base.forms[process.form]
        fields = {f.id: example_value(f) for f in form.fields if f.required and f.default is None}
        fields_text = "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in fields.items() if v is not None) + "}"
        files["scenarios/smoke.yaml"] = SCENARIO.format(ident=ident, process=process.id, fields=fields_text,
                                                        initial=process.initial)
    return files


# Texts tried, in order, against a field's `pattern` (codes such as room numbers, ticket numbers, phones).
PATTERN_CANDIDATES = ("Example", "example", "EXAMPLE", "A123", "AB1234", "ABC-123", "X", "1", "123", "123456",
                      "1234567", "INC0000001", "+49 30 1234567", "2026-03-02", "example@example.invalid",
                      "https://example.invalid", "a1", "a")


def example_value(spec: FieldSpec) -> Any:
    """A value the smoke scenario can send for a required field, whatever the base pack calls or types it
    (None: no value can be guessed, such as a user that may not exist)."""
    if spec.choices:
        first = spec.choices[0].value
        return [first] if spec.type == "multichoice" else first
    if spec.type in ("integer", "number", "rating"):
        low = spec.min if spec.min is not None else 1
        return int(low) if spec.type != "number" or float(low).is_integer() else low
    simple = {"boolean": True, "date": "2026-03-02", "datetime": "2026-03-02T10:00:00+01:00",
              "email": "example@example.invalid", "url": "https://example.invalid"}
    if spec.type in simple:
        return simple[spec.type]
    if spec.type not in ("string", "text"):
        return None
    text = "Example"
    if spec.pattern is not None:
        text = next((c for c in PATTERN_CANDIDATES if re.search(spec.pattern, c)), text)
    if spec.min_length is not None and len(text) < spec.min_length:
        text = text + "x" * (spec.min_length - len(text))
    return text[:spec.max_length] if spec.max_length else text
