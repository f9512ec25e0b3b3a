"""The editor behind the web editor: one value changed in the YAML, comments and layout kept."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest

from itsm.engine.authoring.editor import EditRefused, edit

from support import DEFINITIONS


@pytest.fixture()
def pack(tmp_path: Path) -> Path:
    target = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS, target)
    return target


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_editing_one_matrix_cell_changes_exactly_one_line(pack: Path) -> None:
    file = pack / "priority" / "incident_priority.yaml"
    before = file.read_text()
    spec = edit(pack, "priority_matrix", "incident_priority", ["matrix", "low", "high"], "P2")
    after = file.read_text()
    lines = changed_lines(before, after)
    assert len(lines) == 2 and lines[0].startswith("-") and lines[1].startswith("+")  # one line replaced
    assert "P2" in lines[1]
    assert [line for line in before.splitlines() if "#" in line] == [line for line in after.splitlines()
                                                                     if "#" in line]  # comments intact
    assert spec.matrices["incident_priority"].cells[("low", "high")] == "P2"


def test_sla_target_holiday_and_routing_edits_keep_the_rest(pack: Path) -> None:
    policy = pack / "sla" / "incident_sla.yaml"
    before = policy.read_text()
    spec = edit(pack, "sla_policy", "incident_sla", ["clocks", {"id": "response"}, "targets", "P3"], "3h")
    assert len(changed_lines(before, policy.read_text())) == 2
    assert spec.sla_policies["incident_sla"].clocks[0].targets["P3"].seconds == 3 * 3600

    calendar = pack / "calendars" / "office.yaml"
    before = calendar.read_text()
    spec = edit(pack, "calendar", "office", ["holidays"], {"id": "d2026_06_15", "date": "2026-06-15",
                                                            "name": "Company day"}, append=True)
    added = changed_lines(before, calendar.read_text())
    assert all(line.startswith("+") for line in added) and any("2026-06-15" in line for line in added)
    assert spec.calendars["office"].intervals_on(__import__("datetime").date(2026, 6, 15)) == ()


def test_an_edit_that_breaks_the_pack_is_undone_with_its_errors(pack: Path) -> None:
    file = pack / "priority" / "incident_priority.yaml"
    before = file.read_text()
    with pytest.raises(EditRefused) as refused:
        edit(pack, "priority_matrix", "incident_priority", ["matrix", "low", "high"], "P9")
    assert "unknown level 'P9'" in str(refused.value.problems[0])
    assert file.read_text() == before
    with pytest.raises(EditRefused, match="not defined"):
        edit(pack, "priority_matrix", "nope", ["matrix"], {})
