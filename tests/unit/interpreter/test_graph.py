"""The process diagram (`itsm graph`): "any state" transitions drawn once, parallel arrows merged, the happy
path numbered; and `happy_path` checked at its line."""

from __future__ import annotations

from pathlib import Path

from itsm.interpreter import check_pack, load_pack
from itsm.interpreter.graph import happy_path, mermaid

ROOT = Path(__file__).resolve().parents[3]

PACK = """kind: pack
id: tiny
format: 1
---
kind: form
id: job
fields: [{id: title, type: string}]
---
kind: process
id: job
form: job
initial: open
{happy}states:
  - {id: open}
  - {id: doing}
  - {id: waiting}
  - {id: done, final: true}
  - {id: dropped, final: true}
transitions:
  - {id: start, from: open, to: doing}
  - {id: finish_now, from: open, to: done}
  - {id: wait, from: doing, to: waiting}
  - {id: nudge, from: doing, to: waiting}
  - {id: resume, from: waiting, to: doing}
  - {id: finish, from: [doing, waiting], to: done}
  - {id: drop, from: "*", to: dropped}
"""


def write(tmp_path: Path, happy: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "pack.yaml").write_text(PACK.replace("{happy}", happy), encoding="utf-8")
    return tmp_path


def arrows(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if "-->" in line]


def test_a_transition_from_every_open_state_is_one_arrow_from_a_dashed_any_state_box(tmp_path: Path) -> None:
    text = mermaid(load_pack(write(tmp_path)).processes["job"])
    assert 'state "any open state" as any_1' in text
    assert "any_1 --> dropped: Drop" in arrows(text)
    assert not any(line.startswith(("open --> dropped", "doing --> dropped")) for line in arrows(text))
    assert "class any_1 anyState" in text


def test_transitions_between_the_same_two_states_share_one_arrow(tmp_path: Path) -> None:
    text = mermaid(load_pack(write(tmp_path)).processes["job"])
    assert "doing --> waiting: Wait<br/>Nudge" in arrows(text)
    assert len([line for line in arrows(text) if line.startswith("doing --> waiting")]) == 1


def test_the_happy_path_is_the_shortest_way_unless_the_process_names_one(tmp_path: Path) -> None:
    process = load_pack(write(tmp_path / "a")).processes["job"]
    assert happy_path(process) == ["open", "done"]  # never through "any state", a timer or a loop
    assert "open --> done: (1) Finish now" in arrows(mermaid(process))
    named = load_pack(write(tmp_path / "b", "happy_path: [open, doing, done]\n")).processes["job"]
    text = mermaid(named)
    assert "open --> doing: (1) Start" in arrows(text) and "doing --> done: (2) Finish" in arrows(text)
    assert "waiting --> done: Finish" in arrows(text)  # the same transition off the path has no number
    assert "open --> done: Finish now" in arrows(text)
    assert "class open,doing,done happy" in text


def test_a_happy_path_that_is_not_a_way_through_is_an_error_at_its_line(tmp_path: Path) -> None:
    cases = {
        "happy_path: [open, doing, nowhere]\n": "unknown state 'nowhere'",
        "happy_path: [doing, done]\n": "starts at the initial state 'open', not 'doing'",
        "happy_path: [open, doing]\n": "ends in a final state; 'doing' is not final",
        "happy_path: [open, waiting, done]\n": "no transition goes from 'open' to 'waiting'",
    }
    for index, (happy, message) in enumerate(cases.items()):
        _, problems = check_pack(write(tmp_path / str(index), happy))
        assert [p.message for p in problems if message in p.message], (happy, [p.message for p in problems])
        assert all(p.position.line == 13 for p in problems if message in p.message), happy


def test_the_default_incident_process_reads_at_a_glance() -> None:
    process = load_pack(ROOT / "definitions").processes["incident"]
    text = mermaid(process)
    assert len(arrows(text)) <= 21  # 33 (37 with resolve_with_outage) with an arrow per source of every transition
    assert "any_2 --> cancelled: Cancel [service_desk]" in arrows(text)  # any_1: resolved with the outage
    assert [line.split(":")[0] for line in arrows(text) if ": (" in line] == [
        "new --> assigned", "assigned --> in_progress", "in_progress --> resolved", "resolved --> closed"]
    chinese = mermaid(load_pack(ROOT / "examples" / "gov-desk").processes["incident"])
    assert "任一未结束状态" in chinese and "除待确认、待回访外任一未结束状态" in chinese
