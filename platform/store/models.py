"""Tables. Times are stored in UTC (timezone-aware on the way out, whatever the database)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OPEN_CLOCKS = "phase IN ('running', 'paused')"  # the clocks `ix_sla_clocks_open` holds
CLAIMABLE_MESSAGES = "status IN ('pending', 'sending')"  # the messages `ix_outbox_claimable` holds
# The open tickets, as each database's queries say it (a partial index serves only a query that implies
# its condition, and SQLite sees that only in the very words: SQLAlchemy writes `is_open = 1` there).
OPEN_TICKETS = {"postgresql": "is_open", "sqlite": "is_open = 1"}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the store keeps instants, pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, the two steps (UTC without zone, then SQLAlchemy's text format) in one: the same text,
        in a third of the time, which counts when a worker batch writes thousands of instants."""
        processor = super().bind_processor(dialect)
        if dialect.name != "sqlite" or processor is None or processor(_SAMPLE) != _sqlite_text(_SAMPLE):
            return processor
        return _sqlite_text


_SAMPLE = datetime(987, 6, 5, 4, 3, 2, 10, tzinfo=UTC)


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: the store keeps instants, pass an aware datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


JSONValue = JSON().with_variant(JSONB(), "postgresql")
BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only


NO_PRIORITY_RANK = 999  # the `priority_rank` of a ticket without a priority (or one no matrix lists): last


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DefinitionsVersion(Base):
    """A published pack: its full merged source, so any version can be compiled again later."""

    __tablename__ = "definitions_versions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the merged source
    pack_id: Mapped[str] = mapped_column(String(100))
    source: Mapped[Any] = mapped_column(JSONValue)
    git_commit: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(100))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    org: Mapped[str | None] = mapped_column(String(100), index=True)  # an `organizations.id` (SPEC 14)
    timezone: Mapped[str | None] = mapped_column(String(64))  # IANA name times are shown in; None: the pack's
    locale: Mapped[str | None] = mapped_column(String(16))  # the pages' language: "zh-CN", "en" (SPEC 15)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    full_name: Mapped[str | None] = mapped_column(String(200))  # as people call them: 王芳
    org_contact: Mapped[bool] = mapped_column(Boolean, default=False)  # sees the tickets of the org's subtree
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # a disabled user cannot sign in (SPEC 14)
    # the `sub` of their OpenID Connect ID tokens: who they are at the provider, whatever their name there
    oidc_subject: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("uq_users_oidc_subject", "oidc_subject", unique=True),)


class Organization(Base):
    """A client unit in the hierarchy (province, city, county, unit: SPEC 14). `path` is the materialized
    path of ids from the root, `/zhejiang/hangzhou/xihu/`: a subtree is every path with that prefix, and
    the ancestors are read off it without a query."""

    __tablename__ = "organizations"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    parent: Mapped[str | None] = mapped_column(String(100), index=True)
    path: Mapped[str] = mapped_column(String(2000))
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # Prefix matches (`path LIKE '/zhejiang/%'`) through a B-tree: byte order on PostgreSQL.
        Index("ix_organizations_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )


class OrganizationDomain(Base):
    """A mail domain of an organization: mail from an unknown sender at it may create a user there."""

    __tablename__ = "organization_domains"
    domain: Mapped[str] = mapped_column(String(253), primary_key=True)  # lower case
    org: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token: never the token
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NumberSequence(Base):
    __tablename__ = "number_sequences"
    prefix: Mapped[str] = mapped_column(String(16), primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    process: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    priority: Mapped[str | None] = mapped_column(String(32))
    team: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(100))
    requester: Mapped[str] = mapped_column(String(100))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    definitions_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    org: Mapped[str | None] = mapped_column(String(100))  # the requester's organization when it was reported
    # The queue's urgency (docs/decisions.md, "The queue's urgency order"), kept by every change from its
    # clocks so that the order is one index walk: 0 breached (a running or paused clock), 1 a running
    # deadline ahead, 2 neither; the nearest running deadline; the priority's place in its matrix's levels.
    sla_rank: Mapped[int] = mapped_column(SmallInteger, default=2, server_default="2")
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    priority_rank: Mapped[int] = mapped_column(SmallInteger, default=NO_PRIORITY_RANK,
                                               server_default=str(NO_PRIORITY_RANK))

    __mapper_args__ = {"version_id_col": version}  # a stale write matches no row: optimistic concurrency
    __table_args__ = (
        Index("ix_tickets_process_state", "process", "state"),
        Index("ix_tickets_team_open", "team", "is_open", "id"),
        Index("ix_tickets_assignee_open", "assignee", "is_open", "id"),
        Index("ix_tickets_requester", "requester", "id"),
        Index("ix_tickets_open_priority", "is_open", "priority", "id"),
        # An agent's queue filtered by priority in its default (urgency) order: the open tickets alone.
        Index("ix_tickets_open_priority_urgency", "priority", "sla_rank", "sla_due_at", "priority_rank", "id",
              postgresql_where=sql_text(OPEN_TICKETS["postgresql"]), sqlite_where=sql_text(OPEN_TICKETS["sqlite"])),
        Index("ix_tickets_org", "org", "id"),
        Index("ix_tickets_urgency", "is_open", "sla_rank", "sla_due_at", "priority_rank", "id"),
        Index("ix_tickets_open_rank", "is_open", "priority_rank", "id"),
        Index("ix_tickets_open_created", "is_open", "id"),
        Index("ix_tickets_open_updated", "is_open", "updated_at", "id"),
        Index("ix_tickets_created_at", "created_at"),  # reports' periods (`reports.TicketScope`)
    )


class Event(Base):
    """Append-only audit log: one row per change, with the definitions version it ran under."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # create, transition, update, comment, routing, sla, ...
    transition: Mapped[str | None] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str | None] = mapped_column(String(64))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)  # field -> [old, new]
    comment: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)  # e.g. the routing rule that matched
    definitions_version: Mapped[str] = mapped_column(String(64))
    __table_args__ = (Index("ix_events_ticket", "ticket_id", "id"),)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=False)


class Attachment(Base):
    """A file of a ticket: its bytes are kept outside the database in a content-addressed folder
    (`store.files`, by sha256), shared by every row with the same digest. A removed one keeps its row (who
    removed it, when) for the audit; its bytes are no longer served."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))  # the file name as sent (cleaned), for the download
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(127))  # from the allow-list, never what the sender said
    sha256: Mapped[str] = mapped_column(String(64))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)  # agents only, like internal comments
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (Index("ix_attachments_ticket", "ticket_id", "id"), Index("ix_attachments_sha256", "sha256"))


LINK_INVERSE = {"parent": "child", "child": "parent", "related": "related",  # a link as the other side sees it
                "known_error": "known_error_of", "known_error_of": "known_error"}


class Link(Base):
    __tablename__ = "links"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # a key of LINK_INVERSE, from the source's side
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (UniqueConstraint("source_id", "target_id", "kind"),)


class Watcher(Base):
    """A person following a ticket (SPEC 4 recipient `watchers`): one row per ticket and user name."""

    __tablename__ = "watchers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    user: Mapped[str] = mapped_column(String(100))
    added_by: Mapped[str] = mapped_column(String(100))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("ticket_id", "user"),)


class SearchDocument(Base):
    """The text of a ticket as full-text search sees it; the index over it is database-specific (search.py)."""

    __tablename__ = "ticket_search"
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    # Each column holds its text as cut for the index (`search_text.index_text`), not as written.
    title: Mapped[str] = mapped_column(Text, default="")  # the form's summary field (weighs more)
    body: Mapped[str] = mapped_column(Text, default="")  # the other text fields
    comments: Mapped[str] = mapped_column(Text, default="", server_default="")  # public comments
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")  # internal work notes (agents only)


class OutboxMessage(Base):
    """A message to send after commit: written in the transaction of the change that caused it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    notification: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[list[str]] = mapped_column(JSONValue, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        # The messages not yet sent nor given up on, in the order senders claim them: a claim reads its few
        # from here and stops, however many are due (a backlog of thousands after an outage).
        Index("ix_outbox_claimable", "next_attempt_at", "id",
              postgresql_where=sql_text(CLAIMABLE_MESSAGES), sqlite_where=sql_text(CLAIMABLE_MESSAGES)),
    )


class SlaClock(Base):
    """One SLA clock of one ticket; `next_timer_at` (warning or deadline) is what the worker looks for."""

    __tablename__ = "sla_clocks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="not_started")  # as people see it
    phase: Mapped[str] = mapped_column(String(16), default="not_started")  # what the clock is doing
    policy: Mapped[str | None] = mapped_column(String(64))
    calendar: Mapped[str | None] = mapped_column(String(64))
    target_seconds: Mapped[float | None] = mapped_column(Float)
    elapsed_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # up to `running_since`
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warnings_fired: Mapped[int] = mapped_column(Integer, default=0)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    breach_fired: Mapped[bool] = mapped_column(Boolean, default=False)
    next_timer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pauses: Mapped[list[list[str | None]]] = mapped_column(JSONValue, default=list)  # [[start, end|null], ...]
    __table_args__ = (
        UniqueConstraint("ticket_id", "clock"),
        Index("ix_sla_clocks_due", "next_timer_at"),
        # The clocks that run or are paused (a few per open ticket, out of every clock ever): the queue's
        # `sla=` filters read them from this index alone (`tickets.sla_status_condition`).
        Index("ix_sla_clocks_open", "phase", "deadline", "breached", "warnings_fired", "ticket_id",
              postgresql_where=sql_text(OPEN_CLOCKS), sqlite_where=sql_text(OPEN_CLOCKS)),
    )


class Timer(Base):
    """A timed transition waiting to fire (`after:`); removed or marked fired when it no longer applies."""

    __tablename__ = "timers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # transition
    key: Mapped[str] = mapped_column(String(64))  # the transition id
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "key"), Index("ix_timers_due", "fired_at", "due_at"))


class IntakeKey(Base):
    """Which ticket an external alert or message belongs to (e.g. an Alertmanager fingerprint)."""

    __tablename__ = "intake_keys"
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RoutingCursor(Base):
    """Where round-robin assignment continues, per routing and team."""

    __tablename__ = "routing_cursors"
    routing: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class KpiFact(Base):
    """One ticket's contribution to the KPIs (issue 18), as of its last change: what `GET /api/kpis` would
    count for it, so that a period's figures are sums of these (and of `KpiDay`) instead of a pass over
    every event. `itsm.store.kpi_facts` keeps it current; no foreign key, so that nothing here slows down or
    blocks what happens to tickets."""

    __tablename__ = "kpi_facts"
    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    process: Mapped[str] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(32))
    org: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(64))
    rating: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    day: Mapped[date] = mapped_column(Date)  # the desk's day of `created_at` (`kpi_facts.Rules.offset_seconds`)
    ack_ms: Mapped[int | None] = mapped_column(BigInteger)  # milliseconds from creation to acknowledgement
    resolve_ms: Mapped[int | None] = mapped_column(BigInteger)  # ... to the first resolution
    reopened: Mapped[bool] = mapped_column(Boolean, default=False)
    moved: Mapped[bool] = mapped_column(Boolean, default=False)  # changed team after its creation
    met: Mapped[str] = mapped_column(Text, default="")  # names of its stopped clocks that met their target
    breached: Mapped[str] = mapped_column(Text, default="")  # ... and of those that breached it
    __table_args__ = (
        Index("ix_kpi_facts_created_at", "created_at"),
        # A median walks one of these in order, counting the period's rows, and stops half way.
        Index("ix_kpi_facts_ack", "ack_ms", "created_at", "process", "team",
              postgresql_where=sql_text("ack_ms IS NOT NULL"), sqlite_where=sql_text("ack_ms IS NOT NULL")),
        Index("ix_kpi_facts_resolve", "resolve_ms", "created_at", "process", "team",
              postgresql_where=sql_text("resolve_ms IS NOT NULL"), sqlite_where=sql_text("resolve_ms IS NOT NULL")),
    )


class KpiDay(Base):
    """The sum of one figure (`created`, `ack_ms`, `channel` per channel...) over the `KpiFact` rows of one
    day, process and team: a year of KPIs reads a few hundred thousand of these at most, not its tickets."""

    __tablename__ = "kpi_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    process: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" for tickets of no team
    figure: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "" for a figure without one
    amount: Mapped[int] = mapped_column(BigInteger)


class KpiPending(Base):
    """Tickets changed since their `KpiFact` was written: database triggers on tickets, events and SLA clocks
    add them (so no write path can forget to), `kpi_facts.fold` takes them."""

    __tablename__ = "kpi_pending"
    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The lowest id among the ticket's events added since its facts were written (the events trigger keeps
    # it); None: no new event. The fold counts the events from here on (migration 0020).
    since: Mapped[int | None] = mapped_column(BigInteger)


class Setting(Base):
    """Installation-wide values the processes share, such as the key that signs web sessions."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class LoginFailure(Base):
    """Wrong passwords in a row for one sign-in name, so every worker honours the same lock. Keyed by the
    name's sha256: guessers type any text (passwords too) into the name field, and it is never stored."""

    __tablename__ = "login_failures"
    name_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TriageModelRow(Base):
    """A triage model of one process (SPEC 16), learned under one definitions version: every host serves the
    newest row of the process. `data` is `itsm.triage.TriageModel.to_bytes()`: plain arrays and JSON in an
    `.npz` file, read without unpickling anything."""

    __tablename__ = "triage_models"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    process: Mapped[str] = mapped_column(String(64))
    definitions_version: Mapped[str] = mapped_column(String(64))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime)
    trained_by: Mapped[str] = mapped_column(String(100))  # a user name, `system` (the CLI) or `worker`
    tickets: Mapped[int] = mapped_column(Integer)  # solved tickets it learned from
    eligible: Mapped[int] = mapped_column(Integer)  # solved tickets there were (the worker retrains on the growth)
    targets: Mapped[list[str]] = mapped_column(JSONValue, default=list)  # fields (and `team`) it suggests
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONValue, default=dict)  # held-out accuracy, sizes, seconds
    data: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (Index("ix_triage_models_process", "process", "id"),)
