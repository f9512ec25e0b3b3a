"""Definition errors: one type for every problem found in a pack, formatted as SPEC 3.2 says."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple


class Position(NamedTuple):
    """A place in a pack file: path relative to the pack root, 1-based line and column (a tuple: every
    value of a pack gets one, so they must be cheap to make)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class DefinitionError:
    """One problem in a pack: `FILE:LINE:COL: error: KIND/ID: PATH: MESSAGE`."""

    position: Position
    subject: str  # "process/incident"; "-" when the document could not be read
    path: str  # "transitions[3].to"; "-" for the document itself
    message: str
    severity: str = "error"  # or "warning"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.position.file, self.position.line, self.position.col, self.path, self.message)

    def __str__(self) -> str:
        return f"{self.position}: {self.severity}: {self.subject}: {self.path}: {self.message}"


class PackError(Exception):
    """Raised when a pack does not load; carries every problem found, sorted."""

    def __init__(self, problems: Iterable[DefinitionError]):
        self.problems = sorted(problems, key=DefinitionError.sort_key)
        errors = [p for p in self.problems if p.is_error]
        super().__init__(f"{len(errors)} error(s) in pack")

    @property
    def errors(self) -> list[DefinitionError]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[DefinitionError]:
        return [p for p in self.problems if not p.is_error]


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' hint, or '' when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def format_path(path: Iterable[str | int]) -> str:
    """('transitions', 3, 'to') -> 'transitions[3].to'; () -> '-'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "-"
