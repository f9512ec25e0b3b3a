"""`itsm diff`: every semantic change between two real versions, with the open tickets it touches."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from itsm.cli import main
from itsm.engine import Engine, system_actor
from itsm.store import Database

VALID = Path(__file__).resolve().parents[1] / "packs" / "valid"


def test_diff_lists_every_change_with_open_ticket_counts(db: Database, db_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine(db)
    engine.definitions.publish_path(VALID / "overlay_base")
    system = system_actor()
    low_high = {"summary": "Slow VPN", "impact": "low", "urgency": "high", "category": "network"}
    first = engine.create(system, "ticket", low_high)["number"]
    engine.create(system, "ticket", {**low_high, "urgency": "low"})
    resolved = engine.create(system, "ticket", low_high)["number"]
    engine.fire(system, resolved, "resolve")
    engine.fire(system, first, "start")
    monkeypatch.setenv("ITSM_DATABASE_URL", db_url)
    result = CliRunner().invoke(main, ["diff", str(VALID / "overlay_base"), str(VALID / "overlay_client")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines == [
        "changed field flags ticket.resolved.resolution_notes: none -> required (1 open ticket)",
        "added state ticket.awaiting_approval (0 open tickets)",
        "added transition ticket.request_approval: in_progress -> awaiting_approval (1 open ticket)",
        "added transition ticket.approve: awaiting_approval -> in_progress (0 open tickets)",
        "changed matrix cell prio[low, high]: P3 -> P2 (2 open tickets)",
        "added holiday office 2026-06-15: Client day",
        "added routing rule routes.software: category == 'software' => network (3 open tickets)",
        "added routing rule routes.fallback_client: default => desk (3 open tickets)",
        "removed routing rule routes.fallback: default => desk (3 open tickets)",
        "9 changes",
    ]


def test_markdown_for_review_comments() -> None:
    result = CliRunner().invoke(main, ["diff", str(VALID / "overlay_base"), str(VALID / "overlay_client"),
                                       "--format", "markdown", "--no-tickets"])
    assert result.exit_code == 0
    assert result.output.startswith("### Definitions diff: 9 changes")
    assert "| changed matrix cell | `prio[low, high]` | P3 -> P2 |  |" in result.output


def test_init_scaffolds_an_overlay_that_validates_and_passes_its_scenario(tmp_path: Path) -> None:
    runner = CliRunner()
    target = tmp_path / "clients" / "acme-corp"
    result = runner.invoke(main, ["init", str(target), "--extends", str(VALID.parents[2] / "definitions")])
    assert result.exit_code == 0, result.output
    text = (target / "pack.yaml").read_text()
    assert "id: acme_corp" in text and "extends: " in text and "# kind: routing" in text
    assert runner.invoke(main, ["validate", str(target)]).exit_code == 0
    tested = runner.invoke(main, ["test", str(target), "-k", "smoke"])
    assert tested.exit_code == 0 and "PASS acme_corp_smoke" in tested.output
    assert runner.invoke(main, ["init", str(target)]).exit_code == 2  # not empty: refused


@pytest.mark.parametrize("base", ["facilities", "change_requests", "bare"])
def test_init_on_other_packs_scaffolds_a_passing_smoke_test(tmp_path: Path, base: str) -> None:
    """The smoke scenario fills in every required field whatever its type or pattern (facilities: a room
    code `^[A-Z][0-9]{3}$`); the commented matrix example has one level of nesting per input."""
    runner = CliRunner()
    target = tmp_path / "client"
    assert runner.invoke(main, ["init", str(target), "--extends", str(VALID / base)]).exit_code == 0
    tested = runner.invoke(main, ["test", str(target), "-k", "smoke"])
    assert tested.exit_code == 0 and "PASS client_smoke" in tested.output, tested.output
    if base == "facilities":
        assert 'fields: {location: "A123", problem: "Example"}' in (target / "scenarios" / "smoke.yaml").read_text()
    if base == "change_requests":
        assert "#   major: high\n" in (target / "pack.yaml").read_text()


def test_diff_of_git_revisions_and_what_it_says_when_the_pack_is_not_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", "-c", "user.name=ci", "-c", "user.email=ci@example.org", *args], cwd=repo,
                       check=True, capture_output=True)

    repo = tmp_path / "repo"
    shutil.copytree(VALID / "overlay_base", repo / "overlay_base")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    shutil.copytree(VALID / "overlay_client", repo / "overlay_client")
    shutil.rmtree(repo / "overlay_base")
    shutil.copytree(repo / "overlay_client", repo / "overlay_base", dirs_exist_ok=True)  # base becomes client
    shutil.copytree(VALID / "overlay_base", repo / "shared")
    (repo / "overlay_base" / "pack.yaml").write_text(
        (repo / "overlay_base" / "pack.yaml").read_text().replace("../overlay_base", "../shared"))
    shutil.rmtree(repo / "overlay_client")
    git("add", "-A")
    git("commit", "-qm", "client")
    monkeypatch.chdir(repo)
    runner = CliRunner()
    result = runner.invoke(main, ["diff", "HEAD~1", "HEAD", "--pack", "overlay_base", "--no-tickets"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "9 changes"
    result = runner.invoke(main, ["diff", "HEAD~1", "HEAD", "--pack", "shared", "--no-tickets"])
    assert result.exit_code == 2 and "--pack 'shared' is not a folder at revision 'HEAD~1'" in result.output
    result = runner.invoke(main, ["diff", "HEAD~1", "HEAD", "--pack", str(VALID / "overlay_base")])
    assert result.exit_code == 2 and "is outside the git repository" in result.output
    result = runner.invoke(main, ["diff", "no-such-revision", "HEAD", "--pack", "overlay_base"])
    assert result.exit_code == 2 and "'no-such-revision' is neither a pack folder nor a git revision" in result.output


def test_example_values_for_every_field_type() -> None:
    from itsm.engine.authoring.scaffold import example_value
    from itsm.interpreter import load_pack

    booking = load_pack(VALID / "facilities").forms["booking"]
    assert {f.id: example_value(f) for f in booking.fields} == {"room": "a101", "purpose": "Example",
                                                                "day": "2026-03-02"}
