"""Integration fixtures: every test runs on SQLite and on PostgreSQL (one fixture parameter).

PostgreSQL runs when ITSM_TEST_POSTGRES_URL is set (.ci/run sets it); each test gets a schema of its own.
When the variable is set and the server is unreachable, the tests fail: they never skip silently in CI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from itsm.engine import Engine
from itsm.engine.people.users import add_user
from itsm.store import Database

from support import DEFINITIONS, DEMO_USERS


def postgres_url() -> str | None:
    return os.environ.get("ITSM_TEST_POSTGRES_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'itsm.db'}"
        return
    base = postgres_url()
    if base is None:
        pytest.skip("ITSM_TEST_POSTGRES_URL is not set (CI sets it)")
    schema = f"itsm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # unreachable or refused: a failure, never a skip, when the URL is set
        pytest.fail(f"PostgreSQL at ITSM_TEST_POSTGRES_URL is unreachable: {exc}")
    separator = "&" if "?" in base else "?"
    yield f"{base}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture()
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture()
def engine(db: Database) -> Engine:
    """The default pack published, demo users created."""
    engine = Engine(db)
    engine.definitions.publish_path(DEFINITIONS)
    for name, flags in DEMO_USERS.items():
        add_user(db, name, password="pw", email=f"{name}@example.invalid", **flags)
    return engine
