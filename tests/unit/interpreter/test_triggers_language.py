"""The language of triggers (SPEC 4): compiled triggers and action conditions, the names of each event, the
thresholds a warning may name, overlays that change one trigger by id, and `itsm diff` of triggers."""

from __future__ import annotations

from pathlib import Path

from itsm.interpreter import load_pack
from itsm.interpreter.context import numbers_compared
from itsm.interpreter.diff import diff_packs
from itsm.interpreter.loader import check_pack

ROOT = Path(__file__).resolve().parents[3]


def test_numbers_compared_with_a_name_are_read_from_the_syntax_tree() -> None:
    assert numbers_compared("threshold == 50", "threshold") == [50.0]
    assert numbers_compared("clock == 'x' and threshold in [50, 75.5]", "threshold") == [50.0, 75.5]
    assert numbers_compared("50 != threshold or priority == 'P1'", "threshold") == [50.0]
    assert numbers_compared("threshold >= 50", "threshold") == []  # a range names no single threshold
    assert numbers_compared("level == 50", "threshold") == []


def test_the_default_pack_keeps_its_requesters_informed_with_triggers() -> None:
    pack = load_pack(ROOT / "definitions")
    incident = pack.processes["incident"]
    assert [(t.id, t.on) for t in incident.triggers] == [
        ("created_notice", "create"), ("reply_notice", "comment"), ("waiting_notice", "transition"),
        ("resolve_children", "transition"), ("progress_update", "transition")]
    assert incident.triggers[1].when is not None and incident.triggers[1].when.names >= {"comment.public"}
    assert pack.teams["service_desk"].lead == "sam"
    assert incident.transition("progress_update").after is not None


def test_an_overlay_removes_a_trigger_by_id_and_diff_says_so() -> None:
    base = load_pack(ROOT / "definitions")
    client = load_pack(ROOT / "tests/packs/valid/recipes")
    assert [t.id for t in client.processes["incident"].triggers] == [
        "created_notice", "reply_notice", "waiting_notice", "resolve_children", "p1_chat", "lead_at_half"]
    lines = [change.line() for change in diff_packs(base, client)]
    assert "removed trigger incident.progress_update" in lines
    assert "added trigger incident.lead_at_half: on sla_warning" in lines
    assert [change.line() for change in diff_packs(base, base)] == []


def test_a_changed_trigger_condition_is_one_change(tmp_path: Path) -> None:
    (tmp_path / "pack.yaml").write_text(
        f"kind: pack\nid: client\nformat: 1\nextends: {ROOT / 'definitions'}\n---\n"
        "kind: process\nid: incident\ntriggers:\n"
        "  - {id: reply_notice, when: \"comment.public and requester.vip\"}\n")
    spec, problems = check_pack(tmp_path)
    assert spec is not None, [str(p) for p in problems]
    lines = [c.line() for c in diff_packs(load_pack(ROOT / "definitions"), spec)]
    assert lines == ["changed trigger incident.reply_notice: when: comment.public and comment.author != "
                     "requester.name -> comment.public and requester.vip"]
