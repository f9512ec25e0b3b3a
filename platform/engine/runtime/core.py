"""The engine: tickets through compiled processes, one database transaction per operation (SPEC 8).

`Engine.create`, `Engine.fire`, `Engine.update`, `Engine.comment` change tickets; `Engine.get`,
`Engine.events` and `Engine.available_transitions` read them. Every operation joins the active compiled
version (the spec) with one ticket (the instance) and keeps nothing once it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from transitions import EventData, Machine

from itsm.interpreter import model as m
from itsm.interpreter import plugins as plugin_registry
from itsm.routing import candidates, choose, route
from itsm.store import Comment, Database, Event, Link, RoutingCursor, SlaClock, Ticket, User
from itsm.store import queries as q
from itsm.store.models import LINK_INVERSE, NumberSequence, utcnow

from ..errors import BadRequest, Conflict, Forbidden, NotFound, StaleVersion, ValidationFailed
from .actions import run_actions
from .actors import Actor, actor_for, is_agent_for, system_actor, system_roles, visible_to
from .clocks import clock_names, clock_views, load_rows, schedule_timers, update_clocks
from .definitions import CompiledVersion, Definitions
from .fields import as_stored, check_state_rules, check_values, raise_if
from .forms import Form, create_form, transition_form
from .machines import build_machine
from .records import records
from .reviews import Timeline
from .search_index import index_ticket
from .views import expression_context, person, reads_people_or_clocks, template_context, ticket_context, ticket_view

Clock = Callable[[], datetime]
MAX_LINKED_DEPTH = 5
MAX_SEARCH = 500  # characters of a queue search (`q`): SQLite refuses LIKE patterns over 50,000 bytes
AGENT_EVENTS = frozenset({"link", "review"})  # they name tickets a requester may not see


class Engine:
    def __init__(self, db: Database, definitions: Definitions | None = None, clock: Clock = utcnow):
        self.db = db
        self.definitions = definitions or Definitions(db)
        self.clock = clock
        self._plugin_actions: dict[str, dict[str, Any]] = {}

    # -- actors ------------------------------------------------------------------------------------

    def actor(self, name: str) -> Actor:
        """The actor for a user name under the active pack (`system` is the built-in all-roles actor)."""
        if name == "system":
            return system_actor()
        with self.db.read() as session:
            user = session.scalar(q.USER_BY_NAME, {"name": name})
            if user is None:
                raise NotFound(f"no user '{name}'")
            return actor_for(user, self.definitions.active().pack)

    # -- reading -----------------------------------------------------------------------------------

    def get(self, actor: Actor, number: str) -> dict[str, Any]:
        with self.db.read() as session:
            op = self._open(session, actor, number)
            return op.view()

    def available_transitions(self, actor: Actor, number: str) -> list[str]:
        with self.db.read() as session:
            return self._open(session, actor, number).available()

    def events(self, actor: Actor, number: str) -> list[dict[str, Any]]:
        """The ticket's event log, oldest first; requesters do not see internal comments, nor the links to
        tickets they may not see (`AGENT_EVENTS`)."""
        with self.db.read() as session:
            op = self._open(session, actor, number)
            rows = session.scalars(select(Event).where(Event.ticket_id == op.ticket.id).order_by(Event.id)).all()
            agent = op.is_agent()
            zone = ZoneInfo(op.pack.timezone)
            return [{"at": r.at.astimezone(zone).isoformat(), "actor": r.actor, "kind": r.kind,
                     "transition": r.transition, "from": r.from_state, "to": r.to_state, "changes": r.changes,
                     "comment": r.comment, "data": _shown_in(r.data, zone),
                     "definitions_version": r.definitions_version} for r in rows
                    if agent or not (r.kind in AGENT_EVENTS or r.kind == "comment" and (r.data or {}).get("internal"))]

    def list_tickets(self, actor: Actor, filters: Mapping[str, str | None], limit: int = 50,
                     cursor: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
        """Tickets this actor may see, newest first, keyset-paginated by id: (items, next cursor)."""
        with self.db.read() as session:
            pack = self.definitions.active().pack
            # A read-only page: tickets and clocks come as plain rows (one attribute per column, like the
            # mapped classes), which skips the ORM's per-object identity and state bookkeeping.
            query = select(Ticket.__table__).order_by(Ticket.id.desc()).limit(limit + 1)
            narrowed = False
            for column in ("process", "state", "priority", "team", "assignee", "requester"):
                value = filters.get(column)
                if value:
                    query = query.where(getattr(Ticket, column) == value)
                    narrowed = True
            newest_first = not narrowed and session.get_bind().dialect.name == "sqlite"
            visible = visible_to(actor, pack, newest_first=newest_first)
            if visible is not None:
                query = query.where(visible)
            sla = filters.get("sla")
            if sla:
                query = query.where(_sla_status_filter(sla, self.clock()))
            text = (filters.get("q") or "").strip()
            if len(text) > MAX_SEARCH:
                raise BadRequest(f"q is longer than {MAX_SEARCH} characters",
                                 [{"field": "q", "message": f"at most {MAX_SEARCH} characters"}])
            if text:
                escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                pattern = f"%{escaped}%"
                query = query.where(or_(func.lower(Ticket.number).like(pattern, escape="\\"), *(
                    func.lower(Ticket.fields[name].as_string()).like(pattern, escape="\\")
                    for name in searched_fields(pack))))
            if cursor is not None:
                query = query.where(Ticket.id < cursor)
            # Core rows, without the ORM's result processing, as records (plain attributes: a view reads many)
            connection = session.connection()
            rows: list[Any] = records(connection.execute(query))
            more = len(rows) > limit
            rows = rows[:limit]
            clocks: dict[int, dict[str, Any]] = {}  # one query for the page, not one per ticket
            page = select(SlaClock.__table__).where(SlaClock.ticket_id.in_([t.id for t in rows]))
            for clock in records(connection.execute(page)):
                clocks.setdefault(clock.ticket_id, {})[clock.clock] = clock
            users = {u.name: u for u in connection.execute(select(User.__table__).where(
                User.name.in_({t.requester for t in rows}))).all()}
            items = []
            compiled = self.definitions.active()
            for ticket in rows:
                process = pack.processes.get(ticket.process)
                if process is None:
                    continue
                op = Operation(self, session, compiled, actor, ticket, process)
                op.preload(clocks.get(ticket.id, {}), users.get(ticket.requester))
                items.append(op.view())
            return items, (rows[-1].id if more and rows else None)

    def form(self, actor: Actor, *, process: str | None = None, number: str | None = None,
             transition: str | None = None, values: Mapping[str, Any] | None = None) -> Form:
        """The create form of `process`, or the form of `transition` on ticket `number`, as `actor` sees it
        with `values` typed in so far (flags and `*_when` rules evaluated as the engine will on submit)."""
        with self.db.read() as session:
            if number is None:
                return create_form(self, session, actor, process or "", values or {})
            return transition_form(self._open(session, actor, number), transition or "", values or {})

    def comments(self, actor: Actor, number: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            op = self._open(session, actor, number)
            query = select(Comment).where(Comment.ticket_id == op.ticket.id).order_by(Comment.id)
            if not op.is_agent():
                query = query.where(Comment.internal.is_(False))  # requesters never see internal comments
            zone = ZoneInfo(op.pack.timezone)  # shown in the pack's time zone, like events (SPEC 8)
            return [{"at": c.at.astimezone(zone).isoformat(), "author": c.author, "text": c.text,
                     "internal": c.internal} for c in session.scalars(query)]

    # -- changing ----------------------------------------------------------------------------------

    def create(self, actor: Actor, process: str, fields: Mapping[str, Any] | None = None,
               requester: str | None = None, channel: str | None = None) -> dict[str, Any]:
        """`channel` is how the ticket reached us (api, portal, monitoring...), kept on the create event."""
        with self.db.write() as session, session.no_autoflush:
            compiled = self.definitions.active()
            op = Operation.for_new(self, session, compiled, actor, process, dict(fields or {}), requester,
                                   channel=channel)
            self._flush(session)
            return op.view()

    def fire(self, actor: Actor, number: str, transition: str, fields: Mapping[str, Any] | None = None,
             comment: str | None = None, version: int | None = None) -> dict[str, Any]:
        with self.db.write() as session, session.no_autoflush:  # one UPDATE, one version per operation
            op = self._open(session, actor, number, for_update=True)
            op.fire(transition, dict(fields or {}), comment, version)
            self._flush(session)
            return op.view()

    def update(self, actor: Actor, number: str, fields: Mapping[str, Any],
               version: int | None = None) -> dict[str, Any]:
        with self.db.write() as session, session.no_autoflush:
            op = self._open(session, actor, number, for_update=True)
            op.update(dict(fields), version)
            self._flush(session)
            return op.view()

    def comment(self, actor: Actor, number: str, text: str, internal: bool = False) -> dict[str, Any]:
        if not text or not text.strip():
            raise ValidationFailed("a comment needs text", [{"field": "text", "message": "empty comment"}])
        with self.db.write() as session, session.no_autoflush:
            op = self._open(session, actor, number, for_update=True)
            if internal and not op.is_agent():
                raise Forbidden("only agents write internal comments")
            op.add_comment(text, internal, author=actor.name)
            op.finish("comment", comment=text, data={"internal": internal})
            self._flush(session)
            return op.view()

    # -- machinery ---------------------------------------------------------------------------------

    def machine(self, compiled: CompiledVersion, process: m.ProcessSpec) -> Machine:
        machine = compiled.machines.get(process.id)
        if machine is None:
            machine = compiled.machines[process.id] = build_machine(process, _run_from_event)
        return machine

    def plugin_actions(self, pack: m.PackSpec) -> dict[str, Any]:
        key = ",".join(pack.plugins)
        if key not in self._plugin_actions:
            installed = plugin_registry.installed()
            actions: dict[str, Any] = {}
            for name in pack.plugins:
                if name in installed:
                    actions.update(plugin_registry.load(name, installed[name]).actions)
            self._plugin_actions[key] = actions
        return self._plugin_actions[key]

    def _open(self, session: Session, actor: Actor, number: str, for_update: bool = False) -> Operation:
        # with the lock, a writer waits for the worker (and vice versa) on this ticket
        locked = for_update and session.get_bind().dialect.name == "postgresql"
        ticket = session.scalar(q.TICKET_BY_NUMBER_LOCKED if locked else q.TICKET_BY_NUMBER, {"number": number})
        if ticket is None:
            raise NotFound(f"no ticket {number}")
        op = self.operation(session, actor, ticket)
        if not op.can_see():
            raise NotFound(f"no ticket {number}")  # do not reveal that someone else's ticket exists
        return op

    def operation(self, session: Session, actor: Actor, ticket: Ticket) -> Operation:
        """An operation on a loaded ticket under the active definitions version (the worker uses this)."""
        compiled = self.definitions.active()
        process = compiled.pack.processes.get(ticket.process)
        if process is None:
            raise Conflict(f"process '{ticket.process}' is not in the active definitions version")
        return Operation(self, session, compiled, actor, ticket, process)

    @staticmethod
    def _flush(session: Session) -> None:
        try:
            session.flush()
        except StaleDataError as exc:
            raise StaleVersion("the ticket was changed by someone else: reload it and try again") from exc


def _run_from_event(actions: tuple[m.Action, ...], phase: str, event: EventData) -> None:
    run_actions(event.kwargs["op"], actions)


class Operation:
    """One change to one ticket: the working copy, the changes to record, the rows to add."""

    def __init__(self, engine: Engine, session: Session, compiled: CompiledVersion, actor: Actor, ticket: Ticket,
                 process: m.ProcessSpec, depth: int = 0):
        self.engine = engine
        self.session = session
        self.compiled = compiled
        self.pack = compiled.pack
        self.actor = actor
        self.ticket = ticket
        self.process = process
        self.form = self.pack.forms[process.form]
        self.fields: dict[str, Any] = dict(ticket.fields or {})
        self.now = engine.clock()
        self.event = "update"
        self.depth = depth
        self.changes: dict[str, list[Any]] = {}
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.pending_outbox: list[dict[str, Any]] = []  # outbox rows (column values), written by finish
        self.pending_comments: list[dict[str, Any]] = []
        self.pending_links: list[tuple[Ticket, str]] = []
        self.created: list[Ticket] = []  # tickets opened by this operation's `create` actions
        self._requester: dict[str, Any] | None = None
        self._clock_rows: dict[str, SlaClock] | None = None
        self.worked: dict[tuple[str, datetime], float] = {}  # working seconds from (calendar, instant) to now
        self.extra_template: dict[str, Any] = {}

    # -- construction of a new ticket --------------------------------------------------------------

    @classmethod
    def for_new(cls, engine: Engine, session: Session, compiled: CompiledVersion, actor: Actor, process_id: str,
                values: dict[str, Any], requester: str | None, depth: int = 0,
                channel: str | None = None) -> Operation:
        pack = compiled.pack
        process = pack.processes.get(process_id)
        if process is None:
            raise ValidationFailed(f"no process '{process_id}'",
                                   [{"field": "process", "message": f"unknown process '{process_id}'"}])
        requester = requester or actor.name
        if requester != actor.name and not (actor.is_system or is_agent_for(actor, process, pack)):
            raise Forbidden("only agents record tickets on behalf of someone else")
        requester_user = session.scalar(q.USER_BY_NAME, {"name": requester}) if requester != "system" else None
        if requester != "system" and requester_user is None:
            raise ValidationFailed(f"no user '{requester}'", [{"field": "requester",
                                                               "message": f"unknown user '{requester}'"}])
        form = pack.forms[process.form]
        raise_if(check_values(form, values))
        now = engine.clock()
        initial = process.state(process.initial)
        ticket = Ticket(process=process.id, state=initial.id, is_open=not initial.final, requester=requester,
                        fields={}, definitions_version=compiled.id, created_at=now, updated_at=now,
                        state_entered_at=now, closed_at=now if initial.final else None)
        op = cls(engine, session, compiled, actor, ticket, process, depth)
        op._requester = person(requester, requester_user, pack)
        op.event = "create"
        for spec in form.fields:
            if spec.default is not None:
                op.fields[spec.id] = spec.default
        for name, value in values.items():
            op.fields[name] = as_stored(form, name, value)
        op.changes = {name: [None, value] for name, value in op.fields.items() if value is not None}
        op.recompute_priority()
        raise_if(check_state_rules(form, initial, op.fields, op.context(), set(values)))
        ticket.number = op._next_number(process.number_prefix)
        ticket.fields = dict(op.fields)
        session.add(ticket)
        if process.routing is not None:
            op.route()
        run_actions(op, initial.on_enter)
        op.sync()
        update_clocks(op)
        if op.ticket.id is None:
            session.flush()
        schedule_timers(op)
        op.finish("create", to_state=initial.id, data={"channel": channel} if channel else None)
        return op

    def _next_number(self, prefix: str) -> str:
        """Unique under concurrency: a counter row per prefix, incremented under its row lock.

        On PostgreSQL the increment commits on a connection of its own, so concurrent creates hold the
        counter's lock for a moment instead of their whole transaction (a rolled-back create leaves a gap,
        which SPEC 4 allows). SQLite has one writer at a time anyway: there it runs in the transaction.
        """
        bind = self.session.get_bind()
        if bind.dialect.name == "postgresql":
            with self.engine.db.engine.connect() as connection:
                value = _increment(connection, prefix, postgresql.insert)
                connection.commit()
        else:
            value = _increment(self.session, prefix, sqlite.insert)
        return f"{prefix}{value:07d}"

    # -- who may do what ---------------------------------------------------------------------------

    def roles(self) -> frozenset[str]:
        return self.actor.roles_on(self.ticket.requester, self.ticket.assignee, self.ticket.team)

    def is_agent(self) -> bool:
        return self.actor.is_system or self.actor.is_admin or is_agent_for(self.actor, self.process, self.pack) or (
            self.ticket.team is not None and self.ticket.team in self.actor.teams)

    def can_see(self) -> bool:
        return self.ticket.requester == self.actor.name or self.ticket.assignee == self.actor.name or self.is_agent()

    def may_fire(self, transition: m.TransitionSpec) -> bool:
        if self.actor.is_system:
            return True
        if transition.roles is None:
            return not transition.timed  # timed transitions without roles belong to the worker
        return bool(self.roles() & set(transition.roles))

    def available(self) -> list[str]:
        """Transitions this actor may fire now: role held, from the current state, guard true (`may_fire`,
        with the ticket roles and the guards' context worked out once for all the transitions)."""
        result = []
        roles: frozenset[str] | None = None
        context: dict[str, Any] | None = None  # the full context, or only the ticket's part (`light`)
        light = False
        for transition in self.process.transitions_from(self.ticket.state):
            if transition.timed and transition.roles is None:
                continue
            if transition.roles is not None and not self.actor.is_system:
                if roles is None:
                    roles = self.roles()
                if roles.isdisjoint(transition.roles):
                    continue
            if transition.guard is not None:
                full = reads_people_or_clocks(transition.guard.names)
                if context is None or (light and full):
                    light = not full
                    context = ticket_context(self.ticket, self.fields, self.event) if light else self.context()
                context["event"] = transition.id  # expressions only read the context
                if not transition.guard.test(context):
                    continue
            result.append(transition.id)
        return result

    def check_version(self, version: int | None) -> None:
        if version is not None and version != self.ticket.version:
            raise StaleVersion(f"{self.ticket.number} is at version {self.ticket.version}, not {version}: "
                               f"reload it and try again")

    # -- the operations ----------------------------------------------------------------------------

    def fire(self, transition_id: str, values: dict[str, Any], comment: str | None,
             version: int | None = None) -> None:
        """SPEC 8's order: the transition (404), the role (403), the version (409), the state (409), ..."""
        transition = self.process.transition_by_id.get(transition_id)
        if transition is None:
            raise NotFound(f"process '{self.process.id}' has no transition '{transition_id}'")
        self.event = transition_id
        if not self.may_fire(transition):
            needed = ", ".join(transition.roles or ()) or "the worker"
            raise Forbidden(f"'{transition_id}' needs one of these roles: {needed}")
        self.check_version(version)
        source = self.ticket.state
        if source not in transition.sources:
            raise Conflict(f"'{transition_id}' is not possible in state '{source}' "
                           f"(it starts from {', '.join(transition.sources)})")
        raise_if(check_values(self.form, values))
        extra = [name for name in values if name not in transition.fields]
        if extra:
            raise ValidationFailed("fields outside the transition's form",
                                   [{"field": n, "message": f"not a field of transition '{transition_id}'"}
                                    for n in extra])
        for name, value in values.items():
            self.set_field(name, value, source="input")
        if transition.guard is not None and not transition.guard.test(self.context()):
            raise Conflict(f"'{transition_id}' is not possible now: its condition "
                           f"'{transition.guard.source}' is false")
        target = self.process.state(transition.target)
        raise_if(check_state_rules(self.form, target, self.fields, self.context(state=target.id), set(values)))
        machine = self.engine.machine(self.compiled, self.process)
        machine.events[transition_id].trigger(self, op=self)  # exit, state change, enter, transition actions
        self.recompute_priority()
        schedule_timers(self)  # entering a state (even the same one again) restarts its timed transitions
        update_clocks(self)
        if comment:
            self.add_comment(comment, internal=False, author=self.actor.name)
        self.finish("transition", transition=transition_id, from_state=source, to_state=target.id, comment=comment)

    @property
    def state(self) -> str:
        return self.ticket.state

    @state.setter
    def state(self, value: str) -> None:
        """Called by `transitions` between on_exit and on_enter."""
        if value != self.ticket.state:
            self.changes["state"] = [self.ticket.state, value]
            self.ticket.state = value
        self.ticket.state_entered_at = self.now  # a self-loop re-enters: its timers start again
        final = self.process.state(value).final
        self.ticket.is_open = not final
        self.ticket.closed_at = self.now if final else None

    def update(self, values: dict[str, Any], version: int | None = None) -> None:
        self.event = "update"
        if not self.is_agent():
            raise Forbidden("only agents edit fields directly; requesters add information with comments and "
                            "the transitions offered to them")
        self.check_version(version)
        if not self.ticket.is_open:
            raise Conflict(f"{self.ticket.number} is {self.ticket.state}: a closed ticket cannot be edited")
        raise_if(check_values(self.form, values))
        changed = {name for name, value in values.items() if self.fields.get(name) != value}
        for name in changed:
            self.set_field(name, values[name], source="input")
        state = self.process.state(self.ticket.state)
        raise_if(check_state_rules(self.form, state, self.fields, self.context(), changed))
        self.recompute_priority()
        if self.changes:
            update_clocks(self)
            self.finish("update")

    # -- effects used by actions -------------------------------------------------------------------

    def set_field(self, name: str, value: Any, source: str) -> None:
        if name not in self.form.by_id:
            raise ValidationFailed(f"unknown field '{name}'", [{"field": name, "message": "unknown field"}])
        value = as_stored(self.form, name, value)
        old = self.fields.get(name)
        if old == value:
            return
        if source != "input":
            problems = check_values(self.form, {name: value})
            if problems:
                raise ValidationFailed(f"{source} set an invalid value", problems)
        first = self.changes.get(name, [old, None])[0]
        self.changes[name] = [first, value]
        self.fields[name] = value

    def recompute_priority(self) -> None:
        if self.process.priority_matrix is None:
            return
        matrix = self.pack.matrices[self.process.priority_matrix]
        level = matrix.compute(self.context())
        if level != self.ticket.priority:
            first = self.changes.get("priority", [self.ticket.priority, None])[0]
            self.changes["priority"] = [first, level]
            self.ticket.priority = level

    def assign(self, team: str | None, user: str | None, reason: str) -> None:
        before = (self.ticket.team, self.ticket.assignee)
        if team != self.ticket.team:
            self.changes["team"] = [self.changes.get("team", [self.ticket.team])[0], team]
            self.ticket.team = team
        if user != self.ticket.assignee:
            self.changes["assignee"] = [self.changes.get("assignee", [self.ticket.assignee])[0], user]
            self.ticket.assignee = user
        if (self.ticket.team, self.ticket.assignee) != before:
            self.notes.append(("routing", {"reason": reason, "team": team, "assignee": user}))

    def route(self) -> None:
        if self.process.routing is None:
            return
        routing = self.pack.routings[self.process.routing]
        decision = route(routing, self.context())
        user, how = decision.user, "rule"
        if user is None:
            user, how = self.pick_member(routing, decision.team)
        before = (self.ticket.team, self.ticket.assignee)
        self.assign(decision.team, user, reason="routing")
        if (self.ticket.team, self.ticket.assignee) == before:
            self.notes.append(("routing", {"reason": "routing", "team": decision.team, "assignee": user}))
        self.notes[-1][1].update(routing=routing.id, rule=decision.rule.id, assignment=how)

    def pick_member(self, routing: m.RoutingSpec, team_id: str) -> tuple[str | None, str]:
        """The routing's strategy applied to `team_id`: round-robin cursor or open tickets per member."""
        team = self.pack.teams.get(team_id)
        if team is None or routing.assignment == "manual" or not team.members:
            return None, "manual"
        with self.session.no_autoflush:  # a new ticket is inserted once, complete, not before it is routed
            return self._pick(routing, team)

    def _pick(self, routing: m.RoutingSpec, team: m.TeamSpec) -> tuple[str | None, str]:
        team_id = team.id
        context = self.context()
        if routing.assignment == "round_robin":
            dialect = self.session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            self.session.execute(insert(RoutingCursor).values(routing=routing.id, team=team_id, position=0)
                                 .on_conflict_do_nothing(index_elements=["routing", "team"]))
            cursor = self.session.get(RoutingCursor, (routing.id, team_id), with_for_update=True)
            assert cursor is not None
            choice = choose(routing, team, context, cursor=cursor.position)
            cursor.position = choice.cursor or 0
            return choice.user, choice.reason
        pool = candidates(routing, team, context)
        loads: dict[str, int] = dict(self.session.execute(q.OPEN_TICKETS_PER_ASSIGNEE, {"pool": pool}).all())
        choice = choose(routing, team, context, loads=loads)
        return choice.user, choice.reason

    def add_comment(self, text: str, internal: bool, author: str | None = None) -> None:
        self.pending_comments.append({"at": self.now, "author": author or self.actor.name, "text": text,
                                      "internal": internal})

    def note_event(self, kind: str, data: dict[str, Any]) -> None:
        self.notes.append((kind, data))

    def create_linked(self, process_id: str, values: dict[str, Any], link: str) -> None:
        if self.depth >= MAX_LINKED_DEPTH:
            raise Conflict(f"linked tickets nest deeper than {MAX_LINKED_DEPTH}: check the create actions")
        requester = "system" if self.actor.is_system else self.actor.name  # not the customer: a review is internal
        child = Operation.for_new(self.engine, self.session, self.compiled, system_actor(), process_id, values,
                                  requester, depth=self.depth + 1, channel="internal")
        self.pending_links.append((child.ticket, link))
        self.created.append(child.ticket)

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
            elif target.startswith(("team:", "user:")) or "@" in target:
                out.append(target)
            else:  # a team role: every team holding it
                out.extend(f"team:{t.id}" for t in self.pack.teams.values() if target in t.roles)
        return list(dict.fromkeys(out))

    # -- contexts ----------------------------------------------------------------------------------

    def user_exists(self, name: str) -> bool:
        return self.session.scalar(q.USER_BY_NAME, {"name": name}) is not None

    def requester(self) -> dict[str, Any]:
        if self._requester is None:
            name = self.ticket.requester
            user = self.session.scalar(q.USER_BY_NAME, {"name": name}) if name != "system" else None
            self._requester = person(name, user, self.pack)
        return self._requester

    def context(self, state: str | None = None, event: str | None = None) -> dict[str, Any]:
        context = expression_context(self.ticket, self.fields, self.requester(), self.actor, event or self.event,
                                     state)
        if self.actor.is_system:  # the system actor holds every role (SPEC 4 scenario)
            context["actor"]["roles"] = list(system_roles(self.pack))
        if self.clock_rows():
            context["sla"] = clock_names(self)
        return context

    def template_context(self) -> dict[str, Any]:
        return {**template_context(self.ticket, self.fields, self.requester(), self.actor),
                "timeline": Timeline(self), **self.extra_template}

    def sync(self) -> None:
        """Write the working copy to the row, touching only what changed (no needless UPDATE)."""
        if self.ticket.fields != self.fields:
            self.ticket.fields = dict(self.fields)
        if self.ticket.updated_at != self.now and (self.changes or self.ticket.id is None):
            self.ticket.updated_at = self.now

    def preload(self, clock_rows: dict[str, SlaClock], requester: User | None) -> None:
        """Rows the worker fetched for a whole batch, so each ticket costs no extra queries."""
        self._clock_rows = clock_rows
        if self.ticket.requester == "system" or requester is not None:
            self._requester = person(self.ticket.requester, requester, self.pack)

    def clock_rows(self) -> dict[str, SlaClock]:
        if self._clock_rows is None:
            self._clock_rows = load_rows(self)
        return self._clock_rows

    def new_clock_row(self, clock: str) -> SlaClock:
        """A clock the ticket has no row for yet (a new ticket, or a clock a new version added)."""
        row = SlaClock(ticket_id=self.ticket.id, clock=clock, status="not_started", phase="not_started",
                       elapsed_seconds=0.0, warnings_fired=0, breached=False, breach_fired=False)
        self.session.add(row)
        return row

    def view(self) -> dict[str, Any]:
        """The ticket as the API shows it, for this actor, now."""
        return ticket_view(self.ticket, self.available(), clock_views(self, self.engine.clock()),
                           ZoneInfo(self.pack.timezone))  # SPEC 8: shown in the pack's time zone

    # -- writing -----------------------------------------------------------------------------------

    def finish(self, kind: str, transition: str | None = None, from_state: str | None = None,
               to_state: str | None = None, comment: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Write the working copy back and append the events, comments, links and outbox rows."""
        ticket = self.ticket
        self.sync()
        if ticket.id is None:
            self.session.flush()  # a new ticket: insert it (version 1) to get the id the rows below refer to
        index_ticket(self, created=kind == "create")  # the search index changes with the text, in this transaction
        # appended rows go straight to the database (executemany), not through the unit of work
        connection = self.session.connection()
        for statement, rows in zip((q.INSERT_EVENTS, q.INSERT_COMMENTS, q.INSERT_OUTBOX),
                                   self.written_rows(kind, transition, from_state, to_state, comment, data),
                                   strict=True):
            if rows:
                connection.execute(statement, rows)
        for other, kind_of_link in self.pending_links:
            self.session.add(Link(source_id=ticket.id, target_id=other.id, kind=kind_of_link, created_at=self.now))
            self.session.add(Link(source_id=other.id, target_id=ticket.id, kind=LINK_INVERSE[kind_of_link],
                                  created_at=self.now))
        self.notes, self.pending_comments, self.pending_outbox, self.pending_links = [], [], [], []

    def written_rows(self, kind: str, transition: str | None = None, from_state: str | None = None,
                     to_state: str | None = None, comment: str | None = None, data: dict[str, Any] | None = None,
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The event, comment and outbox rows (column values) the operation writes: one source for the
        per-ticket path (ORM) and the worker's set-based path (`due_clocks`)."""
        ticket_id, version = self.ticket.id, self.compiled.id
        events = []
        if kind != "sla" or self.changes:  # a worker step that only moved clocks records just their events
            events.append({"ticket_id": ticket_id, "at": self.now, "actor": self.actor.name, "kind": kind,
                           "transition": transition, "from_state": from_state, "to_state": to_state,
                           "changes": _jsonable(self.changes), "comment": comment, "data": data or {},
                           "definitions_version": version})
        for note_kind, note in self.notes:
            events.append({"ticket_id": ticket_id, "at": self.now, "actor": self.actor.name, "kind": note_kind,
                           "transition": None, "from_state": None, "to_state": None, "changes": {},
                           "comment": None, "data": _jsonable(note), "definitions_version": version})
        comments = [{**row, "ticket_id": ticket_id} for row in self.pending_comments]
        outbox = [{**row, "ticket_id": ticket_id} for row in self.pending_outbox]
        return events, comments, outbox


def _increment(connection: Any, prefix: str, insert: Any) -> int:
    """Increment the prefix's counter; the first ticket of a prefix creates the row (once per prefix)."""
    value = connection.execute(q.NEXT_NUMBER, {"of_prefix": prefix}).scalar_one_or_none()
    if value is None:
        connection.execute(insert(NumberSequence).values(prefix=prefix, last_value=0)
                           .on_conflict_do_nothing(index_elements=["prefix"]))
        value = connection.execute(q.NEXT_NUMBER, {"of_prefix": prefix}).scalar_one()
    return int(value)


SLA_FILTERS = ("breached", "at_risk", "running", "paused")
_JSON_SCALARS = frozenset({str, int, float, bool})


@m.per_spec
def searched_fields(pack: m.PackSpec) -> tuple[str, ...]:
    """What the queue's `q=` searches besides the number (SPEC 10 "the text fields"): the `string` and `text`
    fields of the pack's forms, by value (not the keys or the JSON around them)."""
    return tuple(sorted({f.id for form in pack.forms.values() for f in form.fields if f.type in ("string", "text")}))


def _sla_status_filter(status: str, now: datetime) -> Any:
    """Tickets with at least one clock in `status` (one of SLA_FILTERS), as the queue shows them now."""
    if status not in SLA_FILTERS:
        raise BadRequest(f"sla must be one of: {', '.join(SLA_FILTERS)}",
                         [{"field": "sla", "message": f"one of {', '.join(SLA_FILTERS)}"}])
    overdue = (SlaClock.phase == "running") & (SlaClock.deadline < now)
    breached = SlaClock.phase.in_(("running", "paused")) & (SlaClock.breached.is_(True) | overdue)
    condition = {
        "breached": breached,
        "at_risk": (SlaClock.phase == "running") & (SlaClock.warnings_fired > 0) & ~breached,
        "running": (SlaClock.phase == "running") & ~breached,
        "paused": SlaClock.phase == "paused",
    }[status]
    return exists().where((SlaClock.ticket_id == Ticket.id) & condition)


def _shown_in(data: dict[str, Any] | None, zone: ZoneInfo) -> dict[str, Any] | None:
    """An event's data as shown: an SLA event's deadline (stored in UTC) in the pack's time zone."""
    deadline = (data or {}).get("deadline")
    if not isinstance(deadline, str):
        return data
    try:
        instant = datetime.fromisoformat(deadline)
    except ValueError:
        return data
    return {**(data or {}), "deadline": instant.astimezone(zone).isoformat()} if instant.tzinfo else data


def _jsonable(value: Any) -> Any:
    if value is None or type(value) in _JSON_SCALARS:
        return value
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
