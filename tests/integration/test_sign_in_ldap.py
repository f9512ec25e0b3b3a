"""Sign-in with an LDAP directory (SPEC 14) against a real OpenLDAP server the tests start (`ldap_server`).

The people of the directory have Chinese names; the desk's organizations are 浙江省 -> 杭州市 -> 西湖区. The
sign-in page is driven through the Flask test client, as a browser would post it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.errors import Unauthorized, Unavailable
from itsm.engine.people.directory import DirectorySettings, check_password
from itsm.engine.people.users import add_user
from itsm.store import orgs as stored_orgs
from itsm.store import users as stored_users
from itsm.web import engine_of

from ldap_server import BASE, SERVICE_DN, SERVICE_PASSWORD, Directory, Person, free_port, start_directory
from support import deployed_app

UNITS = f"ou=units,{BASE}"
PEOPLE = [
    Person("wangfang", "王芳的密码-2024", "王芳", attributes={"displayName": "王芳", "departmentNumber": "xihu",
                                                            "mail": "wangfang@hz.example.gov"}),
    Person("sunli", "sunli-pw", "孙丽", attributes={"mail": "sunli@example.gov", "departmentNumber": "hangzhou"}),
    Person("zhangwei", "zhangwei-pw", "张伟", attributes={"mail": "zhangwei@example.gov",
                                                         "departmentNumber": "no-such-unit"}),
    Person("zhaolei", "zhaolei-pw", "赵磊", attributes={"mail": "zhaolei@example.gov"}),
    Person("chenjing", "chenjing-pw", "陈静"),
    Person("admin", "directory-admin-pw", "目录里的 admin"),
    Person("lihua", "lihua-pw", "李华", parent=f"ou=西湖区,ou=杭州市,{UNITS}",
           attributes={"displayName": "李华", "mail": "lihua@xihu.example.gov"}),
    Person("zhoujie", "zhoujie-pw", "周杰", parent=f"ou=滨江区,ou=杭州市,{UNITS}"),  # 滨江区 is not in the desk
]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:
    directory = start_directory(tmp_path_factory.mktemp("slapd"), PEOPLE)
    yield directory
    directory.stop()


def by_template(directory: Directory, **options: object) -> DirectorySettings:
    """People bind as uid=NAME,ou=people,...; their unit is the id in `departmentNumber`."""
    return DirectorySettings(url=directory.url, bind_dn=f"uid={{name}},ou=people,{BASE}",
                             org_attribute="departmentNumber", **options)  # type: ignore[arg-type]


def by_search(directory: Directory, **options: object) -> DirectorySettings:
    """A service account finds people anywhere under the base; their unit is the nearest ou of their DN."""
    return DirectorySettings(url=directory.url, search_base=BASE, service_dn=SERVICE_DN,
                             service_password=SERVICE_PASSWORD, org_attribute="dn:ou", **options)  # type: ignore[arg-type]


def desk(db_url: str, settings: DirectorySettings | None) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "TESTING": True, "LDAP": settings})
    with engine_of(app).db.write() as session:
        stored_orgs.add(session, "zhejiang", "浙江省")
        stored_orgs.add(session, "hangzhou", "杭州市", parent="zhejiang")
        stored_orgs.add(session, "xihu", "西湖区", parent="hangzhou")
    return app


def sign_in(client: FlaskClient, name: str, password: str) -> tuple[int, str]:
    """Post the sign-in form as a browser would; the status and the page's text (its alert, if any)."""
    token = TOKEN.search(client.get("/login").text)
    assert token
    response = client.post("/login", data={"csrf_token": token.group(1), "name": name, "password": password})
    return response.status_code, response.text


def user(app: Flask, name: str) -> stored_users.User | None:
    with engine_of(app).db.read() as session:
        return stored_users.by_name(session, name)


def signed_in_as(client: FlaskClient) -> str | None:
    with client.session_transaction() as session:
        return session.get("user")


def test_first_sign_in_creates_the_user_with_mail_organization_and_chinese_name(directory: Directory,
                                                                                db_url: str) -> None:
    app = desk(db_url, by_template(directory))
    client = app.test_client()
    status, _ = sign_in(client, "wangfang", "王芳的密码-2024")
    assert status == 302 and signed_in_as(client) == "wangfang"
    made = user(app, "wangfang")
    assert made is not None
    assert (made.email, made.full_name, made.org, made.active) == ("wangfang@hz.example.gov", "王芳", "xihu", True)
    assert made.password_hash is None  # the directory keeps the password; this desk never sees it again
    assert not made.is_admin and made.oidc_subject is None


def test_later_sign_ins_bring_mail_name_and_organization_up_to_date(directory: Directory, db_url: str) -> None:
    dn = f"uid=sunli,ou=people,{BASE}"
    directory.replace(dn, mail="sunli@example.gov", cn="孙丽", departmentNumber="hangzhou")
    app = desk(db_url, by_template(directory))
    assert sign_in(app.test_client(), "sunli", "sunli-pw")[0] == 302
    first = user(app, "sunli")
    assert first is not None and (first.email, first.full_name, first.org) == ("sunli@example.gov", "孙丽", "hangzhou")
    directory.replace(dn, mail="sunli@xihu.example.gov", cn="孙丽（西湖区）", departmentNumber="xihu")
    assert sign_in(app.test_client(), "sunli", "sunli-pw")[0] == 302
    later = user(app, "sunli")
    assert later is not None and later.id == first.id
    assert (later.email, later.full_name, later.org) == ("sunli@xihu.example.gov", "孙丽（西湖区）", "xihu")


def test_a_search_finds_people_anywhere_and_their_unit_is_the_nearest_ou_the_desk_knows(directory: Directory,
                                                                                        db_url: str) -> None:
    app = desk(db_url, by_search(directory))
    assert sign_in(app.test_client(), "lihua", "lihua-pw")[0] == 302
    lihua = user(app, "lihua")
    assert lihua is not None and (lihua.org, lihua.full_name) == ("xihu", "李华")  # ou=西湖区 is 西湖区's name
    assert sign_in(app.test_client(), "zhoujie", "zhoujie-pw")[0] == 302
    zhoujie = user(app, "zhoujie")
    assert zhoujie is not None and zhoujie.org == "hangzhou"  # 滨江区 is not in the desk: the city above it is


def test_an_organization_the_desk_does_not_have_leaves_the_user_without_one_and_says_so(
        directory: Directory, db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    app = desk(db_url, by_template(directory))
    with caplog.at_level(logging.WARNING, logger="itsm.sign_in"):
        assert sign_in(app.test_client(), "zhangwei", "zhangwei-pw")[0] == 302
    zhangwei = user(app, "zhangwei")
    assert zhangwei is not None and zhangwei.org is None and zhangwei.full_name == "张伟"
    assert "no organization matches 'no-such-unit'" in caplog.text
    with engine_of(app).db.read() as session:
        assert stored_orgs.by_id(session, "no-such-unit") is None  # sign-in never creates organizations


def test_a_wrong_password_an_empty_one_and_an_unknown_name_are_refused(directory: Directory, db_url: str) -> None:
    app = desk(db_url, by_template(directory))
    for name, password in [("wangfang", "wrong"), ("wangfang", ""), ("nobody", "王芳的密码-2024"),
                           ("wang*", "王芳的密码-2024")]:
        client = app.test_client()
        assert sign_in(client, name, password)[0] == 401, (name, password)
        assert signed_in_as(client) is None
        assert user(app, name) is None and user(app, "wangfang") is None
    assert "Wrong user name or password." in sign_in(app.test_client(), "wangfang", "wrong")[1]


def test_wrong_directory_passwords_lock_the_name_like_local_ones(directory: Directory, db_url: str) -> None:
    app = desk(db_url, by_template(directory))
    for _ in range(5):
        assert sign_in(app.test_client(), "chenjing", "guess")[0] == 401
    status, page = sign_in(app.test_client(), "ChenJing", "chenjing-pw")  # the directory's case does not matter
    assert status == 429 and "Too many wrong passwords" in page


def test_the_directory_spelling_of_a_name_is_the_user(directory: Directory, db_url: str) -> None:
    app = desk(db_url, by_template(directory))
    client = app.test_client()
    assert sign_in(client, "ChenJing", "chenjing-pw")[0] == 302
    assert signed_in_as(client) == "chenjing" and user(app, "ChenJing") is None


def test_a_disabled_user_is_refused_though_the_directory_accepts_the_password(directory: Directory,
                                                                               db_url: str) -> None:
    app = desk(db_url, by_template(directory))
    assert sign_in(app.test_client(), "zhaolei", "zhaolei-pw")[0] == 302
    db = engine_of(app).db
    with db.write() as session:
        zhaolei = stored_users.by_name(session, "zhaolei")
        assert zhaolei is not None
        zhaolei.active, zhaolei.email = False, "kept@example.gov"
    client = app.test_client()
    status, page = sign_in(client, "zhaolei", "zhaolei-pw")
    assert status == 403 and "This account is disabled" in page and signed_in_as(client) is None
    after = user(app, "zhaolei")
    assert after is not None and after.email == "kept@example.gov"  # nothing of a disabled user changes


def test_local_passwords_come_first_and_no_directory_account_takes_over_a_local_one(directory: Directory,
                                                                                    db_url: str) -> None:
    app = desk(db_url, by_template(directory))
    add_user(engine_of(app).db, "admin", password="local-admin-pw", admin=True)
    client = app.test_client()
    assert sign_in(client, "admin", "directory-admin-pw")[0] == 401  # the directory's "admin" is not ours
    assert signed_in_as(client) is None
    assert sign_in(client, "admin", "local-admin-pw")[0] == 302 and signed_in_as(client) == "admin"
    # an imported user without a password of this desk is claimed by the directory's person of that name
    with engine_of(app).db.write() as session:
        stored_users.add(session, "lihua", email="old@example.gov", org="zhejiang")
    assert sign_in(app.test_client(), "lihua", "lihua-pw")[0] == 401  # by_template: lihua is not in ou=people
    search_app = deployed_app({"DATABASE_URL": db_url, "TESTING": True, "LDAP": by_search(directory)})
    assert sign_in(search_app.test_client(), "lihua", "lihua-pw")[0] == 302
    lihua = user(app, "lihua")
    assert lihua is not None and (lihua.email, lihua.org) == ("lihua@xihu.example.gov", "xihu")


def test_a_local_administrator_signs_in_while_the_directory_is_down(db_url: str) -> None:
    app = desk(db_url, DirectorySettings(url=f"ldap://127.0.0.1:{free_port()}", bind_dn="uid={name},ou=people,"
                                         + BASE, timeout=2))
    add_user(engine_of(app).db, "admin", password="local-admin-pw", admin=True)
    assert sign_in(app.test_client(), "admin", "local-admin-pw")[0] == 302


def test_an_unreachable_directory_is_a_clear_message_not_an_error(db_url: str) -> None:
    closed = DirectorySettings(url=f"ldap://127.0.0.1:{free_port()}", bind_dn=f"uid={{name}},ou=people,{BASE}",
                               timeout=2)
    app = desk(db_url, closed)
    status, page = sign_in(app.test_client(), "wangfang", "王芳的密码-2024")
    assert status == 503 and "The directory cannot be reached at the moment" in page
    with socket.socket() as silent:  # accepts connections and never answers: the timeout ends the wait
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        mute = DirectorySettings(url=f"ldap://127.0.0.1:{silent.getsockname()[1]}",
                                 bind_dn=f"uid={{name}},ou=people,{BASE}", timeout=1)
        with pytest.raises(Unavailable):
            check_password(mute, "wangfang", "王芳的密码-2024")
    assert user(app, "wangfang") is None


def test_names_are_escaped_in_filters_and_dns(directory: Directory) -> None:
    search = by_search(directory)
    assert check_password(search, "lihua", "lihua-pw").name == "lihua"
    for name in ["li*", "*", "lihua)(uid=*", "li\\2a"]:  # unescaped, "li*" would find lihua and sign in as her
        with pytest.raises(Unauthorized):
            check_password(search, name, "lihua-pw")
    template = by_template(directory)
    for name in ["wangfang,ou=people", "uid=wangfang", "wangfang+cn=x"]:
        with pytest.raises(Unauthorized):
            check_password(template, name, "王芳的密码-2024")


def test_start_tls_with_the_directory_certificate_authority(directory: Directory, db_url: str) -> None:
    verified = by_template(directory, start_tls=True, ca_file=str(directory.ca_file))
    person = check_password(verified, "wangfang", "王芳的密码-2024")
    assert (person.name, person.full_name, person.orgs) == ("wangfang", "王芳", ("xihu",))
    untrusted = by_template(directory, start_tls=True)  # the system's CAs do not know the test CA
    with pytest.raises(Unavailable):
        check_password(untrusted, "wangfang", "王芳的密码-2024")


def test_the_sign_in_form_without_a_directory_is_what_it_was(db_url: str) -> None:
    app = desk(db_url, None)
    add_user(engine_of(app).db, "rita", password="rita-pw")
    assert sign_in(app.test_client(), "rita", "rita-pw")[0] == 302
    assert sign_in(app.test_client(), "wangfang", "王芳的密码-2024")[0] == 401
