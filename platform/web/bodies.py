"""Request bodies checked against the schemas the OpenAPI document declares (SPEC 10), before the view runs.

`openapi.py` is the one source: an endpoint's `requestBody` schema is what the server accepts, so the
document cannot drift from the code. Problems are told in the API's words (interpreter/violations.py):
the field, what was expected, what came. A value outside a declared list of choices is field validation
(422, like a choice field's value); any other mismatch is a malformed request (400).

A `multipart/form-data` body (an attachment) is checked against its declared properties the same way: an
unknown part or a missing one is a 400, a file where text is expected (or the other way round) too. Its files
are not read here: Werkzeug spools them to disk, and the view streams them into the attachments folder.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from flask import request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from itsm.engine import BadRequest, EngineError, ValidationFailed
from itsm.engine.errors import N_, field_problems
from itsm.engine.runtime.file_types import TooLarge, size_text
from itsm.interpreter.errors import format_path
from itsm.interpreter.validator import SubsetValidator
from itsm.interpreter.violations import JSON_WORDS, explain

from .extension import current_engine
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
            if body is not None and "application/json" in body["content"]:
                schema = body["content"]["application/json"]["schema"]
                declared[(path, method.upper())] = (SubsetValidator(schema), bool(body.get("required")))
    return declared


@cache
def declared_forms() -> dict[tuple[str, str], dict[str, Any]]:
    """(OpenAPI path, HTTP method) -> the schema of its multipart/form-data body (the endpoints taking files)."""
    return {(path, method.upper()): operation["requestBody"]["content"]["multipart/form-data"]["schema"]
            for path, operations in openapi_document()["paths"].items() for method, operation in operations.items()
            if "multipart/form-data" in (operation.get("requestBody") or {}).get("content", {})}


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
    form = declared_forms().get((openapi_path(rule.rule), request.method))
    if form is not None:
        return form_body(form)
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


_TRUE, _FALSE = ("true", "1", "on", "yes"), ("false", "0", "off", "no", "")


def form_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A multipart/form-data body checked against `schema` (its properties: files as `format: binary`
    strings, flags as booleans): {name: FileStorage or value}. 400 for anything else, 413 past the size limit
    (before the body is read when its length is known, else as soon as it has been read that far)."""
    if request.mimetype != "multipart/form-data":
        raise BadRequest(N_("the body must be multipart/form-data, with the file in the field 'file'"))
    try:
        files, form = request.files, request.form
    except RequestEntityTooLarge:
        limit = size_text(current_engine().uploads.max_bytes)
        raise TooLarge(N_("the request is larger than the limit of %(limit)s per file", limit=limit),
                       [{"field": "file", "message": N_("larger than %(limit)s", limit=limit)}]) from None
    properties: dict[str, Any] = schema["properties"]
    problems = [{"field": name, "message": N_("unknown key '%(key)s'", key=name)}
                for name in dict.fromkeys([*files, *form]) if name not in properties]
    values: dict[str, Any] = {}
    for name, declared in properties.items():
        binary = declared.get("format") == "binary"
        sent: list[Any] = [*files.getlist(name), *form.getlist(name)]
        if not sent:
            if name in schema.get("required", ()):
                problems.append({"field": name, "message": N_("is required")})
        elif len(sent) > 1:
            problems.append({"field": name, "message": N_("sent more than once")})
        elif binary != isinstance(sent[0], FileStorage):
            problems.append({"field": name, "message": N_("expected a file") if binary else N_("expected text")})
        elif binary:
            values[name] = sent[0]
        elif declared.get("type") == "boolean" and str(sent[0]).strip().lower() not in (*_TRUE, *_FALSE):
            problems.append({"field": name, "message": N_("expected true or false")})
        else:
            values[name] = str(sent[0]).strip().lower() in _TRUE if declared.get("type") == "boolean" else sent[0]
    if problems:
        raise BadRequest(field_problems(problems), problems)
    return values
