"""Databases for the benchmarks: a SQLite file in a temporary folder, or a fresh PostgreSQL schema
(dropped afterwards), as the integration tests do."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="itsm-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


def postgres_database(base: str) -> Callable[[], AbstractContextManager[str]]:
    @contextmanager
    def database() -> Iterator[str]:
        schema = f"itsm_bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine(base, connect_args={"connect_timeout": 5})
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    return database


def postgres_version(base: str) -> str | None:
    """The server version, or None (with a printed note) when the server is unreachable."""
    admin = create_engine(base, connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as connection:
            return str(connection.execute(text("SHOW server_version")).scalar_one())
    except Exception as exc:  # any failure to connect means: no PostgreSQL figures on this machine
        print(f"postgresql: skipped, {base} is unreachable ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        return None
    finally:
        admin.dispose()
