"""Triage assistance in Chromium (SPEC 16): similar solved tickets appear while a requester types, and one click
on a suggestion fills the classify form's field (nothing is pre-selected)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import serving

from itsm.engine.people.users import add_user
from itsm.engine.reports.triage import train
from itsm.store import tickets
from itsm.store.search import write_documents
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = ("rita", "ruth", "lars")


def _history(engine: Any, requester: str, count: int) -> None:
    """Closed incidents of the labelled texts, written straight to the tables (as tests/integration do)."""
    rows = [json.loads(line) for line in (ROOT / "tests" / "data" / "incidents_zh.jsonl").read_text(
        encoding="utf-8").splitlines()[:count]]
    now, version = engine.clock(), engine.definitions.active_id()
    with engine.db.write() as session:
        documents = []
        for i, row in enumerate(rows):
            ticket_id = tickets.insert_ticket(session, {
                "number": f"HIS{i:07d}", "process": "incident", "state": "closed", "is_open": False,
                "priority": "P5", "team": row["team"], "assignee": None, "requester": requester,
                "fields": {"short_description": row["title"], "description": row["description"],
                           "service": row["service"], "category": row["category"]},
                "version": 4, "definitions_version": version, "created_at": now, "updated_at": now,
                "state_entered_at": now, "closed_at": now, "org": None})
            documents.append((ticket_id, row["title"], row["description"]))
        write_documents(session, documents)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "PACK": str(ROOT / "definitions")})
    engine = engine_of(app)
    engine.db.upgrade()
    engine.definitions.publish_path(ROOT / "definitions")
    for name in PEOPLE:
        add_user(engine.db, name, password=f"{name}-pw")
    _history(engine, "ruth", 240)
    [result] = train(engine)
    assert result.model_id is not None
    with serving(app) as base:
        yield base, engine


def _signed_in(browser: Any, base: str, name: str) -> Any:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", f"{name}-pw")
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()
    return page


def test_similar_solved_tickets_while_typing_and_one_click_suggestions(browser: Any, server: tuple[str, Any],
                                                                        screenshots: Path) -> None:
    base, engine = server
    ruth = _signed_in(browser, base, "ruth")
    ruth.goto(f"{base}/new/incident")
    ruth.fill("#f-short_description", "打印机卡纸了，打不出来")
    ruth.wait_for_selector("#similar:not([hidden]) li")  # asked 400 ms after the typing stopped
    items = ruth.locator("#similar li").all_inner_texts()
    assert items and all(item.startswith("HIS") and "% similar" in item for item in items)
    ruth.screenshot(path=str(screenshots / "triage-report-similar.png"), full_page=True)
    ruth.context.close()

    number = engine.create(engine.actor("rita"), "incident", {
        "short_description": "打印机卡纸", "description": "打印机卡纸了，纸卡在里面拿不出来",
        "category": "other"})["number"]
    lars = _signed_in(browser, base, "lars")
    lars.goto(f"{base}/tickets/{number}/transitions/classify")
    assert lars.input_value("#f-category") == "other"  # the suggestion selects nothing by itself
    take = lars.locator("a.take[data-take='category'][data-value='hardware']")
    assert "% sure" in take.inner_text()
    url = lars.url
    take.click()
    assert lars.input_value("#f-category") == "hardware" and lars.url == url  # taken in place, no reload
    lars.screenshot(path=str(screenshots / "triage-classify.png"), full_page=True)
    lars.context.close()
