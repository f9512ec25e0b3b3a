"""The transition core (SPEC 8): a frozen snapshot and a request in, a frozen `Plan` out.

The checks run in SPEC 8's order and raise the engine's typed errors: the transition exists (404), the
actor holds a role (403), the version matches (409), the state is a source (409), the values are well
typed and belong to the transition (422), the guard holds (409), the target state's field rules hold (422).
Then the change itself: the state machine (on_exit, state change, on_enter, transition actions), the
priority matrix, timers of the new state, the SLA clocks (with warning and breach actions), and the rows
to write. No database here: what the rules need beyond the snapshot comes through `Lookups`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from itsm.interpreter import model as m

from ..errors import N_, Conflict, Forbidden, NotFound, ValidationFailed
from .access import check_version, is_agent, may_fire
from .actors import Actor, fills_agent_fields, is_agent_for, system_actor
from .clocks import after_event, schedule_timers, settle
from .compiled import CompiledVersion
from .fields import (
    agent_only_problems,
    as_stored,
    check_state_rules,
    check_values,
    filling,
    offered_fields,
    raise_if,
)
from .plan import LinkRow, Plan
from .rating_links import Links
from .snapshot import Lookups, TicketRow, TicketSnapshot, UserFacts
from .triggers import comment_facts, run_triggers
from .work import Work

SYSTEM = "system"


@dataclass(frozen=True)
class Request:
    """One change asked of the core. `kind`: create, fire, update, comment or sla."""

    kind: str
    actor: Actor
    now: datetime
    process: str | None = None  # create
    transition: str | None = None  # fire
    values: Mapping[str, Any] = field(default_factory=dict)  # create, fire, update
    comment: str | None = None  # fire, comment
    internal: bool = False  # comment
    version: int | None = None  # fire, update: the version the actor saw
    requester: str | None = None  # create: on behalf of (defaults to the actor)
    channel: str | None = None  # create: how the ticket reached us
    org: str | None = None  # create: the ticket's organization when not its requester's (a linked ticket's parent's)
    suggested: frozenset[str] = frozenset()  # create: fields the triage model set (not the actor's own values)


@dataclass(frozen=True)
class Context:
    """What every request runs with: the version, the look-ups, the installed plugin actions."""

    compiled: CompiledVersion
    lookups: Lookups
    plugins: Mapping[str, Any] = field(default_factory=dict)
    depth: int = 0  # how deep in linked-ticket creation this change is
    links: Links | None = None  # mail links (`{{ links }}`): None without ITSM_PUBLIC_URL


def plan(context: Context, snapshot: TicketSnapshot | None, request: Request,
         requester: UserFacts | None = None) -> Plan | None:
    """The plan of `request` on `snapshot` (None for create; `requester` is then the requester's user).
    None: nothing to write (an update that changes nothing)."""
    if request.kind == "create":
        return plan_create(context, request, requester)
    assert snapshot is not None
    work = working(context, snapshot, request.actor, request.now)
    if request.kind == "fire":
        return plan_fire(context, work, request.transition or "", dict(request.values), request.comment,
                         request.version)
    if request.kind == "update":
        return plan_update(work, dict(request.values), request.version)
    if request.kind == "comment":
        return plan_comment(work, request.comment or "", request.internal)
    if request.kind == "sla":
        return plan_sla(work)
    raise ValueError(f"unknown request kind '{request.kind}'")


def working(context: Context, snapshot: TicketSnapshot, actor: Actor, now: datetime) -> Work:
    """The working copy of a stored ticket under the context's version (409 when its process is gone)."""
    compiled = context.compiled
    ticket = snapshot.ticket
    process = compiled.pack.processes.get(ticket.process)
    if process is None:
        raise Conflict(N_("process '%(process)s' is not in the active definitions version", process=ticket.process))
    work = Work(compiled.pack, compiled.id, actor, snapshot, ticket, process, now, context.lookups,
                snapshot.requester, context.plugins, depth=context.depth)
    work.mail_links = context.links
    return work


def draft(context: Context, actor: Actor, process: m.ProcessSpec, values: Mapping[str, Any],
          requester: UserFacts | None, now: datetime) -> Work:
    """The working copy of a ticket not yet created, in the initial state with the form's defaults."""
    compiled = context.compiled
    initial = process.state(process.initial)
    name = requester.name if requester is not None else actor.name
    ticket = TicketRow(None, "", process.id, initial.id, not initial.final, None, None, None, name, {}, 1, compiled.id,
                       now, now, now, now if initial.final else None, requester.org if requester is not None else None)
    work = Work(compiled.pack, compiled.id, actor, None, ticket, process, now, context.lookups, requester,
                context.plugins, event="create", depth=context.depth)
    work.mail_links = context.links
    for spec in work.form.fields:
        if spec.default is not None:
            work.fields[spec.id] = spec.default
    for key, value in values.items():
        work.fields[key] = as_stored(work.form, key, value)
    return work


def plan_create(context: Context, request: Request, requester_user: UserFacts | None) -> Plan:
    pack = context.compiled.pack
    actor = request.actor
    process = pack.processes.get(request.process or "")
    if process is None:
        raise ValidationFailed(N_("no process '%(process)s'", process=request.process),
                               [{"field": "process", "message": N_("unknown process '%(process)s'",
                                                                   process=request.process)}])
    requester = request.requester or actor.name
    if requester != actor.name and not (actor.is_system or is_agent_for(actor, process, pack)):
        raise Forbidden(N_("only agents record tickets on behalf of someone else"))
    if requester != SYSTEM and requester_user is None:
        raise ValidationFailed(N_("no user '%(user)s'", user=requester),
                               [{"field": "requester", "message": N_("unknown user '%(user)s'", user=requester)}])
    form = pack.forms[process.form]
    values = dict(request.values)
    raise_if(check_values(form, values))
    if not fills_agent_fields(actor, process, pack):
        raise_if(agent_only_problems(form, {k: v for k, v in values.items() if k not in request.suggested}))
    facts = requester_user if requester != SYSTEM else None
    work = draft(context, actor, process, values, facts or UserFacts(requester), request.now)
    if request.org is not None:
        work.set(org=request.org)
    work.requester_user = facts
    work.changes = {name: [None, value] for name, value in work.fields.items() if value is not None}
    work.recompute_priority()
    initial = process.state(process.initial)
    raise_if(check_state_rules(form, initial, work.fields, work.context(), set(values)))
    work.set(number=context.lookups.next_number(process.number_prefix))
    if process.routing is not None:
        work.route()
    context.compiled.machines[process.id].create(work)  # on_enter of the initial state
    schedule_timers(work)
    after_event(work, "create")
    return work.plan("create", to_state=initial.id, data={"channel": request.channel} if request.channel else None)


def plan_fire(context: Context, work: Work, transition_id: str, values: dict[str, Any], comment: str | None,
              version: int | None = None) -> Plan:
    """SPEC 8's order: the transition (404), the role (403), the version (409), the state (409), ..."""
    process = work.process
    transition = process.transition_by_id.get(transition_id)
    if transition is None:
        raise NotFound(N_("process '%(process)s' has no transition '%(transition)s'", process=process.id,
                          transition=transition_id))
    work.event = transition_id
    if not may_fire(work, transition):
        needed = ", ".join(transition.roles or ()) or N_("the worker")
        raise Forbidden(N_("'%(transition)s' needs one of these roles: %(roles)s", transition=transition_id,
                           roles=needed))
    check_version(work, version)
    source = work.ticket.state
    if source not in transition.sources:
        raise Conflict(N_("'%(transition)s' is not possible in state '%(state)s' (it starts from %(sources)s)",
                          transition=transition_id, state=source, sources=", ".join(transition.sources)))
    raise_if(check_values(work.form, values))
    if not is_agent(work):
        raise_if(agent_only_problems(work.form, values))
    target = process.state(transition.target)
    stored = dict(work.fields)
    before = work.context(state=target.id)
    for name, value in values.items():
        work.set_field(name, value, source="input")
    after = work.context(state=target.id)
    offered = offered_fields(work.form, transition, target, stored, (before, after))
    extra = [name for name in values if name not in offered]
    if extra:  # nothing is saved: the values set above go with the refused plan
        raise ValidationFailed(N_("fields outside the transition's form"),
                               [{"field": n, "message": N_("not a field of transition '%(transition)s'",
                                                           transition=transition_id)} for n in extra])
    if transition.guard is not None and not transition.guard.test(work.context()):
        raise Conflict(N_("'%(transition)s' is not possible now: its condition '%(condition)s' is false",
                          transition=transition_id, condition=transition.guard.source))
    raise_if(check_state_rules(work.form, target, work.fields, after, set(values),
                               filling(work.form, target, stored, after)))
    context.compiled.machines[process.id].fire(transition_id, work)  # exit, state change, enter, actions
    work.recompute_priority()
    schedule_timers(work)  # entering a state (even the same one again) restarts its timed transitions
    template = None
    if comment:  # part of the transition: it runs the transition's triggers, not the comment triggers
        work.add_comment(comment, internal=False, author=work.actor.name)
        template = comment_facts(comment, False, work.actor.name)[1]  # `{{ comment.text }}` in their messages
    after_event(work, "transition", template=template)
    return work.plan("transition", transition=transition_id, from_state=source, to_state=target.id, comment=comment)


def plan_update(work: Work, values: dict[str, Any], version: int | None = None) -> Plan | None:
    work.event = "update"
    if not is_agent(work):
        raise Forbidden(N_("only agents edit fields directly; requesters add information with comments and "
                           "the transitions offered to them"))
    check_version(work, version)
    ticket = work.ticket
    if not ticket.is_open:
        raise Conflict(N_("%(number)s is %(state)s: a closed ticket cannot be edited", number=ticket.number,
                          state=ticket.state))
    raise_if(check_values(work.form, values))
    changed = {name for name, value in values.items() if work.fields.get(name) != value}
    for name in changed:
        work.set_field(name, values[name], source="input")
    state = work.process.state(ticket.state)
    raise_if(check_state_rules(work.form, state, work.fields, work.context(), changed))
    work.recompute_priority()
    if not work.changes:
        return None
    after_event(work, "update")
    return work.plan("update")


def plan_comment(work: Work, text: str, internal: bool) -> Plan:
    if not text or not text.strip():
        raise ValidationFailed(N_("a comment needs text"), [{"field": "text", "message": N_("empty comment")}])
    if internal and not is_agent(work):
        raise Forbidden(N_("only agents write internal comments"))
    work.event = "comment"
    work.add_comment(text, internal, author=work.actor.name)
    names, template = comment_facts(text, internal, work.actor.name)
    mark = work.mark()
    run_triggers(work, "comment", names, template)
    if work.mark() != mark:  # a trigger changed the ticket: its clocks see the change (SPEC 6)
        settle(work)
    return work.plan("comment", comment=text, data={"internal": internal})


def plan_sla(work: Work) -> Plan:
    """The worker's step of a ticket with due clocks: warnings, breaches and their actions."""
    work.event = "sla"
    settle(work)
    return work.plan("sla")


def plan_assign(work: Work, team: str | None, user: str | None, version: int | None = None) -> Plan | None:
    """An agent gives the ticket to a team (nobody in it in particular) or to a person (the team stays when
    the person is in it, else becomes the person's first team that serves the ticket); a `routing` event
    with reason `manual` records it. None: it was there already."""
    if not is_agent(work):
        raise Forbidden(N_("only agents of this ticket assign it"))
    check_version(work, version)
    ticket = work.ticket
    if not ticket.is_open:
        raise Conflict(N_("%(number)s is %(state)s: a closed ticket cannot be assigned", number=ticket.number,
                          state=ticket.state))
    if not team and not user:
        raise ValidationFailed(N_("name a team or a person to assign the ticket to"),
                               [{"field": "team", "message": N_("a team or a person is required")}])
    teams = work.pack.teams
    if team and team not in teams:
        raise ValidationFailed(N_("no team '%(team)s'", team=team), [{"field": "team", "message": N_("unknown team")}])
    if team and not work.serves(team):
        raise ValidationFailed(N_("team '%(team)s' does not serve this ticket's organization", team=team),
                               [{"field": "team", "message": N_("does not serve this organization")}])
    if user:
        if not work.lookups.user_exists(user):
            raise ValidationFailed(N_("no user '%(user)s'", user=user),
                                   [{"field": "assignee", "message": N_("unknown user")}])
        homes = [t.id for t in teams.values() if any(member.user == user for member in t.members) and work.serves(t.id)]
        if team and team not in homes:
            raise ValidationFailed(N_("%(user)s is not a member of team '%(team)s'", user=user, team=team),
                                   [{"field": "assignee", "message": N_("not a member of that team")}])
        if not homes:
            raise ValidationFailed(N_("%(user)s is in no team that serves this ticket", user=user),
                                   [{"field": "assignee", "message": N_("in no team that serves this ticket")}])
        team = team or (ticket.team if ticket.team in homes else homes[0])
    if (team, user or None) == (ticket.team, ticket.assignee):
        return None
    work.event = "update"
    return plan_note(work, "routing", {"reason": "manual", "team": team, "assignee": user or None},
                     assign=(team, user or None))


def plan_note(work: Work, kind: str, data: dict[str, Any], links: tuple[LinkRow, ...] = (),
              assign: tuple[str | None, str | None] | None = None) -> Plan:
    """An event of `kind` with `data` (a link, a review opened), optionally with links to write or an
    assignment (whose changes the event carries instead of a separate routing event)."""
    if assign is not None:
        work.assign(*assign, reason=kind)
        work.notes.clear()
    work.links.extend(links)
    return work.plan(kind, data=data)


def timer_applies(work: Work, transition_id: str) -> bool:
    """A due timed transition still applies: the ticket is in one of its sources and its guard holds."""
    transition = work.process.transition_by_id.get(transition_id)
    return transition is not None and work.ticket.state in transition.sources and (
        transition.guard is None or transition.guard.test(work.context(event=transition.id)))


def system_work(context: Context, snapshot: TicketSnapshot, now: datetime) -> Work:
    return working(context, snapshot, system_actor(), now)
