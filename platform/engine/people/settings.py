"""Installation-wide settings kept in the database, shared by every process that serves the platform."""

from __future__ import annotations

import secrets

from itsm.store import Database
from itsm.store import settings as stored

SESSION_SECRET = stored.SESSION_SECRET


def installation_secret(db: Database, key: str = SESSION_SECRET) -> str:
    """A random secret created once per database, so every gunicorn worker signs sessions with the same key.

    Concurrent first starts race on the primary key: the loser's value is not stored and it reads the winner's.
    """
    with db.read() as session:
        value = stored.value(session, key)
    if value is not None:
        return value
    with db.write() as session:
        stored.add_if_absent(session, key, secrets.token_urlsafe(48))
    with db.read() as session:
        value = stored.value(session, key)
    assert value is not None
    return value
