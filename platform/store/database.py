"""Connections: one Database per URL, with sessions for reading and for writing.

SQLite: WAL, foreign keys, and `BEGIN IMMEDIATE` for write transactions, so concurrent writers wait for
the lock (busy timeout) instead of failing when a read lock cannot be upgraded. PostgreSQL: psycopg 3,
READ COMMITTED; conflicts between writers are caught by the tickets' version column and row locks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from . import migrate

DEFAULT_URL = "sqlite:///itsm.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# JSON kept readable (no \u escapes), so searching text finds "München" on SQLite too. One encoder for all
# writes: json.dumps with a non-default option builds a new JSONEncoder per call (output is the same).
JSON_ENCODER = json.JSONEncoder(ensure_ascii=False)


def default_url() -> str:
    return os.environ.get("ITSM_DATABASE_URL", DEFAULT_URL)


class Database:
    def __init__(self, url: str | None = None, **engine_options: Any):
        self.url = make_url(url or default_url())
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"future": True, "json_serializer": JSON_ENCODER.encode}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        else:
            # no pre-ping: it costs a round trip per operation; recycling handles servers that drop idle links
            options.update(pool_size=10, max_overflow=20, pool_recycle=1800)
        options.update(engine_options)
        self.engine: Engine = create_engine(self.url, **options)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._writer = sessionmaker(self.engine.execution_options(itsm_write=True), expire_on_commit=False)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits when the block ends and rolls back on any exception."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the latest Alembic revision."""
        migrate.upgrade(self.engine)

    def ensure_schema(self) -> None:
        """Upgrade when the database is new (the embedded SQLite file just created) or behind."""
        if not migrate.is_current(self.engine):
            self.upgrade()

    def has_tables(self) -> bool:
        return inspect(self.engine).has_table("tickets")

    def sqlite_path(self) -> Path | None:
        database = self.url.database
        return Path(database) if self.is_sqlite and database and database != ":memory:" else None

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("itsm_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
