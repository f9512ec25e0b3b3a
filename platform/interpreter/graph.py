"""A process as a Mermaid `stateDiagram-v2`, drawn so that a process owner reads it at a glance.

Three things keep the default incident process (40 transitions written out) readable:
- a transition from many states into a final one (cancel, withdraw: `from: "*"`) is drawn once, from a
  dashed box "any open state" (or "any open state but Resolved"), not once per state;
- transitions between the same two states are one arrow with one line per transition;
- the happy path (the process's `happy_path`, else the shortest way from the initial state to a final state
  that is not reached only from "any state", through transitions that people fire, no timers, no loops) is
  numbered (1), (2), ... on its arrows and its states are drawn bold.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from itertools import pairwise

from .model import ProcessSpec, StateSpec, TransitionSpec
from .texts import Text, text_of

_UNSAFE = re.compile(r"[^\w .,()/+、-]")
WIDE = 3  # a transition from at least this many states into a final state is drawn once, from "any state"
WIDER = 4  # ... and one from at least this many into any state
_WORDS = {  # the diagram's own words (the rest are the pack's labels)
    "any": {"en": "any open state", "zh-CN": "任一未结束状态"},
    "but": {"en": "any open state but {states}", "zh-CN": "除{states}外任一未结束状态"},
    "after": {"en": "after {duration}", "zh-CN": "{duration}后"},
}


def _word(key: str, language: str | None, **values: str) -> str:
    primary = (language or "en").replace("_", "-").lower().split("-", 1)[0]
    table = _WORDS[key]
    text = table["zh-CN"] if primary == "zh" else table["en"]
    return text.format(**values)


def mermaid(process: ProcessSpec, language: str | None = None) -> str:
    """The diagram with the labels in `language` (None: the pack's language)."""

    def _label(text: Text | str) -> str:
        """Mermaid labels end at ':' and break on '#' or ';': keep letters, digits and plain punctuation."""
        return _UNSAFE.sub(" ", text_of(text, language)).strip() or "?"

    states = {state.id: state for state in process.states}
    open_states = [state.id for state in process.states if not state.final]
    wide = [t for t in process.transitions if _is_wide(t, states, open_states)]
    happy = list(process.happy_path) or happy_path(process)
    language = language or getattr(process.title, "language", None)
    steps = {pair: i for i, pair in enumerate(pairwise(happy), start=1)}

    def transition_label(transition: TransitionSpec, source: str) -> str:
        label = _label(transition.label)
        if transition.after is not None:
            label += f" ({_UNSAFE.sub(' ', _word('after', language, duration=transition.after.text))})"
        if transition.roles:
            label += f" [{', '.join(transition.roles)}]"
        step = steps.get((source, transition.target))
        if step is not None and transition.after is None and source != transition.target:
            label = f"({step}) {label}"
        return label

    lines = ["stateDiagram-v2", f"    %% {_label(process.title)} ({process.id})"]
    for state in process.states:
        lines.append(f"    state \"{_label(state.label)}\" as {state.id}")
    groups: dict[tuple[str, ...], str] = {}  # the sources of wide transitions -> their "any state" box
    for transition in wide:
        key = tuple(s for s in open_states if s in transition.sources)
        if key not in groups:
            groups[key] = f"any_{len(groups) + 1}"
            missing = [_label(states[s].label) for s in open_states if s not in key]
            together = "、" if _word("any", language) != _WORDS["any"]["en"] else ", "
            name = _word("any", language) if not missing else _word("but", language, states=together.join(missing))
            lines.append(f"    state \"{_UNSAFE.sub(' ', name).strip()}\" as {groups[key]}")
    lines.append(f"    [*] --> {process.initial}")

    edges: dict[tuple[str, str], list[str]] = {}  # (from, to) -> labels, in the pack's order
    for transition in process.transitions:
        if transition in wide:
            box = groups[tuple(s for s in open_states if s in transition.sources)]
            edges.setdefault((box, transition.target), []).append(transition_label(transition, box))
            continue
        for source in transition.sources:
            edges.setdefault((source, transition.target), []).append(transition_label(transition, source))
    for (source, target), labels in edges.items():
        labels.sort(key=lambda label: not label.startswith("("))  # a numbered step first on its arrow
        lines.append(f"    {source} --> {target}: {'<br/>'.join(labels)}")
    for state in process.states:
        if state.final:
            lines.append(f"    {state.id} --> [*]")
    if len(happy) > 1:
        lines.append("    classDef happy font-weight:bold,stroke-width:3px")
        lines.append(f"    class {','.join(happy)} happy")
    if groups:
        lines.append("    classDef anyState fill:none,stroke-dasharray:4 4")
        lines.append(f"    class {','.join(groups.values())} anyState")
    return "\n".join(lines) + "\n"


def _is_wide(transition: TransitionSpec, states: Mapping[str, StateSpec], open_states: list[str]) -> bool:
    """Drawn once from "any state": from WIDE or more states into a final one (cancel, withdraw), or from
    WIDER or more into any (resolved with an outage)."""
    target = states.get(transition.target)
    return (target is not None and all(source in open_states for source in transition.sources)
            and (len(transition.sources) >= WIDER or (len(transition.sources) >= WIDE and target.final)))


def happy_path(process: ProcessSpec) -> list[str]:
    """The states of the shortest way from the initial state to a final one, through transitions people fire
    (no timed ones, no loops, none drawn from "any state"); ties go to the transition written first. Empty
    when no final state can be reached that way."""
    states = {state.id: state for state in process.states}
    open_states = [state.id for state in process.states if not state.final]
    step: dict[str, list[str]] = {}
    for transition in process.transitions:
        if transition.after is not None or _is_wide(transition, states, open_states):
            continue
        for source in transition.sources:
            if source != transition.target:
                step.setdefault(source, []).append(transition.target)
    came_from: dict[str, str | None] = {process.initial: None}
    queue = deque([process.initial])
    while queue:
        here = queue.popleft()
        if states[here].final:
            path = [here]
            while (previous := came_from[path[-1]]) is not None:
                path.append(previous)
            return path[::-1]
        for there in step.get(here, []):
            if there not in came_from:
                came_from[there] = here
                queue.append(there)
    return []
