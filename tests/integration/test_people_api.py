"""`/api/orgs` and `/api/users` (SPEC 10 and 14) on SQLite and PostgreSQL: admins only, create, find with pages,
edit, moves that take the subtree along and refuse cycles, the statuses of SPEC 10 and the error shape."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from itsm.engine.people.users import authenticate
from itsm.store import orgs
from itsm.web import engine_of

from support import api_app

ERROR_KEYS = {"error", "message", "details"}


@pytest.fixture()
def app(db_url: str) -> Flask:
    return api_app(db_url)


def call(app: Flask, method: str, path: str, who: str | None = "admin", **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {app.config['TOKENS'][who]}"} if who else {}
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    assert response.status_code < 500, response.get_data(as_text=True)
    body = response.get_json(silent=True)
    if response.status_code >= 400:
        assert set(body) == ERROR_KEYS, body
    return response.status_code, body


def tree(app: Flask) -> None:
    for body in ({"id": "zhejiang", "name": "浙江省", "domains": ["ZJ.gov.cn"]}, {"id": "jiangsu", "name": "江苏省"},
                 {"id": "hangzhou", "name": "杭州市", "parent": "zhejiang"},
                 {"id": "xihu", "name": "西湖区", "parent": "hangzhou", "vip": True}):
        status, created = call(app, "POST", "/api/orgs", json=body)
        assert status == 201, created


# -- organizations -------------------------------------------------------------------------------------

def test_organizations_are_created_read_and_listed_in_the_tree_order(app: Flask) -> None:
    tree(app)
    status, xihu = call(app, "GET", "/api/orgs/xihu")
    assert status == 200
    assert {k: xihu[k] for k in ("id", "name", "parent", "path", "domains", "vip", "active", "children", "users")} == {
        "id": "xihu", "name": "西湖区", "parent": "hangzhou", "path": ["zhejiang", "hangzhou", "xihu"], "domains": [],
        "vip": True, "active": True, "children": 0, "users": 0}
    assert call(app, "GET", "/api/orgs/zhejiang")[1]["domains"] == ["zj.gov.cn"]  # lower case
    status, listed = call(app, "GET", "/api/orgs")
    assert [o["id"] for o in listed["items"]] == ["jiangsu", "zhejiang", "hangzhou", "xihu"]  # by path
    assert [o["id"] for o in call(app, "GET", "/api/orgs?parent=")[1]["items"]] == ["jiangsu", "zhejiang"]
    children = call(app, "GET", "/api/orgs?parent=zhejiang")[1]["items"]
    assert [(o["id"], o["children"]) for o in children] == [("hangzhou", 1)]
    assert [o["id"] for o in call(app, "GET", "/api/orgs?q=HANG")[1]["items"]] == ["hangzhou"]
    assert [o["id"] for o in call(app, "GET", "/api/orgs?q=西湖")[1]["items"]] == ["xihu"]
    assert call(app, "GET", "/api/orgs?q=%25")[1]["items"] == []  # % is looked for, not a wildcard


def test_organization_pages_follow_the_cursor(app: Flask) -> None:
    for i in range(7):
        assert call(app, "POST", "/api/orgs", json={"id": f"unit{i}", "name": f"Unit {i}"})[0] == 201
    seen, cursor = [], ""
    for _ in range(4):
        status, page = call(app, "GET", f"/api/orgs?limit=3{'&cursor=' + cursor if cursor else ''}")
        assert status == 200
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"unit{i}" for i in range(7)]
    assert call(app, "GET", "/api/orgs?cursor=nonsense")[0] == 400
    assert call(app, "GET", "/api/orgs?limit=0")[0] == 400
    assert call(app, "GET", "/api/orgs?active=maybe")[0] == 400
    assert call(app, "GET", "/api/orgs?parent_id=x")[0] == 400


@pytest.mark.parametrize(("body", "field"), [
    ({"id": "Zhejiang", "name": "x"}, "id"), ({"id": "-x", "name": "x"}, "id"), ({"id": "a/b", "name": "x"}, "id"),
    ({"id": "a" * 101, "name": "x"}, "id"), ({"id": "ok", "name": "  "}, "name"),
    ({"id": "ok", "name": "x", "parent": "nowhere"}, "parent"),
    ({"id": "ok", "name": "x", "domains": ["not a domain"]}, "domains"),
    ({"id": "ok", "name": "a\u0007b"}, "name"),
])
def test_bad_organization_values_are_422_naming_the_field(app: Flask, body: dict[str, Any], field: str) -> None:
    status, refused = call(app, "POST", "/api/orgs", json=body)
    assert status == 422 and refused["error"] == "validation_failed"
    assert [d["field"] for d in refused["details"]] == [field]
    assert call(app, "GET", "/api/orgs")[1]["items"] == []  # nothing written


def test_malformed_organization_bodies_are_400s(app: Flask) -> None:
    for body in ({"name": "x"}, {"id": 3, "name": "x"}, {"id": "x", "name": "x", "domains": "a.org"},
                 {"id": "x", "name": "x", "colour": "red"}):
        assert call(app, "POST", "/api/orgs", json=body)[0] == 400
    assert call(app, "POST", "/api/orgs", data="[]", content_type="application/json")[0] == 400


def test_conflicts_and_missing_organizations(app: Flask) -> None:
    tree(app)
    status, refused = call(app, "POST", "/api/orgs", json={"id": "zhejiang", "name": "again"})
    assert status == 409
    status, refused = call(app, "POST", "/api/orgs", json={"id": "other", "name": "x", "domains": ["zj.gov.cn"]})
    assert status == 409
    assert refused["details"] == [{"field": "domains", "message": "'zj.gov.cn' belongs to 'zhejiang'"}]
    status, refused = call(app, "PATCH", "/api/orgs/jiangsu", json={"domains": ["zj.gov.cn"]})
    assert status == 409
    assert call(app, "PATCH", "/api/orgs/zhejiang", json={"domains": ["zj.gov.cn", "hz.gov.cn"]})[0] == 200
    assert call(app, "GET", "/api/orgs/nowhere")[0] == 404
    assert call(app, "PATCH", "/api/orgs/nowhere", json={"name": "x"})[0] == 404


def test_a_move_takes_the_subtree_along_and_cycles_are_refused(app: Flask) -> None:
    tree(app)
    for parent in ("xihu", "hangzhou", "zhejiang"):
        status, refused = call(app, "PATCH", "/api/orgs/zhejiang", json={"parent": parent})
        assert status == 422 and refused["details"][0]["field"] == "parent", parent
    status, moved = call(app, "PATCH", "/api/orgs/hangzhou", json={"parent": "jiangsu", "name": "杭州"})
    assert status == 200 and moved["path"] == ["jiangsu", "hangzhou"] and moved["name"] == "杭州"
    assert call(app, "GET", "/api/orgs/xihu")[1]["path"] == ["jiangsu", "hangzhou", "xihu"]
    with engine_of(app).db.read() as session:
        assert sorted(session.scalars(orgs.subtree_ids(session, "jiangsu"))) == ["hangzhou", "jiangsu", "xihu"]
        assert sorted(session.scalars(orgs.subtree_ids(session, "zhejiang"))) == ["zhejiang"]
    status, root = call(app, "PATCH", "/api/orgs/hangzhou", json={"parent": None})
    assert status == 200 and root["path"] == ["hangzhou"] and root["parent"] is None


def test_a_disabled_organization_takes_no_new_members_nor_units(app: Flask) -> None:
    tree(app)
    status, disabled = call(app, "PATCH", "/api/orgs/hangzhou", json={"active": False})
    assert status == 200 and not disabled["active"]
    assert [o["id"] for o in call(app, "GET", "/api/orgs?active=false")[1]["items"]] == ["hangzhou"]
    status, refused = call(app, "POST", "/api/orgs", json={"id": "binjiang", "name": "滨江区", "parent": "hangzhou"})
    assert status == 422 and refused["details"][0] == {"field": "parent",
                                                       "message": "organization 'hangzhou' is disabled"}
    status, refused = call(app, "POST", "/api/users", json={"name": "wang", "org": "hangzhou"})
    assert status == 422 and refused["details"][0]["field"] == "org"
    assert call(app, "PATCH", "/api/orgs/hangzhou", json={"active": True})[1]["active"]
    assert call(app, "POST", "/api/users", json={"name": "wang", "org": "hangzhou"})[0] == 201


def test_only_admins_manage_people(app: Flask) -> None:
    tree(app)
    for method, path, body in (("GET", "/api/orgs", None), ("POST", "/api/orgs", {"id": "x", "name": "x"}),
                               ("GET", "/api/orgs/zhejiang", None), ("PATCH", "/api/orgs/zhejiang", {"name": "x"}),
                               ("GET", "/api/users", None), ("POST", "/api/users", {"name": "x"}),
                               ("GET", "/api/users/rita", None), ("PATCH", "/api/users/lars", {"admin": True})):
        for who in ("lars", "rita"):
            if (method, path, who) == ("GET", "/api/users", "lars"):
                continue  # an agent's look-up of requesters, below
            status, refused = call(app, method, path, who, json=body)
            assert status == 403 and refused["error"] == "forbidden", (method, path, who)
        assert call(app, method, path, None, json=body)[0] == 401
    # an agent finds the people it may record a call for (issue 17): a few, with what a picker shows, no more
    status, found = call(app, "GET", "/api/users?q=r", "lars")
    assert status == 200 and len(found["items"]) <= 20
    assert all(set(item) <= {"name", "full_name", "email", "org", "org_name"} for item in found["items"])
    assert call(app, "GET", "/api/users?admin=true", "lars")[0] == 400  # the admins' filters are not theirs
    # the 403 comes before the body is read: a stranger learns nothing from the schema
    assert call(app, "POST", "/api/users", "lars", json={"zzz": 1})[0] == 403
    assert call(app, "GET", "/api/users/lars")[1]["admin"] is False


# -- users -----------------------------------------------------------------------------------------------

def test_users_are_created_edited_and_never_show_a_password_hash(app: Flask) -> None:
    tree(app)
    status, wang = call(app, "POST", "/api/users", json={
        "name": "wang.fang", "full_name": "王芳", "email": "Wang.Fang@hz.gov.cn", "org": "xihu", "org_contact": True,
        "locale": "zh_CN", "timezone": "asia/shanghai", "password": "correct horse"})
    assert status == 201, wang
    assert {k: wang[k] for k in ("name", "full_name", "org", "org_name", "org_contact", "locale", "timezone", "admin",
                                 "active", "has_password")} == {
        "name": "wang.fang", "full_name": "王芳", "org": "xihu", "org_name": "西湖区", "org_contact": True,
        "locale": "zh-CN", "timezone": "Asia/Shanghai", "admin": False, "active": True, "has_password": True}
    assert not any("hash" in key for key in wang)
    assert authenticate(engine_of(app).db, "wang.fang", "correct horse").name == "wang.fang"
    assert call(app, "POST", "/api/users", json={"name": "wang.fang"})[0] == 409
    status, edited = call(app, "PATCH", "/api/users/wang.fang", json={
        "email": None, "full_name": "王 芳", "vip": True, "admin": True, "org_contact": None,
        "password": "another one"})
    assert status == 200 and edited["email"] is None and edited["vip"] and edited["admin"] and edited["org_contact"]
    assert authenticate(engine_of(app).db, "wang.fang", "another one").is_admin
    status, moved = call(app, "PATCH", "/api/users/wang.fang", json={"org": "jiangsu", "org_contact": False})
    assert status == 200 and moved["org_name"] == "江苏省"
    assert call(app, "GET", "/api/users/nobody")[0] == 404
    assert call(app, "PATCH", "/api/users/nobody", json={"vip": True})[0] == 404


def test_bad_user_values_are_told_all_at_once(app: Flask) -> None:
    status, refused = call(app, "POST", "/api/users", json={
        "name": "two words", "email": "nope", "org": "nowhere", "locale": "!!", "timezone": "Mars/Base",
        "password": "short", "full_name": "x" * 201})
    assert status == 422
    assert sorted(d["field"] for d in refused["details"]) == ["email", "full_name", "locale", "name", "org",
                                                              "password", "timezone"]
    status, refused = call(app, "POST", "/api/users", json={"name": "contact", "org_contact": True})
    assert status == 422 and refused["details"] == [{"field": "org_contact",
                                                     "message": "an organization's contact needs an organization"}]
    assert call(app, "GET", "/api/users?q=contact")[1]["items"] == []


def test_users_are_found_by_name_full_name_mail_and_organization_a_page_at_a_time(app: Flask) -> None:
    tree(app)
    for i, (org, full) in enumerate((("xihu", "王芳"), ("hangzhou", "李明"), ("jiangsu", "张伟"), (None, "Zoe 100%"))):
        body = {"name": f"p{i}", "full_name": full, "email": f"p{i}@example.org", "org": org}
        assert call(app, "POST", "/api/users", json=body)[0] == 201
    names = lambda query: [u["name"] for u in call(app, "GET", f"/api/users?{query}")[1]["items"]]  # noqa: E731
    assert names("q=王") == ["p0"] and names("q=P2@EXAMPLE") == ["p2"] and names("q=100%25") == ["p3"]
    assert names("org=zhejiang") == ["p0", "p1"] and names("org=xihu") == ["p0"]
    assert call(app, "GET", "/api/users?org=nowhere")[0] == 400
    assert names("admin=true") == ["admin"]
    call(app, "PATCH", "/api/users/p1", json={"active": False})
    assert names("active=false") == ["p1"] and "p1" not in names("active=true&q=p")
    pages, cursor = [], None
    while True:
        status, page = call(app, "GET", "/api/users?limit=4" + (f"&cursor={cursor}" if cursor else ""))
        pages.append([u["name"] for u in page["items"]])
        cursor = page["next_cursor"]
        if not cursor:
            break
    everyone = [name for page in pages for name in page]
    assert everyone == sorted(everyone) and len(everyone) == len(set(everyone)) == 14  # 10 demo users and 4
    assert all(len(page) == 4 for page in pages[:-1])


def test_an_admin_can_neither_disable_nor_demote_themselves(app: Flask) -> None:
    for change, field in (({"active": False}, "active"), ({"admin": False}, "admin")):
        status, refused = call(app, "PATCH", "/api/users/admin", json=change)
        assert status == 409 and refused["details"][0]["field"] == field
    status, me = call(app, "GET", "/api/users/admin")
    assert me["active"] and me["admin"]
    assert call(app, "PATCH", "/api/users/admin", json={"full_name": "The admin"})[0] == 200
