"""Generated forms: which fields a create or transition form shows, and how, for one actor and one ticket.

The fields and flags come from the same rules the engine enforces when the form is submitted (`fields.py`):
`offered_fields` (every field the target state requires is offered), the target state's `fields:` flags,
then the form's `required_when` / `visible_when` / `readonly_when` evaluated with `event` = the transition
(or `create`) and `state` = the target state. The web layer renders them and asks again (`Engine.form`)
when the person changes a value, so the browser never evaluates YAML expressions itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsm.interpreter import model as m

from ..errors import N_, Conflict, Forbidden, NotFound
from .access import is_agent, may_fire, view
from .actors import fills_agent_fields
from .fields import check_values, filling, flags, offered_fields
from .work import Work


@dataclass(frozen=True)
class FieldState:
    spec: m.FieldSpec
    value: Any
    visible: bool
    required: bool
    readonly: bool

    def to_dict(self) -> dict[str, Any]:
        return {"visible": self.visible, "required": self.required, "readonly": self.readonly}


@dataclass(frozen=True)
class Form:
    """A form as one actor sees it now: `fields` in the form's order; `primary` are the ids shown first."""

    process: m.ProcessSpec
    transition: m.TransitionSpec | None
    fields: tuple[FieldState, ...]
    primary: frozenset[str]
    ticket: dict[str, Any] | None = None  # the ticket's API view, for a transition form

    def states(self) -> dict[str, dict[str, Any]]:
        return {state.spec.id: state.to_dict() for state in self.fields}


def field_states(form: m.FormSpec, state: m.StateSpec, field_ids: tuple[str, ...], values: Mapping[str, Any],
                 context: Mapping[str, Any], unlocked: frozenset[str] = frozenset()) -> tuple[FieldState, ...]:
    """`unlocked`: fields the state requires that the ticket lacks, shown and writable whatever hides them."""
    result = []
    for field_id in field_ids:
        spec = form.by_id[field_id]
        flag = flags(state, field_id)
        opened = field_id in unlocked
        visible = opened or (not flag.hidden and (spec.visible_when is None or spec.visible_when.test(context)))
        readonly = not opened and (flag.readonly or (spec.readonly_when is not None
                                                     and spec.readonly_when.test(context)))
        required = spec.required or flag.required or (spec.required_when is not None
                                                      and spec.required_when.test(context))
        result.append(FieldState(spec, values.get(field_id), visible, required and visible and not readonly,
                                 readonly))
    return tuple(result)


def create_form(work: Work, values: Mapping[str, Any]) -> Form:
    """The form for a new ticket (`work`: its draft): the fields that may be filled in at creation, those a
    rule may show as values are typed (rendered hidden until then), and read-only ones with a value (shown
    as text).

    Fields that some transition asks for later (classification, resolution, ...) are not `primary`: the
    page shows them under "More details" instead of in the way of the person reporting.
    """
    process, form = work.process, work.form
    initial = process.state(process.initial)
    work.fields.update(_well_typed(form, values))
    work.recompute_priority()
    states = field_states(form, initial, tuple(f.id for f in form.fields), work.fields, work.context())
    hidden_here = {field_id for field_id, flag in initial.fields.items() if flag.hidden}
    agent = fills_agent_fields(work.actor, process, work.pack)
    shown = tuple(s for s in states if s.spec.id not in hidden_here and (agent or not s.spec.for_agents)
                  and (s.visible or s.spec.visible_when is not None)  # may appear as values are typed
                  and (not s.readonly or s.value is not None))  # read-only with a value: shown as text
    later = {field_id for t in process.transitions for field_id in t.fields}
    primary = frozenset(s.spec.id for s in shown if s.required or s.spec.id not in later)
    return Form(process, None, shown, primary)


def transition_form(work: Work, transition_id: str, values: Mapping[str, Any], now: datetime) -> Form:
    """The form of one transition of the ticket `work` holds, if this actor may fire it now."""
    process = work.process
    transition = process.transition_by_id.get(transition_id)
    if transition is None:
        raise NotFound(N_("process '%(process)s' has no transition '%(transition)s'", process=process.id,
                          transition=transition_id))
    if not may_fire(work, transition) or (transition.timed and transition.roles is None):
        raise Forbidden(N_("you may not '%(transition)s' this ticket", transition=transition.label))
    if work.ticket.state not in transition.sources:
        raise Conflict(N_("'%(transition)s' is not possible in state '%(state)s'", transition=transition.label,
                          state=work.ticket.state))
    shown = view(work, now)
    if transition.id not in shown["transitions"]:
        condition = transition.guard.source if transition.guard is not None else ""
        raise Conflict(N_("'%(transition)s' is not possible now: '%(condition)s' is false", transition=transition.label,
                          condition=condition) if condition else
                       N_("'%(transition)s' is not possible now", transition=transition.label))
    work.event = transition.id
    target = process.state(transition.target)
    stored = dict(work.fields)
    before = work.context(state=target.id)
    typed = _well_typed(work.form, values)
    work.fields.update(typed)
    after = work.context(state=target.id)
    offered = offered_fields(work.form, transition, target, stored, (before, after))
    work.fields = {**stored, **{k: v for k, v in typed.items() if k in offered}}
    after = work.context(state=target.id)
    states = field_states(work.form, target, offered, work.fields, after, filling(work.form, target, stored, after))
    if not is_agent(work):  # a requester's form: only what requesters fill in (`audience`)
        states = tuple(s for s in states if not s.spec.for_agents)
    return Form(process, transition, states, frozenset(s.spec.id for s in states), shown)


def _well_typed(form: m.FormSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only values the form accepts take part in evaluating the rules (a half-typed number is ignored)."""
    return {name: value for name, value in values.items()
            if name in form.by_id and not check_values(form, {name: value})}
