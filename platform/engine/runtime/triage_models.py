"""Triage models as the engine serves them (SPEC 16): the newest stored model of each process, loaded once
per training, and what it suggests for a text under the active pack.

A process's model is found by one index probe per request (`store.triage.latest_id`) and kept in memory while
it stays the newest, so every host serves the training the database holds. Suggestions are only of values
the pack still has (a choice removed since the training is never offered) and at the pack's
`min_confidence` or above; `apply` sets an empty field at create when the best value clears its `above`,
and the create is followed by a `triage` event naming the model (`Engine.create`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from itsm.interpreter import model as m
from itsm.store import triage as stored

if TYPE_CHECKING:  # itsm.triage (numpy) is imported when a model is first read: an eighth of a second
    from itsm.triage import Suggestion, TriageModel

from .documents import document

log = logging.getLogger("itsm.triage")
MAX_TEXT = 20_000  # characters of a text a suggestion reads


@dataclass(frozen=True)
class Served:
    """A stored model, loaded: its row id, the version it was trained under, when, and the model."""

    id: int
    definitions_version: str
    trained_at: datetime
    model: TriageModel

    def name(self) -> str:
        """How events and pages name it: `triage model 12`."""
        return f"triage model {self.id}"


class TriageModels:
    """The loaded model of each process; one per engine (web worker, worker process, CLI)."""

    def __init__(self) -> None:
        self._loaded: dict[str, Served] = {}
        self._lock = threading.Lock()

    def current(self, session: Session, process: str) -> Served | None:
        """The newest stored model of `process`, or None (no training yet, or a row that is not a model)."""
        newest = stored.latest_id(session, process)
        if newest is None:
            return None
        hit = self._loaded.get(process)
        if hit is not None and hit.id == newest:
            return hit
        with self._lock:
            hit = self._loaded.get(process)
            if hit is not None and hit.id == newest:
                return hit
            row = stored.latest(session, process)
            data = stored.data_of(session, newest)
            if row is None or data is None:
                return None
            from itsm.triage import TriageModel

            try:
                model = TriageModel.from_bytes(data)
            except ValueError as exc:
                log.error("triage model %s of %s cannot be read (%s): no suggestions until it is trained again",
                          newest, process, exc)
                return None
            served = Served(row.id, row.definitions_version, row.trained_at, model)
            self._loaded[process] = served
            return served


def text_of(form: m.FormSpec, fields: Mapping[str, Any]) -> str:
    """What a model reads of a ticket: its title and body fields (`documents.document`), as search does."""
    title, body = document(form, fields)
    return f"{title}\n{body}".strip()[:MAX_TEXT]


def allowed_values(pack: m.PackSpec, process: m.ProcessSpec, target: str) -> tuple[str, ...]:
    """The values the pack has now for a target: a field's choices, or the pack's teams."""
    if target == m.TEAM_TARGET:
        return tuple(pack.teams)
    spec = pack.forms[process.form].by_id.get(target)
    return spec.choice_values if spec is not None else ()


def suggestions(pack: m.PackSpec, process: m.ProcessSpec, served: Served | None, text: str
                ) -> dict[str, list[Suggestion]]:
    """Per target of the process's `triage`, the values at `min_confidence` or above, best first (empty lists
    without a model, for a target it did not learn, or a text it has no word for)."""
    spec = process.triage
    if spec is None:
        return {}
    out: dict[str, list[Suggestion]] = {target: [] for target in spec.targets}
    if served is None or not text.strip():
        return out
    vector = served.model.vector(text)
    if not vector:
        return out
    for target in spec.targets:
        if target in served.model.targets:
            out[target] = served.model.suggest_vector(vector, target, minimum=spec.min_confidence,
                                                      allowed=allowed_values(pack, process, target), text=text)
    return out


def to_apply(pack: m.PackSpec, process: m.ProcessSpec, served: Served | None,
             values: Mapping[str, Any]) -> dict[str, Suggestion]:
    """The fields `apply` sets on a new ticket with `values`: those left empty whose best value is above
    their threshold (and still a choice of the field)."""
    spec = process.triage
    if spec is None or not spec.apply or served is None:
        return {}
    empty = [name for name in spec.apply if values.get(name) in (None, "")]
    if not empty:
        return {}
    found = suggestions(pack, process, served, text_of(pack.forms[process.form], values))
    return {name: best[0] for name in empty if (best := found.get(name)) and best[0].confidence > spec.apply[name]}


def applied_note(served: Served, applied: Mapping[str, Suggestion]) -> dict[str, Any]:
    """The data of the `triage` event that follows a create whose fields the model set."""
    return {"model": served.id, "name": served.name(), "definitions_version": served.definitions_version,
            "trained_at": served.trained_at.isoformat(),
            "fields": {name: {"value": s.value, "confidence": s.confidence, "words": list(s.words)}
                       for name, s in applied.items()}}
