"""`itsm graph` output is accepted and drawn by Mermaid itself, in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm.cli import main

ROOT = Path(__file__).resolve().parents[2]

RENDER = """async (text) => {
    mermaid.initialize({startOnLoad: false});
    const {svg} = await mermaid.render("diagram", text);
    document.body.innerHTML = svg;
    return svg;
}"""


@pytest.fixture()
def page(browser, mermaid_js):  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(path=str(mermaid_js))
    yield page
    page.close()


@pytest.mark.parametrize("process", ["incident", "review"])
def test_mermaid_renders_the_default_pack_processes(page, screenshots, process: str) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["graph", process, "--pack", str(ROOT / "definitions")])
    assert result.exit_code == 0, result.output
    svg = page.evaluate(RENDER, result.output)
    assert svg.startswith("<svg")
    text = page.inner_text("body")
    assert "Resolve" in text or "Complete" in text  # transition labels are drawn
    page.screenshot(path=str(screenshots / f"graph-{process}.png"), full_page=True)


def test_mermaid_rejects_broken_text_so_the_check_means_something(page) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="(?i)parse|error"):
        page.evaluate(RENDER, "stateDiagram-v2\n    a --> : : -->\n    [[[")
