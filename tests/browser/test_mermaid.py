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


@pytest.mark.parametrize(("pack", "words"), [("definitions", ["any open state", "(1) Classify and assign"]),
                                              ("examples/gov-desk", ["任一未结束状态", "(1) 受理派单"])])
def test_the_incident_diagram_reads_at_a_glance(page, screenshots, pack: str, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Cancel and withdraw drawn once from "any open state", parallel transitions on one arrow, the happy
    path numbered: what Mermaid draws holds those words, and the picture is saved for a person to look at."""
    result = CliRunner().invoke(main, ["graph", "incident", "--pack", str(ROOT / pack)])
    assert result.exit_code == 0, result.output
    arrows = [line for line in result.output.splitlines() if "-->" in line]
    assert len(arrows) <= 22  # 33 when every source of every transition had its own arrow
    page.evaluate(RENDER, result.output)
    text = page.inner_text("body")
    for word in words:
        assert word in text
    assert page.locator("g.happy, g[class*='happy']").count() >= 5  # the happy path's states are drawn bold
    page.screenshot(path=str(screenshots / f"graph-incident-{Path(pack).name}.png"), full_page=True)


def test_mermaid_rejects_broken_text_so_the_check_means_something(page) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="(?i)parse|error"):
        page.evaluate(RENDER, "stateDiagram-v2\n    a --> : : -->\n    [[[")
