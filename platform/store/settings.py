"""Installation-wide values in the `settings` table (key -> text), shared by every process of a deployment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Setting

SESSION_SECRET = "session_secret"  # the key web sessions (and one-click links, derived) are signed with
_INSERT: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def value(session: Session, key: str) -> str | None:
    return session.scalar(select(Setting.value).where(Setting.key == key))


def add_if_absent(session: Session, key: str, new_value: str) -> bool:
    """Store `new_value` under `key` unless the key has a value already (which is kept): True when stored.
    One statement (INSERT ... ON CONFLICT DO NOTHING), so concurrent first writers never fail: one wins."""
    statement = (_INSERT[session.get_bind().dialect.name](Setting).values(key=key, value=new_value)
                 .on_conflict_do_nothing(index_elements=["key"]).returning(Setting.key))
    return session.execute(statement).first() is not None


def put(session: Session, key: str, new_value: str) -> None:
    """Store `new_value` under `key`, replacing any value it had."""
    statement = (_INSERT[session.get_bind().dialect.name](Setting).values(key=key, value=new_value)
                 .on_conflict_do_update(index_elements=["key"], set_={"value": new_value}))
    session.execute(statement)
