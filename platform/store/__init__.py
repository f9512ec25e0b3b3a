"""Storage: SQLAlchemy models and queries for tickets, events, users, versions, outbox and timers.

No business rules here: the engine decides, the store persists. SQLite is the embedded default,
PostgreSQL (psycopg 3) serves teams that outgrow one machine.
"""

from __future__ import annotations

from .database import NOT_MIGRATED, UNREACHABLE, Database, default_url, outage, outage_line
from .models import (
    ApiToken,
    Base,
    Comment,
    DefinitionsVersion,
    Event,
    IntakeKey,
    Link,
    LoginFailure,
    OutboxMessage,
    RoutingCursor,
    SearchDocument,
    Setting,
    SlaClock,
    Ticket,
    Timer,
    User,
)

__all__ = ["NOT_MIGRATED", "UNREACHABLE", "ApiToken", "Base", "Comment", "Database", "DefinitionsVersion", "Event",
           "IntakeKey", "Link", "LoginFailure", "OutboxMessage", "RoutingCursor", "SearchDocument",
           "Setting", "SlaClock", "Ticket", "Timer", "User", "default_url", "outage", "outage_line"]
