"""Overlays (SPEC 3.1): merge rules, removal, chains, and errors that point at the overlay's own lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from itsm.interpreter import check_pack, load_pack

VALID = Path(__file__).resolve().parents[2] / "packs" / "valid"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_client_overlay_changes_exactly_five_things() -> None:
    base = load_pack(VALID / "overlay_base")
    client = load_pack(VALID / "overlay_client")
    assert client.id == "client" and str(client.name) == "Client desk"
    assert client.timezone == base.timezone == "Europe/Berlin"  # inherited: the overlay's pack left it out

    ticket = client.processes["ticket"]
    # 1. a new state, appended after the base's states, reachable through the new transitions
    assert [s.id for s in ticket.states] == [s.id for s in base.processes["ticket"].states] + ["awaiting_approval"]
    assert ticket.transition("approve").target == "in_progress"
    # 2. a field required on resolve: merged into the existing state item by id
    assert ticket.state("resolved").fields["resolution_notes"].required is True
    assert str(ticket.state("resolved").label) == "Resolved"
    # 3. one matrix cell, every other cell kept
    changed = {k: v for k, v in client.matrices["prio"].cells.items() if base.matrices["prio"].cells[k] != v}
    assert changed == {("low", "high"): "P2"}
    # 4. a holiday appended to the base's
    from datetime import date

    assert set(client.calendars["office"].holidays) == {date(2026, 1, 1), date(2026, 6, 15)}
    # 5. routing: a rule added, the default replaced by removal and a new default
    assert [r.id for r in client.routings["routes"].rules] == ["network", "software", "fallback_client"]
    # everything else is the base's
    assert client.sla_policies["sla"].clocks[0].targets == base.sla_policies["sla"].clocks[0].targets
    assert client.teams == base.teams


def test_scalars_and_plain_lists_replace(tmp_path: Path) -> None:
    write(tmp_path / "client", {"pack.yaml": (
        "kind: pack\nid: c\nformat: 1\nextends: ../base\n---\n"
        "kind: team\nid: network\ntier: L3\nroles: [agent, network_admin]\n")})
    (tmp_path / "base").symlink_to(VALID / "overlay_base")
    pack = load_pack(tmp_path / "client")
    assert pack.teams["network"].tier == "L3"
    assert pack.teams["network"].roles == ("agent", "network_admin")
    assert [m.user for m in pack.teams["network"].members] == ["nils"]  # untouched keys stay


def test_removing_a_document_and_a_chain_of_overlays(tmp_path: Path) -> None:
    (tmp_path / "base").symlink_to(VALID / "overlay_base")
    write(tmp_path, {
        "middle/pack.yaml": "kind: pack\nid: middle\nformat: 1\nextends: ../base\n---\n"
                            "kind: team\nid: extra\nroles: [agent]\n",
        "top/pack.yaml": "kind: pack\nid: top\nformat: 1\nextends: ../middle\n---\n"
                         "kind: team\nid: extra\nremove: true\n",
    })
    assert "extra" in load_pack(tmp_path / "middle").teams
    assert "extra" not in load_pack(tmp_path / "top").teams


def test_errors_in_merged_values_point_at_the_overlay_file(tmp_path: Path) -> None:
    (tmp_path / "base").symlink_to(VALID / "overlay_base")
    write(tmp_path, {"client/pack.yaml": "kind: pack\nid: c\nformat: 1\nextends: ../base\n",
                     "client/processes/ticket.yaml": "kind: process\nid: ticket\ntransitions:\n"
                                                     "  - {id: start, to: in_progres}\n"})
    spec, problems = check_pack(tmp_path / "client")
    assert spec is None
    assert [str(p) for p in problems] == [
        "processes/ticket.yaml:4:21: error: process/ticket: transitions[0].to: unknown state 'in_progres' "
        "(did you mean 'in_progress'?)"]


def test_errors_in_base_values_name_the_base_file_relative_to_the_overlay(tmp_path: Path) -> None:
    (tmp_path / "base").symlink_to(VALID / "overlay_base")
    write(tmp_path, {"client/pack.yaml": "kind: pack\nid: c\nformat: 1\nextends: ../base\n---\n"
                                         "kind: process\nid: ticket\nstates:\n  - {id: on_hold, remove: true}\n"})
    _, problems = check_pack(tmp_path / "client")
    lines = [str(p) for p in problems if p.is_error]
    assert lines and all(line.startswith("../base/pack.yaml:") for line in lines)
    assert all("(removed by the overlay at pack.yaml:9:27)" in line for line in lines)


@pytest.mark.parametrize("item", ["states", "transitions"])
def test_overlay_items_without_id_in_a_list_of_id_items_replace_the_list(tmp_path: Path, item: str) -> None:
    """A list whose items are not all mappings with ids is a plain list: the overlay replaces it."""
    (tmp_path / "base").symlink_to(VALID / "overlay_base")
    write(tmp_path, {"client/pack.yaml": "kind: pack\nid: c\nformat: 1\nextends: ../base\n---\n"
                                         f"kind: process\nid: ticket\n{item}: []\n"})
    _, problems = check_pack(tmp_path / "client")
    assert any(p.is_error for p in problems)  # an empty list of states or no transitions is invalid
