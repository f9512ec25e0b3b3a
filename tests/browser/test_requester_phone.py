"""Phones (issue 17) in Chromium at 375x812, in Chinese and English: no page of the portal, the forms, the
ticket, the queue, the dashboard or the admin area scrolls sideways (`scrollWidth <= 375`; tables become
cards); and a requester reports with a screenshot attached, then confirms and rates through the one-click
rating link of the resolved mail (the form opens with the rating chosen; nothing closes until she confirms).
Screenshots go to tests/screenshots/ (git-ignored): phone-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import serving
from sqlalchemy import select
from test_attachments_phone import png

from itsm.engine.people.users import add_user
from itsm.engine.runtime.actors import system_actor
from itsm.store.models import OutboxMessage
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 375, "height": 812}
PUBLIC = "https://desk.example.org"
LANGUAGES = ("zh-CN", "en")
WORDS = {"zh-CN": {"lang": "zh-CN", "summary": "打印机卡纸，无法打印", "feedback": "处理很快，谢谢！"},
         "en": {"lang": "en", "summary": "Printer jams on every page", "feedback": "Quick, thanks!"}}


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "PACK": str(ROOT / "definitions"),
                      "PUBLIC_URL": PUBLIC, "ATTACHMENTS_DIR": str(tmp_path / "files")})
    engine = engine_of(app)
    engine.db.upgrade()
    engine.definitions.publish_path(ROOT / "definitions")
    for name, flags in {"rita": {}, "lars": {}, "admin": {"admin": True}}.items():
        add_user(engine.db, name, password=f"{name}-pw", **flags)
    rita = engine.actor("rita")
    for text in ("VPN disconnects every ten minutes, all day long", "单位门户网站首页无法打开，提示502错误"):
        engine.create(rita, "incident", {"short_description": text, "service": "vpn", "impact": "medium",
                                         "urgency": "high"})
    with serving(app) as base:
        yield base, engine


def signed_in(browser: Any, base: str, name: str, language: str) -> Any:
    context = browser.new_context(viewport=PHONE, locale=language, accept_downloads=True)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", f"{name}-pw")
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == WORDS[language]["lang"]
    return page


def fits(page: Any, path: str, shot: Path) -> None:
    """The page as a phone shows it: nothing wider than the screen, so nobody scrolls sideways."""
    if path:
        page.goto(path)
    page.wait_for_load_state()
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 375.5 && getComputedStyle(e).position !== 'absolute')
        .filter(e => !e.closest('table.list:not(.cards), .chart, pre'))
        .filter(e => !e.parentElement || e.parentElement.getBoundingClientRect().right <= 375.5)
        .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    page.screenshot(path=str(shot), full_page=True)
    assert width <= PHONE["width"], (page.url, width, wide)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_fits_a_phone_screen(browser: Any, server: tuple[str, Any], screenshots: Path,
                                        language: str) -> None:
    base, engine = server
    rita = signed_in(browser, base, "rita", language)
    number = engine.list_tickets(engine.actor("rita"), {"requester": "rita"}, 1)[0][0]["number"]
    pages = {"portal": f"{base}/portal", "report": f"{base}/new/incident", "ticket": f"{base}/tickets/{number}",
             "settings": f"{base}/settings"}
    for name, url in pages.items():
        fits(rita, url, screenshots / f"phone-{language}-{name}.png")
    rita.goto(f"{base}/portal")
    card = rita.locator("table.list.cards tbody tr").first
    assert card.evaluate("row => getComputedStyle(row).display") == "block"  # a card, not a table row
    assert card.locator("td[data-label]").count() >= 3

    lars = signed_in(browser, base, "lars", language)
    for name, url in {"queue": f"{base}/queue", "dashboard": f"{base}/dashboard",
                      "ticket-agent": f"{base}/tickets/{number}",
                      "classify": f"{base}/tickets/{number}/transitions/classify"}.items():
        fits(lars, url, screenshots / f"phone-{language}-{name}.png")

    admin = signed_in(browser, base, "admin", language)
    for name, url in {"admin": f"{base}/admin/", "admin-process": f"{base}/admin/processes/incident",
                      "admin-users": f"{base}/admin/users", "admin-orgs": f"{base}/admin/orgs",
                      "admin-deliveries": f"{base}/admin/deliveries", "admin-editor": f"{base}/admin/editor/",
                      "admin-new-user": f"{base}/admin/new-user"}.items():
        fits(admin, url, screenshots / f"phone-{language}-{name}.png")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_requester_on_a_phone_reports_with_a_screenshot_and_confirms_with_a_rating(
        browser: Any, server: tuple[str, Any], screenshots: Path, language: str) -> None:
    base, engine = server
    words = WORDS[language]
    rita = signed_in(browser, base, "rita", language)
    rita.goto(f"{base}/new/incident")
    for agent_only in ("work_notes", "known_error", "major_incident", "channel"):
        assert rita.locator(f"[data-field={agent_only}]").count() == 0
    rita.fill("#f-short_description", words["summary"])
    rita.set_input_files("#f-attachments", [{"name": "error.png", "mimeType": "image/png", "buffer": png(90, 60)}])
    fits(rita, "", screenshots / f"phone-{language}-flow-report.png")
    rita.click("form.generated button[type=submit]")
    rita.wait_for_load_state()
    assert "/tickets/INC" in rita.url
    number = rita.url.rsplit("/", 1)[1]
    assert rita.locator("#attachments li.attachment").count() == 1

    engine.fire(system_actor(), number, "start", {"service": "workplace", "category": "hardware",
                                                         "impact": "low", "urgency": "low"})
    engine.fire(system_actor(), number, "resolve", {"resolution_code": "fixed", "resolution_notes": "New drum unit."})
    rita.goto(f"{base}/tickets/{number}")
    primary = rita.locator("#one-step button.primary")  # the confirm step is on the ticket page
    assert primary.count() == 1 and rita.locator("#one-step").get_attribute("action").endswith("/transitions/close")
    assert rita.locator("ul.transitions a.button.primary").count() == 0  # "reopen" is not the primary one
    fits(rita, "", screenshots / f"phone-{language}-flow-resolved.png")

    with engine.db.read() as session:
        body = session.scalars(select(OutboxMessage).where(OutboxMessage.notification == "resolved_notice")
                               .order_by(OutboxMessage.id.desc())).first().body
    link = re.search(rf"^\s+4\b.*?{re.escape(PUBLIC)}(/rate/\S+)$", body, re.MULTILINE).group(1)  # type: ignore[union-attr]
    rita.goto(base + link)
    assert rita.locator("input[name=satisfaction][value='4']").is_checked()
    assert rita.locator("#f-comment").count() == 0  # one form: the rating and its comment
    assert engine.get(system_actor(), number)["state"] == "resolved"  # the link alone closes nothing
    rita.fill("#f-feedback", words["feedback"])
    fits(rita, "", screenshots / f"phone-{language}-flow-rate.png")
    rita.click("form.generated button.primary")
    rita.wait_for_load_state()
    closed = engine.get(system_actor(), number)
    assert closed["state"] == "closed" and closed["fields"]["satisfaction"] == 4
    assert closed["fields"]["feedback"] == words["feedback"]
    fits(rita, "", screenshots / f"phone-{language}-flow-closed.png")
