"""Users and their API tokens: the rows the engine's `people` package reads and writes.

Who may sign in, how passwords are hashed and when a token's last use is worth writing are the engine's
decisions (`itsm.engine.people.users`); these functions take plain values and return rows.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import queries as q
from .models import ApiToken, User


def by_name(session: Session, name: str) -> User | None:
    return session.scalar(q.USER_BY_NAME, {"name": name})


NameTaken = IntegrityError  # a user of that name (or OpenID subject) was added meanwhile by another request


def by_oidc_subject(session: Session, subject: str) -> User | None:
    """The user whose OpenID Connect identity is `subject` (the `sub` of their ID tokens), or None."""
    return session.scalar(select(User).where(User.oidc_subject == subject))


def update_profile(session: Session, user: User, *, email: str | None = None, full_name: str | None = None,
                   org: str | None = None, oidc_subject: str | None = None) -> bool:
    """Set those of the user's mail address, full name, organization and OpenID subject that are given (None
    leaves one as it is); True when anything changed."""
    changes = {column: value for column, value in (("email", email), ("full_name", full_name), ("org", org),
                                                   ("oidc_subject", oidc_subject))
               if value is not None and getattr(user, column) != value}
    for column, value in changes.items():
        setattr(user, column, value)
    return bool(changes)


def exists(session: Session, name: str) -> bool:
    return session.scalar(select(User.id).where(User.name == name)) is not None


def add(session: Session, name: str, *, email: str | None = None, password_hash: str | None = None,
        is_admin: bool = False, vip: bool = False, org: str | None = None, timezone: str | None = None,
        locale: str | None = None, full_name: str | None = None, org_contact: bool = False) -> User:
    """A new user row, added to the session (written at its next flush)."""
    user = User(name=name, email=email, is_admin=is_admin, vip=vip, org=org, timezone=timezone, locale=locale,
                password_hash=password_hash, full_name=full_name, org_contact=org_contact, active=True)
    session.add(user)
    return user


def set_locale(session: Session, name: str, locale: str | None) -> bool:
    """The user's language for the pages; False when there is no such user."""
    result = session.execute(update(User).where(User.name == name).values(locale=locale))
    return bool(getattr(result, "rowcount", 0))


def set_timezone(session: Session, name: str, timezone: str | None) -> bool:
    """The user's time zone for the pages; False when there is no such user."""
    result = session.execute(update(User).where(User.name == name).values(timezone=timezone))
    return bool(getattr(result, "rowcount", 0))


def existing_names(session: Session, names: Collection[str]) -> set[str]:
    """Those of `names` that users have."""
    return set(session.scalars(select(User.name).where(User.name.in_(list(names)))))


def names_starting_with(session: Session, prefix: str) -> set[str]:
    """User names that start with `prefix` (LIKE: `_` in it matches any character, so a few more may come)."""
    return set(session.scalars(select(User.name).where(User.name.like(f"{prefix}%"))))


def first_with_email(session: Session, address: str) -> User | None:
    """The oldest user whose mail address is `address` (lower-case), compared without regard to case."""
    return session.scalar(select(User).where(func.lower(User.email) == address).order_by(User.id).limit(1))


def emails_of(session: Session, names: Collection[str]) -> list[str]:
    """The mail addresses of the users named (those that have one), in no particular order."""
    return [email for email in session.scalars(select(User.email).where(User.name.in_(list(names)))) if email]


def locales_of(session: Session, names: Collection[str]) -> dict[str, str | None]:
    """name -> the user's `locale` (None: not set), for the users among `names` that exist."""
    if not names:
        return {}
    rows = session.execute(select(User.name, User.locale).where(User.name.in_(list(names))))
    return {name: locale for name, locale in rows}


def add_token(session: Session, user_id: int, digest: str, label: str | None = None) -> None:
    session.add(ApiToken(user_id=user_id, token_hash=digest, name=label))


def token_with_user(connection: Connection | Session, digest: str) -> Row[Any] | None:
    """The token's `last_used_at` and every column of its user (all None when the user is gone); None for an
    unknown digest. A Core row, not a mapped object: the first statement of every API request."""
    return connection.execute(q.TOKEN_AND_USER, {"digest": digest}).first()


def touch_token(session: Session, digest: str, at: datetime) -> None:
    """Record the token's use at `at`."""
    session.execute(update(ApiToken).where(ApiToken.token_hash == digest).values(last_used_at=at))


def replace_password_hash(session: Session, user_id: int, old: str | None, new: str) -> bool:
    """Swap the user's hash for `new` if it is still `old` (a password changed meanwhile wins)."""
    result = session.execute(update(User).where(User.id == user_id, User.password_hash == old)
                             .values(password_hash=new))
    return bool(getattr(result, "rowcount", 0))


# -- users as the runtime reads them for tickets: plain rows, no ORM objects --------------------------------

_USERS = cast(Table, User.__table__)
_BY_NAME = select(_USERS).where(_USERS.c.name == bindparam("name"))


def named(session: Session, name: str) -> Any | None:
    """The user's row (attributes per column), or None."""
    return session.connection().execute(_BY_NAME, {"name": name}).first()


def all_named(session: Session, names: Collection[str]) -> dict[str, Any]:
    """The rows of the users among `names`, by name (one query)."""
    if not names:
        return {}
    return {row.name: row for row in session.connection().execute(select(_USERS).where(_USERS.c.name.in_(list(names))))}
