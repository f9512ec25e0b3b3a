"""Golden packs: every invalid pack prints exactly its expected lines; every valid pack loads clean.

Regenerate after a deliberate change of wording with `ITSM_UPDATE_GOLDEN=1 pytest tests/unit/interpreter`,
then read the diff: each line is a promise to pack authors.

The installed plugins are exactly one, registered here (`plugin_stand_in.py`, named `cmdb` as the example
plugin is): what the lines say about plugins does not depend on what else is installed.
"""

from __future__ import annotations

import os
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from itsm.interpreter import check_pack
from itsm.interpreter import plugins as plugin_registry

PACKS = Path(__file__).resolve().parents[2] / "packs"
INVALID = sorted(p for p in (PACKS / "invalid").iterdir() if p.is_dir() and (p / "expected.txt").exists())
VALID = sorted(p for p in (PACKS / "valid").iterdir() if p.is_dir() and (p / "pack.yaml").exists())


@pytest.fixture(autouse=True)
def only_the_stand_in_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    stand_in = EntryPoint(name="cmdb", value="plugin_stand_in:plugin", group=plugin_registry.GROUP)
    monkeypatch.setattr(plugin_registry, "installed", lambda: {"cmdb": stand_in})


@pytest.mark.parametrize("case", INVALID, ids=[p.name for p in INVALID])
def test_invalid_pack_reports_exactly_the_expected_lines(case: Path) -> None:
    spec, problems = check_pack(case)
    actual = [str(p) for p in problems]
    expected_file = case / "expected.txt"
    if os.environ.get("ITSM_UPDATE_GOLDEN"):
        expected_file.write_text("\n".join(actual) + "\n", encoding="utf-8")
    expected = [line for line in expected_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert spec is None
    assert actual == expected


def test_there_are_at_least_thirty_distinct_invalid_packs() -> None:
    assert len(INVALID) >= 30


@pytest.mark.parametrize("case", VALID, ids=[p.name for p in VALID])
def test_valid_pack_loads_without_errors(case: Path) -> None:
    spec, problems = check_pack(case)
    assert [str(p) for p in problems if p.is_error] == []
    assert spec is not None
