"""Due SLA clocks, a batch at a time and set-based: the worker's fast path (SPEC 6, 8).

A batch claims due clock rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so other workers take other rows)
and locks their tickets the same way. It loads the tickets, all their clocks and their requesters in three
queries as plain records (no ORM identity map), runs on each ticket the very clock step and actions of any
other change (`update_clocks`, `run_actions`) in memory, and writes clock, ticket, event, comment and
outbox rows with one statement per table (and per set of changed columns, `store.bulk`), all in the
batch's one transaction. Changed tickets get their `version` bumped, checked against the version loaded.

A ticket joins the batch's writes only once its whole step has succeeded, so a failing action leaves
nothing behind: the ticket is logged and looked at again after the worker's RETRY_AFTER. Actions that
create linked tickets need the ORM (numbers, routing of the new ticket): such tickets go back to the
per-ticket path (`worker`), as does a whole batch whose writes fail.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from itsm.interpreter import model as m
from itsm.routing import candidates, choose
from itsm.store import Comment, Event, OutboxMessage, RoutingCursor, SlaClock, Ticket, User
from itsm.store.bulk import insert_rows, update_rows

from ..errors import Conflict, EngineError, StaleVersion
from .actors import system_actor
from .clocks import update_clocks
from .core import Operation
from .records import Record, records
from .search_index import document_fields

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .core import Engine
    from .definitions import CompiledVersion

log = logging.getLogger("itsm.worker")

TICKETS = cast(Table, Ticket.__table__)
CLOCKS = cast(Table, SlaClock.__table__)
TICKET_WRITABLE = ("state", "is_open", "priority", "team", "assignee", "fields", "updated_at", "state_entered_at",
                   "closed_at")
ASSIGNEE, IS_OPEN = TICKET_WRITABLE.index("assignee"), TICKET_WRITABLE.index("is_open")
TICKET_COLUMNS = ("id", "number", "process", "requester", "version", *TICKET_WRITABLE)
CLOCK_WRITABLE = ("status", "phase", "policy", "calendar", "target_seconds", "elapsed_seconds", "started_at",
                  "running_since", "stopped_at", "deadline", "warnings_fired", "breached", "breach_fired",
                  "next_timer_at", "pauses")
CLOCK_COLUMNS = ("id", "ticket_id", "clock", *CLOCK_WRITABLE)


class NeedsOwnTransaction(EngineError):
    """An action the batch cannot write set-based (creating linked tickets): the per-ticket path runs it."""


@dataclass
class BatchResult:
    done: int = 0  # tickets whose due clocks were evaluated
    failed: int = 0
    own_transaction: list[int] = field(default_factory=list)  # ticket ids left to the per-ticket path


def sweep_due_clocks(engine: Engine, batch: int, retry_after: timedelta) -> BatchResult:
    """Claim up to `batch` due clocks, run their tickets' SLA steps, write everything in one transaction."""
    result = BatchResult()
    with engine.db.write() as session:
        now = engine.clock()
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            # Every statement of a batch reaches its rows by key. Without planner statistics (a bulk import
            # not yet analyzed, a server with autovacuum off) PostgreSQL would read all clock rows to find
            # the batch's: this transaction does not let it.
            session.execute(text("SET LOCAL enable_seqscan = off"))
        due = (select(SlaClock.ticket_id).where(SlaClock.next_timer_at < now).order_by(SlaClock.next_timer_at)
               .limit(batch))
        if postgres:
            due = due.with_for_update(skip_locked=True)  # other workers take the next rows, not these
        ids = list(dict.fromkeys(session.scalars(due)))
        if not ids:
            return result
        query = select(*(TICKETS.c[n] for n in TICKET_COLUMNS)).where(TICKETS.c.id.in_(ids)).order_by(TICKETS.c.id)
        if postgres:
            query = query.with_for_update(skip_locked=True)  # a user writing the ticket: next sweep
        tickets = records(session.execute(query))
        clocks: dict[int, dict[str, Record]] = {}
        query = select(*(CLOCKS.c[n] for n in CLOCK_COLUMNS)).where(CLOCKS.c.ticket_id.in_([t.id for t in tickets]))
        for clock in records(session.execute(query)):
            clocks.setdefault(clock.ticket_id, {})[clock.clock] = clock
        requesters = {row.name: row for row in records(session.execute(
            select(User.name, User.vip, User.org, User.email).where(User.name.in_({t.requester for t in tickets}))))}
        work = ClockBatch(engine, session, engine.definitions.active())
        failed: list[int] = []
        for ticket in tickets:
            rows = clocks.get(ticket.id, {})
            loaded = {name: row.values(CLOCK_WRITABLE) for name, row in rows.items()}
            before = ticket.values(TICKET_WRITABLE)
            try:
                op = work.step(ticket, rows, requesters.get(ticket.requester))
            except NeedsOwnTransaction:
                result.own_transaction.append(ticket.id)
                continue
            except Exception as exc:  # this ticket only: nothing of it is written
                log.warning("SLA step of %s failed: %s", ticket.number, exc)
                failed.append(ticket.id)
                continue
            work.keep(op, ticket, before, rows, loaded)
            result.done += 1
        work.write()
        if failed:
            session.execute(update(CLOCKS).where(CLOCKS.c.ticket_id.in_(failed), CLOCKS.c.next_timer_at < now)
                            .values(next_timer_at=now + retry_after))
            result.failed = len(failed)
    return result


class ClockBatch:
    """One batch: the look-ups its tickets share (member loads, round-robin cursors) and the rows to write."""

    def __init__(self, engine: Engine, session: Session, compiled: CompiledVersion) -> None:
        self.engine, self.session, self.compiled = engine, session, compiled
        self.events: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.new_clocks: list[Record] = []
        self.changed_clocks: dict[tuple[str, ...], list[dict[str, Any]]] = {}  # changed columns -> rows
        self.changed_tickets: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self.cursors: dict[tuple[str, str], int] = {}
        self.moved_cursors: set[tuple[str, str]] = set()
        self._loads: dict[str, int] = {}  # open tickets per member when the batch began
        self._load_changes: Counter[str] = Counter()  # and what the batch's tickets changed since

    def step(self, ticket: Record, rows: dict[str, Record], requester: Record | None) -> BatchOperation:
        process = self.compiled.pack.processes.get(ticket.process)
        if process is None:
            raise Conflict(f"process '{ticket.process}' is not in the active definitions version")
        op = BatchOperation(self, ticket, process)
        op.preload(cast(dict[str, SlaClock], rows), cast(User | None, requester))
        op.event = "sla"
        update_clocks(op)
        op.finish("sla")
        return op

    def keep(self, op: BatchOperation, ticket: Record, before: tuple[Any, ...], rows: dict[str, Record],
             loaded: dict[str, tuple[Any, ...]]) -> None:
        """A ticket whose step succeeded: its rows join the batch's writes, its assignments the loads."""
        events, comments, outbox = op.rows
        self.events.extend(events)
        self.comments.extend(comments)
        self.outbox.extend(outbox)
        self.new_clocks.extend(op.new_rows)
        for name, row in rows.items():
            if name in loaded:
                _changed(self.changed_clocks, row, CLOCK_WRITABLE, loaded[name], {"b_id": row.id})
        for key, position in op.cursor_moves.items():
            self.cursors[key] = position
            self.moved_cursors.add(key)
        after = _changed(self.changed_tickets, ticket, TICKET_WRITABLE, before,
                         {"b_id": ticket.id, "b_version": ticket.version})
        held_before = before[ASSIGNEE] if before[IS_OPEN] else None  # what the open-ticket counts see
        held_now = after[ASSIGNEE] if after[IS_OPEN] else None
        if held_before != held_now:
            if held_before is not None:
                self._load_changes[held_before] -= 1
            if held_now is not None:
                self._load_changes[held_now] += 1

    def loads(self, pool: list[str]) -> dict[str, int]:
        """Open tickets per member, as the per-ticket path would count them after the tickets before."""
        missing = [name for name in pool if name not in self._loads]
        if missing:
            counts: dict[str | None, int] = dict(self.session.execute(
                select(Ticket.assignee, func.count()).where(Ticket.is_open, Ticket.assignee.in_(missing))
                .group_by(Ticket.assignee)).all())
            self._loads.update({name: int(counts.get(name, 0)) for name in missing})
        return {name: self._loads[name] + self._load_changes[name] for name in pool}

    def cursor(self, key: tuple[str, str]) -> int:
        """A round-robin position, locked for the batch (created at 0 the first time)."""
        if key not in self.cursors:
            dialect = self.session.get_bind().dialect.name
            upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            self.session.execute(upsert(RoutingCursor).values(routing=key[0], team=key[1], position=0)
                                 .on_conflict_do_nothing(index_elements=["routing", "team"]))
            self.cursors[key] = int(self.session.scalar(
                select(RoutingCursor.position).where(RoutingCursor.routing == key[0], RoutingCursor.team == key[1])
                .with_for_update()) or 0)
        return self.cursors[key]

    def write(self) -> None:
        """Everything the batch's tickets changed: one write per table and statement shape (`store.bulk`:
        the driver's executemany on SQLite; COPY and UPDATE ... FROM unnest on PostgreSQL)."""
        session = self.session
        connection = session.connection()
        if self.new_clocks:
            insert_rows(connection, CLOCKS, [{n: getattr(r, n) for n in CLOCK_COLUMNS[1:]} for r in self.new_clocks])
        for params in self.changed_clocks.values():
            update_rows(connection, CLOCKS, ("id",), params)
        multi_rowcount = connection.dialect.supports_sane_multi_rowcount
        for params in self.changed_tickets.values():
            written = update_rows(connection, TICKETS, ("id", "version"), params, increment="version")
            if multi_rowcount and written != len(params):  # locked on PostgreSQL, one writer on SQLite
                raise StaleVersion(f"{len(params) - written} ticket(s) changed during the sweep")
        for table, rows in ((cast(Table, Event.__table__), self.events), (cast(Table, Comment.__table__),
                            self.comments), (cast(Table, OutboxMessage.__table__), self.outbox)):
            insert_rows(connection, table, rows)
        for routing, team in sorted(self.moved_cursors):
            session.execute(update(RoutingCursor).where(RoutingCursor.routing == routing, RoutingCursor.team == team)
                            .values(position=self.cursors[(routing, team)]))


def _changed(shapes: dict[tuple[str, ...], list[dict[str, Any]]], record: Record, names: tuple[str, ...],
             loaded: tuple[Any, ...], key: dict[str, Any]) -> tuple[Any, ...]:
    """File the record's changed columns (if any) under their statement shape; return its values now."""
    now = record.values(names)
    changed = tuple(name for name, old, new in zip(names, loaded, now, strict=True) if old != new)
    if changed:
        shapes.setdefault(changed, []).append({**key, **{name: getattr(record, name) for name in changed}})
    return now


class BatchOperation(Operation):
    """The SLA step of one ticket in a batch: the operation's logic unchanged; its rows are collected for
    the batch instead of added to the session, and member choice uses the batch's shared look-ups."""

    def __init__(self, batch: ClockBatch, ticket: Record, process: m.ProcessSpec) -> None:
        super().__init__(batch.engine, batch.session, batch.compiled, system_actor(), cast(Ticket, ticket), process)
        self.batch = batch
        self.new_rows: list[Record] = []
        self.cursor_moves: dict[tuple[str, str], int] = {}
        self.rows: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = ([], [], [])

    def new_clock_row(self, clock: str) -> SlaClock:
        row = Record({"id": None, "ticket_id": self.ticket.id, "clock": clock, "status": "not_started",
                      "phase": "not_started", "policy": None, "calendar": None, "target_seconds": None,
                      "elapsed_seconds": 0.0, "started_at": None, "running_since": None, "stopped_at": None,
                      "deadline": None, "warnings_fired": 0, "breached": False, "breach_fired": False,
                      "next_timer_at": None, "pauses": []})
        self.new_rows.append(row)
        return cast(SlaClock, row)

    def _pick(self, routing: m.RoutingSpec, team: m.TeamSpec) -> tuple[str | None, str]:
        context = self.context()
        if routing.assignment == "round_robin":
            key = (routing.id, team.id)
            position = self.cursor_moves.get(key)
            choice = choose(routing, team, context, cursor=self.batch.cursor(key) if position is None else position)
            self.cursor_moves[key] = choice.cursor or 0
            return choice.user, choice.reason
        choice = choose(routing, team, context, loads=self.batch.loads(candidates(routing, team, context)))
        return choice.user, choice.reason

    def create_linked(self, process_id: str, values: dict[str, Any], link: str) -> None:
        raise NeedsOwnTransaction(f"creating a linked '{process_id}' ticket needs the per-ticket path")

    def finish(self, kind: str, transition: str | None = None, from_state: str | None = None,
               to_state: str | None = None, comment: str | None = None, data: dict[str, Any] | None = None) -> None:
        title_field, body_fields = document_fields(self.form)
        if any(name in self.changes for name in (title_field, *body_fields) if name):
            raise NeedsOwnTransaction("an action changed searchable text: the per-ticket path reindexes it")
        self.sync()
        self.rows = self.written_rows(kind, transition, from_state, to_state, comment, data)
        self.notes, self.pending_comments, self.pending_outbox = [], [], []
