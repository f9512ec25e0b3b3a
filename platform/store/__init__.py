"""Storage: SQLAlchemy models, and a repository module per aggregate for the statements the engine runs:
`tickets`, `clocks`, `timers`, `rows` (events, comments, outbox, links), `routing`, `numbering`, `users`,
`versions`, `search`, `attachments`; `bulk` writes many rows of one shape at once (the worker's batches).
`files` keeps the attachments' bytes outside the database, in a content-addressed folder.

No business rules here: the engine decides, the store persists; every switch between databases is here.
SQLite is the embedded default, PostgreSQL (psycopg 3) serves teams that outgrow one machine.
"""

from __future__ import annotations

from .database import NOT_MIGRATED, UNREACHABLE, Database, default_url, outage, outage_line
from .models import (
    ApiToken,
    Attachment,
    Base,
    Comment,
    DefinitionsVersion,
    Event,
    IntakeKey,
    Link,
    LoginFailure,
    Organization,
    OrganizationDomain,
    OutboxMessage,
    RoutingCursor,
    SearchDocument,
    Setting,
    SlaClock,
    Ticket,
    Timer,
    TriageModelRow,
    User,
    Watcher,
)

__all__ = ["NOT_MIGRATED", "UNREACHABLE", "ApiToken", "Attachment", "Base", "Comment", "Database",
           "DefinitionsVersion", "Event", "IntakeKey", "Link", "LoginFailure", "Organization", "OrganizationDomain",
           "OutboxMessage", "RoutingCursor", "SearchDocument", "Setting", "SlaClock", "Ticket", "Timer",
           "TriageModelRow", "User", "Watcher", "default_url", "outage", "outage_line"]
