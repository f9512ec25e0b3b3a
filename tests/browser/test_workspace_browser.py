"""The agent's workspace and the requester's view in Chromium (issue 17), on the gov-desk pack in Chinese and
English: an agent recording a caller's incident is offered the ongoing outage like it while typing and attaches
the incident to it; a requester on a phone sees her ticket without the desk's fields and clocks (the team that
handles it, when it should be solved), picks a colleague as a watcher by name, and confirms and rates on the
ticket page itself in one click. Screenshots go to tests/screenshots/ (git-ignored): workspace-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import serving

from itsm.engine import Engine
from itsm.engine.people.demo import DEMO_PASSWORD, ensure_demo_users
from itsm.engine.reports.known_errors import links
from itsm.engine.runtime.actors import system_actor
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
GOV_DESK = ROOT / "examples" / "gov-desk"
LANGUAGES = ("zh-CN", "en")
WORDS = {
    "zh-CN": {"documents": "全省电子公文系统无法登录", "portal": "单位门户网站首页无法打开",
              "caller": "公文系统登录不了，一直转圈", "report": "打印机卡纸，无法打印",
              "notes": "疑似定影器故障，已向厂商报修", "resolved": "更换了定影器，已恢复打印。",
              "feedback": "处理及时，谢谢！", "team": "一线服务台", "expected": "我们力争在",
              "confirm": "确认解决并评价", "clock": "响应时限"},
    "en": {"documents": "Province-wide document system: nobody can log in",
           "portal": "Unit portal home page does not open",
           "caller": "Cannot log in to the document system, it keeps spinning", "report": "Printer jams on every page",
           "notes": "Suspect the fuser; vendor case opened", "resolved": "Replaced the fuser; printing works again.",
           "feedback": "Quick, thanks!", "team": "L1 service desk", "expected": "We aim to resolve it by",
           "confirm": "Confirm and rate", "clock": "Time to respond"},
}
OUTAGE = {"impact": "wide", "urgency": "high"}  # the most urgent priority: an outage in the making


@pytest.fixture()
def desk(tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """The gov-desk demo (`itsm serve --demo --pack examples/gov-desk`) on 127.0.0.1 and an SQLite file."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "PACK": str(GOV_DESK),
                      "ATTACHMENTS_DIR": str(tmp_path / "files")})
    engine = engine_of(app)
    engine.db.upgrade()
    engine.definitions.publish_path(GOV_DESK)
    ensure_demo_users(engine.db)
    with serving(app) as base:
        yield base, engine


def signed_in(browser: Any, base: str, name: str, language: str, width: int = 1280) -> Any:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=language)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", DEMO_PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == language
    return page


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_agent_is_offered_the_outage_like_the_callers_words(browser: Any, desk: tuple[str, Engine],
                                                                language: str, screenshots: Path) -> None:
    base, engine = desk
    words = WORDS[language]
    lars = engine.actor("lars")
    documents = engine.create(lars, "incident", {"short_description": words["documents"], **OUTAGE})["number"]
    portal = engine.create(lars, "incident", {"short_description": words["portal"], **OUTAGE})["number"]

    page = signed_in(browser, base, "lars", language)
    page.goto(f"{base}/new/incident")
    picker = page.locator("#f-outage")
    assert picker.locator("optgroup[data-group=matching] option").count() == 0
    assert picker.locator("optgroup[data-group=other] option").all_inner_texts() == [
        f"{portal} {words['portal']}", f"{documents} {words['documents']}"]  # newest first, nothing typed yet
    page.fill("#f-requester", "rita")
    page.fill("#f-short_description", words["caller"])
    note = page.locator("#outage-match")
    note.wait_for(state="visible")  # the server ranked the outages by what was typed
    assert documents in note.inner_text() and portal not in note.inner_text()
    assert picker.locator("optgroup[data-group=matching] option").all_inner_texts() == [
        f"{documents} {words['documents']}"]
    assert picker.locator("optgroup[data-group=other] option").all_inner_texts() == [f"{portal} {words['portal']}"]
    assert picker.input_value() == ""  # nothing chosen for the agent
    page.screenshot(path=str(screenshots / f"workspace-{language}-outage-offer.png"), full_page=True)
    picker.select_option(documents)
    page.click("form.generated button.primary")
    page.wait_for_load_state()
    number = page.url.rsplit("/", 1)[1]
    assert number not in (documents, portal) and documents in page.inner_text("#outage")
    assert ("parent", documents) in {(link["kind"], link["number"]) for link in links(engine, system_actor(), number)}
    assert engine.get(system_actor(), number)["requester"] == "rita"
    page.context.close()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_requester_on_a_phone_sees_her_ticket_picks_a_watcher_and_confirms_in_one_click(
        browser: Any, desk: tuple[str, Engine], language: str, screenshots: Path) -> None:
    base, engine = desk
    words = WORDS[language]
    system = system_actor()
    number = engine.create(engine.actor("rita"), "incident", {"short_description": words["report"]})["number"]
    engine.update(engine.actor("lars"), number, {"work_notes": words["notes"], "known_error": "KE0000042"})

    page = signed_in(browser, base, "rita", language, width=375)
    page.goto(f"{base}/tickets/{number}")
    shown = page.inner_text("main")
    for secret in (words["notes"], "KE0000042", words["clock"]):
        assert secret not in shown, secret
    assert page.locator("#sla-banner").count() == 0
    assert words["team"] in page.inner_text(".people-line") and words["expected"] in page.inner_text("#expected")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(screenshots / f"workspace-{language}-requester-ticket.png"), full_page=True)

    page.fill("#watcher-user", "una")  # her organization's contact, found by name
    page.locator("#watcher-options option[value=una]").wait_for(state="attached")
    page.click("form.add-watcher button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("ul.watchers li").first.inner_text().startswith("una")
    assert [w["user"] for w in engine.watchers(system, number)] == ["una"]

    engine.fire(system, number, "classify", {"category": "desktop", "impact": "person", "urgency": "low"})
    engine.fire(system, number, "start", {})
    engine.fire(system, number, "resolve", {"resolution_code": "fixed", "resolution_notes": words["resolved"]})
    page.goto(f"{base}/tickets/{number}")
    step = page.locator("#one-step")
    assert step.locator("button.primary").inner_text() == words["confirm"]
    assert words["resolved"] in page.inner_text("main")  # the desk's answer is hers to read
    step.locator("input[name=satisfaction][value='4']").check()
    step.locator("textarea[name=feedback]").fill(words["feedback"])
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=str(screenshots / f"workspace-{language}-requester-confirm.png"), full_page=True)
    step.locator("button.primary").click()  # one click: no second page
    page.wait_for_load_state()
    rated = engine.get(system, number)
    assert rated["state"] != "resolved" and rated["fields"]["satisfaction"] == 4
    assert rated["fields"]["feedback"] == words["feedback"]
    assert page.url.endswith(f"/tickets/{number}") and page.locator("#one-step").count() == 0
    page.screenshot(path=str(screenshots / f"workspace-{language}-requester-rated.png"), full_page=True)
    page.context.close()
