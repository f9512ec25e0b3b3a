"""The compiled model: frozen specifications built from a validated pack.

Specs are immutable (frozen dataclasses, tuples, read-only mappings) and shared by every request of a
definitions version; tickets are data that the engine joins to a spec for one operation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, TypeVar

from .errors import DefinitionError
from .expressions import Expression
from .texts import DEFAULT_LANGUAGE, Text

NO_TEXT = Text.plain("")

EMPTY: Mapping[Any, Any] = MappingProxyType({})


S = TypeVar("S")
T = TypeVar("T")


def per_spec(compute: Callable[[S], T]) -> Callable[[S], T]:
    """`compute(spec)` once per compiled spec object, for what is derived from a spec alone (specs are
    immutable, so the result stays right while the object lives). Keyed by identity, since specs hold
    mappings and do not hash, and checked, so a new object at a reused address is computed anew; at
    most 256 objects per function are kept (a few compiled versions' worth)."""
    known: dict[int, tuple[S, T]] = {}

    @functools.wraps(compute)
    def cached(spec: S) -> T:
        hit = known.get(id(spec))
        if hit is None or hit[0] is not spec:
            if len(known) >= 256:
                known.clear()
            hit = known[id(spec)] = (spec, compute(spec))
        return hit[1]

    return cached


def frozen_map(items: Mapping[Any, Any] | None = None) -> Mapping[Any, Any]:
    return MappingProxyType(dict(items or {}))


@dataclass(frozen=True)
class Duration:
    """Working time: `seconds` of calendar time, or `business_days` (the `bd` unit)."""

    text: str
    seconds: int = 0
    business_days: int = 0
    calendar_days: bool = False  # written with d or w: 24 h units, only valid on 24x7


@dataclass(frozen=True)
class Choice:
    value: str
    label: Text


@dataclass(frozen=True)
class FieldSpec:
    id: str
    type: str
    label: Text
    help: Text = NO_TEXT
    required: bool = False
    default: Any = None
    min: float | None = None
    max: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[Choice, ...] = ()
    visible_when: Expression | None = None
    required_when: Expression | None = None
    readonly_when: Expression | None = None
    audience: str = "everyone"  # who fills it in and who reads it: AUDIENCES

    @property
    def for_agents(self) -> bool:
        """Filled in by agents only: never on a requester's forms, refused from requesters."""
        return self.audience in ("agent", "answer")

    @property
    def desk_only(self) -> bool:
        """Read by agents only too: never shown to requesters (pages, API, timeline)."""
        return self.audience == "agent"

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)


@dataclass(frozen=True)
class FormSpec:
    id: str
    title: Text
    description: Text
    fields: tuple[FieldSpec, ...]
    by_id: Mapping[str, FieldSpec] = field(default_factory=lambda: EMPTY, compare=False, repr=False)

    def field(self, field_id: str) -> FieldSpec:
        return self.by_id[field_id]


@dataclass(frozen=True)
class FieldFlags:
    required: bool = False
    readonly: bool = False
    hidden: bool = False


# Actions: one class per action kind, so the engine dispatches on type.
@dataclass(frozen=True)
class SetAction:
    values: Mapping[str, Any]  # field id -> value; strings may hold {{ }} templates
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


@dataclass(frozen=True)
class AssignAction:
    route: bool = False  # `assign: route`: run routing again
    team: str | None = None
    user: str | None = None
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


@dataclass(frozen=True)
class EscalateAction:
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


@dataclass(frozen=True)
class NotifyAction:
    notification: str
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


@dataclass(frozen=True)
class CommentAction:
    text: str
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


@dataclass(frozen=True)
class CreateAction:
    process: str
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    link: str = "child"
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


@dataclass(frozen=True)
class CascadeAction:
    """Fire `transition` on every child of the ticket whose state offers it (a mass outage's children)."""

    transition: str
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    comment: str | None = None
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


@dataclass(frozen=True)
class PluginAction:
    name: str
    args: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    where: str = ""
    when: Expression | None = None  # SPEC 4: skipped when false


Action = (SetAction | AssignAction | EscalateAction | NotifyAction | CommentAction | CreateAction | CascadeAction
          | PluginAction)

TRIGGER_EVENTS = ("create", "transition", "update", "comment", "sla_warning", "sla_breach")


@dataclass(frozen=True)
class TriggerSpec:
    """A process trigger (SPEC 4): on an event, when a condition holds, run actions after the event's own."""

    on: str  # one of TRIGGER_EVENTS
    actions: tuple[Action, ...]
    when: Expression | None = None
    id: str = ""
    where: str = ""


@dataclass(frozen=True)
class StateSpec:
    id: str
    label: Text
    description: Text = NO_TEXT
    final: bool = False
    fields: Mapping[str, FieldFlags] = field(default_factory=lambda: EMPTY)
    on_enter: tuple[Action, ...] = ()
    on_exit: tuple[Action, ...] = ()

    @property
    def cancels(self) -> bool:
        """A final state that ends a ticket without an outcome (a duplicate, an error, a withdrawn or refused
        request): packs declare no state categories, so the state's id says it (CANCEL_STATES)."""
        return self.final and self.id in CANCEL_STATES


# Ids of final states that end a ticket unresolved: KPIs do not count them as resolutions, known-error
# search does not suggest tickets that ended there (docs/decisions.md, "Resolved states").
CANCEL_STATES = frozenset({"cancelled", "canceled", "withdrawn", "rejected", "declined", "abandoned",
                           "duplicate", "void", "aborted"})


@dataclass(frozen=True)
class TransitionSpec:
    id: str
    label: Text
    sources: tuple[str, ...]  # resolved state ids ("*" expanded to every non-final state)
    target: str
    description: Text = NO_TEXT
    roles: tuple[str, ...] | None = None  # None: any authenticated user
    guard: Expression | None = None
    fields: tuple[str, ...] = ()  # its form: the fields written, then those its target state flags required
    actions: tuple[Action, ...] = ()
    after: Duration | None = None  # timed: fired by the worker
    written_fields: tuple[str, ...] = ()  # the `fields:` as written (what `itsm diff` compares)

    @property
    def timed(self) -> bool:
        return self.after is not None


@dataclass(frozen=True)
class SlaRule:
    policy: str
    when: Expression | None = None  # None on the default rule


@dataclass(frozen=True)
class TriageSpec:
    """Triage assistance of a process (SPEC 16): the choice fields (and whether the team) to suggest."""

    fields: tuple[str, ...] = ()
    team: bool = False
    min_confidence: float = 0.5
    apply: Mapping[str, float] = field(default_factory=lambda: EMPTY)  # field -> the probability to exceed

    @property
    def targets(self) -> tuple[str, ...]:
        """What the model learns: the fields, then `team` (TEAM_TARGET) when asked for."""
        return (*self.fields, TEAM_TARGET) if self.team else self.fields


TEAM_TARGET = "team"  # the triage target of the resolving team (a field cannot be called `team`)


@dataclass(frozen=True)
class ProcessSpec:
    id: str
    title: Text
    form: str
    initial: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    description: Text = NO_TEXT
    number_prefix: str = ""
    priority_matrix: str | None = None
    sla: tuple[SlaRule, ...] = ()
    routing: str | None = None
    renamed_states: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    triage: TriageSpec | None = None
    happy_path: tuple[str, ...] = ()  # as written (the diagram finds one when empty)
    triggers: tuple[TriggerSpec, ...] = ()
    state_by_id: Mapping[str, StateSpec] = field(default_factory=lambda: EMPTY, compare=False, repr=False)
    transition_by_id: Mapping[str, TransitionSpec] = field(default_factory=lambda: EMPTY, compare=False, repr=False)
    transitions_by_source: Mapping[str, tuple[TransitionSpec, ...]] = field(
        default_factory=lambda: EMPTY, compare=False, repr=False)

    def state(self, state_id: str) -> StateSpec:
        return self.state_by_id[state_id]

    def transition(self, transition_id: str) -> TransitionSpec:
        return self.transition_by_id[transition_id]

    def transitions_from(self, state_id: str) -> tuple[TransitionSpec, ...]:
        found = self.transitions_by_source.get(state_id)
        if found is None:  # a process built by hand, without the compiler's index
            return tuple(t for t in self.transitions if state_id in t.sources)
        return found

    @property
    def final_states(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.states if s.final)


@dataclass(frozen=True)
class Level:
    id: str
    label: Text


@dataclass(frozen=True)
class Adjustment:
    when: Expression
    steps: int  # positive: more urgent (raise), negative: less urgent (lower)
    id: str = ""


@dataclass(frozen=True)
class PriorityMatrix:
    id: str
    inputs: tuple[str, ...]
    levels: tuple[Level, ...]
    cells: Mapping[tuple[str, ...], str]  # input values, in input order -> level id
    default: str
    adjust: tuple[Adjustment, ...] = ()

    @property
    def level_ids(self) -> tuple[str, ...]:
        return tuple(level.id for level in self.levels)

    def compute(self, context: Mapping[str, Any]) -> str:
        """The level for a ticket context: the cell of its inputs (or the default), then adjustments."""
        key = tuple(context.get(name) for name in self.inputs)
        try:
            level = self.cells.get(key, self.default)  # type: ignore[arg-type]
        except TypeError:  # a list kept from when the field was a multichoice: no cell, the default
            level = self.default
        ids = self.level_ids
        index = ids.index(level)
        for adjustment in self.adjust:
            if adjustment.when.test(context):
                index = min(max(index - adjustment.steps, 0), len(ids) - 1)
        return ids[index]


@dataclass(frozen=True)
class Interval:
    """A working interval in local wall-clock minutes from midnight; end may be 1440 (24:00)."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.start // 60:02d}:{self.start % 60:02d}-{self.end // 60:02d}:{self.end % 60:02d}"


MAX_DAYS_WITHOUT_WORK = 3 * 366  # a longer run of days without working time is a load error (no deadline ends)


@dataclass(frozen=True)
class Calendar:
    id: str
    name: Text
    timezone: str
    hours: Mapping[int, tuple[Interval, ...]]  # weekday (0 = Monday) -> intervals
    holidays: Mapping[date, Text] = field(default_factory=lambda: EMPTY)  # date -> name
    workdays: Mapping[date, tuple[Interval, ...]] = field(default_factory=lambda: EMPTY)  # exceptional working days
    always: bool = False  # the built-in 24x7 calendar

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        """Working intervals of one local date: workdays win over holidays, holidays over weekdays."""
        if self.always:
            return (Interval(0, 1440),)
        if day in self.workdays:
            return self.workdays[day]
        if day in self.holidays:
            return ()
        return self.hours.get(day.weekday(), ())


@dataclass(frozen=True)
class ClockSpec:
    id: str
    label: Text
    targets: Mapping[str, Duration]
    start: Expression | None = None  # None: true
    stop: Expression | None = None
    pause: Expression | None = None
    reset: Expression | None = None
    cancel: Expression | None = None
    calendars: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # level -> calendar id
    warn_at: tuple[float, ...] = ()  # fractions, ascending (0.75 for 75%)
    on_warning: tuple[Action, ...] = ()
    on_breach: tuple[Action, ...] = ()


@dataclass(frozen=True)
class SlaPolicy:
    id: str
    name: Text
    calendar: str
    clocks: tuple[ClockSpec, ...]

    def calendar_for(self, clock: ClockSpec, level: str | None) -> str:
        return clock.calendars.get(level or "", clock.calendars.get("default", self.calendar))


@dataclass(frozen=True)
class Member:
    user: str
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class TeamSpec:
    id: str
    name: Text
    tier: str | None = None
    roles: tuple[str, ...] = ()
    escalates_to: str | None = None
    members: tuple[Member, ...] = ()
    description: Text = NO_TEXT
    email: str | None = None
    org_scope: str | None = None  # SPEC 14: the team serves this organization's subtree only (None: all)
    where: str = ""  # FILE:LINE:COL of `org_scope`, for the warning when no such organization exists
    lead: str | None = None  # the team lead's user name (recipient `team_lead`)

    def serves(self, lineage: tuple[str, ...]) -> bool:
        """Whether the team serves a ticket whose organization has this lineage (its id and its ancestors'):
        an unscoped team serves every ticket, a scoped one those of its organization's subtree."""
        return self.org_scope is None or self.org_scope in lineage


@dataclass(frozen=True)
class RoutingRule:
    team: str
    id: str = ""
    when: Expression | None = None  # None on the default rule
    user: str | None = None
    default: bool = False


@dataclass(frozen=True)
class RoutingSpec:
    id: str
    rules: tuple[RoutingRule, ...]
    assignment: str = "manual"
    skills: str | None = None


@dataclass(frozen=True)
class NotificationSpec:
    id: str
    to: tuple[str, ...]
    channel: str = "email"
    subject: Text = NO_TEXT  # templates, one per language when written so
    body: Text = NO_TEXT
    url: str | None = None
    content_type: str | None = None  # webhooks: as written (None: worked out from the body)
    headers: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # webhooks: extra HTTP headers


@dataclass(frozen=True)
class ScenarioStep:
    index: int
    where: str  # file:line:col of the step, for failure reports
    at: datetime | None = None
    advance: Duration | None = None
    action: str | None = None  # create | transition | update | comment | watch | unwatch
    data: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # the step's keys, as written
    expect: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    expect_error: int | None = None


@dataclass(frozen=True)
class ScenarioSpec:
    id: str
    steps: tuple[ScenarioStep, ...]
    description: str = ""
    start: datetime | None = None
    users: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: EMPTY)
    orgs: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: EMPTY)  # id -> name, parent, vip


@dataclass(frozen=True)
class MappedValue:
    """One field of an intake mapping: a literal or template, or a lookup of the rendered `source`."""

    template: Any = None  # literal, or text with {{ }} rendered over the payload
    lookup: Mapping[str, Any] | None = None  # rendered `template` -> value (a {from, map, default} entry)
    default: Any = None  # the value when the lookup misses (None: leave the field out)


@dataclass(frozen=True)
class ResolveSpec:
    transitions: tuple[str, ...]  # tried in order
    fields: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    comment: str = ""  # added when no transition can fire


@dataclass(frozen=True)
class IntakeSpec:
    """How a payload from another tool, or a mail, becomes a ticket (the `intake` kind)."""

    id: str
    source: str  # alertmanager | json | email
    process: str
    fields: Mapping[str, MappedValue] = field(default_factory=lambda: EMPTY)
    key: str | None = None  # template; None: the source's own (fingerprint, Message-ID)
    update: tuple[str, ...] = ()
    resolve_when: Expression | None = None
    on_resolve: ResolveSpec | None = None
    reply_comment: str = "{{ mail.body }}"
    unknown_senders: str = "reject"
    description: Text = NO_TEXT
    where: str = ""


@dataclass(frozen=True)
class NamedUser:
    """A user name a pack refers to (a member, a routing rule's user, `user:NAME`, an assignment): users live
    in the database, so publishing warns about each one it lacks (SPEC 4 team and routing)."""

    name: str
    where: str  # FILE:LINE:COL
    subject: str  # team/desk
    path: str  # members[0].user


@dataclass(frozen=True)
class PackSpec:
    """A validated pack: everything the runtime needs, immutable."""

    id: str
    name: Text
    format: int
    timezone: str
    digest: str  # sha256 of the merged source: the definitions version id
    description: Text = NO_TEXT
    language: str = DEFAULT_LANGUAGE  # the language of texts a reader's language lacks (SPEC 15)
    languages: tuple[str, ...] = ()  # the languages every text should be written in (validate warns)
    plugins: tuple[str, ...] = ()
    forms: Mapping[str, FormSpec] = field(default_factory=lambda: EMPTY)
    processes: Mapping[str, ProcessSpec] = field(default_factory=lambda: EMPTY)
    matrices: Mapping[str, PriorityMatrix] = field(default_factory=lambda: EMPTY)
    calendars: Mapping[str, Calendar] = field(default_factory=lambda: EMPTY)  # includes the built-in 24x7
    sla_policies: Mapping[str, SlaPolicy] = field(default_factory=lambda: EMPTY)
    teams: Mapping[str, TeamSpec] = field(default_factory=lambda: EMPTY)
    routings: Mapping[str, RoutingSpec] = field(default_factory=lambda: EMPTY)
    notifications: Mapping[str, NotificationSpec] = field(default_factory=lambda: EMPTY)
    scenarios: Mapping[str, ScenarioSpec] = field(default_factory=lambda: EMPTY)
    intakes: Mapping[str, IntakeSpec] = field(default_factory=lambda: EMPTY)
    source: tuple[Mapping[str, Any], ...] = field(default=(), compare=False, repr=False)  # merged documents
    warnings: tuple[DefinitionError, ...] = ()
    renamed_teams: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # removed team -> its open tickets' team
    named_users: tuple[NamedUser, ...] = field(default=(), compare=False, repr=False)

    def summary(self) -> dict[str, int]:
        return {
            "processes": len(self.processes),
            "states": sum(len(p.states) for p in self.processes.values()),
            "transitions": sum(len(p.transitions) for p in self.processes.values()),
            "fields": sum(len(form.fields) for form in self.forms.values()),
            "teams": len(self.teams),
            "clocks": sum(len(policy.clocks) for policy in self.sla_policies.values()),
        }
