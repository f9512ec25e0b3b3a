"""Rows of the sign-in throttle (`login_failures`), one per name that had a wrong password lately.

A failure is counted by one upsert that reads and increments the row where it lies, so wrong passwords
typed at the same moment in several workers each count (PostgreSQL waits on the row; SQLite has one
writer). How long a count locks a name is the engine's decision (`itsm.engine.people.login_throttle`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import case, delete, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import LoginFailure

_INSERT: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def find(session: Session, digest: str) -> LoginFailure | None:
    """The name's row: its count of failures in a row and until when it is locked (None: never failed)."""
    return session.get(LoginFailure, digest)


def count_failure(session: Session, digest: str, now: datetime, forget_before: datetime) -> int:
    """Record a wrong password at `now` and return the name's count of failures in a row: one more than
    before, or 1 when the last failure was at `forget_before` or earlier (a forgotten count)."""
    recent = LoginFailure.last_failure_at > forget_before
    statement = _INSERT[session.get_bind().dialect.name](LoginFailure).values(
        name_digest=digest, failures=1, last_failure_at=now, locked_until=None)
    statement = statement.on_conflict_do_update(index_elements=["name_digest"], set_={
        "failures": case((recent, LoginFailure.failures + 1), else_=1),
        "last_failure_at": case((LoginFailure.last_failure_at > now, LoginFailure.last_failure_at), else_=now),
        "locked_until": case((recent, LoginFailure.locked_until), else_=None),
    }).returning(LoginFailure.failures)
    return int(session.execute(statement).scalar_one())


def lock(session: Session, digest: str, until: datetime) -> None:
    """Lock the name until `until`, unless a concurrent failure has locked it longer already."""
    session.execute(update(LoginFailure)
                    .where(LoginFailure.name_digest == digest,
                           or_(LoginFailure.locked_until.is_(None), LoginFailure.locked_until < until))
                    .values(locked_until=until))


def forget(session: Session, digest: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.name_digest == digest))


def prune(session: Session, before: datetime) -> None:
    """Delete the counts whose last failure is older than `before` (they would start again from 1)."""
    session.execute(delete(LoginFailure).where(LoginFailure.last_failure_at <= before))
