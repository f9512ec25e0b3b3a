"""Due SLA clocks, a batch at a time and set-based: the worker's fast path (SPEC 6, 8).

A batch claims due clock rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so other workers take other rows)
and locks their tickets the same way. It loads the tickets, all their clocks and their requesters in three
queries, asks the transition core for each ticket's SLA step (`plan_sla`, the very rules of any other
change) and writes the plans' clock, ticket, event, comment, outbox and search rows with one statement
per table and set of changed columns (`store.bulk`), all in the batch's one transaction. Changed tickets
get their `version` bumped, checked against the version loaded.

A ticket joins the batch's writes only once its plan is made, so a failing action leaves nothing behind:
the ticket is logged and looked at again after the worker's RETRY_AFTER. A plan the bulk writer does not
write (one that opens linked tickets, schedules timers or links tickets) goes to the per-ticket path
(`sweep`), as does a whole batch whose writes fail.
"""

from __future__ import annotations

import logging
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from itsm.store import clocks, numbering, routing, tickets, users, watchers
from itsm.store.bulk import insert_rows, update_rows
from itsm.store.clocks import CLOCKS
from itsm.store.dialects import serially
from itsm.store.rows import COMMENTS, EVENTS, OUTBOX
from itsm.store.search import add_comments, write_documents
from itsm.store.tickets import TICKETS

from ..errors import N_, StaleVersion
from .apply import clock_json, clock_values
from .plan import AdvanceCursor, Plan
from .rules import Context, plan_sla, system_work
from .snapshot import HistoryEntry
from .store_lookups import histories, lineage_cached, members_of, snapshot

if TYPE_CHECKING:
    from .engine import Engine

log = logging.getLogger("itsm.worker")


@dataclass
class BatchResult:
    done: int = 0  # tickets whose due clocks were evaluated
    due_clocks: int = 0  # the clocks of those tickets that were due
    failed: int = 0
    own_transaction: list[int] = field(default_factory=list)  # ticket ids left to the per-ticket path
    full: bool = False  # the batch took as many tickets as it could: more may be due


def sweep_due_clocks(engine: Engine, batch: int, retry_after: timedelta) -> BatchResult:
    """Claim up to `batch` tickets with due clocks, plan their SLA steps, write everything in one transaction."""
    result = BatchResult()
    with engine.db.write() as session:
        now = engine.clock()
        serially(session)  # its reads by index are short: parallel workers would take the cores the sweep uses
        clocks.by_key_only(session)
        ids, result.full = clocks.due_ticket_ids(session, now, batch)
        if not ids:
            return result
        rows = tickets.by_ids_locked(session, ids)  # a user writing a ticket: it waits for the next sweep
        clock_rows = clocks.of_tickets(session, [row.id for row in rows])
        requesters = users.all_named(session, {row.requester for row in rows})
        work = ClockBatch(engine, session, [row.id for row in rows])
        failed: list[int] = []
        for row in rows:
            try:
                found = snapshot(session, row, clock_rows.get(row.id, []), requesters.get(row.requester),
                                 requester_known=True)
                planned = plan_sla(system_work(work.context, found, now))
            except Exception as exc:  # this ticket only: nothing of it is written
                log.warning("SLA step of %s failed: %s", row.number, exc)
                failed.append(row.id)
                continue
            if not bulk_writable(planned):
                result.own_transaction.append(row.id)
                continue
            work.keep(planned)
            result.done += 1
            result.due_clocks += due_count(clock_rows.get(row.id, []), now)
        work.write()
        if failed:
            clocks.retry_later(session, failed, now, now + retry_after)
            result.failed = len(failed)
    return result


def due_count(clock_rows: Sequence[Any], now: datetime) -> int:
    """How many of a ticket's clock rows were due at `now` (what a sweep reports)."""
    return sum(1 for row in clock_rows if row.next_timer_at is not None and row.next_timer_at < now)


def bulk_writable(plan: Plan) -> bool:
    """Whether the batch writer writes all of the plan: not when it opens or links tickets, or moves timers."""
    return not plan.creates_tickets and not plan.links and plan.timers is None


class ClockBatch:
    """One batch: the look-ups its tickets share (member loads, round-robin cursors) and the rows to write."""

    def __init__(self, engine: Engine, session: Session, ticket_ids: Sequence[int] = ()) -> None:
        self.session, self.db = session, engine.db
        compiled = engine.definitions.active()
        self.context = Context(compiled, BatchLookups(self, ticket_ids), engine.plugin_actions(compiled.pack))
        self.events: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.documents: list[tuple[int, str, str]] = []
        self.new_clocks: list[dict[str, Any]] = []
        self.changed_clocks: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # changed columns -> rows
        self.changed_tickets: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self.cursors: dict[tuple[str, str], int] = {}
        self.moved_cursors: set[tuple[str, str]] = set()
        self._loads: dict[str, int] = {}  # open tickets per member when the batch began
        self._load_changes: Counter[str] = Counter()  # and what the batch's tickets changed since

    def keep(self, plan: Plan) -> None:
        """A ticket whose plan is made: its rows join the batch's writes, its assignments the loads."""
        ticket = plan.ticket
        ticket_id = ticket.id
        assert ticket_id is not None and plan.before is not None
        self.events.extend({**row, "ticket_id": ticket_id} for row in plan.events)
        self.comments.extend({**row, "ticket_id": ticket_id} for row in plan.comments)
        self.outbox.extend({**row, "ticket_id": ticket_id} for row in plan.outbox)
        if plan.document is not None:
            self.documents.append((ticket_id, *plan.document))
        for change in plan.clocks:
            if change.before is None or change.before.id is None:
                self.new_clocks.append({"ticket_id": ticket_id, **clock_values(change.after)})
            else:
                self.changed_clocks.setdefault(tuple(change.values), []).append(
                    {"b_id": change.before.id, **clock_json(change.values)})
        if plan.changed:
            values = {name: getattr(ticket, name) for name in plan.changed}
            self.changed_tickets.setdefault(plan.changed, []).append(
                {"b_id": ticket_id, "b_version": ticket.version, **values})
        for effect in plan.effects:
            if isinstance(effect, AdvanceCursor):
                self.cursors[(effect.routing, effect.team)] = effect.position
                self.moved_cursors.add((effect.routing, effect.team))
        before = plan.before.ticket
        held_before = before.assignee if before.is_open else None  # what the open-ticket counts see
        held_now = ticket.assignee if ticket.is_open else None
        if held_before != held_now:
            if held_before is not None:
                self._load_changes[held_before] -= 1
            if held_now is not None:
                self._load_changes[held_now] += 1

    def loads(self, pool: Sequence[str]) -> dict[str, int]:
        """Open tickets per member, as the per-ticket path would count them after the tickets before."""
        loads = self._loads
        missing = [name for name in pool if name not in loads]
        if missing:
            counts = routing.open_tickets(self.session, missing)
            loads.update({name: int(counts.get(name, 0)) for name in missing})
        changes = self._load_changes.get  # not the Counter's own [] (a call of __missing__ per absent name)
        return {name: loads[name] + changes(name, 0) for name in pool}

    def cursor(self, key: tuple[str, str]) -> int:
        """A round-robin position, locked for the batch (created at 0 the first time)."""
        if key not in self.cursors:
            self.cursors[key] = routing.cursor(self.session, *key)
        return self.cursors[key]

    def write(self) -> None:
        """Everything the batch's tickets changed: one write per table and statement shape (`store.bulk`:
        the driver's executemany on SQLite; COPY and UPDATE ... FROM unnest on PostgreSQL)."""
        session = self.session
        connection = session.connection()
        if self.new_clocks:
            insert_rows(connection, CLOCKS, self.new_clocks)
        for params in self.changed_clocks.values():
            update_rows(connection, CLOCKS, ("id",), params)
        multi_rowcount = connection.dialect.supports_sane_multi_rowcount
        for params in self.changed_tickets.values():
            written = update_rows(connection, TICKETS, ("id", "version"), params, increment="version")
            if multi_rowcount and written != len(params):  # locked on PostgreSQL, one writer on SQLite
                raise StaleVersion(N_("%(count)s ticket(s) changed during the sweep", count=len(params) - written))
        for table, rows in ((EVENTS, self.events), (COMMENTS, self.comments), (OUTBOX, self.outbox)):
            insert_rows(connection, table, rows)
        write_documents(session, self.documents)
        add_comments(session, [(row["ticket_id"], row["text"], bool(row.get("internal"))) for row in self.comments])
        for routing_id, team in sorted(self.moved_cursors):
            routing.move_cursor(session, routing_id, team, self.cursors[(routing_id, team)])


class BatchLookups:
    """The core's look-ups for a batch: loads and cursors as the tickets before in the batch left them; the
    facts its tickets share (who exists, their languages, the tickets' histories) read once per batch, a set
    at a time, since nothing the batch writes changes them before its one write."""

    def __init__(self, batch: ClockBatch, ticket_ids: Sequence[int] = ()) -> None:
        self.batch = weakref.proxy(batch)  # the batch holds these look-ups: no cycle to leave to the collector
        self.ticket_ids = list(ticket_ids)  # the batch's tickets: their histories are read together
        self._lineages: dict[str, tuple[str, ...]] = {}
        self._locales: dict[str, str | None] = {}  # users read so far: name -> locale
        self._asked: set[str] = set()  # every name read so far, user or not
        self._histories: dict[int, list[HistoryEntry]] = {}

    def _read_users(self, names: Iterable[str]) -> None:
        missing = [name for name in dict.fromkeys(names) if name not in self._asked]
        if missing:
            found = users.locales_of(self.batch.session, missing)
            self._locales.update(found)
            self._asked.update(missing)

    def _read_with_members(self, names: Sequence[str]) -> None:
        """Escalations ask about a team's members, notifications about their languages: when a name is new,
        every team's members are read with it (in one statement), so most later tickets ask nothing."""
        if not self._asked.issuperset(names):
            self._read_users([*names, *members_of(self.batch.context.compiled.pack)])

    def user_exists(self, name: str) -> bool:
        if name not in self._asked:  # routing asks of every member of a team
            self._read_with_members([name])
        return name in self._locales

    def cursor(self, routing_id: str, team: str) -> int:
        return self.batch.cursor((routing_id, team))

    def open_tickets(self, pool: Sequence[str]) -> Mapping[str, int]:
        return self.batch.loads(pool)

    def timeline(self, ticket_id: int) -> Sequence[HistoryEntry]:
        if ticket_id not in self._histories:  # the first ticket to quote its history reads every ticket's
            wanted = dict.fromkeys([ticket_id, *self.ticket_ids])
            self._histories.update(histories(self.batch.session, [i for i in wanted if i not in self._histories]))
        return self._histories[ticket_id]

    def next_number(self, prefix: str) -> str:
        return numbering.next_number(self.batch.session, self.batch.db, prefix)

    def locales(self, names: Sequence[str]) -> Mapping[str, str | None]:
        self._read_with_members(names)
        known = self._locales
        return {name: known[name] for name in names if name in known}

    def watchers(self, ticket_id: int) -> Sequence[Any]:
        return watchers.people_of(self.batch.session, ticket_id)

    def org_lineage(self, org: str) -> Sequence[str]:
        return lineage_cached(self.batch.session, self._lineages, org)
