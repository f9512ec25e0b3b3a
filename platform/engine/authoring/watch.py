"""`itsm serve --watch`: republish a pack when its files change; a broken save keeps the last good version.

Polling file modification times (once a second) needs no platform-specific notification API and costs
nothing measurable for packs of a few hundred files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from itsm.interpreter import DefinitionError, check_pack

from ..runtime.definitions import Definitions, git_commit_of


@dataclass
class WatchResult:
    changed: bool
    published: str | None = None  # the version id now active, when the save was valid
    problems: list[DefinitionError] = field(default_factory=list)


class PackWatcher:
    def __init__(self, definitions: Definitions, pack: Path, report: Callable[[str], None] = print):
        self.definitions = definitions
        self.pack = pack
        self.report = report
        self._seen = self._fingerprint()
        self.last_problems: list[DefinitionError] = []

    def _fingerprint(self) -> dict[str, tuple[float, int]]:
        return {str(p): (p.stat().st_mtime, p.stat().st_size) for p in self.pack.rglob("*")
                if p.suffix in (".yaml", ".yml") and p.is_file()}

    def check_once(self) -> WatchResult:
        current = self._fingerprint()
        if current == self._seen:
            return WatchResult(False)
        self._seen = current
        spec, problems = check_pack(self.pack)
        self.last_problems = [p for p in problems if p.is_error]
        if spec is None:
            for problem in problems:
                self.report(str(problem))
            self.report(f"{self.pack}: not republished ({len(self.last_problems)} errors); "
                        f"the last good version keeps serving")
            return WatchResult(True, None, problems)
        result = self.definitions.publish(spec, git_commit=git_commit_of(self.pack))
        self.report(result.message)
        for line in result.warnings:
            self.report(line)
        return WatchResult(True, result.version, problems)

    def run(self, interval: float = 1.0, stop: threading.Event | None = None) -> None:  # pragma: no cover
        while stop is None or not stop.is_set():
            try:
                self.check_once()
            except Exception as exc:  # a refused publish (stranding) or a transient error: say it, go on
                self.report(f"{self.pack}: not republished: {exc}")
            time.sleep(interval)
