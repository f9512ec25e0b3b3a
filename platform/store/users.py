"""Users as the engine reads them for tickets: by name, one or many (plain rows, no ORM objects)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from .models import User

USERS = cast(Table, User.__table__)
_BY_NAME = select(USERS).where(USERS.c.name == bindparam("name"))


def named(session: Session, name: str) -> Any | None:
    """The user's row (attributes per column), or None."""
    return session.connection().execute(_BY_NAME, {"name": name}).first()


def exists(session: Session, name: str) -> bool:
    return named(session, name) is not None


def all_named(session: Session, names: Collection[str]) -> dict[str, Any]:
    """The rows of the users among `names`, by name (one query)."""
    if not names:
        return {}
    return {row.name: row for row in session.connection().execute(select(USERS).where(USERS.c.name.in_(list(names))))}
