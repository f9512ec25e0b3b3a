"""The core's working copy of one ticket during one change: what actions and clock steps act on.

A `Work` starts from a frozen snapshot, collects the changes the rules make (field values, team and
assignee, state, clocks, comments, events, outbox rows, effects) and ends as a frozen `Plan` (`plan()`).
It is internal to the core: it holds no session and does no I/O beyond the `Lookups` it was given.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from itsm.interpreter import model as m
from itsm.routing import candidates, choose, route

from ..errors import N_, Conflict, ValidationFailed
from .actors import Actor, actor_for, system_roles
from .documents import document, document_fields
from .fields import as_stored, check_values
from .live import clock_names
from .plan import (
    AdvanceCursor,
    CascadeLinked,
    ClockChange,
    CreateLinked,
    Effect,
    LinkRow,
    Plan,
    TimerRow,
    changed_columns,
)
from .rating_links import Links
from .sight import sees_ticket
from .snapshot import TICKET_COLUMNS, ClockRow, HistoryEntry, Lookups, TicketRow, TicketSnapshot, UserFacts
from .timeline import timeline_text
from .urgency import urgency_columns
from .views import PEOPLE_AND_CLOCKS, add_people_and_clocks, person, template_context, ticket_context

MAX_LINKED_DEPTH = 5
_JSON_SCALARS = frozenset({str, int, float, bool})


class Timeline:
    """`{{ timeline }}` in templates: the ticket's history as text in `language`, asked for only when a
    template uses it; the entries are loaded once per change, whatever languages render them."""

    def __init__(self, work: Work, language: str | None = None):
        self.work = work
        self.language = language or work.pack.language

    def __str__(self) -> str:
        return self.work.timeline(self.language)


class Work:
    """One change to one ticket, in memory."""

    def __init__(self, pack: m.PackSpec, version: str, actor: Actor, snapshot: TicketSnapshot | None,
                 ticket: TicketRow, process: m.ProcessSpec, now: datetime, lookups: Lookups,
                 requester: UserFacts | None = None, plugins: Mapping[str, Any] | None = None,
                 event: str = "update", depth: int = 0):
        self.pack = pack
        self.version = version
        self.actor = actor
        self.snapshot = snapshot  # None for a new ticket
        self.ticket = ticket
        self.process = process
        self.form = pack.forms[process.form]
        self.now = now
        self.lookups = lookups
        self.plugins = plugins or {}
        self.event = event
        self.depth = depth
        self.fields: dict[str, Any] = dict(ticket.fields or {})
        self.clocks: dict[str, ClockRow] = dict(snapshot.clocks) if snapshot is not None else {}
        self.requester_user = requester
        self._requester = (ticket.requester, requester)  # `requester_facts`, worked out when first read
        self._requester_facts: dict[str, Any] | None = None
        self.changes: dict[str, list[Any]] = {}
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.comments: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.links: list[LinkRow] = []
        self.effects: list[Effect] = []
        self.cursors: dict[tuple[str, str], int] = {}  # round-robin positions moved by this change
        self.timers: tuple[TimerRow, ...] | None = None
        self.worked: dict[tuple[str, datetime], float] = {}  # working seconds from (calendar, instant) to now
        self.extra_template: dict[str, Any] = {}
        self.mail_links: Links | None = None  # `{{ links }}` in templates: ITSM_PUBLIC_URL and the link key
        self.extra_names: dict[str, Any] = {}  # names of the event being handled: `threshold`, `comment.*`, `clock`
        self._history: tuple[HistoryEntry, ...] | None = None
        self._timelines: dict[str, str] = {}  # language -> `{{ timeline }}`, said once per change
        self._lineage: tuple[str | None, tuple[str, ...]] | None = None  # (org, its lineage), asked once

    @property
    def requester_facts(self) -> dict[str, Any]:
        """The requester as expressions and templates read it (`views.person`); a ticket shown in a list
        mostly needs none of it."""
        if self._requester_facts is None:
            self._requester_facts = person(*self._requester, self.pack)
        return self._requester_facts

    # -- the working ticket ------------------------------------------------------------------------

    def set(self, **values: Any) -> None:
        self.ticket = self.ticket._replace(**values)

    def set_field(self, name: str, value: Any, source: str) -> None:
        if name not in self.form.by_id:
            raise ValidationFailed(N_("unknown field '%(field)s'", field=name),
                                   [{"field": name, "message": N_("unknown field")}])
        value = as_stored(self.form, name, value)
        old = self.fields.get(name)
        if old == value:
            return
        if source != "input":
            problems = check_values(self.form, {name: value})
            if problems:
                raise ValidationFailed(N_("%(source)s set an invalid value", source=source), problems)
        first = self.changes.get(name, [old, None])[0]
        self.changes[name] = [first, value]
        self.fields[name] = value

    def enter_state(self, state: str) -> None:
        """The state change of a transition, between the source's on_exit and the target's on_enter."""
        if state != self.ticket.state:
            self.changes["state"] = [self.ticket.state, state]
        final = self.process.state(state).final
        # a self-loop re-enters: its timers start again
        self.set(state=state, state_entered_at=self.now, is_open=not final, closed_at=self.now if final else None)

    def recompute_priority(self) -> None:
        if self.process.priority_matrix is None:
            return
        level = self.pack.matrices[self.process.priority_matrix].compute(self.context())
        if level != self.ticket.priority:
            first = self.changes.get("priority", [self.ticket.priority, None])[0]
            self.changes["priority"] = [first, level]
            self.set(priority=level)

    def assign(self, team: str | None, user: str | None, reason: str) -> None:
        before = (self.ticket.team, self.ticket.assignee)
        if team != self.ticket.team:
            self.changes["team"] = [self.changes.get("team", [self.ticket.team])[0], team]
        if user != self.ticket.assignee:
            self.changes["assignee"] = [self.changes.get("assignee", [self.ticket.assignee])[0], user]
        if (team, user) != before:
            self.set(team=team, assignee=user)
            self.notes.append(("routing", {"reason": reason, "team": team, "assignee": user}))

    def org_lineage(self) -> tuple[str, ...]:
        """The ticket's organization and its ancestors, nearest first (SPEC 14; empty without one)."""
        org = self.ticket.org
        if self._lineage is None or self._lineage[0] != org:
            self._lineage = (org, tuple(self.lookups.org_lineage(org)) if org else ())
        return self._lineage[1]

    def serves(self, team_id: str) -> bool:
        """Whether team `team_id` serves this ticket: no `org_scope`, or the ticket's organization lies in the
        scope's subtree (an unknown team: nothing to refuse here, the caller checks it exists)."""
        team = self.pack.teams.get(team_id)
        return team is None or team.org_scope is None or team.serves(self.org_lineage())

    def route(self) -> None:
        if self.process.routing is None:
            return
        routing = self.pack.routings[self.process.routing]
        decision = route(routing, self.context(), serves=self.serves)
        user, how = decision.user, "rule"
        if user is not None and not self.lookups.user_exists(user):
            user = None  # a user the pack names but the database lacks (publish warned): the team's strategy
        if user is None:
            user, how = self.pick_member(routing, decision.team)
        before = (self.ticket.team, self.ticket.assignee)
        self.assign(decision.team, user, reason="routing")
        if (self.ticket.team, self.ticket.assignee) == before:
            self.notes.append(("routing", {"reason": "routing", "team": decision.team, "assignee": user}))
        self.notes[-1][1].update(routing=routing.id, rule=decision.rule.id, assignment=how)

    def pick_member(self, routing: m.RoutingSpec, team_id: str) -> tuple[str | None, str]:
        """The routing's strategy applied to `team_id`: round-robin cursor (an effect) or open tickets per member."""
        team = self.pack.teams.get(team_id)
        if team is None or routing.assignment == "manual" or not team.members:
            return None, "manual"
        # members the database lacks (publish warned about each) are passed over, never assigned
        present = tuple(member for member in team.members if self.lookups.user_exists(member.user))
        if not present:
            return None, "manual"
        team = dataclasses.replace(team, members=present) if len(present) < len(team.members) else team
        context = self.context()
        if routing.assignment == "round_robin":
            key = (routing.id, team.id)
            position = self.cursors.get(key)
            choice = choose(routing, team, context,
                            cursor=self.lookups.cursor(*key) if position is None else position)
            self.cursors[key] = choice.cursor or 0
            return choice.user, choice.reason
        loads = dict(self.lookups.open_tickets(candidates(routing, team, context)))
        choice = choose(routing, team, context, loads=loads)
        return choice.user, choice.reason

    def add_comment(self, text: str, internal: bool, author: str | None = None) -> None:
        self.comments.append({"at": self.now, "author": author or self.actor.name, "text": text,
                              "internal": internal})

    def note_event(self, kind: str, data: dict[str, Any]) -> None:
        self.notes.append((kind, data))

    def cascade(self, transition: str, values: dict[str, Any], comment: str | None) -> None:
        """Fire `transition` on the ticket's children once this change is written (`apply.perform`)."""
        if self.depth >= MAX_LINKED_DEPTH:
            raise Conflict(N_("linked tickets nest deeper than %(depth)s: check the cascade actions",
                               depth=MAX_LINKED_DEPTH))
        self.effects.append(CascadeLinked(transition, dict(values), comment))

    def create_linked(self, process_id: str, values: dict[str, Any], link: str) -> None:
        if self.depth >= MAX_LINKED_DEPTH:
            raise Conflict(N_("linked tickets nest deeper than %(depth)s: check the create actions",
                               depth=MAX_LINKED_DEPTH))
        requester = "system" if self.actor.is_system else self.actor.name  # not the customer: a review is internal
        self.effects.append(CreateLinked(process_id, dict(values), link, requester, self.ticket.org))

    def recipients(self, targets: tuple[str, ...]) -> list[str]:
        """Resolve roles to people now (the ticket may move on before delivery); keep teams and addresses."""
        out: list[str] = []
        for target in targets:
            if target == "requester":
                out.append(f"user:{self.ticket.requester}")
            elif target == "assignee":
                if self.ticket.assignee:
                    out.append(f"user:{self.ticket.assignee}")
            elif target == "team":
                if self.ticket.team:
                    out.append(f"team:{self.ticket.team}")
            elif target == "team_lead":
                team = self.pack.teams.get(self.ticket.team or "")
                if team is not None and team.lead:
                    out.append(f"user:{team.lead}")
            elif target == "watchers":
                out.extend(f"user:{name}" for name in self.watching())
            elif target.startswith(("team:", "user:")) or "@" in target:
                out.append(target)
            else:  # a team role: every team holding it
                out.extend(f"team:{t.id}" for t in self.pack.teams.values() if target in t.roles)
        return list(dict.fromkeys(out))

    def watching(self) -> list[str]:
        """The people following the ticket who may still see it (SPEC 9, 14: a watcher whose sight of it was
        lost since, the ticket having moved to a team scoped to another organization, is not told about it)."""
        if self.ticket.id is None:
            return []

        return [person.name for person in self.lookups.watchers(self.ticket.id)
                if sees_ticket(actor_for(person, self.pack), self.pack, self.ticket, self.org_lineage)]

    # -- contexts ----------------------------------------------------------------------------------

    def context(self, state: str | None = None, event: str | None = None,
                reads: frozenset[str] = PEOPLE_AND_CLOCKS) -> dict[str, Any]:
        """What expressions read; `reads`: only these of the requester, actor and clocks (the others are
        not worked out), for an expression known to read no other (`views.people_and_clocks_read`)."""
        context = ticket_context(self.ticket, self.fields, event or self.event, state)
        self.add_to_context(context, reads)
        return context

    def add_to_context(self, context: dict[str, Any], reads: frozenset[str]) -> None:
        """The people and clocks of `reads` into `context` (made by `ticket_context`, or by `context()` with
        other `reads`), then the names of the event being handled."""
        add_people_and_clocks(context, self.requester_facts if "requester" in reads else None, self.actor, reads)
        if self.actor.is_system and "actor" in reads:  # the system actor holds every role (SPEC 4 scenario)
            context["actor"]["roles"] = list(system_roles(self.pack))
        if self.clocks and "sla" in reads:
            context["sla"] = clock_names(self.clocks, self.pack.calendars, self.now, self.worked)
        if self.extra_names:
            context.update(self.extra_names)

    def mark(self) -> tuple[Any, ...]:
        """What SLA conditions and priorities read of the ticket, to tell whether actions changed it."""
        ticket = self.ticket
        return ticket.state, ticket.priority, ticket.team, ticket.assignee, dict(self.fields)

    def template_context(self, language: str | None = None) -> dict[str, Any]:
        """What templates read; `language` is the one the text is written in (a notification renders once per
        language its readers read), else the pack's: `{{ timeline }}` speaks it."""
        return {**template_context(self.ticket, self.fields, self.requester_facts, self.actor),
                "timeline": Timeline(self, language), "links": self.links_for_mail(), **self.extra_template}

    def links_for_mail(self) -> dict[str, Any]:
        """`{{ links.ticket }}` (the ticket's page) and `{{ links.rate[N] }}` (the requester's signed one-click
        rating links, while a rating transition is open to them); empty without ITSM_PUBLIC_URL."""
        if self.mail_links is None:
            return {"ticket": "", "rate": {}}
        return self.mail_links.for_ticket(self.form, self.process, self.ticket.number, self.ticket.state,
                                          self.ticket.requester, self.now)

    def history(self) -> tuple[HistoryEntry, ...]:
        """The stored ticket's events and public comments (none before it is stored), loaded once."""
        if self._history is None:
            ticket_id = self.ticket.id
            self._history = () if ticket_id is None else tuple(self.lookups.timeline(ticket_id))
        return self._history

    def timeline(self, language: str) -> str:
        """The history as text in `language`: said once per change and language, however many messages
        quote it (a ticket whose two clocks breach sends two)."""
        text = self._timelines.get(language)
        if text is None:
            text = self._timelines[language] = timeline_text(self.history(), self.pack, self.process, language)
        return text

    # -- the plan ----------------------------------------------------------------------------------

    def plan(self, kind: str, transition: str | None = None, from_state: str | None = None,
             to_state: str | None = None, comment: str | None = None, data: dict[str, Any] | None = None) -> Plan:
        """The change as rows to write: the ticket's new values, clocks, events, comments, outbox, effects."""
        new = self.snapshot is None
        if self.ticket.fields != self.fields:
            self.set(fields=dict(self.fields))
        if self.ticket.updated_at != self.now and (self.changes or new):
            self.set(updated_at=self.now)
        self.set(**urgency_columns(self.pack, self.process, self.ticket.priority, self.clocks.values(), self.now))
        changed: tuple[str, ...]
        if new:
            changed = TICKET_COLUMNS[1:]
        else:
            assert self.snapshot is not None
            changed = tuple(changed_columns(self.snapshot.ticket, self.ticket))
        clocks = []
        for name, row in self.clocks.items():
            old = self.snapshot.clocks.get(name) if self.snapshot is not None else None
            if old is None:
                clocks.append(ClockChange(None, row, {}))
            elif old != row:
                clocks.append(ClockChange(old, row, changed_columns(old, row)))
        title_field, body_fields = document_fields(self.form)
        reindex = new or any(name in self.changes for name in (title_field, *body_fields) if name)
        self.effects.extend(AdvanceCursor(routing, team, position)
                            for (routing, team), position in self.cursors.items())
        return Plan(kind, self.now, self.snapshot, self.ticket, changed, tuple(clocks), self.timers,
                    tuple(self._events(kind, transition, from_state, to_state, comment, data)),
                    tuple(self.comments), tuple(self.outbox), tuple(self.links),
                    document(self.form, self.fields) if reindex else None, tuple(self.effects), self.requester_user)

    def _events(self, kind: str, transition: str | None, from_state: str | None, to_state: str | None,
                comment: str | None, data: dict[str, Any] | None) -> list[dict[str, Any]]:
        events = []
        if kind != "sla" or self.changes:  # a worker step that only moved clocks records just their events
            events.append({"at": self.now, "actor": self.actor.name, "kind": kind, "transition": transition,
                           "from_state": from_state, "to_state": to_state, "changes": jsonable(self.changes),
                           "comment": comment, "data": data or {}, "definitions_version": self.version})
        for note_kind, note in self.notes:
            events.append({"at": self.now, "actor": self.actor.name, "kind": note_kind, "transition": None,
                           "from_state": None, "to_state": None, "changes": {}, "comment": None,
                           "data": jsonable(note), "definitions_version": self.version})
        return events


def jsonable(value: Any) -> Any:
    if value is None or type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
