"""An admin in Chromium finds a user among many with the search box, disables them, and the user can no longer
sign in; the organization tree is browsed down to a unit and the dashboard drills down the same way (SPEC 13
and 14). Screenshots go to tests/screenshots/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import serving

from itsm.engine.people.org_admin import create_org
from itsm.engine.people.users import add_user
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
LAPTOP = {"short_description": "Laptop does not boot", "service": "workplace", "category": "hardware",
          "impact": "low", "urgency": "medium"}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "PACK": str(ROOT / "definitions")})
    engine = engine_of(app)
    engine.db.upgrade()
    engine.definitions.publish_path(ROOT / "definitions")
    db = engine.db
    for org_id, name, parent in (("zhejiang", "浙江省", None), ("hangzhou", "杭州市", "zhejiang"),
                                 ("xihu", "西湖区", "hangzhou")):
        create_org(db, {"id": org_id, "name": name, "parent": parent})
    for i in range(80):  # more than a page of people whose names look alike
        add_user(db, f"staff{i:02d}", full_name=f"职员{i:02d}", org="xihu")
    add_user(db, "wang.fang", password="wang-fang-pw", full_name="王芳", email="wang.fang@xihu.gov.cn", org="xihu")
    add_user(db, "admin", password="admin-pw", admin=True)
    add_user(db, "lars", password="lars-pw")
    engine.create(engine.actor("wang.fang"), "incident", LAPTOP)
    with serving(app) as base:
        yield base


def sign_in(browser: Any, base: str, name: str, password: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()
    return page


def test_an_admin_finds_a_user_disables_them_and_they_cannot_sign_in(server: str, browser: Any,
                                                                     screenshots: Path) -> None:
    wang = sign_in(browser, server, "wang.fang", "wang-fang-pw")
    assert wang.url.endswith("/portal")
    admin = sign_in(browser, server, "admin", "admin-pw")
    admin.goto(f"{server}/admin/")
    admin.click("a:has-text('Users')")
    admin.fill("#u-q", "王芳")
    admin.click("button:has-text('Find')")
    rows = admin.locator("table.users tbody tr")
    assert rows.count() == 1 and "西湖区" in rows.first.inner_text()
    admin.screenshot(path=str(screenshots / "admin-users.png"), full_page=True)
    rows.first.locator("a").first.click()
    assert "王芳" in admin.locator("h1").inner_text()
    admin.click("button:has-text('Disable user')")
    admin.wait_for_load_state()
    assert "is disabled" in admin.locator(".flash.success").inner_text()
    admin.screenshot(path=str(screenshots / "admin-user-disabled.png"), full_page=True)
    # her open page session ends at her next click, and signing in again is refused
    wang.goto(f"{server}/portal")
    assert "/login" in wang.url
    wang.fill("#name", "wang.fang")
    wang.fill("#password", "wang-fang-pw")
    wang.click("button:has-text('Sign in')")
    assert "This account is disabled" in wang.locator(".flash.error").inner_text()
    assert "/login" in wang.url
    # enabled again, she is back
    admin.click("button:has-text('Enable user')")
    admin.wait_for_load_state()
    assert sign_in(browser, server, "wang.fang", "wang-fang-pw").url.endswith("/portal")


def test_the_tree_and_the_dashboard_drill_down_to_a_unit(server: str, browser: Any, screenshots: Path) -> None:
    admin = sign_in(browser, server, "admin", "admin-pw")
    admin.goto(f"{server}/admin/orgs")
    admin.click("table.orgs a:has-text('浙江省')")
    admin.click("table.orgs a:has-text('杭州市')")
    row = admin.locator('tr[data-org="xihu"]')
    assert "81" in row.inner_text()  # its users, a link to them
    admin.screenshot(path=str(screenshots / "admin-orgs.png"), full_page=True)
    admin.goto(f"{server}/dashboard")
    admin.click("table.by-org a:has-text('浙江省')")
    admin.click("table.by-org a:has-text('杭州市')")
    assert admin.locator("nav.tree-path").inner_text().startswith("All organizations")
    xihu = admin.locator('table.by-org tr[data-org="xihu"]')
    assert xihu.locator("td").nth(1).inner_text() == "1"  # wang.fang's ticket
    admin.screenshot(path=str(screenshots / "dashboard-by-org.png"), full_page=True)
    admin.click("nav.tree-path a:has-text('浙江省')")
    assert "org=zhejiang" in admin.url
