"""The Chinese desk in Chromium (issue 15): on the gov-desk example pack, with browsers that ask for
Simplified Chinese, a unit's contact reports an incident, the L1 desk classifies and dispatches it, the
network team resolves it, and the requester confirms and rates it, every page in Chinese. Screenshots go to
tests/screenshots/ (git-ignored): zh-*.png, at a desktop width and a phone's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import serving

from itsm.engine.people.demo import DEMO_PASSWORD, ensure_demo_users
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
GOV_DESK = ROOT / "examples" / "gov-desk"
# The pages' own words that must never show on a Chinese page (the English of their catalog entries).
ENGLISH_UI = ("Sign out", "My tickets", "Report an incident", "Queue", "Dashboard", "Submit", "Priority",
              "Assignee", "Requester", "Opened", "Updated", "Timeline", "Language")


@pytest.fixture()
def desk(tmp_path: Path, mermaid_js: Path) -> Iterator[str]:
    """What `itsm serve --demo --pack examples/gov-desk` serves, on 127.0.0.1 and an embedded SQLite file."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "PACK": str(GOV_DESK),
                      "MERMAID_JS": str(mermaid_js)})
    engine_of(app).db.upgrade()
    engine_of(app).definitions.publish_path(GOV_DESK)
    ensure_demo_users(engine_of(app).db)
    with serving(app) as base:
        yield base


class Person:
    """One browser (its own cookies, `Accept-Language: zh-CN`) signed in as a demo user."""

    def __init__(self, browser: Any, base: str, name: str, shots: Path, width: int = 1280):
        self.context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
        self.base, self.shots = base, shots
        self.page.goto(f"{base}/login")
        assert self.page.get_attribute("html", "lang") == "zh-CN"
        self.page.fill("#name", name)
        self.page.fill("#password", DEMO_PASSWORD)
        self.page.press("#password", "Enter")
        self.page.wait_for_load_state()

    def go(self, path: str) -> Any:
        response = self.page.goto(f"{self.base}{path}")
        self.check_chinese()
        return response

    def check_chinese(self) -> None:
        assert self.page.get_attribute("html", "lang") == "zh-CN"
        shown = self.page.inner_text("body")
        assert re.search(r"[\u4e00-\u9fff]", shown)
        for english in ENGLISH_UI:
            assert not re.search(rf"\b{english}\b", shown), (english, self.page.url)

    def open_transition(self, number: str, label: str) -> None:
        self.go(f"/tickets/{number}")
        self.page.click(f"ul.transitions a:has-text('{label}')")
        self.page.wait_for_selector("form.generated")
        self.check_chinese()

    def submit(self) -> None:
        self.page.click("form.generated button[type=submit]")
        self.page.wait_for_load_state()
        self.check_chinese()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"zh-{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


def test_a_chinese_desk_from_report_to_rating(browser: Any, desk: str, screenshots: Path) -> None:
    rita = Person(browser, desk, "rita", screenshots)
    assert rita.page.url.endswith("/portal")
    rita.check_chinese()
    assert "省级政务信息化服务台" in rita.page.inner_text("body")
    rita.shot("portal")
    rita.go("/new/incident")
    form = rita.page.inner_text("main")
    for label in ("问题概述", "详细描述"):
        assert label in form
    rita.page.fill("#f-short_description", "打印机损坏，无法打印")
    rita.page.fill("#f-description", "三楼办公室的共享打印机今天早上开始卡纸，重启后仍无法打印。")
    rita.shot("report-form")
    rita.submit()
    number = rita.page.url.rsplit("/", 1)[1]
    assert re.fullmatch(r"[A-Z]+\d+", number), number
    assert rita.page.inner_text("h1") == "打印机损坏，无法打印"
    assert "待受理" in rita.page.inner_text(".page-head")
    rita.shot("ticket-requester")

    lars = Person(browser, desk, "lars", screenshots)
    lars.go("/queue?q=打印机")  # Chinese search: the word inside the Chinese sentence
    row = lars.page.locator(f"tr[data-number='{number}']")
    assert row.count() == 1
    lars.shot("queue-search")
    lars.open_transition(number, "受理派单")
    lars.page.select_option("#f-category", "network")
    lars.page.select_option("#f-impact", "unit")
    lars.page.select_option("#f-urgency", "medium")
    lars.shot("classify-form")
    lars.submit()
    main = lars.page.inner_text("main")
    assert "受理派单" in main and "已派单" in lars.page.inner_text(".page-head")
    assert "网络组" in lars.page.inner_text("aside")  # routed by category to the L2 network team

    nils = Person(browser, desk, "nils", screenshots)
    nils.go("/queue")
    assert nils.page.locator(f"tr[data-number='{number}']").count() == 1
    nils.shot("queue")
    nils.open_transition(number, "开始处理")
    nils.submit()
    nils.open_transition(number, "处理完成")
    nils.page.select_option("#f-resolution_code", "fixed")
    nils.page.fill("#f-resolution_notes", "更换了打印机的网络模块，已恢复打印。")
    nils.submit()
    assert "待确认" in nils.page.inner_text(".page-head")

    rita.go(f"/tickets/{number}")  # the confirm step is on the ticket page itself: stars, comment, one click
    rita.page.check("#one-step input[name=satisfaction][value='5']")
    rita.page.fill("#one-step #f-feedback", "处理及时，态度很好。")
    rita.page.click("#one-step button.primary:has-text('确认解决并评价')")
    rita.page.wait_for_load_state()
    rita.check_chinese()
    assert "待回访" in rita.page.inner_text(".page-head")
    timeline = rita.page.locator("ol.timeline").inner_text()
    steps = ["受理派单", "开始处理", "处理完成", "确认解决并评价"]
    positions = [timeline.find(step) for step in steps]
    assert all(p >= 0 for p in positions) and positions == sorted(positions), timeline
    assert "UTC+8" in rita.page.inner_text("main")  # times in the desk's zone, labelled
    assert "响应时限" not in rita.page.inner_text("main")  # the SLA clocks are the desk's, not the requester's
    lars.go(f"/tickets/{number}")
    assert "响应时限" in lars.page.inner_text("main") and "Response" not in lars.page.inner_text("main")
    rita.shot("ticket-rated")

    phone = Person(browser, desk, "rita", screenshots, width=375)
    phone.go(f"/tickets/{number}")
    phone.shot("ticket-phone")
    width = phone.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, width  # nothing wider than the phone's screen
    for person in (rita, lars, nils, phone):
        person.close()
