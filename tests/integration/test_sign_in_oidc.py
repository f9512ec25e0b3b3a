"""Sign-in with OpenID Connect (SPEC 14): the whole redirect flow against a provider the tests run on 127.0.0.1.

The desk runs in the Flask test client; the provider (`oidc_provider`) is a real HTTP server, so the desk's
discovery, token and key requests go over the network as they would to Keycloak. The browser's part, the
redirect to the provider and back, is two requests the test makes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine.people.oidc import ProviderSettings
from itsm.engine.people.users import add_user
from itsm.store import orgs as stored_orgs
from itsm.store import users as stored_users
from itsm.web import engine_of

from ldap_server import free_port
from oidc_provider import CLIENT_ID, CLIENT_SECRET, FAULTS, Provider
from support import deployed_app

CALLBACK = "http://localhost/login/oidc/callback"  # the test client's host
WANGFANG = {"sub": "8d0c1f2e-5b6a-4c3d-9e8f-0a1b2c3d4e5f", "preferred_username": "wangfang", "name": "王芳",
            "email": "wangfang@hz.example.gov", "email_verified": True, "org": "/浙江省/杭州市/西湖区"}


@pytest.fixture(scope="module")
def running_provider() -> Iterator[Provider]:
    provider = Provider(redirect_uris=(CALLBACK,)).start()
    yield provider
    provider.stop()


@pytest.fixture()
def provider(running_provider: Provider) -> Provider:
    running_provider.person, running_provider.fault, running_provider.public_client = dict(WANGFANG), None, False
    running_provider.requests.clear()
    return running_provider


def settings(provider: Provider, **options: Any) -> ProviderSettings:
    values: dict[str, Any] = {"issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                              "display_name": "浙江政务统一身份认证", "org_claim": "org", **options}
    return ProviderSettings(**values)


def desk(db_url: str, oidc: ProviderSettings | None) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "TESTING": True, "OIDC": oidc})
    with engine_of(app).db.write() as session:
        stored_orgs.add(session, "zhejiang", "浙江省")
        stored_orgs.add(session, "hangzhou", "杭州市", parent="zhejiang")
        stored_orgs.add(session, "xihu", "西湖区", parent="hangzhou")
    return app


def through_provider(client: FlaskClient, provider: Provider, next_path: str = "/queue") -> Any:
    """The browser's trip: the desk sends it to the provider, the provider (the person signed in there)
    sends it back with a code, the desk finishes. The desk's last answer."""
    start = client.get(f"/login/oidc?next={next_path}")
    assert start.status_code == 302 and start.location.startswith(f"{provider.url}/authorize?"), start.text
    at_provider = requests.get(start.location, allow_redirects=False, timeout=30)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == CALLBACK
    return client.get(f"{back.path}?{back.query}")


def signed_in_as(client: FlaskClient) -> str | None:
    with client.session_transaction() as session:
        return session.get("user")


def user(app: Flask, name: str) -> stored_users.User | None:
    with engine_of(app).db.read() as session:
        return stored_users.by_name(session, name)


def test_first_sign_in_creates_the_user_from_the_id_token(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider))
    client = app.test_client()
    answer = through_provider(client, provider)
    assert answer.status_code == 302 and answer.location == "/queue"
    assert signed_in_as(client) == "wangfang"
    made = user(app, "wangfang")
    assert made is not None
    assert (made.email, made.full_name, made.org, made.oidc_subject) == (
        "wangfang@hz.example.gov", "王芳", "xihu", WANGFANG["sub"])  # the nearest group the desk knows
    assert made.password_hash is None and made.active
    asked = provider.requests[-1]
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) >= 43
    assert asked["state"] and asked["nonce"] and asked["scope"].split() == ["openid", "profile", "email"]


def test_later_sign_ins_update_the_user_and_a_rename_at_the_provider_is_the_same_user(provider: Provider,
                                                                                      db_url: str) -> None:
    app = desk(db_url, settings(provider))
    assert through_provider(app.test_client(), provider).status_code == 302
    provider.person.update(email="wang.fang@xihu.example.gov", name="王芳（西湖区）", org="hangzhou",
                           preferred_username="wang.fang")
    client = app.test_client()
    assert through_provider(client, provider).status_code == 302
    assert signed_in_as(client) == "wangfang"  # the same `sub`: the same user, whatever the name there
    later = user(app, "wangfang")
    assert later is not None
    assert (later.email, later.full_name, later.org) == ("wang.fang@xihu.example.gov", "王芳（西湖区）", "hangzhou")
    assert user(app, "wang.fang") is None
    # someone else at the provider taking the name `wangfang` does not become her
    provider.person = {"sub": "another-person", "preferred_username": "wangfang", "name": "王芳"}
    intruder = app.test_client()
    answer = through_provider(intruder, provider)
    assert answer.status_code == 409 and "belongs to another person" in answer.text
    assert signed_in_as(intruder) is None


@pytest.mark.parametrize("fault", FAULTS)
def test_an_id_token_that_fails_a_check_signs_nobody_in(provider: Provider, db_url: str, fault: str) -> None:
    app = desk(db_url, settings(provider))
    provider.fault = fault
    client = app.test_client()
    answer = through_provider(client, provider)
    assert answer.status_code == 401
    assert "could not be verified" in answer.text
    assert signed_in_as(client) is None and user(app, "wangfang") is None


def test_a_disabled_user_is_refused_after_the_provider_said_yes(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider))
    assert through_provider(app.test_client(), provider).status_code == 302
    with engine_of(app).db.write() as session:
        wangfang = stored_users.by_name(session, "wangfang")
        assert wangfang is not None
        wangfang.active = False
    client = app.test_client()
    answer = through_provider(client, provider)
    assert answer.status_code == 403 and "This account is disabled" in answer.text
    assert signed_in_as(client) is None


def test_a_local_account_is_not_claimed_by_the_provider_and_an_imported_user_is(provider: Provider,
                                                                                db_url: str) -> None:
    app = desk(db_url, settings(provider))
    add_user(engine_of(app).db, "admin", password="local-admin-pw", admin=True)
    provider.person = {"sub": "provider-admin", "preferred_username": "admin", "name": "管理员"}
    client = app.test_client()
    answer = through_provider(client, provider)
    assert answer.status_code == 409 and signed_in_as(client) is None
    admin = user(app, "admin")
    assert admin is not None and admin.oidc_subject is None
    with engine_of(app).db.write() as session:  # as `itsm user import` leaves people: no password here
        stored_users.add(session, "wangfang", email="old@example.gov", org="zhejiang", full_name="王芳")
    provider.person = dict(WANGFANG)
    claimed = app.test_client()
    assert through_provider(claimed, provider).status_code == 302 and signed_in_as(claimed) == "wangfang"
    wangfang = user(app, "wangfang")
    assert wangfang is not None and (wangfang.oidc_subject, wangfang.org) == (WANGFANG["sub"], "xihu")


def test_a_public_client_without_a_secret_signs_in_with_pkce_alone(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider, client_secret=None))
    provider.public_client = True
    client = app.test_client()
    assert through_provider(client, provider).status_code == 302 and signed_in_as(client) == "wangfang"


def test_a_provider_name_the_desk_cannot_use_is_a_message(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider))
    provider.person.update(preferred_username="Wang Fang")
    answer = through_provider(app.test_client(), provider, next_path="/")
    assert answer.status_code == 400
    assert "Sign-in refused: OpenID Connect gave a user name that cannot be used here" in answer.text
    assert user(app, "Wang Fang") is None


def test_an_unverified_mail_address_is_not_taken(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider))
    provider.person.update(email_verified=False)
    assert through_provider(app.test_client(), provider).status_code == 302
    made = user(app, "wangfang")
    assert made is not None and made.email is None


def test_a_replayed_or_forged_answer_is_refused(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider))
    client = app.test_client()
    start = client.get("/login/oidc")
    back = urlsplit(requests.get(start.location, allow_redirects=False, timeout=30).headers["Location"])
    forged = parse_qs(back.query)
    assert client.get(f"{back.path}?code={forged['code'][0]}&state=forged").status_code == 401
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    replay = app.test_client()  # another browser with the same answer: it started nothing
    answer = replay.get(f"{back.path}?{back.query}")
    assert answer.status_code == 401 and "not started here" in answer.text and signed_in_as(replay) is None


def test_the_provider_saying_no_is_a_message(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider))
    client = app.test_client()
    start = urlsplit(client.get("/login/oidc").location)
    state = parse_qs(start.query)["state"][0]
    answer = client.get(f"/login/oidc/callback?error=access_denied&state={state}")
    assert answer.status_code == 401 and "did not sign you in (access_denied)" in answer.text


def test_an_unreachable_provider_is_a_clear_message(db_url: str) -> None:
    app = desk(db_url, ProviderSettings(issuer=f"http://127.0.0.1:{free_port()}", client_id=CLIENT_ID,
                                        display_name="统一身份认证", timeout=2))
    answer = app.test_client().get("/login/oidc")
    assert answer.status_code == 503 and "统一身份认证 cannot be reached at the moment" in answer.text


def test_the_sign_in_page_offers_the_provider_in_both_languages(provider: Provider, db_url: str) -> None:
    app = desk(db_url, settings(provider))
    english = app.test_client().get("/login", headers={"Accept-Language": "en"}).text
    assert "Sign in with 浙江政务统一身份认证" in english and 'href="/login/oidc?next=/"' in english
    chinese = app.test_client().get("/login", headers={"Accept-Language": "zh-CN"}).text
    assert "使用浙江政务统一身份认证登录" in chinese
    plain = desk_without_provider(db_url)
    assert "/login/oidc" not in plain.test_client().get("/login").text
    assert plain.test_client().get("/login/oidc").status_code == 404


def desk_without_provider(db_url: str) -> Flask:
    return deployed_app({"DATABASE_URL": db_url, "TESTING": True, "OIDC": None})
