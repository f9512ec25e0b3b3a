"""Connections: one Database per URL, with sessions for reading and for writing.

SQLite: WAL, foreign keys, and `BEGIN IMMEDIATE` for write transactions, so concurrent writers wait for
the lock (busy timeout) instead of failing when a read lock cannot be upgraded. PostgreSQL: psycopg 3,
READ COMMITTED; conflicts between writers are caught by the tickets' version column and row locks.
Opening a Database connects to nothing: the first query does, so a process starts while the server is away.
A `read_only` Database (the read replica, `ITSM_REPLICA_DATABASE_URL`) begins every PostgreSQL transaction
READ ONLY and sets SQLite's `query_only`: a write sent to it fails at once, even when the URL names a
server that would take it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_URL = "sqlite:///itsm.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 10  # a server that drops packets: a 503 after this, not a request hanging for minutes
# JSON kept readable (no \u escapes), so searching text finds "München" on SQLite too. One encoder for all
# writes: json.dumps with a non-default option builds a new JSONEncoder per call (output is the same).
JSON_ENCODER = json.JSONEncoder(ensure_ascii=False)


def default_url() -> str:
    return os.environ.get("ITSM_DATABASE_URL", DEFAULT_URL)


class Database:
    def __init__(self, url: str | None = None, *, read_only: bool = False, **engine_options: Any):
        self.url = make_url(url or default_url())
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.read_only = read_only
        options: dict[str, Any] = {"future": True, "json_serializer": JSON_ENCODER.encode}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        else:
            # pre-ping (SPEC 8): a pooled connection the server dropped (restart, failover, a proxy's idle cut)
            # is replaced before use instead of failing a request; it costs a round trip per checkout
            options.update(pool_size=10, max_overflow=20, pool_recycle=1800, pool_pre_ping=True)
            if "connect_timeout" not in self.url.query:
                options["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
            if read_only:  # psycopg sends BEGIN READ ONLY: no extra round trip
                options["execution_options"] = {"postgresql_readonly": True}
        options.update(engine_options)
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine, read_only)
        self._writer = sessionmaker(self.engine.execution_options(itsm_write=True), expire_on_commit=False)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends and rolls back on any exception."""
        if self.read_only:
            raise RuntimeError(f"{self.url.render_as_string()} is read-only (the read replica): write to the primary")
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the latest Alembic revision."""
        from . import migrate  # Alembic only where the schema is changed: a fifth of the heap of every process

        migrate.upgrade(self.engine)

    def ensure_schema(self) -> None:
        """Upgrade when the database is new (the embedded SQLite file just created) or behind."""
        from . import migrate

        if not migrate.is_current(self.engine):
            self.upgrade()

    def ping(self) -> None:
        """One round trip; raises what `outage` classifies when the server is away."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def has_tables(self) -> bool:
        return inspect(self.engine).has_table("tickets")

    def sqlite_path(self) -> Path | None:
        database = self.url.database
        return Path(database) if self.is_sqlite and database and database != ":memory:" else None

    def dispose(self) -> None:
        self.engine.dispose()

    def forked(self) -> None:
        """In a process just forked from one that used this database: leave the parent's pooled connections
        to the parent (closing them here would close its sockets) and open new ones when asked."""
        self.engine.dispose(close=False)


UNREACHABLE = "unreachable"
NOT_MIGRATED = "not_migrated"
# SQLSTATEs of a server that cannot serve now: connection exceptions (08), refused logins and a missing
# database (28, 3D000: wrong settings, or a server still being set up), too many connections and other
# shortages (53), shutdown, start-up and idle sessions cut by the server (57P0x), and a statement a read
# replica cancelled because replaying the primary's changes needed its rows (40001, "conflict with
# recovery": the next try reads the replica as it is then; READ COMMITTED raises 40001 for nothing else)
_UNREACHABLE_STATES = ("08", "28", "3D000", "53", "57P01", "57P02", "57P03", "57P05", "40001")
_SQLITE_UNREACHABLE = ("SQLITE_CANTOPEN", "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL")


def outage(exc: BaseException) -> str | None:
    """Whether `exc` means the database cannot serve now, rather than a bug: `UNREACHABLE` (down, unreachable,
    a dropped connection, a full pool), `NOT_MIGRATED` (no tables: `itsm db upgrade` was not run), else None.

    The web layer answers 503 for these, the worker backs off; both retry until it serves again.
    """
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection came free in time
        return UNREACHABLE
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return UNREACHABLE
        if exc.orig is None:
            return None
        exc = exc.orig
    if isinstance(exc, sqlite3.OperationalError):
        if str(exc).startswith("no such table"):
            return NOT_MIGRATED
        return UNREACHABLE if str(getattr(exc, "sqlite_errorname", "")).startswith(_SQLITE_UNREACHABLE) else None
    if not type(exc).__module__.startswith("psycopg"):
        return None
    import psycopg

    state = getattr(exc, "sqlstate", None)
    if state == "42P01":  # undefined_table
        return NOT_MIGRATED
    if state is None and isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)):
        return UNREACHABLE  # raised by the client itself: connection refused, lost or timed out
    return UNREACHABLE if state is not None and state.startswith(_UNREACHABLE_STATES) else None


def outage_line(exc: BaseException) -> str:
    """The driver's message of an outage, first line only (no SQL, no parameters): what a log line shows."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _configure_sqlite(engine: Engine, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("itsm_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
