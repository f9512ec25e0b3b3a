"""The engine's facade: tickets through compiled processes, one database transaction per call (SPEC 8).

`Engine.create`, `fire`, `update` and `comment` change tickets: each loads a snapshot through the store,
asks the transition core (`rules.py`) for a plan and has the adapter (`apply.py`) write it. `get`,
`events`, `comments`, `list_tickets`, `form` and `available_transitions` read them. Nothing is kept
between calls but the compiled definitions and the installed plugin actions.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from itsm.interpreter import model as m
from itsm.interpreter import plugins as plugin_registry
from itsm.store import Database, rows, tickets, users, watchers
from itsm.store import settings as stored_settings
from itsm.store.files import FileStore, default_folder
from itsm.store.models import utcnow

from ..boundary import guarded
from ..errors import N_, Forbidden, NotFound, ValidationFailed
from .access import available, can_see, desk_only, is_agent, requester_event, view
from .actors import Actor, actor_for, system_actor
from .apply import create, perform
from .compiled import CompiledVersion
from .definitions import Definitions
from .file_types import UploadPolicy
from .forms import Form, create_form, transition_form
from .queue import QueuePage, list_page
from .rating_links import LinkRefused, Links, RatingLink, link_key
from .rating_links import read as read_link
from .rules import Context, Request, draft, plan, plan_assign, plan_note, working
from .snapshot import TicketSnapshot, is_internal, user_facts
from .store_lookups import StoreLookups, snapshot
from .triage_models import TriageModels, applied_note, to_apply
from .visibility import viewer_of, visible_to
from .work import Work

Clock = Callable[[], datetime]
AGENT_EVENTS = frozenset({"link", "review"})  # they name tickets a requester may not see


class Engine:
    """`files`: the attachments folder (`ITSM_ATTACHMENTS_DIR`, else beside an SQLite file, else in the working
    directory: `store.files`); `uploads`: what an attachment may be (`ITSM_ATTACHMENT_MAX_BYTES`,
    `ITSM_ATTACHMENT_TYPES`: `file_types`). Neither touches anything until a file comes."""

    def __init__(self, db: Database, definitions: Definitions | None = None, clock: Clock = utcnow,
                 files: FileStore | None = None, uploads: UploadPolicy | None = None,
                 public_url: str | None = None, link_secret: str | None = None):
        self.db = db
        self.definitions = definitions or Definitions(db)
        self.clock = clock
        self.files = files or FileStore(default_folder(db.url))
        self.uploads = uploads or UploadPolicy.configured(os.environ.get("ITSM_ATTACHMENT_MAX_BYTES"),
                                                          os.environ.get("ITSM_ATTACHMENT_TYPES"))
        self._plugin_actions: dict[str, dict[str, Any]] = {}
        self.triage = TriageModels()  # the served triage model of each process (SPEC 16)
        # mail links (`{{ links }}`): the pages' address and the key signing one-click rating links, derived
        # from ITSM_SECRET_KEY, else from the installation's session secret (the one the pages sign with)
        self.public_url = (public_url or os.environ.get("ITSM_PUBLIC_URL") or "").strip().rstrip("/") or None
        self._link_secret = link_secret or os.environ.get("ITSM_SECRET_KEY") or None
        self._link_key: bytes | None = None

    def reading_from(self, replica: Database) -> Engine:
        """This engine with its tickets read from `replica`, a read-only copy of its database (a streaming
        replica: `ITSM_REPLICA_DATABASE_URL`), for requests that scan history and write nothing. It shares
        the compiled definitions (which follow the primary), the plugin actions and the served triage
        models; what it reads may be behind the primary by the replication lag. A copy made now: attributes
        set on this engine later (a test's clock) are not the twin's."""
        twin = copy.copy(self)
        twin.db = replica
        return twin

    # -- actors ------------------------------------------------------------------------------------

    def actor(self, name: str) -> Actor:
        """The actor for a user name under the active pack (`system` is the built-in all-roles actor)."""
        if name == "system":
            return system_actor()
        with self.db.read() as session:
            user = users.named(session, name)
            if user is None:
                raise NotFound(N_("no user '%(user)s'", user=name))
            return actor_for(user, self.definitions.active().pack)

    # -- reading -----------------------------------------------------------------------------------

    @guarded
    def get(self, actor: Actor, number: str) -> dict[str, Any]:
        with self.db.read() as session:
            return view(self.open(session, actor, number), self.clock())

    @guarded
    def available_transitions(self, actor: Actor, number: str) -> list[str]:
        with self.db.read() as session:
            return available(self.open(session, actor, number))

    @guarded
    def works_on(self, actor: Actor, number: str) -> bool:
        """Whether the actor works on this ticket as an agent (may assign it, reads its work notes)."""
        with self.db.read() as session:
            return is_agent(self.open(session, actor, number))

    @guarded
    def events(self, actor: Actor, number: str) -> list[dict[str, Any]]:
        """The ticket's event log, oldest first; requesters do not see internal comments and attachments, nor
        the links to other tickets (`AGENT_EVENTS`), nor the desk's own fields and bookkeeping
        (`access.requester_event`); agents see the links to the tickets they may see (a
        province desk's agent is not told the number of another province's ticket linked to one of its own)."""
        with self.db.read() as session:
            work = self.open(session, actor, number)
            assert work.ticket.id is not None
            agent = is_agent(work)
            zone = ZoneInfo(work.pack.timezone)
            found = [r for r in rows.events_of(session, work.ticket.id)
                     if agent or not hidden_from_requesters(r.kind, r.data)]
            others = {other for r in found if r.kind in AGENT_EVENTS and (other := _other_ticket(r.data))}
            hidden = others - tickets.numbers_among(session, others, visible_to(viewer_of(session, actor, work.pack))
                                                    ) if others else set()
            shown = [{"at": r.at.astimezone(zone).isoformat(), "actor": r.actor, "kind": r.kind,
                      "transition": r.transition, "from": r.from_state, "to": r.to_state, "changes": r.changes,
                      "comment": r.comment, "data": _shown_in(r.data, zone),
                      "definitions_version": r.definitions_version} for r in found
                     if not (hidden and r.kind in AGENT_EVENTS and _other_ticket(r.data) in hidden)]
            if agent:
                return shown
            desk = desk_only(work.form)
            return [event for e in shown if (event := requester_event(e, desk)) is not None]

    @guarded
    def list_tickets(self, actor: Actor, filters: Mapping[str, str | None], limit: int = 50,
                     cursor: Any = None) -> tuple[list[dict[str, Any]], Any]:
        """Tickets this actor may see in the order `sort` asks (`queue.list_page`), keyset-paginated, or best
        first for a search (`q`, paginated by position): (items, next cursor)."""
        found = self.queue_page(actor, filters, limit, cursor)
        return found.items, found.next_cursor

    @guarded
    def queue_page(self, actor: Actor, filters: Mapping[str, str | None], limit: int = 50, cursor: Any = None,
                   count: bool = False, before: Any = None) -> QueuePage:
        """A page of the queue as the API and the pages show it: the tickets as views, the cursors of the
        next and previous pages, the total when `count`."""
        with self.db.read() as session:
            compiled = self.definitions.active()
            now = self.clock()
            found = list_page(session, compiled.pack, actor, filters, limit, cursor, now, count=count, before=before)
            context = self.context(session, compiled)
            offered: dict[tuple[Any, ...], tuple[str, ...]] = {}  # the transitions of tickets alike, worked out once
            items = [view(working(context, ticket, actor, now), now, offered) for ticket in found.items
                     if ticket.ticket.process in compiled.pack.processes]
            return found._replace(items=items)

    @guarded
    def form(self, actor: Actor, *, process: str | None = None, number: str | None = None,
             transition: str | None = None, values: Mapping[str, Any] | None = None) -> Form:
        """The create form of `process`, or the form of `transition` on ticket `number`, as `actor` sees it
        with `values` typed in so far (flags and `*_when` rules evaluated as the engine will on submit)."""
        with self.db.read() as session:
            if number is None:
                compiled = self.definitions.active()
                found = compiled.pack.processes.get(process or "")
                if found is None:
                    raise NotFound(N_("no process '%(process)s'", process=process))
                requester = user_facts(users.named(session, actor.name))
                work = draft(self.context(session, compiled), actor, found, {}, requester, self.clock())
                return create_form(work, values or {})
            work = self.open(session, actor, number)
            return transition_form(work, transition or "", values or {}, self.clock())

    @guarded
    def comments(self, actor: Actor, number: str) -> list[dict[str, Any]]:
        with self.db.read() as session:
            work = self.open(session, actor, number)
            assert work.ticket.id is not None
            zone = ZoneInfo(work.pack.timezone)  # shown in the pack's time zone, like events (SPEC 8)
            return [{"at": c.at.astimezone(zone).isoformat(), "author": c.author, "text": c.text,
                     "internal": c.internal}  # requesters never see internal comments
                    for c in rows.comments_of(session, work.ticket.id, public_only=not is_agent(work))]

    # -- changing ----------------------------------------------------------------------------------

    @guarded
    def create(self, actor: Actor, process: str, fields: Mapping[str, Any] | None = None,
               requester: str | None = None, channel: str | None = None) -> dict[str, Any]:
        """`channel` is how the ticket reached us (api, portal, monitoring...), kept on the create event.
        Fields the process's `triage.apply` names and the values leave empty are set by the triage model when
        it is sure enough, and a `triage` event by `system` after the create names the model (SPEC 16)."""
        with self.db.write() as session:
            context = self.context(session)
            values = dict(fields or {})
            spec = context.compiled.pack.processes.get(process)
            served = self.triage.current(session, process) if spec is not None and spec.triage is not None \
                and spec.triage.apply else None
            applied = to_apply(context.compiled.pack, spec, served, values) if spec is not None else {}
            values.update({name: suggestion.value for name, suggestion in applied.items()})
            request = Request("create", actor, self.clock(), process=process, values=values,
                              requester=requester, channel=channel, suggested=frozenset(applied))
            made = create(session, self.db, context, request).snapshot
            if applied and served is not None:
                note = plan_note(working(context, made, system_actor(), self.clock()), "triage",
                                 applied_note(served, applied))
                made = perform(session, self.db, context, note).snapshot
            return self.show(context, made, actor)

    @guarded
    def fire(self, actor: Actor, number: str, transition: str, fields: Mapping[str, Any] | None = None,
             comment: str | None = None, version: int | None = None) -> dict[str, Any]:
        return self.change(actor, number, Request("fire", actor, self.clock(), transition=transition,
                                                  values=dict(fields or {}), comment=comment, version=version))

    @guarded
    def update(self, actor: Actor, number: str, fields: Mapping[str, Any],
               version: int | None = None) -> dict[str, Any]:
        return self.change(actor, number, Request("update", actor, self.clock(), values=dict(fields),
                                                  version=version))

    @guarded
    def comment(self, actor: Actor, number: str, text: str, internal: bool = False) -> dict[str, Any]:
        if not text or not text.strip():  # before looking the ticket up
            raise ValidationFailed(N_("a comment needs text"), [{"field": "text", "message": N_("empty comment")}])
        return self.change(actor, number, Request("comment", actor, self.clock(), comment=text, internal=internal))

    @guarded
    def assign(self, actor: Actor, number: str, team: str | None = None, user: str | None = None,
               version: int | None = None) -> dict[str, Any]:
        """An agent gives the ticket to a team or a person (`rules.plan_assign`)."""
        with self.db.write() as session:
            context = self.context(session)
            before = self.load(session, actor, number, for_update=True, context=context)
            planned = plan_assign(working(context, before, actor, self.clock()), team, user, version)
            after = perform(session, self.db, context, planned).snapshot if planned is not None else before
            return self.show(context, after, actor)
    # -- watchers ----------------------------------------------------------------------------------

    @guarded
    def watchers(self, actor: Actor, number: str) -> list[dict[str, Any]]:
        """The people following the ticket (recipient `watchers`), in the order they were added."""
        with self.db.read() as session:
            work = self.open(session, actor, number)
            assert work.ticket.id is not None
            zone = ZoneInfo(work.pack.timezone)
            return [{"user": user, "added_by": added_by, "added_at": at.astimezone(zone).isoformat()}
                    for user, added_by, at in watchers.listing(session, work.ticket.id)]

    @guarded
    def watch(self, actor: Actor, number: str, user: str, follow: bool = True) -> list[dict[str, Any]]:
        """Add (`follow`) or remove `user` as a watcher: an agent of the ticket or its requester may, and
        anyone who sees it may add or remove themselves. A watcher must be someone allowed to see the ticket
        (422 otherwise: mail would tell them about a ticket they may not open). An event records the change."""
        with self.db.write() as session:
            context = self.context(session)
            found = self.load(session, actor, number, for_update=True, context=context)
            now = self.clock()
            work = working(context, found, actor, now)
            ticket_id = work.ticket.id
            assert ticket_id is not None
            if user != actor.name and not (is_agent(work) or actor.name == work.ticket.requester):
                raise Forbidden(N_("only agents and the requester add or remove other watchers"))
            if follow:
                self._check_watcher(session, context, found, user)
                changed = watchers.add(session, ticket_id, user, actor.name, now)
            else:
                changed = watchers.remove(session, ticket_id, user)
            if changed:
                note = plan_note(work, "watchers", {"added" if follow else "removed": user})
                perform(session, self.db, context, note)
        return self.watchers(actor, number)

    def _check_watcher(self, session: Session, context: Context, found: TicketSnapshot, user: str) -> None:
        problem = None
        record = users.named(session, user) if user and user != "system" else None
        if record is None:
            problem = N_("no user '%(user)s'", user=user)
        elif not record.active:
            problem = N_("'%(user)s' is disabled", user=user)
        elif not can_see(working(context, found, actor_for(record, context.compiled.pack), self.clock())):
            problem = N_("'%(user)s' may not see %(number)s: a watcher must be someone allowed to see the ticket",
                         user=user, number=found.ticket.number)
        if problem is not None:
            raise ValidationFailed(problem, [{"field": "user", "message": problem}])

    def change(self, actor: Actor, number: str, request: Request) -> dict[str, Any]:
        """One request on one ticket, locked for the transaction: load, plan, write, show."""
        with self.db.write() as session:
            context = self.context(session)
            before = self.load(session, actor, number, for_update=True, context=context)
            planned = plan(context, before, request)
            after = perform(session, self.db, context, planned).snapshot if planned is not None else before
            return self.show(context, after, actor)

    # -- machinery ---------------------------------------------------------------------------------

    def context(self, session: Session, compiled: CompiledVersion | None = None, depth: int = 0) -> Context:
        """What the core runs with in this transaction: the active version, look-ups, plugin actions."""
        compiled = compiled or self.definitions.active()
        return Context(compiled, StoreLookups(session, self.db, compiled.pack), self.plugin_actions(compiled.pack),
                       depth, self.mail_links(session))

    def link_key(self, session: Session) -> bytes | None:
        """The key of one-click links; None while the installation has no session secret yet (the first
        page served creates it)."""
        if self._link_key is None:
            secret = self._link_secret or stored_settings.value(session, stored_settings.SESSION_SECRET)
            self._link_key = link_key(secret) if secret else None
        return self._link_key

    def mail_links(self, session: Session) -> Links | None:
        if self.public_url is None:
            return None
        key = self.link_key(session)
        return Links(self.public_url, key) if key is not None else None

    def rating_link(self, token: str) -> RatingLink:
        """The facts of a one-click rating link (`rating_links.LinkRefused` when altered or expired)."""
        with self.db.read() as session:
            key = self.link_key(session)
        if key is None:
            raise LinkRefused("invalid")
        return read_link(key, token, self.clock())

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

    def load(self, session: Session, actor: Actor, number: str, for_update: bool = False,
             context: Context | None = None) -> TicketSnapshot:
        """The ticket `number` as `actor` may see it (404 otherwise: do not reveal that someone else's
        ticket exists); `for_update`: locked until the transaction ends (a writer waits for the worker)."""
        row = tickets.by_number(session, number, lock=for_update)
        if row is None:
            raise NotFound(N_("no ticket %(number)s", number=number))
        found = snapshot(session, row)
        if not can_see(working(context or self.context(session), found, actor, self.clock())):
            raise NotFound(N_("no ticket %(number)s", number=number))
        return found

    def open(self, session: Session, actor: Actor, number: str, for_update: bool = False) -> Work:
        """The working copy of ticket `number` for `actor` (404 when not visible), for reading rules."""
        context = self.context(session)
        return working(context, self.load(session, actor, number, for_update, context), actor, self.clock())

    def show(self, context: Context, ticket: TicketSnapshot, actor: Actor) -> dict[str, Any]:
        now = self.clock()
        return view(working(context, ticket, actor, now), now)


def _other_ticket(data: dict[str, Any] | None) -> str | None:
    """The number of the other ticket a link or review event names."""
    value = (data or {}).get("to") or (data or {}).get("review")
    return value if isinstance(value, str) else None


def hidden_from_requesters(kind: str, data: dict[str, Any] | None) -> bool:
    """Events requesters do not see: links and reviews, internal comments and attachments."""
    return kind in AGENT_EVENTS or is_internal(kind, data)


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
