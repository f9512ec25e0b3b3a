"""Browser tests: Playwright for Python driving Debian's Chromium (FINDINGS: never `playwright install`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("ITSM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"


def _required() -> bool:
    """In CI (`.ci/run` sets ITSM_BROWSER_TESTS=1) a missing browser is a failure, not a skip."""
    return os.environ.get("ITSM_BROWSER_TESTS") == "1"


def unavailable(message: str) -> None:
    """Fail in CI, skip elsewhere: a developer without Chromium can still run the rest of the suite."""
    if _required():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where browser tests save pictures of what they saw (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def mermaid_js() -> Path:
    """Mermaid's bundled script, fetched by .ci/run with `npm pack mermaid@11` (no network in tests)."""
    path = Path(os.environ.get("ITSM_MERMAID_JS", ROOT / ".cache" / "mermaid" / "mermaid.min.js"))
    if not path.exists():
        unavailable(f"{path} missing: .ci/run fetches it with `npm pack mermaid@11`")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
