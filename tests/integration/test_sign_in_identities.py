"""Users provisioned just in time (SPEC 14): the rules both sign-in methods share (`identities.provision`),
on SQLite and PostgreSQL, without a directory or a provider (their answers are the `ExternalPerson`)."""

from __future__ import annotations

import hashlib
import logging
import threading

import pytest
from alembic import command
from sqlalchemy import text

from itsm.engine.errors import BadRequest, Conflict, Forbidden
from itsm.engine.people.identities import LDAP, OIDC, ExternalPerson, provision
from itsm.engine.people.users import add_user, user_for_token
from itsm.store import Database
from itsm.store import orgs as stored_orgs
from itsm.store import users as stored_users
from itsm.store.migrate import alembic_config, upgrade


@pytest.fixture()
def tree(db: Database) -> Database:
    """浙江省 -> 杭州市 -> 西湖区 and 滨江区, each district with an office called 办公室."""
    with db.write() as session:
        stored_orgs.add(session, "zhejiang", "浙江省")
        stored_orgs.add(session, "hangzhou", "杭州市", parent="zhejiang")
        for district, name in (("xihu", "西湖区"), ("binjiang", "滨江区")):
            stored_orgs.add(session, district, name, parent="hangzhou")
            stored_orgs.add(session, f"{district}-office", "办公室", parent=district)
        stored_orgs.add(session, "杭州市", "名字恰好是另一个单位的编号", parent="zhejiang")  # an id like a name
    return db


def test_an_organization_is_an_id_or_a_name_only_one_has_nearest_first(tree: Database,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    cases = [(("西湖区",), "xihu"), (("xihu-office",), "xihu-office"), (("办公室", "西湖区"), "xihu"),
             (("杭州市",), "杭州市"), (("nowhere", " ", "滨江区"), "binjiang")]
    for index, (orgs, expected) in enumerate(cases):
        made = provision(tree, ExternalPerson(f"person{index}", LDAP, orgs=orgs))
        assert made.org == expected, orgs
    with caplog.at_level(logging.WARNING, logger="itsm.sign_in"):
        lost = provision(tree, ExternalPerson("lost", LDAP, orgs=("办公室",)))  # two offices: which one?
    assert lost.org is None and "no organization matches '办公室'" in caplog.text
    moved = provision(tree, ExternalPerson("person0", LDAP, orgs=("nowhere",)))
    assert moved.org == "xihu"  # an unknown value keeps what the user had


def test_what_is_given_is_updated_and_what_is_not_is_kept(tree: Database) -> None:
    provision(tree, ExternalPerson("wangfang", LDAP, email="wangfang@example.gov", full_name=" 王芳 ", orgs=("xihu",)))
    kept = provision(tree, ExternalPerson("wangfang", LDAP, email="not an address", full_name=None))
    assert (kept.email, kept.full_name, kept.org) == ("wangfang@example.gov", "王芳", "xihu")
    with tree.read() as session:
        assert stored_users.by_name(session, "wangfang") is not None


def test_a_name_that_cannot_be_a_user_name_here_is_refused(tree: Database) -> None:
    for name in ("Wang Fang", "x" * 101, "<script>"):
        with pytest.raises(BadRequest, match="gave a user name that cannot be used here"):
            provision(tree, ExternalPerson(name, OIDC, subject=f"sub-{len(name)}"))


def test_disabled_local_and_taken_users_are_refused(tree: Database) -> None:
    add_user(tree, "admin", password="local-pw", admin=True)
    with pytest.raises(Conflict, match="own password"):
        provision(tree, ExternalPerson("admin", LDAP))
    provision(tree, ExternalPerson("wangfang", OIDC, subject="sub-1"))
    with pytest.raises(Conflict, match="belongs to another person"):
        provision(tree, ExternalPerson("wangfang", OIDC, subject="sub-2"))
    with tree.write() as session:
        wangfang = stored_users.by_name(session, "wangfang")
        assert wangfang is not None
        wangfang.active = False
    with pytest.raises(Forbidden, match="disabled"):
        provision(tree, ExternalPerson("renamed-at-provider", OIDC, subject="sub-1"))


def test_two_first_sign_ins_at_once_make_one_user(tree: Database) -> None:
    results: list[object] = []

    def sign_in() -> None:
        try:
            results.append(provision(tree, ExternalPerson("zhangwei", OIDC, subject="sub-zw", full_name="张伟")).id)
        except Exception as exc:  # noqa: BLE001 - the test reports whatever went wrong
            results.append(exc)

    threads = [threading.Thread(target=sign_in) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1 and isinstance(results[0], int), results



def test_the_migration_keeps_every_user_and_token_and_undoes_cleanly(db_url: str) -> None:
    """0011 adds a column in place: SQLite's copy-and-rename would drop `users` and cascade to the tokens."""
    db = Database(db_url)
    token = "itsm_a-token-made-before-the-upgrade"
    digest = hashlib.sha256(token.encode()).hexdigest()

    def rows() -> tuple[int, int]:
        with db.engine.connect() as connection:
            return (connection.execute(text("SELECT count(*) FROM users")).scalar_one(),
                    connection.execute(text("SELECT count(*) FROM api_tokens")).scalar_one())

    try:
        upgrade(db.engine, "0008")
        with db.engine.begin() as connection:  # as a release at 0008 wrote them (its models had no oidc_subject)
            connection.execute(text("INSERT INTO users (name, email, is_admin, vip, org_contact, active, "
                                    "created_at) VALUES ('rita', 'rita@example.gov', false, false, false, true, "
                                    "CURRENT_TIMESTAMP)"))
            connection.execute(text("INSERT INTO api_tokens (user_id, token_hash, created_at) "
                                    "SELECT id, :digest, CURRENT_TIMESTAMP FROM users"), {"digest": digest})
        upgrade(db.engine, "head")
        assert user_for_token(db, token).name == "rita"
        provision(db, ExternalPerson("rita", OIDC, subject="sub-rita"))
        command.downgrade(alembic_config(db.engine), "0008")
        assert rows() == (1, 1)
        upgrade(db.engine, "head")
        assert rows() == (1, 1) and user_for_token(db, token).name == "rita"
        assert provision(db, ExternalPerson("rita", OIDC, subject="sub-rita")).email == "rita@example.gov"
    finally:
        db.dispose()
