"""Field values against their form: every type refuses what it cannot hold, without optional packages."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm.engine.runtime.fields import check_values
from itsm.interpreter import load_pack

PACK = """kind: pack
id: fields
format: 1
---
kind: form
id: f
fields:
  - {id: link, type: url}
  - {id: seen_at, type: datetime}
  - {id: due, type: date}
  - {id: contact, type: email}
---
kind: process
id: p
form: f
initial: open
states: [{id: open}, {id: done, final: true}]
transitions: [{id: finish, from: open, to: done}]
"""


@pytest.fixture(scope="module")
def form(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder: Path = tmp_path_factory.mktemp("pack")
    (folder / "pack.yaml").write_text(PACK)
    return load_pack(folder).forms["f"]


@pytest.mark.parametrize(("field", "value"), [
    ("link", "https://grafana.example/d/abc?from=now-1h"), ("link", "mailto:ops@example.com"),
    ("seen_at", "2026-03-02T10:00:00+08:00"), ("seen_at", "2026-03-02T02:00:00Z"),
    ("due", "2026-02-28"), ("contact", "ops@example.com"),
])
def test_well_formed_values_pass(form, field: str, value: str) -> None:  # type: ignore[no-untyped-def]
    assert check_values(form, {field: value}) == []


@pytest.mark.parametrize(("field", "value"), [
    ("link", "see the dashboard"), ("link", "grafana.example/d/abc"),
    ("seen_at", "yesterday"), ("seen_at", "2026-03-02"), ("seen_at", "2026-03-02T10:00:00"),
    ("due", "2026-13-01"), ("contact", "ops"),
])
def test_malformed_values_are_refused(form, field: str, value: str) -> None:  # type: ignore[no-untyped-def]
    (problem,) = check_values(form, {field: value})
    assert problem["field"] == field and problem["message"].startswith("not a valid ")
