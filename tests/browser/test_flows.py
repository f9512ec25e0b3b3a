"""The pages in Chromium (SPEC 13, issue #5): one incident from the requester's report to her rating, through an
L1 agent and an L2 agent, with the live field rules, the SLA countdown, and the access rules checked as a
browser sees them. Screenshots of the main pages go to tests/screenshots/ (git-ignored)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import serving

from itsm.engine.people.users import add_user
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = {"rita": {}, "ruth": {}, "lars": {}, "dana": {}, "admin": {"admin": True}}


@pytest.fixture()
def server(tmp_path: Path, mermaid_js: Path) -> Iterator[str]:
    """The real application on 127.0.0.1 (a free port), on an embedded SQLite database."""
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "PACK": str(ROOT / "definitions"),
                      "MERMAID_JS": str(mermaid_js)})
    engine_of(app).db.upgrade()  # what `itsm serve` does before it serves; creating the app does not
    engine_of(app).definitions.publish_path(ROOT / "definitions")
    for name, flags in PEOPLE.items():
        add_user(engine_of(app).db, name, password=f"{name}-pw", **flags)
    with serving(app) as base:
        yield base


class Person:
    """One browser context (its own cookies) signed in as one user."""

    def __init__(self, browser: Any, base: str, name: str, screenshots: Path):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
        self.blocked: list[str] = []  # what the Content-Security-Policy refused: our own pages need nothing refused
        self.page.on("console", lambda message: self.blocked.append(message.text)
                     if "Content Security Policy" in message.text else None)
        self.base = base
        self.shots = screenshots
        self.page.goto(f"{base}/login")
        self.page.fill("#name", name)
        self.page.fill("#password", f"{name}-pw")
        self.page.click("button:has-text('Sign in')")
        self.page.wait_for_load_state()

    def go(self, path: str) -> Any:
        return self.page.goto(f"{self.base}{path}")

    def open_transition(self, number: str, label: str) -> None:
        self.go(f"/tickets/{number}")
        self.page.click(f"ul.transitions a:has-text('{label}')")
        self.page.wait_for_selector("form.generated")

    def submit(self) -> None:
        self.page.click("form.generated button[type=submit]")
        self.page.wait_for_load_state()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        assert self.blocked == []


def test_an_incident_from_report_to_rating_in_the_browser(browser: Any, server: str, screenshots: Path) -> None:
    rita = Person(browser, server, "rita", screenshots)
    assert rita.page.url.endswith("/portal")
    rita.shot("portal-empty")
    rita.page.click("a:has-text('Report an incident')")
    rita.page.fill("#f-short_description", "<script>alert('x')</script> Docking station shows no picture")
    rita.page.fill("#f-description", "Both screens stay black since this morning.")
    rita.page.click("summary:has-text('More details')")  # fields the service desk asks for later
    rita.page.select_option("#f-service", "workplace")
    rita.shot("report-form")
    rita.submit()
    number = rita.page.url.rsplit("/", 1)[1]
    assert re.fullmatch(r"INC\d{7}", number)
    heading = rita.page.inner_text("h1")
    assert heading == "<script>alert('x')</script> Docking station shows no picture"  # text, not markup
    assert rita.page.locator("ul.transitions a").all_inner_texts() == ["Withdraw"]  # no agent transitions
    rita.shot("ticket-requester")

    lars = Person(browser, server, "lars", screenshots)
    assert lars.page.url.endswith("/queue")
    row = lars.page.locator(f"tr[data-number='{number}']")
    assert row.locator(".prio").inner_text() == "P4"
    countdown = row.locator("time.countdown").first
    assert re.fullmatch(r"(\d+d \d+h|\d+h \d+m|\d+m) left", countdown.inner_text())  # app.js ticked it
    lars.shot("queue")
    row.locator("a").first.click()
    lars.page.click("ul.transitions a:has-text('Classify and assign')")
    lars.page.select_option("#f-service", "workplace")
    lars.page.select_option("#f-category", "hardware")
    lars.page.select_option("#f-impact", "medium")
    lars.page.select_option("#f-urgency", "medium")
    lars.submit()
    assert "Classify and assign: done." in lars.page.inner_text("main")
    lars.open_transition(number, "Escalate to next tier")
    assert lars.page.locator("[data-field=escalation_reason]").get_attribute("class") == "field is-required"
    lars.page.fill("#f-escalation_reason", "The dock needs replacing: desktop support.")
    lars.shot("transition-form")
    lars.submit()
    assert "Desktop support" in lars.page.inner_text("aside")

    dana = Person(browser, server, "dana", screenshots)
    dana.open_transition(number, "Start work")
    dana.submit()
    dana.open_transition(number, "Put on hold")
    vendor = dana.page.locator("[data-field=vendor_reference]")
    assert vendor.is_hidden()
    dana.submit()  # without the hold reason the state's flags require
    assert "On-hold reason is required" in dana.page.inner_text("main")
    dana.page.select_option("#f-hold_reason", "awaiting_vendor")
    vendor.wait_for(state="visible")  # the rule (visible_when) came back from the server while typing
    assert "is-required" in (vendor.get_attribute("class") or "")
    dana.page.fill("#f-vendor_reference", "RMA-20931")
    dana.shot("hold-form-live-rules")
    dana.submit()
    dana.open_transition(number, "Resume work")
    dana.submit()
    dana.open_transition(number, "Resolve")
    dana.page.select_option("#f-resolution_code", "fixed")
    dana.page.fill("#f-resolution_notes", "Replaced the docking station.")
    dana.submit()

    rita.open_transition(number, "Not solved - reopen")
    rita.page.fill("#f-reopen_reason", "The left screen is still black.")
    rita.submit()
    dana.open_transition(number, "Resolve")
    dana.page.select_option("#f-resolution_code", "fixed")
    dana.page.fill("#f-resolution_notes", "New cable for the left screen.")
    dana.submit()
    rita.go(f"/tickets/{number}")  # the confirm step is on the ticket page: one click after the stars
    rita.page.check("#one-step input[name=satisfaction][value='5']")
    rita.page.fill("#one-step #f-feedback", "Quick and friendly.")
    rita.page.click("#one-step button.primary:has-text('Confirm and close')")
    rita.page.wait_for_load_state()

    timeline = rita.page.locator("ol.timeline").inner_text()
    steps = ["Classify and assign", "Escalate to next tier", "Start work", "Put on hold", "Resume work", "Resolve",
             "Not solved - reopen", "Resolve", "Confirm and close"]
    positions = [timeline.find(step) for step in steps]
    assert all(p >= 0 for p in positions) and positions[:7] == sorted(positions[:7]), timeline
    assert timeline.rfind("Resolve") > timeline.find("Not solved - reopen") < timeline.find("Confirm and close")
    assert "★★★★★ (5/5)" in rita.page.inner_text("main")
    assert "Closed" in rita.page.inner_text(".page-head")
    rita.shot("ticket-closed-timeline")

    rita.go("/new/incident")  # the next report: her solved ticket is suggested while she types
    rita.page.fill("#f-short_description", "Docking station picture gone again")
    rita.page.locator("#similar").wait_for(state="visible")
    assert number in rita.page.inner_text("#similar")
    rita.shot("report-form-known-errors")

    ruth = Person(browser, server, "ruth", screenshots)
    response = ruth.go(f"/tickets/{number}")
    assert response.status == 404 and "Docking station" not in ruth.page.inner_text("body")
    forged = rita.context.request.post(f"{server}/tickets/{number}/comments", form={"text": "no token"})
    assert forged.status == 400  # the session cookie alone is not enough: the form's token is missing
    for person in (rita, lars, dana, ruth):
        person.close()


def test_the_admin_area_draws_the_process_in_the_browser(browser: Any, server: str, screenshots: Path) -> None:
    admin = Person(browser, server, "admin", screenshots)
    admin.go("/admin/")
    assert "is valid" in admin.page.inner_text("main")
    admin.shot("admin")
    admin.go("/admin/processes/incident")
    admin.page.wait_for_selector("#diagram svg")  # Mermaid drew the stateDiagram the server produced
    assert "Resolve" in admin.page.inner_text("#diagram")
    admin.shot("admin-process-diagram")
    admin.close()


def test_the_dashboard_renders_its_charts_in_the_browser(browser: Any, server: str, screenshots: Path) -> None:
    rita = Person(browser, server, "rita", screenshots)
    for summary in ("Printer on floor 2 jams", "Wi-Fi drops in room 4.12"):
        rita.go("/new/incident")
        rita.page.fill("#f-short_description", summary)
        rita.submit()
    lars = Person(browser, server, "lars", screenshots)
    lars.page.click("nav a:has-text('Dashboard')")
    charts = lars.page.locator("svg.chart")
    assert charts.count() == 7  # six figures and the weekly trend
    assert lars.page.locator("svg.chart rect").count() > 0  # bars drawn
    boxes = [charts.nth(i).bounding_box() for i in range(7)]
    assert all(b is not None and b["width"] > 200 for b in boxes)  # laid out, not collapsed
    assert max(b["height"] for b in boxes if b is not None) > 100
    assert "OPEN NOW\n\n2" in lars.page.inner_text(".tiles").upper()  # two reported, both open
    lars.shot("dashboard")
    rita.close()
    lars.close()
