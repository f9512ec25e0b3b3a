"""A process as a Mermaid `stateDiagram-v2`, with every transition labelled."""

from __future__ import annotations

import re

from .model import ProcessSpec
from .texts import Text, text_of

_UNSAFE = re.compile(r"[^\w .,()/+-]")


def mermaid(process: ProcessSpec, language: str | None = None) -> str:
    """The diagram with the labels in `language` (None: the pack's language)."""

    def _label(text: Text | str) -> str:
        """Mermaid labels end at ':' and break on '#' or ';': keep letters, digits and plain punctuation."""
        return _UNSAFE.sub(" ", text_of(text, language)).strip() or "?"

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
