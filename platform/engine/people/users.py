"""Users and API tokens: scrypt password hashes, tokens stored as sha256 digests (SPEC 9)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from itsm.store import Database, Setting, User
from itsm.store import users as stored
from itsm.store.models import utcnow

from ..errors import BadRequest, Conflict, NotFound, TooManyAttempts, Unauthorized
from ..runtime.actors import SYSTEM, UserRecord

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
        if stored.exists(session, name):
            raise Conflict(f"user '{name}' exists already")
        return stored.add(session, name, email=email, is_admin=admin, vip=vip, org=org, timezone=timezone,
                          password_hash=hash_password(password) if password else None)


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password anyone has")


def authenticate(db: Database, name: str, password: str, now: datetime | None = None) -> User:
    """The user, if the password is theirs; after FREE_FAILURES wrong ones in a row a name is locked for a
    while (the lock is kept in the database, so every gunicorn worker honours it; unknown names too, so a
    lock does not tell who exists)."""
    now = now or utcnow()
    key = _failures_key(name)
    with db.read() as session:
        user = stored.by_name(session, name)
        failures = _Failures.parse(session.scalar(select(Setting.value).where(Setting.key == key)))
    if failures.locked_until > now:
        wait = max(1, -(-int((failures.locked_until - now).total_seconds()) // 60))
        raise TooManyAttempts(f"too many wrong passwords for this name: try again in {wait} minute"
                              f"{'s' if wait != 1 else ''}")
    if user is None or not user.password_hash:  # the same work either way: timing tells nobody who exists,
        verify_password(password, _dummy_hash())  # nor who has no password (users made by the mail intake)
    if user is None or not verify_password(password, user.password_hash):
        _record_failure(db, key, failures, now)
        raise Unauthorized("wrong user name or password")
    if failures.count:
        with db.write() as session:
            session.execute(delete(Setting).where(Setting.key == key))
    return user


FREE_FAILURES = 5  # wrong passwords in a row before a name is locked
FIRST_LOCK, LONGEST_LOCK = timedelta(minutes=1), timedelta(minutes=15)  # doubling from one to the other
FAILURES_KEPT = timedelta(days=1)  # a name's count is forgotten a day after its last wrong password
_FAILURES = "login_failures:"
_STAMP = "%Y-%m-%dT%H:%M:%S"  # fixed width: stored values compare as text in time order


def _failures_key(name: str) -> str:
    return _FAILURES + hashlib.sha256(name.encode()).hexdigest()[:40]  # fits the settings key (64)


class _Failures:
    """A name's wrong passwords in a row, kept in `settings` as 'LAST_FAILURE COUNT LOCKED_UNTIL'."""

    def __init__(self, last: datetime, count: int, locked_until: datetime):
        self.last, self.count, self.locked_until = last, count, locked_until

    @classmethod
    def parse(cls, value: str | None) -> _Failures:
        never = datetime.min.replace(tzinfo=utcnow().tzinfo)
        try:
            last, count, until = (value or "").split(" ")
            return cls(_parse_stamp(last), int(count), _parse_stamp(until))
        except ValueError:
            return cls(never, 0, never)

    def __str__(self) -> str:
        return f"{self.last.strftime(_STAMP)} {self.count} {self.locked_until.strftime(_STAMP)}"


def _parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, _STAMP).replace(tzinfo=utcnow().tzinfo)


def _record_failure(db: Database, key: str, failures: _Failures, now: datetime) -> None:
    count = (failures.count if now - failures.last < FAILURES_KEPT else 0) + 1
    locked_until = now
    if count >= FREE_FAILURES:
        locked_until = now + min(FIRST_LOCK * 2 ** (count - FREE_FAILURES), LONGEST_LOCK)
    value = str(_Failures(now, count, locked_until))
    try:
        with db.write() as session:
            session.execute(delete(Setting).where(Setting.key.startswith(_FAILURES, autoescape=True),
                                                  Setting.value < (now - FAILURES_KEPT).strftime(_STAMP)))
            row = session.get(Setting, key)
            if row is None:
                session.add(Setting(key=key, value=value))
            else:
                row.value = value
    except IntegrityError:  # another worker recorded this name's first failure at the same moment
        pass


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, name: str, label: str | None = None) -> str:
    """A new bearer token for user `name`; only its digest is stored, so show it once."""
    token = "itsm_" + secrets.token_urlsafe(32)
    with db.write() as session:
        user = stored.by_name(session, name)
        if user is None:
            raise NotFound(f"no user '{name}'")
        stored.add_token(session, user.id, _token_digest(token), label)
    return token


TOKEN_USE_PRECISION = timedelta(minutes=1)  # last_used_at is refreshed at most this often


def user_for_token(db: Database, token: str) -> UserRecord:
    """The token's user (its columns, not a mapped object). A read; `last_used_at` is written only when it
    is older than a minute, so requests do not all queue for a write (SQLite has one writer)."""
    digest = _token_digest(token)
    with db.engine.connect() as connection:
        row = stored.token_with_user(connection, digest)
    if row is None:
        raise Unauthorized("unknown or revoked API token")
    if row.name is None:
        raise Unauthorized("the token's user no longer exists")
    if row.last_used_at is None or utcnow() - row.last_used_at > TOKEN_USE_PRECISION:
        with db.write() as session:
            stored.touch_token(session, digest, utcnow())
    return cast(UserRecord, row)
