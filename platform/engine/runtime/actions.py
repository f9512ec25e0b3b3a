"""Running actions (SPEC 4): set, assign, escalate, notify, comment, create, plugin.

Actions work on the operation's working copy of the ticket and add rows to the same session, so a failing
action aborts the whole transaction: no state change, no event, no outbox row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from itsm.interpreter import model as m
from itsm.interpreter.templates import BODY_CUT, MAX_BODY, MAX_OUTPUT, MAX_SUBJECT, SUBJECT_CUT, is_template, renderer
from itsm.store import outage

from ..boundary import boundary
from ..errors import ActionFailed, EngineError

if TYPE_CHECKING:
    from .core import Operation


def render(text: str, context: Mapping[str, Any], where: str, limit: int = MAX_OUTPUT,
           marker: str | None = None) -> str:
    """A template rendered within its bounds (interpreter/template_limits.py); one that fails or goes over
    them fails the action, and with it the operation (409, nothing written)."""
    if not is_template(text):
        return text
    with boundary(where):  # a failing template fails its action (409), naming its place in the pack
        return renderer(text)(context, limit, marker)


@dataclass
class PluginContext:
    """What a plugin action may touch: the ticket's fields (through set_field), comments, and read-only facts."""

    op: Operation
    args: Mapping[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def fields(self) -> Mapping[str, Any]:
        return dict(self.op.fields)

    @property
    def ticket_number(self) -> str:
        return self.op.ticket.number

    def set_field(self, name: str, value: Any) -> None:
        self.op.set_field(name, value, source="plugin")

    def comment(self, text: str) -> None:
        self.op.add_comment(text, internal=True)


def run_actions(op: Operation, actions: tuple[m.Action, ...]) -> None:
    for action in actions:
        try:
            _run(op, action)
        except EngineError:
            raise
        except Exception as exc:  # a plugin or template bug: abort the operation with the reason
            if outage(exc):
                raise  # the database went away: not the action's fault (a 503, or the worker's backoff)
            raise ActionFailed(f"action at {getattr(action, 'where', '?')} failed: {exc}") from exc


def _run(op: Operation, action: m.Action) -> None:
    pack = op.pack
    if isinstance(action, m.SetAction):
        for name, value in action.values.items():
            if isinstance(value, str):
                value = render(value, op.template_context(), action.where)
                spec = op.form.by_id[name]
                value = coerce_rendered(spec, value)
            op.set_field(name, value, source="action")
    elif isinstance(action, m.AssignAction):
        if action.route:
            op.route()
        else:
            _assign(op, action)
    elif isinstance(action, m.EscalateAction):
        current = pack.teams.get(op.ticket.team or "")
        if current is None or current.escalates_to is None:
            op.note_event("escalation", {"result": "no next tier", "team": op.ticket.team})
        else:
            routing = pack.routings.get(op.process.routing or "")
            user = op.pick_member(routing, current.escalates_to)[0] if routing is not None else None
            op.assign(current.escalates_to, user, reason="escalation")
    elif isinstance(action, m.NotifyAction):
        _outbox(op, pack.notifications[action.notification], op.template_context(), action.where)
    elif isinstance(action, m.CommentAction):
        op.add_comment(render(action.text, op.template_context(), action.where), internal=False)
    elif isinstance(action, m.CreateAction):
        values = {k: render(v, op.template_context(), action.where) if isinstance(v, str) else v
                  for k, v in action.fields.items()}
        op.create_linked(action.process, values, action.link)
    elif isinstance(action, m.PluginAction):
        plugin_action: Callable[..., Any] | None = op.engine.plugin_actions(pack).get(action.name)
        if plugin_action is None:
            raise ActionFailed(f"plugin action '{action.name}' is not installed")
        plugin_action(PluginContext(op, action.args), dict(action.args))


def _assign(op: Operation, action: m.AssignAction) -> None:
    """`assign: {team, user}`; templated values come from the ticket (a field of type user, `actor.name`)."""
    team, user = action.team, action.user
    if is_template(team):
        team = render(team, op.template_context(), action.where).strip() or None
        if team is not None and team not in op.pack.teams:
            raise ActionFailed(f"assign at {action.where}: no team '{team}'")
    if is_template(user):
        user = render(user, op.template_context(), action.where).strip() or None
        if user == "system":  # the built-in actor (worker, intake, scenarios) never holds a ticket
            user = op.ticket.assignee
        elif user is not None and not op.user_exists(user):
            raise ActionFailed(f"assign at {action.where}: no user named '{user}'")
    op.assign(team if team is not None else op.ticket.team, user, reason="action")


def _outbox(op: Operation, notification: m.NotificationSpec, context: Mapping[str, Any], where: str) -> None:
    """An outbox row (column values): written with the operation's other rows when it finishes. Rendered here,
    in the transaction, so the message says what the change did (docs/decisions.md, "Bounded templates");
    a subject over 1 KiB or a body over 64 KiB is cut and says so."""
    op.pending_outbox.append({
        "created_at": op.now, "notification": notification.id, "channel": notification.channel,
        "recipients": op.recipients(notification.to),
        "subject": render(notification.subject, context, where, MAX_SUBJECT, SUBJECT_CUT),
        "body": render(notification.body, context, where, MAX_BODY, BODY_CUT), "url": notification.url,
        "status": "pending",
        "attempts": 0, "next_attempt_at": op.now, "sent_at": None, "last_error": None})


def coerce_rendered(spec: m.FieldSpec, value: str) -> Any:
    """A rendered template is text; fields holding numbers or booleans get the value they mean."""
    if value == "" and spec.type not in ("string", "text"):
        return None
    try:
        if spec.type in ("integer", "rating"):
            return int(value)
        if spec.type == "number":
            return float(value)
    except ValueError as exc:
        raise ActionFailed(f"'{value}' is not a number for field '{spec.id}'") from exc
    if spec.type == "boolean":
        return value.strip().lower() in ("true", "1", "yes")
    return value

