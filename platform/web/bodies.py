"""Request bodies checked against the schemas the OpenAPI document declares (SPEC 10), before the view runs.

`openapi.py` is the one source: an endpoint's `requestBody` schema is what the server accepts, so the
document cannot drift from the code. Problems are told in the API's words (interpreter/violations.py):
the field, what was expected, what came. A value outside a declared list of choices is field validation
(422, like a choice field's value); any other mismatch is a malformed request (400).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from flask import request

from itsm.engine import BadRequest, EngineError, ValidationFailed
from itsm.engine.errors import N_, field_problems
from itsm.interpreter.errors import format_path
from itsm.interpreter.validator import SubsetValidator
from itsm.interpreter.violations import JSON_WORDS, explain

from .openapi import openapi_document

_PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")


@cache
def openapi_path(rule: str) -> str:
    """A Flask rule as the OpenAPI document writes its path: /api/tickets/<number> -> /api/tickets/{number}."""
    return _PARAMETER.sub(r"{\1}", rule)


@cache
def declared_bodies() -> dict[tuple[str, str], tuple[SubsetValidator, bool]]:
    """(OpenAPI path, HTTP method) -> (a validator of its JSON body, whether a body is required)."""
    declared: dict[tuple[str, str], tuple[SubsetValidator, bool]] = {}
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is not None:
                schema = body["content"]["application/json"]["schema"]
                declared[(path, method.upper())] = (SubsetValidator(schema), bool(body.get("required")))
    return declared


def body_problems(validator: SubsetValidator, data: Any) -> list[dict[str, str]]:
    """What is wrong with `data`, as `{"field": ..., "message": ...}` in the API's words."""
    found = []
    for violation in validator.iter_errors(data):
        for problem in explain(violation, JSON_WORDS):
            # a missing key is said in the reader's language; other problems in the validator's English words
            said = N_("is required") if problem.failure.validator == "required" else problem.message
            found.append({"field": format_path(problem.path), "message": said, "keyword": violation.validator})
    return found


def refusal(problems: list[dict[str, str]]) -> EngineError:
    """One error for every problem of a body: 422 when each is a value outside its choices, else 400."""
    details = [{"field": p["field"], "message": p["message"]} for p in problems]
    message = field_problems(details)
    if all(p["keyword"] == "enum" for p in problems):
        return ValidationFailed(message, details)
    return BadRequest(message, details)


def declared_body(parse: Any) -> dict[str, Any] | None:
    """The request's body checked against its endpoint's declared schema; None when the endpoint declares
    none. `parse` reads the JSON object (400 for anything else); an optional body may be left out: {}."""
    rule = request.url_rule
    if rule is None:
        return None
    declared = declared_bodies().get((openapi_path(rule.rule), request.method))
    if declared is None:
        return None
    validator, required = declared
    if not required and not request.get_data(cache=True):  # an empty body is no body
        return {}
    data: dict[str, Any] = parse()
    problems = body_problems(validator, data)
    if problems:
        raise refusal(problems)
    return data
