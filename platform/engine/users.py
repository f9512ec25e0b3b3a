"""Users and API tokens: scrypt password hashes, tokens stored as sha256 digests (SPEC 9)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import cast

from sqlalchemy import select, update

from itsm.store import ApiToken, Database, User
from itsm.store import queries as q
from itsm.store.models import utcnow

from .actors import SYSTEM, UserRecord
from .errors import BadRequest, Conflict, NotFound, Unauthorized

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str | None) -> bool:
    if not encoded:
        return False
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def add_user(db: Database, name: str, *, password: str | None = None, email: str | None = None,
             admin: bool = False, vip: bool = False, org: str | None = None, timezone: str | None = None) -> User:
    if not name.strip() or name != name.strip():
        raise BadRequest(f"user name '{name}' is empty or starts or ends with a space")
    if name == SYSTEM:
        raise BadRequest(f"'{SYSTEM}' is the built-in actor that holds every role: choose another user name")
    with db.write() as session:
        if session.scalar(select(User.id).where(User.name == name)) is not None:
            raise Conflict(f"user '{name}' exists already")
        user = User(name=name, email=email, is_admin=admin, vip=vip, org=org, timezone=timezone,
                    password_hash=hash_password(password) if password else None)
        session.add(user)
        return user


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password anyone has")


def authenticate(db: Database, name: str, password: str) -> User:
    with db.read() as session:
        user = session.scalar(q.USER_BY_NAME, {"name": name})
    if user is None:
        verify_password(password, _dummy_hash())  # the same work either way: timing does not tell who exists
        raise Unauthorized("wrong user name or password")
    if not verify_password(password, user.password_hash):
        raise Unauthorized("wrong user name or password")
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, name: str, label: str | None = None) -> str:
    """A new bearer token for user `name`; only its digest is stored, so show it once."""
    token = "itsm_" + secrets.token_urlsafe(32)
    with db.write() as session:
        user = session.scalar(q.USER_BY_NAME, {"name": name})
        if user is None:
            raise NotFound(f"no user '{name}'")
        session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), name=label))
    return token


TOKEN_USE_PRECISION = timedelta(minutes=1)  # last_used_at is refreshed at most this often


def user_for_token(db: Database, token: str) -> UserRecord:
    """The token's user (its columns, not a mapped object). A read; `last_used_at` is written only when it
    is older than a minute, so requests do not all queue for a write (SQLite has one writer)."""
    digest = _token_digest(token)
    with db.engine.connect() as connection:
        row = connection.execute(q.TOKEN_AND_USER, {"digest": digest}).first()
    if row is None:
        raise Unauthorized("unknown or revoked API token")
    if row.name is None:
        raise Unauthorized("the token's user no longer exists")
    if row.last_used_at is None or utcnow() - row.last_used_at > TOKEN_USE_PRECISION:
        with db.write() as session:
            session.execute(update(ApiToken).where(ApiToken.token_hash == digest).values(last_used_at=utcnow()))
    return cast(UserRecord, row)
