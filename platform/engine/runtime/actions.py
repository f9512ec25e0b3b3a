"""Running actions (SPEC 4): set, assign, escalate, notify, comment, create, plugin.

Actions work on the core's working copy of the ticket (`Work`): a failing action aborts the whole change
(no plan, so no state change, no event, no outbox row). What needs I/O is an effect in the plan: a `create`
action asks for a linked ticket, round-robin asks to move a cursor. To add an action: a model class in
`itsm.interpreter.model`, its YAML in the interpreter's loader, and a branch in `_run` below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateError

from itsm.interpreter import model as m
from itsm.interpreter.templates import MAX_BODY, MAX_OUTPUT, MAX_SUBJECT, is_template, renderer

from ..errors import N_, ActionFailed, EngineError
from .wording import say, spoken
from .work import Work


def render(text: str, context: Mapping[str, Any], where: str, limit: int = MAX_OUTPUT,
           marker: str | None = None) -> str:
    """A template rendered within its bounds (interpreter/template_limits.py); one that fails or goes over
    them fails the action, and with it the operation (409, nothing written)."""
    if not is_template(text):
        return text
    try:
        return renderer(text)(context, limit, marker)
    except TemplateError as exc:  # every render failure (interpreter.templates): the action fails, 409
        raise ActionFailed(N_("template at %(where)s failed: %(error)s", where=where, error=str(exc))) from exc


@dataclass
class PluginContext:
    """What a plugin action may touch: the ticket's fields (through set_field), comments, and read-only facts."""

    op: Work
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


def run_actions(work: Work, actions: tuple[m.Action, ...]) -> None:
    """Run `actions` in order; one whose `when:` is false (on the ticket as the actions before left it) is
    skipped (SPEC 4)."""
    for action in actions:
        if action.when is not None and not action.when.test(work.context()):
            continue
        try:
            _run(work, action)
        except EngineError:
            raise
        except Exception as exc:  # a plugin or template bug: abort the change with the reason
            raise ActionFailed(N_("action at %(where)s failed: %(error)s", where=getattr(action, "where", "?"),
                                   error=str(exc))) from exc


def _run(work: Work, action: m.Action) -> None:
    pack = work.pack
    if isinstance(action, m.SetAction):
        for name, value in action.values.items():
            if isinstance(value, str):
                value = render(value, work.template_context(), action.where)
                spec = work.form.by_id[name]
                value = coerce_rendered(spec, value)
            work.set_field(name, value, source="action")
    elif isinstance(action, m.AssignAction):
        if action.route:
            work.route()
        else:
            _assign(work, action)
    elif isinstance(action, m.EscalateAction):
        target, skipped = next_tier(work)
        if target is None:
            work.note_event("escalation", {"result": "no next tier", "team": work.ticket.team,
                                           **({"skipped": skipped} if skipped else {})})
        else:
            routing = pack.routings.get(work.process.routing or "")
            user = work.pick_member(routing, target)[0] if routing is not None else None
            work.assign(target, user, reason="escalation")
            if skipped and work.notes and work.notes[-1][0] == "routing":
                work.notes[-1][1]["skipped"] = skipped
    elif isinstance(action, m.NotifyAction):
        _outbox(work, pack.notifications[action.notification], action.where)
    elif isinstance(action, m.CommentAction):
        work.add_comment(render(action.text, work.template_context(), action.where), internal=False)
    elif isinstance(action, m.CreateAction):
        values = {k: render(v, work.template_context(), action.where) if isinstance(v, str) else v
                  for k, v in action.fields.items()}
        work.create_linked(action.process, values, action.link)
    elif isinstance(action, m.CascadeAction):
        context = work.template_context()
        values = {k: render(v, context, action.where) if isinstance(v, str) else v for k, v in action.fields.items()}
        comment = render(action.comment, context, action.where) if action.comment else None
        work.cascade(action.transition, values, comment)
    elif isinstance(action, m.PluginAction):
        plugin_action: Callable[..., Any] | None = work.plugins.get(action.name)
        if plugin_action is None:
            raise ActionFailed(N_("plugin action '%(name)s' is not installed", name=action.name))
        plugin_action(PluginContext(work, action.args), dict(action.args))


def next_tier(work: Work) -> tuple[str | None, list[str]]:
    """The team `escalate: next_tier` hands the ticket to: the first team up the current team's `escalates_to`
    chain that serves the ticket's organization (SPEC 14: a scoped tier that does not is passed over), and
    the tiers passed over. (None, ...): no such team; the ticket stays."""
    skipped: list[str] = []
    current = work.pack.teams.get(work.ticket.team or "")
    seen = {current.id} if current is not None else set()
    while current is not None and current.escalates_to is not None and current.escalates_to not in seen:
        target = current.escalates_to
        if work.serves(target):
            return target, skipped
        skipped.append(target)
        seen.add(target)
        current = work.pack.teams.get(target)
    return None, skipped


def _assign(work: Work, action: m.AssignAction) -> None:
    """`assign: {team, user}`; templated values come from the ticket (a field of type user, `actor.name`)."""
    team, user = action.team, action.user
    if is_template(team):
        team = render(team, work.template_context(), action.where).strip() or None
        if team is not None and team not in work.pack.teams:
            raise ActionFailed(N_("assign at %(where)s: no team '%(team)s'", where=action.where, team=team))
    if is_template(user):
        user = render(user, work.template_context(), action.where).strip() or None
        if user == "system":  # the built-in actor (worker, intake, scenarios) never holds a ticket
            user = work.ticket.assignee
        elif user is not None and not work.lookups.user_exists(user):
            raise ActionFailed(N_("assign at %(where)s: no user named '%(user)s'", where=action.where, user=user))
    if team is not None and team != work.ticket.team and not work.serves(team):
        scope = work.pack.teams[team].org_scope
        if work.ticket.org is None:
            raise ActionFailed(N_("assign at %(where)s: team '%(team)s' serves only organization '%(scope)s' and "
                                  "the organizations under it; this ticket has no organization",
                                  where=action.where, team=team, scope=scope))
        raise ActionFailed(N_("assign at %(where)s: team '%(team)s' serves only organization '%(scope)s' and the "
                              "organizations under it, not '%(org)s'", where=action.where, team=team, scope=scope,
                              org=work.ticket.org))
    work.assign(team if team is not None else work.ticket.team, user, reason="action")


def _outbox(work: Work, notification: m.NotificationSpec, where: str) -> None:
    """Outbox rows (column values), written with the change's other rows. Rendered here, in the transaction,
    so the message says what the change did (docs/decisions.md, "Bounded templates"); a subject over 1 KiB or
    a body over 64 KiB is cut and says so. One row per language the recipients read (SPEC 15), each with
    `{{ timeline }}` and the cut notices in that language."""
    for language, recipients in recipients_by_language(work, notification, work.recipients(notification.to)):
        context = work.template_context(language)
        words = spoken(language, work.pack.language)
        work.outbox.append({
            "created_at": work.now, "notification": notification.id, "channel": notification.channel,
            "recipients": recipients,
            "subject": render(notification.subject.get(language), context, where, MAX_SUBJECT,
                              say("subject_cut", words)),
            "body": render(notification.body.get(language), context, where, MAX_BODY, say("body_cut", words)),
            "url": notification.url, "status": "pending", "attempts": 0, "next_attempt_at": work.now,
            "sent_at": None, "last_error": None})


def recipients_by_language(work: Work, notification: m.NotificationSpec,
                           recipients: list[str]) -> list[tuple[str, list[str]]]:
    """(language, recipients reading it) for each text the recipients get, in the order first met. A mail
    written in several languages goes to each user in their `locale` (else the pack's language): teams without
    a mailbox are resolved to their members now; a team mailbox, an address and a webhook read the pack's."""
    language = work.pack.language
    if notification.channel != "email" or not (notification.subject.languages or notification.body.languages):
        return [(language, recipients)]
    people: list[str] = []
    others: list[str] = []
    for recipient in recipients:
        team = work.pack.teams.get(recipient[5:]) if recipient.startswith("team:") else None
        if recipient.startswith("user:"):
            people.append(recipient[5:])
        elif team is not None and not team.email:
            people.extend(member.user for member in team.members)
        else:
            others.append(recipient)
    locales = work.lookups.locales(list(dict.fromkeys(people)))
    groups: dict[tuple[str, str], tuple[str, list[str]]] = {}
    texts: dict[str, tuple[str, str]] = {}  # reader's language -> the texts it reads (a team is hundreds)

    def add(reader: str, recipient: str) -> None:
        key = texts.get(reader)
        if key is None:
            key = texts[reader] = (notification.subject.get(reader), notification.body.get(reader))
        groups.setdefault(key, (reader, []))[1].append(recipient)

    for recipient in others:
        add(language, recipient)
    for name in dict.fromkeys(people):
        add(locales.get(name) or language, f"user:{name}")
    return list(groups.values())


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
        raise ActionFailed(N_("'%(value)s' is not a number for field '%(field)s'", value=value, field=spec.id)) from exc
    if spec.type == "boolean":
        return value.strip().lower() in ("true", "1", "yes")
    return value
