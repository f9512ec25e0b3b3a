"""`itsm test`: the default pack's scenarios pass; a broken change fails naming the step and its YAML line."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

from click.testing import CliRunner

from itsm.cli import main

from support import DEFINITIONS


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_the_default_pack_scenarios_pass(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    code, out = run("test", str(DEFINITIONS), "--junit", str(report))
    assert code == 0, out
    assert "PASS workplace_incident" in out and "PASS major_network_outage" in out and " 0 failed" in out
    suite = ET.parse(report).getroot()
    assert suite.get("failures") == "0" and int(suite.get("tests") or 0) >= 3


def test_a_broken_change_fails_naming_the_step_and_the_yaml_line(tmp_path: Path) -> None:
    client = tmp_path / "client"
    client.mkdir()
    (client / "pack.yaml").write_text(
        f"kind: pack\nid: client\nformat: 1\ntimezone: Europe/Berlin\nextends: {DEFINITIONS}\n---\n"
        "kind: priority_matrix\nid: incident_priority\nmatrix:\n  medium: {medium: P4}\n")
    report = tmp_path / "junit.xml"
    code, out = run("test", str(client), "-k", "workplace", "--junit", str(report))
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "FAIL workplace_incident"
    assert "step 1 (" in lines[1] and "scenarios/workplace_incident.yaml:" in lines[1]
    assert lines[1].endswith("priority: expected 'P3', got 'P4'")
    failure = ET.parse(report).getroot().find("testcase/failure")
    assert failure is not None and "expected 'P3', got 'P4'" in (failure.text or "")


def test_a_ticket_number_beyond_the_tickets_created_fails_the_step_cleanly(tmp_path: Path) -> None:
    # the loader counts create steps; one that expects an error creates nothing, so ticket 2 does not exist
    client = tmp_path / "client"
    client.mkdir()
    (client / "pack.yaml").write_text(
        f"kind: pack\nid: client\nformat: 1\ntimezone: Europe/Berlin\nextends: {DEFINITIONS}\n---\n"
        "kind: scenario\nid: refused_create\nsteps:\n"
        "  - {create: {process: incident, fields: {short_description: x, category: nonsense}}, expect_error: 422}\n"
        "  - {create: {process: incident, fields: {short_description: Printer jam}}}\n"
        "  - {ticket: 2, expect: {state: new}}\n")
    code, out = run("test", str(client), "-k", "refused_create")
    assert code == 1
    assert out.splitlines()[:2] == ["FAIL refused_create",
                                    "     step 3 (pack.yaml:12:5): there is no ticket 2: 1 created so far"]


def test_no_scenarios_to_run_says_so_and_fails(tmp_path: Path) -> None:
    minimal = DEFINITIONS.parent / "tests" / "packs" / "valid" / "minimal"
    result = CliRunner().invoke(main, ["test", str(minimal)])
    assert result.exit_code == 1  # a CI job that tests nothing must not look green
    assert result.stdout.splitlines()[-1].startswith("========== no scenarios ran in ")
    assert result.stderr == f"{minimal}: the pack has no scenarios (kind: scenario documents; `itsm init` writes one)\n"
    result = CliRunner().invoke(main, ["test", str(DEFINITIONS), "-k", "nothing_like_this"])
    assert result.exit_code == 1 and result.stderr == f"{DEFINITIONS}: no scenario id contains 'nothing_like_this'\n"


def test_an_invalid_pack_is_not_tested(tmp_path: Path) -> None:
    broken = DEFINITIONS.parent / "tests" / "packs" / "invalid" / "bad_duration"
    result = CliRunner().invoke(main, ["test", str(broken)])
    assert result.exit_code == 1 and ": error: " in result.stdout
    assert result.stderr == f"{broken}: not tested: the pack is not valid\n"


def test_a_user_no_one_may_have_fails_the_scenario_instead_of_crashing(tmp_path: Path) -> None:
    client = tmp_path / "client"
    client.mkdir()
    (client / "pack.yaml").write_text(
        f"kind: pack\nid: client\nformat: 1\ntimezone: Europe/Berlin\nextends: {DEFINITIONS}\n---\n"
        "kind: scenario\nid: odd_user\nusers: {rita: {email: 'not an address'}}\nsteps:\n"
        "  - {create: {process: incident, fields: {short_description: Printer jam}}}\n")
    code, out = run("test", str(client), "-k", "odd_user")
    assert code == 1
    assert out.splitlines()[:2] == ["FAIL odd_user", "     step 0 (users): e-mail address 'not an address' is not "
                                                     "valid: write it as name@example.org"]
