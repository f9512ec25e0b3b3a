"""Installation-wide settings kept in the database, shared by every process that serves the platform."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from itsm.store import Database, Setting

SESSION_SECRET = "session_secret"


def installation_secret(db: Database, key: str = SESSION_SECRET) -> str:
    """A random secret created once per database, so every gunicorn worker signs sessions with the same key.

    Concurrent first starts race on the primary key: the loser reads the winner's value.
    """
    with db.read() as session:
        value = session.scalar(select(Setting.value).where(Setting.key == key))
    if value is not None:
        return value
    try:
        with db.write() as session:
            session.add(Setting(key=key, value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass
    with db.read() as session:
        value = session.scalar(select(Setting.value).where(Setting.key == key))
    assert value is not None
    return value
