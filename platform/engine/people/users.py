"""Users and API tokens: Werkzeug scrypt password hashes, tokens stored as sha256 digests (SPEC 9)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from typing import cast

from werkzeug.security import check_password_hash, generate_password_hash

from itsm.store import Database, User
from itsm.store import users as stored
from itsm.store.models import utcnow

from ..errors import N_, BadRequest, Conflict, NotFound, Unauthorized
from ..runtime.actors import SYSTEM, UserRecord
from .login_throttle import FREE_FAILURES, check_not_locked, clear_failures, record_failure
from .timezones import check_timezone

__all__ = ["FREE_FAILURES", "PASSWORD_METHOD", "add_user", "authenticate", "check_email", "check_locale",
           "check_timezone", "check_user_name", "create_token", "hash_password", "set_locale", "set_timezone",
           "user_for_token", "verify_password"]

# Werkzeug's default, written out so that a change of it is ours to make: a hash made with anything else
# (older parameters, the format of releases before Werkzeug hashing) is rewritten at the next sign-in.
PASSWORD_METHOD = "scrypt:32768:8:1"


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_METHOD, salt_length=16)


def verify_password(password: str, encoded: str | None) -> bool:
    if not encoded:
        return False
    if encoded.startswith("scrypt$"):
        return _verify_before_werkzeug(password, encoded)
    try:
        return check_password_hash(encoded, password)
    except ValueError:  # an unknown method or broken parameters: nobody's password
        return False


def needs_rehash(encoded: str) -> bool:
    return not encoded.startswith(PASSWORD_METHOD + "$")


def _verify_before_werkzeug(password: str, encoded: str) -> bool:
    """The hashes of releases up to 0.1: `scrypt$N$r$p$SALT$DIGEST`, salt and digest in base64."""
    try:
        _, n, r, p, salt, digest = encoded.split("$")
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=32)
        return hmac.compare_digest(actual, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


# User names appear in URLs (/api/users/NAME), pages, exports and the event log, and are typed at the
# login form: letters and digits of any script (so 王伟 and José sign in as themselves), and . _ - @ between
# them (LDAP and OpenID names are often mail addresses). No spaces, quotes, markup or control characters.
MAX_USER_NAME = 100  # the column's length
_NAME_PUNCTUATION = frozenset("._-@")
_NAME_LETTERS = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd"})


def check_user_name(name: str) -> None:
    """Raise BadRequest, saying what to change, unless `name` is one a user may have."""
    shown = f"'{name}'" if name.isprintable() else N_("(with a control character)")
    if not name.strip() or name != name.strip():
        raise BadRequest(N_("user name %(name)s is empty or starts or ends with a space", name=shown))
    if name == SYSTEM:
        raise BadRequest(N_("'%(name)s' is the built-in actor that holds every role: choose another user name",
                            name=SYSTEM))
    if len(name) > MAX_USER_NAME:
        raise BadRequest(N_("user name %(name)s... is longer than %(most)s characters", name=shown[:40],
                            most=MAX_USER_NAME))
    for char in name:
        if char not in _NAME_PUNCTUATION and unicodedata.category(char) not in _NAME_LETTERS:
            what = N_("a space") if char.isspace() else f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
            raise BadRequest(N_("user name %(name)s holds %(what)s: a user name is letters, digits and . _ - @",
                                name=shown, what=what))
    if not name[0].isalnum() or name[-1] in _NAME_PUNCTUATION:
        raise BadRequest(N_("user name %(name)s must start with a letter or a digit and end with none of . _ - @",
                            name=shown))
    if unicodedata.normalize("NFC", name) != name:
        raise BadRequest(N_("user name %(name)s is not in Unicode normal form NFC (type it again, or copy it "
                            "from a text editor that composes accents)", name=shown))


# A mail address as people and mail servers write it (RFC 5321 dot-atoms, RFC 6531 letters of any script),
# without the quoted forms and address literals no desk uses. Checked so a typo or markup never becomes an
# address that mail is sent to; nothing is looked up.
_LOCAL_PART = re.compile(r"[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*")
_DOMAIN_LABEL = re.compile(r"[^\W_](?:[^\W_]|-){0,62}(?<!-)")  # letters, digits, inner hyphens
MAX_EMAIL, MAX_LOCAL_PART = 254, 64


def check_email(email: str) -> None:
    """Raise BadRequest unless `email` is a plain mail address (name@example.org)."""
    local, at, domain = email.rpartition("@")
    labels = domain.split(".")
    if (len(email) > MAX_EMAIL or not at or len(local) > MAX_LOCAL_PART or not _LOCAL_PART.fullmatch(local)
            or len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
            or not any(char.isalpha() for char in labels[-1])):
        shown = f"'{email[:80]}'" if email.isprintable() else N_("(with a control character)")
        raise BadRequest(N_("e-mail address %(address)s is not valid: write it as name@example.org", address=shown))


def add_user(db: Database, name: str, *, password: str | None = None, email: str | None = None,
             admin: bool = False, vip: bool = False, org: str | None = None, timezone: str | None = None,
             locale: str | None = None, org_contact: bool = False) -> User:
    check_user_name(name)
    if email is not None:
        check_email(email)
    if locale is not None:
        locale = check_locale(locale)
    timezone = check_timezone(timezone) if timezone else None
    with db.write() as session:
        if stored.exists(session, name):
            raise Conflict(N_("user '%(name)s' exists already", name=name))
        return stored.add(session, name, email=email, is_admin=admin, vip=vip, org=org, timezone=timezone,
                          locale=locale, password_hash=hash_password(password) if password else None,
                          org_contact=org_contact)


LOCALE = re.compile(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*")


def check_locale(locale: str) -> str:
    """A language tag as BCP 47 writes it ("zh-CN", "en"); which ones the pages speak is the web's business."""
    if not LOCALE.fullmatch(locale) or len(locale) > 16:
        raise BadRequest(N_("'%(tag)s' is not a language tag (for example zh-CN or en)", tag=locale))
    return locale.replace("_", "-")


def set_locale(db: Database, name: str, locale: str | None) -> None:
    """The language `name` reads the pages in (the switch on every page); None: the browser's."""
    if locale is not None:
        locale = check_locale(locale)
    with db.write() as session:
        if not stored.set_locale(session, name, locale):
            raise NotFound(N_("no user '%(user)s'", user=name))


def set_timezone(db: Database, name: str, timezone: str | None) -> str | None:
    """The time zone `name` reads times in (an IANA name, as IANA spells it); None or "": the pack's."""
    timezone = check_timezone(timezone) if timezone else None
    with db.write() as session:
        if not stored.set_timezone(session, name, timezone):
            raise NotFound(N_("no user '%(user)s'", user=name))
    return timezone


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not a password anyone has")


def authenticate(db: Database, name: str, password: str, now: datetime | None = None) -> User:
    """The user, if the password is theirs; after FREE_FAILURES wrong ones in a row a name is locked for a
    while (`login_throttle`). A hash of an older method is rewritten with PASSWORD_METHOD on success."""
    now = now or utcnow()
    failures = check_not_locked(db, name, now)
    with db.read() as session:
        user = stored.by_name(session, name)
    if user is None or not user.password_hash:  # the same work either way: timing tells nobody who exists,
        verify_password(password, _dummy_hash())  # nor who has no password (users made by the mail intake)
    if user is None or user.password_hash is None or not verify_password(password, user.password_hash):
        record_failure(db, name, now)
        raise Unauthorized(N_("wrong user name or password"))
    if failures:
        clear_failures(db, name)
    if needs_rehash(user.password_hash):
        _rehash(db, user, password)
    return user


def _rehash(db: Database, user: User, password: str) -> None:
    """Store the password under PASSWORD_METHOD, unless it was changed meanwhile; `user` gets the new hash,
    so the session started with it matches the database (sessions elsewhere end, as on a password change)."""
    old, new = user.password_hash, hash_password(password)
    with db.write() as session:
        changed = stored.replace_password_hash(session, user.id, old, new)
    if changed:
        user.password_hash = new


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Database, name: str, label: str | None = None) -> str:
    """A new bearer token for user `name`; only its digest is stored, so show it once."""
    token = "itsm_" + secrets.token_urlsafe(32)
    with db.write() as session:
        user = stored.by_name(session, name)
        if user is None:
            raise NotFound(N_("no user '%(user)s'", user=name))
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
        raise Unauthorized(N_("unknown or revoked API token"))
    if row.name is None:
        raise Unauthorized(N_("the token's user no longer exists"))
    if row.last_used_at is None or utcnow() - row.last_used_at > TOKEN_USE_PRECISION:
        with db.write() as session:
            stored.touch_token(session, digest, utcnow())
    return cast(UserRecord, row)
