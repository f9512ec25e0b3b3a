"""Users and their API tokens: the rows the engine's `people` package reads and writes.

Who may sign in, how passwords are hashed and when a token's last use is worth writing are the engine's
decisions (`itsm.engine.people.users`); these functions take plain values and return rows.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, bindparam, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import bulk
from . import queries as q
from .dialects import among
from .models import ApiToken, Organization, User
from .orgs import contains, prefix_match


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
    return session.connection().execute(_ID_BY_NAME, {"name": name}).first() is not None


def find(session: Session, *, text: str | None = None, org_ids: Any = None, active: bool | None = None,
         admin: bool | None = None, org_contact: bool | None = None, after: str | None = None,
         limit: int = 50) -> list[User]:
    """Users by name, at most `limit` after the name `after`: those whose name, full name or mail address
    contains `text` (regardless of case), whose organization is in `org_ids` (a SELECT of ids), with the
    flags given. A substring has no index to use: 100,000 users are scanned in tens of milliseconds."""
    query = select(User)
    if text:
        dialect = session.get_bind().dialect.name
        columns = (User.name, User.full_name, User.email)
        query = query.where(or_(*(contains(column, text, dialect) for column in columns)))
    if org_ids is not None:
        query = query.where(User.org.in_(org_ids))
    for column, wanted in ((User.active, active), (User.is_admin, admin), (User.org_contact, org_contact)):
        if wanted is not None:
            query = query.where(column.is_(wanted))
    if after is not None:
        query = query.where(User.name > after)
    return list(session.scalars(query.order_by(User.name).limit(limit)))


def set_values(session: Session, name: str, values: dict[str, Any]) -> bool:
    """Set columns of user `name` (`email`, `full_name`, `org`, `is_admin`, `active`, `password_hash`...);
    False when there is no such user."""
    result = session.execute(update(User).where(User.name == name).values(**values))
    return bool(getattr(result, "rowcount", 0))


def counts_by_org(session: Session, ids: Collection[str]) -> dict[str, int]:
    """How many users belong directly to each of `ids` (those with none are left out)."""
    if not ids:
        return {}
    rows = session.execute(select(User.org, func.count()).where(User.org.in_(list(ids))).group_by(User.org))
    return {str(org): count for org, count in rows}


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def add(session: Session, name: str, *, email: str | None = None, password_hash: str | None = None,
        is_admin: bool = False, vip: bool = False, org: str | None = None, timezone: str | None = None,
        locale: str | None = None, full_name: str | None = None, org_contact: bool = False,
        active: bool = True) -> User:
    """A new user row, added to the session (written at its next flush)."""
    user = User(name=name, email=email, is_admin=is_admin, vip=vip, org=org, timezone=timezone, locale=locale,
                password_hash=password_hash, full_name=full_name, org_contact=org_contact, active=active)
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
    return set(session.scalars(select(User.name).where(among(session, User.name, names)))) if names else set()


def names_starting_with(session: Session, prefix: str) -> set[str]:
    """User names that start with `prefix` (LIKE: `_` in it matches any character, so a few more may come)."""
    return set(session.scalars(select(User.name).where(User.name.like(f"{prefix}%"))))


def first_with_email(session: Session, address: str) -> User | None:
    """The oldest user whose mail address is `address` (lower-case), compared without regard to case."""
    return session.scalar(select(User).where(func.lower(User.email) == address).order_by(User.id).limit(1))


def emails_by_name(session: Session, names: Collection[str]) -> dict[str, str]:
    """name -> mail address of the users named that have one, in no particular order."""
    if not names:
        return {}
    rows = session.execute(select(_USERS.c.name, _USERS.c.email).where(among(session, _USERS.c.name, names)))
    return {name: email for name, email in rows if email}


def locales_of(session: Session, names: Collection[str]) -> dict[str, str | None]:
    """name -> the user's `locale` (None: not set), for the users among `names` that exist."""
    if not names:
        return {}
    rows = session.execute(select(User.name, User.locale).where(among(session, User.name, names)))
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


# -- many at once: imports (`itsm user import`) -------------------------------------------------------------

IMPORTED = ("email", "org", "full_name", "locale", "vip", "is_admin", "org_contact")  # the columns a file sets


def all_for_import(session: Session) -> dict[str, Row[Any]]:
    """Every user's id and the columns an import may set, by name (100,000 users: a few megabytes)."""
    table = cast(Table, User.__table__)
    rows = session.execute(select(table.c.id, table.c.name, *(table.c[name] for name in IMPORTED)))
    return {row.name: row for row in rows}


def insert_many(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """New users, each a mapping of the same columns (`bulk.insert_rows`; no password: see the importer)."""
    return bulk.insert_rows(session.connection(), cast(Table, User.__table__), rows)


def update_many(session: Session, rows: Sequence[Mapping[str, Any]]) -> int:
    """Users changed: each mapping holds `b_id` and the same columns to set (`bulk.update_rows`)."""
    return bulk.update_rows(session.connection(), cast(Table, User.__table__), ("id",), rows)


# -- users as the runtime reads them for tickets: plain rows, no ORM objects --------------------------------

_USERS = cast(Table, User.__table__)
_ORGS = cast(Table, Organization.__table__)
# Every column of the user, and of their organization its name and materialized path (`org_name`,
# `org_path`; None without one), from which `requester.orgs` is read without another query.
_WITH_ORG = (select(_USERS, _ORGS.c.name.label("org_name"), _ORGS.c.path.label("org_path"))
             .select_from(_USERS.outerjoin(_ORGS, _ORGS.c.id == _USERS.c.org)))
_BY_NAME = _WITH_ORG.where(_USERS.c.name == bindparam("name"))
_ID_BY_NAME = select(_USERS.c.id).where(_USERS.c.name == bindparam("name"))


def named(session: Session, name: str) -> Any | None:
    """The user's row (attributes per column, and `org_name`, `org_path`), or None."""
    return session.connection().execute(_BY_NAME, {"name": name}).first()


def all_named(session: Session, names: Collection[str]) -> dict[str, Any]:
    """The rows of the users among `names` (as `named` gives them), by name (one query)."""
    if not names:
        return {}
    rows = session.connection().execute(_WITH_ORG.where(among(session, _USERS.c.name, names)))
    return {row.name: row for row in rows}


def directory(session: Session, text: str, subtrees: Sequence[str] | None, limit: int) -> list[Any]:
    """Active users (name, full name, mail, organization id and name) whose name, full name, mail address or
    organization's name contains `text`, or whose organization is `text`; `subtrees`: only those of the
    organizations under these materialized paths (None: anyone); by name, at most `limit`."""
    dialect = session.get_bind().dialect.name
    matches = [contains(column, text, dialect) for column in (User.name, User.full_name, User.email)]
    named = select(Organization.id).where(contains(Organization.name, text, dialect))
    matches += [User.org.in_(named), User.org == text]
    query = (select(User.name, User.full_name, User.email, User.org, Organization.name.label("org_name"))
             .outerjoin(Organization, Organization.id == User.org)
             .where(User.active.is_(True), or_(*matches)))
    if subtrees is not None:
        under = or_(*(prefix_match(Organization.path, path, dialect) for path in subtrees)) if subtrees else false()
        query = query.where(User.org.in_(select(Organization.id).where(under)))
    return list(session.execute(query.order_by(User.name).limit(limit)).all())
