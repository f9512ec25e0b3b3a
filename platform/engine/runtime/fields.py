"""Field validation: types from the form's JSON Schema, then per-state flags and `*_when` rules."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itsm.interpreter.forms import form_json_schema
from itsm.interpreter.model import FieldFlags, FieldSpec, FormSpec, StateSpec, TransitionSpec, per_spec
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


def agent_only_problems(form: FormSpec, values: Mapping[str, Any]) -> list[dict[str, str]]:
    """Values a requester sent for fields with `audience: agent` (docs/decisions.md, "Fields only agents fill
    in"): refused by name rather than dropped, so a tool learns at once that it sent something nobody reads."""
    return [{"field": name, "message": N_("%(field)s is filled in by the service desk, not by requesters",
                                         field=form.by_id[name].label)}
            for name in values if name in form.by_id and form.by_id[name].for_agents]


def as_stored(form: FormSpec, name: str, value: Any) -> Any:
    """A checked value as the ticket keeps it: JSON Schema takes 3.0 as an integer, the ticket shows 3."""
    if isinstance(value, float) and value.is_integer() and form.field(name).type in ("integer", "rating"):
        return int(value)
    return value


def flags(state: StateSpec, field_id: str) -> FieldFlags:
    return state.fields.get(field_id, NO_FLAGS)


def is_empty(value: Any) -> bool:
    return value in (None, "", [])


def is_required(spec: FieldSpec, state: StateSpec, context: Mapping[str, Any]) -> bool:
    """Whether `state` requires the field for the event in `context` (the form, the state's flag, the rule)."""
    return spec.required or flags(state, spec.id).required or (spec.required_when is not None
                                                               and spec.required_when.test(context))


def offered_fields(form: FormSpec, transition: TransitionSpec, target: StateSpec, stored: Mapping[str, Any],
                   contexts: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """A transition's form (SPEC 4): its compiled `fields` (those written, then those the target state flags
    required), every field whose `required_when` is true for this event (in any of `contexts`: the ticket as
    stored, and as the submitted values make it), and every field the target requires that the ticket lacks
    (a field made required after tickets were opened). So no rule can ask for a field nobody may give."""
    offered = list(transition.fields)
    for spec in form.fields:
        if spec.id in offered:
            continue
        when = spec.required_when is not None and any(spec.required_when.test(c) for c in contexts)
        lacking = (spec.required or flags(target, spec.id).required) and is_empty(stored.get(spec.id))
        if when or lacking:
            offered.append(spec.id)
    return tuple(offered)


def filling(form: FormSpec, state: StateSpec, stored: Mapping[str, Any], context: Mapping[str, Any]) -> frozenset[str]:
    """The fields `state` requires that the ticket lacks: offered and writable here whatever a `hidden` or
    `readonly` rule says, since a required field nobody may fill in would make the change impossible."""
    return frozenset(spec.id for spec in form.fields
                     if is_empty(stored.get(spec.id)) and is_required(spec, state, context))


def check_state_rules(form: FormSpec, state: StateSpec, values: Mapping[str, Any], context: Mapping[str, Any],
                      changed: set[str], unlocked: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """Problems with the ticket's values in `state`: required fields missing, read-only or hidden ones changed
    (except those `unlocked`: required here and empty before, see `filling`)."""
    problems = []
    for spec in form.fields:
        flag = flags(state, spec.id)
        missing = is_empty(values.get(spec.id))
        if missing and is_required(spec, state, context):
            problems.append({"field": spec.id, "message": N_("%(field)s is required", field=spec.label)})
        if spec.id in changed and spec.id not in unlocked:
            if flag.hidden or (spec.visible_when is not None and not spec.visible_when.test(context)):
                problems.append({"field": spec.id, "message": N_("%(field)s cannot be set here (hidden)",
                                                                    field=spec.label)})
            elif flag.readonly or (spec.readonly_when is not None and spec.readonly_when.test(context)):
                problems.append({"field": spec.id, "message": N_("%(field)s is read-only here", field=spec.label)})
    return problems


def raise_if(problems: list[dict[str, str]]) -> None:
    if problems:
        raise ValidationFailed(field_problems(problems), problems)

