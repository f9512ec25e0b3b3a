"""Users on SQLite and PostgreSQL: password hashes rewritten at sign-in, the sign-in throttle's table
under concurrent wrong passwords, and the names and addresses `add_user` and `itsm user add` refuse."""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from itsm.cli import main
from itsm.engine.errors import BadRequest, TooManyAttempts, Unauthorized
from itsm.engine.people.login_throttle import FAILURES_KEPT, FREE_FAILURES, LONGEST_LOCK, name_digest, record_failure
from itsm.engine.people.users import add_user, authenticate, hash_password
from itsm.store import Database, LoginFailure, Setting, User
from itsm.store.migrate import upgrade
from itsm.store.models import utcnow
from itsm.web import engine_of

from support import DEFINITIONS, deployed_app


def legacy_hash(password: str) -> str:
    """A hash in the format of releases up to 0.1 (before Werkzeug hashing)."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def stored_hash(db: Database, name: str) -> str | None:
    with db.read() as session:
        return session.scalar(select(User.password_hash).where(User.name == name))


def set_hash(db: Database, name: str, encoded: str) -> None:
    with db.write() as session:
        session.execute(update(User).where(User.name == name).values(password_hash=encoded))


def test_an_old_hash_signs_in_and_is_rewritten_in_the_new_format(db: Database) -> None:
    add_user(db, "rita")
    set_hash(db, "rita", legacy_hash("old-pw"))
    with pytest.raises(Unauthorized):
        authenticate(db, "rita", "wrong")
    assert stored_hash(db, "rita") == legacy_hash("old-pw")  # a wrong password rewrites nothing
    user = authenticate(db, "rita", "old-pw")
    assert user.password_hash == stored_hash(db, "rita")  # the session started with it stays valid
    assert str(user.password_hash).startswith("scrypt:32768:8:1$")
    assert authenticate(db, "rita", "old-pw").password_hash == user.password_hash  # rewritten once
    with pytest.raises(Unauthorized):
        authenticate(db, "rita", "wrong")


def test_a_new_hash_signs_in_unchanged_and_a_wrong_password_is_refused(db: Database) -> None:
    add_user(db, "lars", password="lars-pw")
    encoded = stored_hash(db, "lars")
    assert encoded is not None and encoded.startswith("scrypt:32768:8:1$")
    assert authenticate(db, "lars", "lars-pw").name == "lars"
    assert stored_hash(db, "lars") == encoded
    for wrong in ("lars-PW", "", "lars-pw "):
        with pytest.raises(Unauthorized, match="wrong user name or password"):
            authenticate(db, "lars", wrong)


def test_signing_in_with_an_old_hash_through_the_login_page_keeps_the_session(db_url: str) -> None:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    db = engine_of(app).db
    add_user(db, "rita")
    set_hash(db, "rita", legacy_hash("old-pw"))
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    response = client.post("/login", data={"csrf_token": token.group(1), "name": "rita", "password": "old-pw"})
    assert response.status_code == 302
    assert client.get("/portal").status_code == 200  # the stamp in the session is that of the new hash
    assert str(stored_hash(db, "rita")).startswith("scrypt:32768:8:1$")


def test_a_password_changed_while_signing_in_is_not_overwritten(db: Database,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from itsm.engine.people import users

    add_user(db, "dana")
    set_hash(db, "dana", legacy_hash("old-pw"))
    changed = hash_password("changed-by-admin")
    real = users.hash_password

    def admin_changes_it_meanwhile(password: str) -> str:
        set_hash(db, "dana", changed)
        return real(password)

    monkeypatch.setattr(users, "hash_password", admin_changes_it_meanwhile)
    user = authenticate(db, "dana", "old-pw")
    assert stored_hash(db, "dana") == changed
    assert user.password_hash == legacy_hash("old-pw")  # so the session it starts ends at the next request


def test_concurrent_wrong_passwords_all_count(db: Database) -> None:
    """Twelve workers at once: every failure is counted once, and the lock is the one the last count gives."""
    now, workers = utcnow(), 12
    start = threading.Barrier(workers)
    counts: list[int] = []

    def guess() -> None:
        start.wait()
        counts.append(record_failure(db, "rita", now))

    threads = [threading.Thread(target=guess) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, workers + 1))
    with db.read() as session:
        row = session.get(LoginFailure, name_digest("rita"))
    assert row is not None and row.failures == workers and row.locked_until == now + LONGEST_LOCK


def test_the_lock_row_holds_a_digest_not_the_name_and_old_counts_are_pruned(db: Database) -> None:
    now = utcnow()
    record_failure(db, "my secret password", now - FAILURES_KEPT - timedelta(seconds=1))
    assert record_failure(db, "rita", now - FAILURES_KEPT) == 1
    assert record_failure(db, "rita", now) == 1  # a day after the last failure the count starts again ...
    with db.read() as session:
        digests = set(session.scalars(select(LoginFailure.name_digest)))
    assert digests == {name_digest("rita")}  # ... and counts a day old are deleted
    for _ in range(FREE_FAILURES - 1):
        record_failure(db, "rita", now)
    with pytest.raises(TooManyAttempts, match="try again in 1 minute"):
        authenticate(db, "rita", "anything", now + timedelta(seconds=59))


def test_the_upgrade_drops_counts_kept_in_settings(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0004")
    with db.write() as session:
        session.add(Setting(key="login_failures:" + "0" * 40, value="2026-01-01T00:00:00 5 2026-01-01T00:01:00"))
        session.add(Setting(key="login_failures_other", value="kept"))  # `_` is not a wildcard here
        session.add(Setting(key="secret_key", value="kept"))
    db.upgrade()
    with db.read() as session:
        assert sorted(session.scalars(select(Setting.key))) == ["login_failures_other", "secret_key"]
        assert session.scalar(select(func.count()).select_from(LoginFailure)) == 0
    db.dispose()


@pytest.mark.parametrize(("name", "email", "message"), [
    ("<b>rita</b>", None, "user name '<b>rita</b>' holds '<'"),
    ("rita\x07", None, "user name (with a control character) holds U+0007"),
    ("rita", "rita@example", "e-mail address 'rita@example' is not valid"),
    ("rita", "<rita@example.org>", "e-mail address '<rita@example.org>' is not valid"),
])
def test_add_user_refuses_markup_in_names_and_invalid_addresses(db: Database, name: str, email: str | None,
                                                                message: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        add_user(db, name, email=email)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_add_user_takes_names_in_chinese(db: Database) -> None:
    add_user(db, "王伟", password="pw", email="wang.wei@example.cn")
    assert authenticate(db, "王伟", "pw").email == "wang.wei@example.cn"


def test_itsm_user_add_says_what_is_wrong_and_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITSM_DATABASE_URL", f"sqlite:///{tmp_path / 'itsm.db'}")
    runner = CliRunner()
    refused = runner.invoke(main, ["user", "add", "<script>alert(1)</script>"])
    assert (refused.exit_code, refused.output) == (
        1, "error: user name '<script>alert(1)</script>' holds '<': a user name is letters, digits and . _ - @\n")
    refused = runner.invoke(main, ["user", "add", "rita", "--email", "rita at example.org"])
    assert (refused.exit_code, refused.output) == (
        1, "error: e-mail address 'rita at example.org' is not valid: write it as name@example.org\n")
    created = runner.invoke(main, ["user", "add", "王伟", "--email", "wang@example.cn"])
    assert (created.exit_code, created.output) == (0, "created user 王伟\n")
