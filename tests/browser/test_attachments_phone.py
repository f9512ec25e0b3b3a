"""Attachments in Chromium (issue 17): a requester on a 375 px phone screen reports an incident with a
screenshot chosen in the form (set_input_files), sees it listed on her ticket with its thumbnail and downloads it
under its Chinese name; a file over the limit is refused in the form before it is sent; the agent sees the
same thumbnail. Screenshots go to tests/screenshots/ (git-ignored): attachments-*.png."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsing import serving

from itsm.engine.people.users import add_user
from itsm.web import create_app, engine_of

ROOT = Path(__file__).resolve().parents[2]
PHONE = {"width": 375, "height": 812}
NAME = "报障截图.png"


def png(width: int, height: int) -> bytes:
    """A real PNG (a red-to-blue gradient), so the browser has something to draw as a thumbnail."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(v for x in range(width) for v in (255 * x // width, 80, 255 - 255 * x // width))
                    for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


SCREENSHOT = png(120, 80)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[str]:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'itsm.db'}", "PACK": str(ROOT / "definitions"),
                      "ATTACHMENT_MAX_BYTES": "64KiB"})
    engine_of(app).db.upgrade()
    engine_of(app).definitions.publish_path(ROOT / "definitions")
    for name in ("rita", "lars"):
        add_user(engine_of(app).db, name, password=f"{name}-pw")
    with serving(app) as base:
        yield base


def signed_in(browser: Any, base: str, name: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.on("dialog", lambda dialog: pytest.fail(f"a script ran: {dialog.message}"))
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{base}/login")
    page.fill("#name", name)
    page.fill("#password", f"{name}-pw")
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()
    page.blocked = blocked
    return page


def fits_the_screen(page: Any, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_a_requester_on_a_phone_reports_with_a_screenshot(browser: Any, server: str, screenshots: Path) -> None:
    rita = signed_in(browser, server, "rita", PHONE)
    rita.goto(f"{server}/new/incident")
    rita.fill("#f-short_description", "财务系统登录报错")
    rita.fill("#f-description", "输入密码后提示“错误 500”，见截图。")
    too_big = {"name": "整屏录像.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n\x1a\n" + b"\0" * 70_000}
    rita.set_input_files("#f-attachments", [too_big])
    note = rita.locator("#f-attachments + p.error")
    note.wait_for(state="visible")
    assert "整屏录像.png" in note.inner_text() and "64 KB" in note.inner_text()
    assert rita.eval_on_selector("#f-attachments", "input => input.files.length") == 0  # not sent at all
    rita.set_input_files("#f-attachments", [{"name": NAME, "mimeType": "image/png", "buffer": SCREENSHOT}])
    assert note.is_hidden()
    fits_the_screen(rita, "#f-attachments")
    rita.screenshot(path=str(screenshots / "attachments-phone-report.png"), full_page=True)
    rita.click("form.generated button[type=submit]")
    rita.wait_for_load_state()

    assert "/tickets/INC" in rita.url
    number = rita.url.rsplit("/", 1)[1]
    listed = rita.locator("#attachments li.attachment")
    assert listed.count() == 1
    assert NAME in listed.inner_text() and "rita" in listed.inner_text()
    thumbnail = listed.locator("img")
    thumbnail.scroll_into_view_if_needed()
    rita.wait_for_function("img => img.complete && img.naturalWidth === 120", arg=thumbnail.element_handle())
    fits_the_screen(rita, "#attachments")
    assert rita.locator("#timeline li.event-attachment").count() == 1
    rita.locator("#attachments").screenshot(path=str(screenshots / "attachments-phone-ticket-card.png"))
    rita.screenshot(path=str(screenshots / "attachments-phone-ticket.png"), full_page=True)

    with rita.expect_download() as started:
        listed.locator("a.name").click()
    download = started.value
    assert download.suggested_filename == NAME
    assert Path(download.path()).read_bytes() == SCREENSHOT
    assert rita.blocked == []

    lars = signed_in(browser, server, "lars", {"width": 1280, "height": 900})
    lars.goto(f"{server}/tickets/{number}")
    image = lars.locator("#attachments img")
    lars.wait_for_function("img => img.complete && img.naturalWidth === 120", arg=image.element_handle())
    lars.screenshot(path=str(screenshots / "attachments-agent-ticket.png"), full_page=True)
    assert lars.blocked == []
