"""Users and organizations in the admin area, disabling people, and the dashboard's drill-down by organization
(SPEC 13 and 14), through Flask's test client on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from itsm.engine import Forbidden
from itsm.engine.people.org_admin import create_org
from itsm.engine.people.users import add_user, authenticate, create_token
from itsm.web import engine_of

from support import DEFINITIONS, deployed_app

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PEOPLE = {"rita": {}, "lars": {}, "admin": {"admin": True}, "boss": {"admin": True}}
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}


@pytest.fixture()
def app(db_url: str) -> Flask:
    app = deployed_app({"DATABASE_URL": db_url, "PACK": str(DEFINITIONS), "TESTING": True})
    for name, flags in PEOPLE.items():
        add_user(engine_of(app).db, name, password=f"{name}-pass", **flags)
    return app


class Browser:
    """A test client that signs in and posts forms with the page's CSRF token."""

    def __init__(self, app: Flask, name: str | None = None):
        self.client: FlaskClient = app.test_client()
        self.token = ""
        if name:
            assert self.login(name, f"{name}-pass").status_code == 302

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        found = TOKEN.search(response.text)
        if found:
            self.token = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any]) -> Any:
        if not self.token:
            self.get("/login")
        return self.client.post(path, data={"csrf_token": self.token, **data})

    def login(self, name: str, password: str) -> Any:
        self.get("/login")
        return self.post("/login", {"name": name, "password": password})


# -- disabling ----------------------------------------------------------------------------------------------

def test_a_disabled_user_cannot_sign_in_their_session_ends_and_their_tokens_stop(app: Flask) -> None:
    db = engine_of(app).db
    token = create_token(db, "rita")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/pack", headers=bearer).status_code == 200
    rita = Browser(app, "rita")
    assert rita.get("/portal").status_code == 200
    admin = Browser(app, "admin")
    admin.get("/admin/users/rita")
    assert admin.post("/admin/users/rita/active", {"active": "false"}).status_code == 302
    assert "is disabled" in admin.get("/admin/users/rita").text
    # the open session ends at its next request, the token is refused, and signing in again is refused
    ended = rita.get("/portal")
    assert ended.status_code == 302 and "/login" in ended.location
    refused = api.get("/api/pack", headers=bearer)
    assert refused.status_code == 401 and refused.get_json()["message"] == "the token's user is disabled"
    again = Browser(app).login("rita", "rita-pass")
    assert again.status_code == 403 and "This account is disabled" in again.text
    with pytest.raises(Forbidden):
        authenticate(db, "rita", "rita-pass")
    wrong = Browser(app).login("rita", "not her password")  # a wrong password says nothing about the account
    assert wrong.status_code == 401 and "disabled" not in wrong.text
    # enabled again: everything works as before
    admin.get("/admin/users/rita")
    assert admin.post("/admin/users/rita/active", {"active": "true"}).status_code == 302
    assert api.get("/api/pack", headers=bearer).status_code == 200
    assert Browser(app).login("rita", "rita-pass").status_code == 302


def test_an_admin_cannot_disable_themselves_from_the_page(app: Flask) -> None:
    admin = Browser(app, "admin")
    page = admin.get("/admin/users/admin").text
    assert re.search(r'<button type="submit" class="danger" disabled', page)
    admin.post("/admin/users/admin/active", {"active": "false"})
    assert "cannot disable your own account" in admin.get("/admin/users/admin").text
    assert admin.get("/admin/users").status_code == 200  # still signed in, still an admin


def test_a_password_reset_shows_a_new_password_once_and_ends_the_old_sessions(app: Flask) -> None:
    rita = Browser(app, "rita")
    admin = Browser(app, "admin")
    admin.get("/admin/users/rita")
    shown = admin.post("/admin/users/rita/password", {"password": ""})
    assert shown.status_code == 200
    password = re.search(r'<code class="password">([^<]+)</code>', shown.text).group(1)  # type: ignore[union-attr]
    assert len(password) >= 12
    assert "/login" in rita.get("/portal").location  # the stamp changed: her session ended
    assert Browser(app).login("rita", password).status_code == 302
    assert "class=\"password\"" not in admin.get("/admin/users/rita").text  # shown only that once
    typed = admin.post("/admin/users/rita/password", {"password": "short"})
    assert typed.status_code == 422 and "a password has 8 to 1024 characters" in typed.text
    assert admin.post("/admin/users/rita/password", {"password": "a good long one"}).status_code == 302
    assert Browser(app).login("rita", "a good long one").status_code == 302


# -- finding and editing users ----------------------------------------------------------------------------

def test_only_admins_get_the_people_pages(app: Flask) -> None:
    lars = Browser(app, "lars")
    for path in ("/admin/users", "/admin/users/rita", "/admin/new-user", "/admin/orgs", "/admin/new-org"):
        assert lars.get(path).status_code == 403, path
    assert lars.post("/admin/users/rita/active", {"active": "false"}).status_code == 403
    assert "/login" in Browser(app).get("/admin/users").location


def test_users_are_found_with_the_search_box_a_page_at_a_time(app: Flask) -> None:
    db = engine_of(app).db
    create_org(db, {"id": "zhejiang", "name": "浙江省"})
    create_org(db, {"id": "hangzhou", "name": "杭州市", "parent": "zhejiang"})
    for i in range(120):
        add_user(db, f"user{i:03d}", full_name=f"职员{i:03d}", email=f"user{i:03d}@hz.gov.cn",
                 org="hangzhou" if i % 2 else None)
    admin = Browser(app, "admin")
    first = admin.get("/admin/users?q=user").text
    assert first.count('<tr data-user="') == 50 and 'data-user="user049"' in first
    next_url = re.search(r'<a class="button" href="([^"]+)">Next page</a>', first).group(1)  # type: ignore[union-attr]
    second = admin.get(next_url.replace("&amp;", "&")).text
    assert 'data-user="user050"' in second and 'data-user="user049"' not in second
    found = admin.get("/admin/users?q=职员007").text
    assert found.count('<tr data-user="') == 1 and "杭州市" in found
    in_org = admin.get("/admin/users?org=zhejiang&q=user").text
    assert 'data-user="user001"' in in_org and 'data-user="user000"' not in in_org
    assert "no organization" in admin.get("/admin/users?org=nowhere").text
    admins = admin.get("/admin/users?role=admin").text
    assert admins.count('<tr data-user="') == 2


def test_an_admin_creates_and_edits_a_user_through_the_forms(app: Flask) -> None:
    create_org(engine_of(app).db, {"id": "xihu", "name": "西湖区"})
    admin = Browser(app, "admin")
    admin.get("/admin/new-user")
    bad = admin.post("/admin/new-user", {"name": "wang fang", "email": "nope", "org": "nowhere", "password": "x"})
    assert bad.status_code == 422
    assert "holds a space" in bad.text and "is not valid" in bad.text and "no organization" in bad.text
    assert 'value="x"' not in bad.text  # a password is never written back into the page
    created = admin.post("/admin/new-user", {"name": "wang.fang", "full_name": "王芳", "email": "wf@xihu.gov.cn",
                                             "org": "xihu", "org_contact": "on", "locale": "zh-CN",
                                             "password": "wang-fang-pw"})
    assert created.status_code == 302 and created.location.endswith("/admin/users/wang.fang")
    page = admin.get("/admin/users/wang.fang").text
    assert "王芳" in page and "西湖区" in page and 'name="org_contact" checked' in page
    duplicate = admin.post("/admin/new-user", {"name": "wang.fang"})
    assert duplicate.status_code == 409 and "exists already" in duplicate.text
    saved = admin.post("/admin/users/wang.fang", {"full_name": "王 芳", "email": "", "org": "xihu", "admin": "on"})
    assert saved.status_code == 302
    user = authenticate(engine_of(app).db, "wang.fang", "wang-fang-pw")
    assert user.is_admin and not user.org_contact and user.email is None and user.full_name == "王 芳"
    refused = admin.post("/admin/users/wang.fang", {"org": "", "org_contact": "on"})
    assert refused.status_code == 422 and "needs an organization" in refused.text
    assert admin.get("/admin/users/nobody").status_code == 404


# -- the organization tree -----------------------------------------------------------------------------

def test_the_organization_tree_is_browsed_created_moved_and_disabled_from_the_pages(app: Flask) -> None:
    admin = Browser(app, "admin")
    admin.get("/admin/new-org")
    for form in ({"id": "zhejiang", "name": "浙江省", "domains": "zj.gov.cn"}, {"id": "jiangsu", "name": "江苏省"},
                 {"id": "hangzhou", "name": "杭州市", "parent": "zhejiang"},
                 {"id": "xihu", "name": "西湖区", "parent": "hangzhou"},
                 {"id": "binjiang", "name": "滨江区", "parent": "hangzhou"}):
        assert admin.post("/admin/new-org", form).status_code == 302, form
    add_user(engine_of(app).db, "wang", org="xihu")
    roots = admin.get("/admin/orgs").text
    assert '<tr data-org="zhejiang">' in roots and '<tr data-org="hangzhou">' not in roots
    assert 'href="/admin/orgs?parent=zhejiang"' in roots  # it has units below: a link down
    city = admin.get("/admin/orgs?parent=hangzhou").text
    assert '<tr data-org="xihu">' in city and '<tr data-org="binjiang">' in city
    assert 'href="/admin/orgs?parent=zhejiang">浙江省</a>' in city  # breadcrumbs up the tree
    assert '2 units below' in city
    row = re.search(r'<tr data-org="xihu">.*?</tr>', city, re.S).group(0)  # type: ignore[union-attr]
    assert 'href="/admin/users?org=xihu">1</a>' in row  # one user, a link to them
    found = admin.get("/admin/orgs?q=西湖").text
    assert '<tr data-org="xihu">' in found and "浙江省 › 杭州市" in found
    bad = admin.post("/admin/new-org", {"id": "Bad Id", "name": ""})
    assert bad.status_code == 422 and "is not an organization id" in bad.text
    admin.get("/admin/orgs/zhejiang")
    cycle = admin.post("/admin/orgs/zhejiang", {"name": "浙江省", "parent": "xihu", "domains": "zj.gov.cn"})
    assert cycle.status_code == 422 and "cannot be moved under itself" in cycle.text
    taken = admin.post("/admin/orgs/jiangsu", {"name": "江苏省", "domains": "zj.gov.cn"})
    assert taken.status_code == 409 and "belongs to" in taken.text
    moved = admin.post("/admin/orgs/hangzhou", {"name": "杭州市", "parent": "jiangsu"})
    assert moved.status_code == 302
    assert '<tr data-org="hangzhou">' in admin.get("/admin/orgs?parent=jiangsu").text
    assert admin.post("/admin/orgs/xihu/active", {"active": "false"}).status_code == 302
    assert "Disabled" in admin.get("/admin/orgs/xihu").text
    refused = admin.post("/admin/new-user", {"name": "li", "org": "xihu"})
    assert refused.status_code == 422 and "is disabled" in refused.text
    assert admin.get("/admin/orgs?parent=nowhere").status_code == 404
    assert admin.get("/admin/orgs/nowhere").status_code == 404


def test_the_admin_pages_speak_chinese(app: Flask) -> None:
    admin = Browser(app, "admin")
    admin.get("/admin/users")
    assert admin.post("/language", {"language": "zh-CN", "next": "/admin/users"}).status_code == 302
    assert "用户" in admin.get("/admin/users").text
    assert "组织" in admin.get("/admin/orgs").text


# -- the dashboard's drill-down -----------------------------------------------------------------------------

def test_the_dashboard_drills_down_from_province_to_city_to_unit(app: Flask) -> None:
    engine = engine_of(app)
    for org_id, name, parent in (("zhejiang", "浙江省", None), ("hangzhou", "杭州市", "zhejiang"),
                                 ("ningbo", "宁波市", "zhejiang"), ("xihu", "西湖区", "hangzhou")):
        create_org(engine.db, {"id": org_id, "name": name, "parent": parent})
    for name, org in (("xh", "xihu"), ("nb", "ningbo"), ("nb2", "ningbo")):
        add_user(engine.db, name, org=org)
        engine.create(engine.actor(name), "incident", LAPTOP)
    engine.create(engine.actor("rita"), "incident", LAPTOP)  # of no organization
    lars = Browser(app, "lars")
    top = lars.get("/dashboard").text
    assert 'href="/dashboard?org=zhejiang">浙江省</a>' in top and "No organization" in top
    assert 'id="by-org-title"' in top  # the chart of tickets by organization
    assert "group_by=org" in top  # the CSV link carries the breakdown
    province = lars.get("/dashboard?org=zhejiang&from=2000-01-01").text
    assert 'href="/dashboard?org=hangzhou&amp;from=2000-01-01">杭州市</a>' in province  # filters kept
    assert "(1 unit)" in province
    ningbo = re.search(r'<tr data-org="ningbo">.*?</tr>', province, re.S).group(0)  # type: ignore[union-attr]
    assert "<td>2</td>" in ningbo
    city = lars.get("/dashboard?org=hangzhou").text
    assert 'href="/dashboard?org=xihu">西湖区</a>' in city
    assert 'href="/dashboard?org=zhejiang">浙江省</a>' in city and 'href="/dashboard">' in city  # breadcrumbs
    unit = lars.get("/dashboard?org=xihu").text
    assert "西湖区 itself" in unit and '<p class="tile-value">1</p>' in unit
    unknown = lars.get("/dashboard?org=nowhere")
    assert unknown.status_code == 200 and "no organization" in unknown.text
