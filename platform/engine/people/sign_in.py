"""The sign-in form's name and password (SPEC 14): this desk's own passwords, then the directory.

The order (docs/decisions.md, "Sign-in with the directory"): a user with a password of this desk signs in
with it and only with it (the administrator's way in when the directory is down, and no directory account
can take over a local one); everyone else is checked by the directory when one is configured, and becomes
or stays a user as `identities` says. Without a directory, the form is what it always was. Wrong passwords
count towards the same lock (`login_throttle`) whichever checks them.
"""

from __future__ import annotations

from datetime import datetime

from itsm.store import Database, User
from itsm.store import users as stored

from ..errors import N_, BadRequest, Forbidden, Unauthorized
from .directory import DirectorySettings, check_password
from .identities import provision
from .login_throttle import check_not_locked, clear_failures, record_failure
from .users import authenticate, check_user_name


def sign_in(db: Database, name: str, password: str, now: datetime, directory: DirectorySettings | None = None) -> User:
    """The user `name` with `password`. Unauthorized (wrong name or password), TooManyAttempts, Forbidden (a
    disabled user), Conflict (a directory person whose name is a local account), Unavailable (no directory)."""
    if directory is None or _has_local_password(db, name):
        return active(authenticate(db, name, password, now))
    # Directory names match without regard to case: the lock counts WangFang's and wangfang's tries together.
    key = name.casefold()
    failures = check_not_locked(db, key, now)
    try:
        check_user_name(name)
        person = check_password(directory, name, password)
    except (BadRequest, Unauthorized):
        record_failure(db, key, now)
        raise Unauthorized(N_("wrong user name or password")) from None
    if failures:
        clear_failures(db, key)
    return provision(db, person)


def _has_local_password(db: Database, name: str) -> bool:
    with db.read() as session:
        user = stored.by_name(session, name)
    return user is not None and bool(user.password_hash)


def active(user: User) -> User:
    """`user`, unless disabled (SPEC 14: a disabled user cannot sign in, whatever their password)."""
    if not user.active:
        raise Forbidden(N_("user '%(user)s' is disabled: ask an administrator of the service desk", user=user.name))
    return user
