"""What the transition core reads: a ticket as frozen values, and the look-ups it may ask for (SPEC 8).

A `TicketSnapshot` is one ticket as loaded (its columns, its clocks' states, its requester's facts); the
core never sees a database row, a session or an ORM object. The few facts the rules need beyond one ticket
(does a user exist, where a round-robin stands, who holds how many open tickets, a ticket's history for
`{{ timeline }}`, the next number of a prefix, the ancestors of an organization) go through `Lookups`,
which the adapter implements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

Pause = tuple[str, str | None]
EMPTY: Mapping[str, Any] = MappingProxyType({})  # (start, end or None), ISO 8601 as stored


class TicketRow(NamedTuple):
    """A ticket's columns (the `tickets` table, in its order); `id` None before it is stored. A named tuple:
    immutable, and built from a database row in one step (a queue page builds fifty)."""

    id: int | None
    number: str
    process: str
    state: str
    is_open: bool
    priority: str | None
    team: str | None
    assignee: str | None
    requester: str
    fields: Mapping[str, Any]
    version: int
    definitions_version: str
    created_at: datetime | None
    updated_at: datetime | None
    state_entered_at: datetime | None
    closed_at: datetime | None
    org: str | None = None  # the requester's organization when the ticket was reported (SPEC 14)
    sla_rank: int = 2  # the queue's urgency, from the clocks and the priority (`urgency.py`)
    sla_due_at: datetime | None = None
    priority_rank: int = 999


class ClockRow(NamedTuple):
    """One SLA clock of a ticket as stored (the `sla_clocks` table but its ticket id)."""

    id: int | None
    clock: str
    status: str = "not_started"
    phase: str = "not_started"
    policy: str | None = None
    calendar: str | None = None
    target_seconds: float | None = None
    elapsed_seconds: float = 0.0
    started_at: datetime | None = None
    running_since: datetime | None = None
    stopped_at: datetime | None = None
    deadline: datetime | None = None
    warnings_fired: int = 0
    breached: bool = False
    breach_fired: bool = False
    next_timer_at: datetime | None = None
    pauses: tuple[Pause, ...] = ()


TICKET_COLUMNS = TicketRow._fields
CLOCK_COLUMNS = ClockRow._fields


class UserFacts(NamedTuple):
    """What expressions and templates may read about a person (SPEC 5 `requester.*`, SPEC 14): `orgs` is the
    organization and its ancestors, nearest first; `org_name` the organization's display name."""

    name: str
    vip: bool = False
    org: str | None = None
    email: str | None = None
    orgs: tuple[str, ...] = ()
    org_name: str | None = None


def org_lineage(org: str | None, path: str | None) -> tuple[str, ...]:
    """The ids on a materialized path (`/zhejiang/hangzhou/` as `itsm.store.orgs` keeps it), nearest first;
    an organization without a stored row (a name left from before organizations were records) is alone."""
    if path and path.strip("/"):
        return tuple(reversed(path.strip("/").split("/")))
    return (org,) if org else ()


def user_facts(user: Any) -> UserFacts | None:
    """From anything with the users table's attributes (a row, a record, a mapped user), or None; the
    organization's `org_name` and `org_path` when the row carries them (`store.users.named` joins them)."""
    if user is None:
        return None
    path = getattr(user, "org_path", None)
    return UserFacts(user.name, bool(user.vip), user.org, user.email, org_lineage(user.org, path),
                     getattr(user, "org_name", None))


@dataclass(frozen=True, slots=True)
class TicketSnapshot:
    """One ticket as the core sees it: its columns, its clocks by name, and its requester (None when the
    requester is the system or no user of that name exists)."""

    ticket: TicketRow
    clocks: Mapping[str, ClockRow] = field(default_factory=dict)
    requester: UserFacts | None = None


class HistoryEntry(NamedTuple):
    """One line of a ticket's history as stored, for `{{ timeline }}`: an event (its kind and columns) or a
    public comment (kind "comment" with its `text`; a comment *event* has no text and says nothing more)."""

    at: datetime
    actor: str
    kind: str
    transition: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    changes: Mapping[str, Any] = EMPTY
    data: Mapping[str, Any] = EMPTY
    text: str | None = None


INTERNAL_KINDS = frozenset({"comment", "attachment", "attachment_removed"})  # agents only when data.internal


def is_internal(kind: str, data: Mapping[str, Any] | None) -> bool:
    """An event about an internal comment or attachment: agents only (not in requesters' `{{ timeline }}`)."""
    return kind in INTERNAL_KINDS and bool((data or {}).get("internal"))


class Lookups(Protocol):
    """Facts beyond the snapshot; the adapter answers them from the store (tests from a fake)."""

    def user_exists(self, name: str) -> bool: ...

    def cursor(self, routing: str, team: str) -> int:
        """Where round-robin stands for this routing and team (the core returns the move as an effect)."""
        ...

    def open_tickets(self, pool: Sequence[str]) -> Mapping[str, int]:
        """Open tickets per member of `pool` (least_loaded)."""
        ...

    def timeline(self, ticket_id: int) -> Sequence[HistoryEntry]:
        """The ticket's events and public comments, oldest first (`{{ timeline }}` says them: timeline.py)."""
        ...

    def next_number(self, prefix: str) -> str:
        """A new ticket's number: the one value a create needs from the store before its actions run."""
        ...

    def locales(self, names: Sequence[str]) -> Mapping[str, str | None]:
        """name -> the user's language (`locale`), for a notification written in several (SPEC 15)."""
        ...

    def watchers(self, ticket_id: int) -> Sequence[Any]:
        """The enabled users following the ticket (recipient `watchers`), in the order they were added: rows
        with the users table's attributes (`actors.UserRecord`), so that the core checks they still see it."""
        ...

    def org_lineage(self, org: str) -> Sequence[str]:
        """The organization `org` and its ancestors, nearest first (empty: no such organization): whether a
        team with `org_scope` serves a ticket of `org`, and sees it (SPEC 14)."""
        ...
