"""Field validation: types from the form's JSON Schema, then per-state flags and `*_when` rules."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itsm.interpreter.forms import form_json_schema
from itsm.interpreter.model import FieldFlags, FormSpec, StateSpec, per_spec
from itsm.interpreter.violations import JSON_WORDS, message

from ..errors import N_, ValidationFailed, field_problems

if TYPE_CHECKING:  # jsonschema is imported when a form's values are first checked (a twentieth of a second)
    from jsonschema import Draft202012Validator, FormatChecker

NO_FLAGS = FieldFlags()


@per_spec
def _field_validators(form: FormSpec) -> dict[str, Draft202012Validator]:
    from jsonschema import Draft202012Validator

    schema = form_json_schema(form)
    checker = _format_checker()
    return {name: Draft202012Validator(sub, format_checker=checker) for name, sub in schema["properties"].items()}


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")


def _format_checker() -> FormatChecker:
    """jsonschema checks `uri` and `date-time` only when optional packages are installed; without them
    any text passed as a url or datetime field. Ours: a scheme and no spaces; ISO 8601 with an offset."""
    from jsonschema import FormatChecker

    checker = FormatChecker()
    checker.checks("uri")(lambda value: not isinstance(value, str) or _URL.fullmatch(value) is not None)
    checker.checks("date-time", raises=ValueError)(
        lambda value: not isinstance(value, str) or datetime.fromisoformat(value).tzinfo is not None)
    return checker


def check_values(form: FormSpec, values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Type and constraint problems of submitted values; null clears a field and is always well-typed."""
    problems = []
    validators = _field_validators(form)
    for name, value in values.items():
        validator = validators.get(name)
        if validator is None:
            problems.append({"field": name, "message": N_("unknown field '%(field)s' of form '%(form)s'", field=name,
                                                            form=form.id)})
        elif value is not None:
            for error in validator.iter_errors(value):
                problems.append({"field": name, "message": message(error, JSON_WORDS)})
                break
    return problems


def as_stored(form: FormSpec, name: str, value: Any) -> Any:
    """A checked value as the ticket keeps it: JSON Schema takes 3.0 as an integer, the ticket shows 3."""
    if isinstance(value, float) and value.is_integer() and form.field(name).type in ("integer", "rating"):
        return int(value)
    return value


def flags(state: StateSpec, field_id: str) -> FieldFlags:
    return state.fields.get(field_id, NO_FLAGS)


def check_state_rules(form: FormSpec, state: StateSpec, values: Mapping[str, Any], context: Mapping[str, Any],
                      changed: set[str]) -> list[dict[str, str]]:
    """Problems with the ticket's values in `state`: required fields missing, read-only or hidden ones changed."""
    problems = []
    for spec in form.fields:
        flag = flags(state, spec.id)
        missing = values.get(spec.id) in (None, "", [])
        required = spec.required or flag.required or (spec.required_when is not None
                                                      and spec.required_when.test(context))
        if required and missing:
            problems.append({"field": spec.id, "message": N_("%(field)s is required", field=spec.label)})
        if spec.id in changed:
            if flag.hidden or (spec.visible_when is not None and not spec.visible_when.test(context)):
                problems.append({"field": spec.id, "message": N_("%(field)s cannot be set here (hidden)",
                                                                    field=spec.label)})
            elif flag.readonly or (spec.readonly_when is not None and spec.readonly_when.test(context)):
                problems.append({"field": spec.id, "message": N_("%(field)s is read-only here", field=spec.label)})
    return problems


def raise_if(problems: list[dict[str, str]]) -> None:
    if problems:
        raise ValidationFailed(field_problems(problems), problems)

