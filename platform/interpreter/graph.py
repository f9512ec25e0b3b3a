"""A process as a Mermaid `stateDiagram-v2`, with every transition labelled."""

from __future__ import annotations

import re

from .model import ProcessSpec

_UNSAFE = re.compile(r"[^\w .,()/+-]")


def _label(text: str) -> str:
    """Mermaid labels end at ':' and break on '#' or ';': keep letters, digits and plain punctuation."""
    return _UNSAFE.sub(" ", text).strip() or "?"


def mermaid(process: ProcessSpec) -> str:
    lines = ["stateDiagram-v2", f"    %% {_label(process.title)} ({process.id})"]
    for state in process.states:
        lines.append(f"    state \"{_label(state.label)}\" as {state.id}")
    lines.append(f"    [*] --> {process.initial}")
    for transition in process.transitions:
        label = _label(transition.label)
        if transition.after is not None:
            label += f" (after {transition.after.text})"
        if transition.roles:
            label += f" [{', '.join(transition.roles)}]"
        for source in transition.sources:
            lines.append(f"    {source} --> {transition.target}: {label}")
    for state in process.states:
        if state.final:
            lines.append(f"    {state.id} --> [*]")
    return "\n".join(lines) + "\n"
