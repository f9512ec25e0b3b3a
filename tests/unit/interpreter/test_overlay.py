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


# -- positions, one file per change request, errors in the author's words (issue 14) ---------------------

def client_of(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "base").symlink_to(VALID / "overlay_base")
    return write(tmp_path / "client", {"pack.yaml": "kind: pack\nid: c\nformat: 1\nextends: ../base\n", **files})


def test_a_new_routing_rule_goes_before_or_after_a_named_rule(tmp_path: Path) -> None:
    client = client_of(tmp_path, {"routing/access.yaml": (
        "kind: routing\nid: routes\nrules:\n"
        "  - {id: access, before: network, when: \"category == 'software'\", team: desk}\n"
        "  - {id: late, after: network, when: \"impact == 'low'\", team: network}\n")})
    pack = load_pack(client)
    assert [r.id for r in pack.routings["routes"].rules] == ["access", "network", "late", "fallback"]


def test_an_existing_item_moves_where_the_overlay_places_it(tmp_path: Path) -> None:
    client = client_of(tmp_path, {"processes/order.yaml": (
        "kind: process\nid: ticket\nstates:\n  - {id: on_hold, after: resolved, label: Waiting}\n")})
    ticket = load_pack(client).processes["ticket"]
    assert [s.id for s in ticket.states] == ["new", "in_progress", "resolved", "on_hold", "closed"]
    assert str(ticket.state("on_hold").label) == "Waiting"
    assert ticket.state("on_hold").fields["hold_reason"].required is True  # merged, not replaced


def test_placing_an_item_next_to_one_the_list_lacks_is_an_error_at_the_overlay_line(tmp_path: Path) -> None:
    client = client_of(tmp_path, {"routing/access.yaml": (
        "kind: routing\nid: routes\nrules:\n"
        "  - {id: access, before: netwrk, when: \"category == 'software'\", team: desk}\n"
        "  - {id: vip, before: x, after: y, when: \"requester.vip\", team: desk}\n")})
    spec, problems = check_pack(client)
    assert spec is None
    assert [str(p) for p in problems] == [
        "routing/access.yaml:4:26: error: routing/routes: rules[0].before: no item 'netwrk' to place 'access' "
        "before (did you mean 'network'?)",
        "routing/access.yaml:5:26: error: routing/routes: rules[1].after: an item goes either before or after "
        "another one, not both",
    ]


def test_several_documents_of_one_id_in_an_overlay_merge_in_path_order(tmp_path: Path) -> None:
    """One file per change request: each names the same routing and the same form; later paths win."""
    client = client_of(tmp_path, {
        "changes/cr_101_access.yaml": (
            "kind: routing\nid: routes\nrules:\n"
            "  - {id: access, before: network, when: \"category == 'software'\", team: desk}\n"
            "---\nkind: team\nid: desk\nname: Service desk (CR 101)\n"),
        "changes/cr_102_vip.yaml": (
            "kind: routing\nid: routes\nrules:\n"
            "  - {id: vip, before: access, when: \"requester.vip\", team: network}\n"
            "---\nkind: team\nid: desk\nname: Service desk (CR 102)\ntier: L2\n"),
    })
    pack, problems = check_pack(client)
    assert pack is not None, [str(p) for p in problems]
    assert [r.id for r in pack.routings["routes"].rules] == ["vip", "access", "network", "fallback"]
    assert str(pack.teams["desk"].name) == "Service desk (CR 102)" and pack.teams["desk"].tier == "L2"
    assert [m.user for m in pack.teams["desk"].members] == ["lars"]


def test_two_documents_of_one_id_in_a_base_pack_stay_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"pack.yaml": (VALID / "overlay_base" / "pack.yaml").read_text(encoding="utf-8"),
                     "teams/again.yaml": "kind: team\nid: desk\nroles: [agent]\n"})
    _, problems = check_pack(tmp_path)
    assert [str(p) for p in problems] == [
        "teams/again.yaml:2:5: error: team/desk: id: duplicate id 'desk': team 'desk' is already defined at "
        "pack.yaml:69"]


def test_a_warning_at_zero_percent_says_why_in_the_authors_words(tmp_path: Path) -> None:
    client = client_of(tmp_path, {"sla/warn.yaml": (
        "kind: sla_policy\nid: sla\nclocks:\n  - id: resolution\n    warn_at: [0%, 50%, 100%]\n")})
    _, problems = check_pack(client)
    assert [str(p) for p in problems] == [
        "sla/warn.yaml:5:15: error: sla_policy/sla: clocks[0].warn_at[0]: '0%' would warn as soon as the clock "
        "starts: a warning threshold is more than 0% (e.g. 50%)",
        "sla/warn.yaml:5:24: error: sla_policy/sla: clocks[0].warn_at[2]: '100%' is the deadline itself: a "
        "warning threshold is less than 100% (what happens at the deadline goes in on_breach)",
    ]


def test_an_empty_matrix_cell_is_named_not_called_level_none(tmp_path: Path) -> None:
    client = client_of(tmp_path, {"priority/prio.yaml": (
        "kind: priority_matrix\nid: prio\nmatrix:\n  low: {high: P3, medium: , low: P5}\n  medium:\n")})
    _, problems = check_pack(client)
    assert [str(p) for p in problems] == [
        "priority/prio.yaml:4:27: error: priority_matrix/prio: matrix.low.medium: no level for impact=low, "
        "urgency=medium: the cell is empty (write one of P1, P2, P3, P4, P5)",
        "priority/prio.yaml:5:3: error: priority_matrix/prio: matrix.medium: no levels for impact=medium: the "
        "value is empty (write a mapping of urgency values, {high: ..., medium: ..., low: ...})",
    ]


def test_a_choice_the_overlay_adds_without_matrix_cells_is_blamed_on_the_overlay_line(tmp_path: Path) -> None:
    client = client_of(tmp_path, {"forms/ticket.yaml": (
        "kind: form\nid: ticket\nfields:\n"
        "  - id: impact\n"
        "    choices: [critical, high, medium, low]\n")})
    _, problems = check_pack(client)
    assert [str(p) for p in problems] == [
        "forms/ticket.yaml:5:15: error: priority_matrix/prio: matrix: incomplete matrix: no levels for "
        "impact=critical: 'critical' is a choice of impact this overlay adds here, so the matrix needs levels "
        "for it: write them in the overlay (kind: priority_matrix, id: prio; the matrix is at "
        "../base/pack.yaml:43:3)",
    ]


def test_cells_the_overlay_writes_for_its_new_choice_make_the_pack_valid(tmp_path: Path) -> None:
    client = client_of(tmp_path, {
        "forms/ticket.yaml": ("kind: form\nid: ticket\nfields:\n"
                              "  - {id: urgency, choices: [critical, high, medium, low]}\n"),
        "priority/prio.yaml": ("kind: priority_matrix\nid: prio\nmatrix:\n"
                               "  high: {critical: P1}\n  medium: {critical: P1}\n"),
    })
    _, problems = check_pack(client)
    # the one row the overlay forgot is still the overlay's to fix, at its own choice
    assert [str(p) for p in problems] == [
        "forms/ticket.yaml:4:29: error: priority_matrix/prio: matrix.low: incomplete matrix: no level for "
        "impact=low, urgency=critical: 'critical' is a choice of urgency this overlay adds here, so the matrix "
        "needs a level for it: write it in the overlay (kind: priority_matrix, id: prio; the matrix is at "
        "../base/pack.yaml:45:3)",
    ]


def test_a_transitions_after_is_its_delay_so_a_transition_is_placed_with_before(tmp_path: Path) -> None:
    client = client_of(tmp_path, {"processes/stale.yaml": (
        "kind: process\nid: ticket\ntransitions:\n"
        "  - {id: stale_close, before: close, from: resolved, to: closed, after: 2bd}\n")})
    ticket = load_pack(client).processes["ticket"]
    assert [t.id for t in ticket.transitions][-2:] == ["stale_close", "close"]
    assert ticket.transition("stale_close").after is not None and ticket.transition("stale_close").after.text == "2bd"
