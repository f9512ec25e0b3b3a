"""Sign-in throttling per user name (SPEC 9, decisions.md "Sign-in throttling").

After FREE_FAILURES wrong passwords in a row a name is locked for a while; the counts live in the database
(`login_failures`), so every gunicorn worker honours them. Unknown names are counted alike, so a lock does
not tell who exists. `lock_duration` is the rule; the rest reads and writes its rows.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from itsm.store import Database
from itsm.store import login_failures as rows

from ..errors import N_, TooManyAttempts

FREE_FAILURES = 5  # wrong passwords in a row before a name is locked
FIRST_LOCK, LONGEST_LOCK = timedelta(minutes=1), timedelta(minutes=15)  # doubling from one to the other
FAILURES_KEPT = timedelta(days=1)  # a name's count is forgotten a day after its last wrong password
_DOUBLINGS = (LONGEST_LOCK // FIRST_LOCK).bit_length()  # past this many, the lock is LONGEST_LOCK anyway


def lock_duration(failures: int) -> timedelta | None:
    """How long `failures` wrong passwords in a row lock a name; None: not at all (yet)."""
    if failures < FREE_FAILURES:
        return None
    return min(FIRST_LOCK * 2 ** min(failures - FREE_FAILURES, _DOUBLINGS), LONGEST_LOCK)


def name_digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()


def check_not_locked(db: Database, name: str, now: datetime) -> int:
    """Raise TooManyAttempts while `name` is locked; else its wrong passwords in a row so far (maybe 0)."""
    with db.read() as session:
        row = rows.find(session, name_digest(name))
    if row is None:
        return 0
    if row.locked_until is not None and row.locked_until > now:
        wait = max(1, -(-int((row.locked_until - now).total_seconds()) // 60))
        raise TooManyAttempts(N_("too many wrong passwords for this name: try again in %(minutes)s minute",
                                 minutes=wait) if wait == 1 else
                              N_("too many wrong passwords for this name: try again in %(minutes)s minutes",
                                 minutes=wait), minutes=wait)
    return row.failures


def record_failure(db: Database, name: str, now: datetime) -> int:
    """Count a wrong password for `name` (locking it when the count says so); the count in a row."""
    digest = name_digest(name)
    with db.write() as session:
        failures = rows.count_failure(session, digest, now, forget_before=now - FAILURES_KEPT)
        duration = lock_duration(failures)
        if duration is not None:
            rows.lock(session, digest, now + duration)
    # A separate transaction: pruning locks other names' rows, and doing so while holding this name's row
    # could deadlock with a worker recording a failure for one of them (PostgreSQL).
    with db.write() as session:
        rows.prune(session, before=now - FAILURES_KEPT)
    return failures


def clear_failures(db: Database, name: str) -> None:
    """A right password starts the count again."""
    with db.write() as session:
        rows.forget(session, name_digest(name))
