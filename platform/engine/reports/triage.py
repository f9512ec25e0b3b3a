"""Triage assistance (SPEC 16): learning each process's model from its solved tickets, measuring it, and
answering `POST /api/triage` and `GET /api/tickets/N/triage`.

A process learns from its solved tickets (those known-error search suggests: resolved, or closed other than
cancelled), the newest MAX_TRAINING of them: their title and body text, the values their choice fields ended
with (the values agents chose) and the team that held them when solved. Fewer than MIN_TRAINING solved
tickets train nothing: a desk without history gets no suggestions rather than wrong ones. The model
itself is `itsm.triage` (pure); the store keeps it with the definitions version it was trained under.

Similar tickets are found by the full-text index (`itsm.store.search`, the known-error search) among the
tickets the caller may see (`queue.visible_to`, the queue's own condition), solved ones first, and scored
by the cosine of their texts as the model reads them (0..1).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from itsm.interpreter import model as m
from itsm.store import triage as stored
from itsm.store.models import Ticket
from itsm.store.search import newest_matches
from itsm.triage import Suggestion, TriageModel, fit
from itsm.triage.model import Vector, key_terms, plain_similarity, plain_vector, similarity

from ..boundary import guarded
from ..errors import N_, BadRequest
from ..runtime.actors import Actor
from ..runtime.documents import title_of
from ..runtime.triage_models import MAX_TEXT, Served, suggestions, text_of
from ..runtime.visibility import viewer_of, visible_to
from .known_errors import knowledge, query_terms

if TYPE_CHECKING:
    from ..runtime.engine import Engine

log = logging.getLogger("itsm.triage")
MIN_TRAINING = 30  # solved tickets of a process below which no model is trained
MAX_TRAINING = 50_000  # the newest solved tickets a training reads (time and memory stay bounded)
RETRAIN_GROWTH = 0.10  # the worker retrains when solved tickets grew by this share since the last training ...
RETRAIN_AT_LEAST = 100  # ... and by at least this many (docs/triage.md)
HOLD_OUT = 5  # `evaluate`: every 5th solved ticket (by id) is held out, a fifth
SIMILAR = 5
CANDIDATES = 10  # full-text matches re-scored per group (solved, others) for `similar`
KEY_WORDS = (3, 2, 1)  # `similar` asks for tickets holding the text's first three key words, then two, then one
COMPARED = 2_000  # characters of a candidate's text compared with the query's


@dataclass
class Training:
    process: str
    model_id: int | None = None  # None: not trained
    tickets: int = 0
    targets: dict[str, int] = field(default_factory=dict)  # target -> labelled tickets learned from
    seconds: float = 0.0
    size: int = 0  # bytes stored
    reason: str = ""  # why not trained

    def line(self) -> str:
        if self.model_id is None:
            return f"{self.process}: not trained: {self.reason}"
        learned = ", ".join(f"{t} ({n})" for t, n in self.targets.items()) or "nothing"
        return (f"{self.process}: model {self.model_id} from {self.tickets} solved tickets in {self.seconds:.1f} s, "
                f"{self.size / 1024:.0f} KiB; suggests {learned}")


def triage_processes(pack: m.PackSpec, process: str | None = None) -> list[m.ProcessSpec]:
    """The processes that declare `triage` (only `process`, when named: 400 if it has none)."""
    if process is None:
        return [p for p in pack.processes.values() if p.triage is not None]
    found = pack.processes.get(process)
    if found is None:
        raise BadRequest(N_("no process '%(process)s'", process=process),
                         [{"field": "process", "message": N_("unknown process")}])
    if found.triage is None:
        raise BadRequest(N_("process '%(process)s' declares no triage", process=process),
                         [{"field": "process", "message": N_("no triage: in its YAML")}])
    return [found]


def _examples(engine: Engine, process: m.ProcessSpec) -> tuple[list[int], list[str], dict[str, list[str | None]], int]:
    """(ids, texts, labels per target, solved tickets there are) of the newest solved tickets, oldest first."""
    pack = engine.definitions.active().pack
    assert process.triage is not None
    form = pack.forms[process.form]
    where = knowledge(process.id).conditions()
    with engine.db.read() as session:
        eligible = stored.count(session, where)
        rows = stored.solved(session, where, MAX_TRAINING)[::-1]
    ids, texts = [], []
    labels: dict[str, list[str | None]] = {target: [] for target in process.triage.targets}
    for row in rows:
        fields = row.fields or {}
        text = text_of(form, fields)
        if not text:
            continue
        ids.append(row.id)
        texts.append(text)
        for target in process.triage.targets:
            value = row.team if target == m.TEAM_TARGET else fields.get(target)
            allowed = pack.teams if target == m.TEAM_TARGET else form.field(target).choice_values
            labels[target].append(value if isinstance(value, str) and value in allowed else None)
    return ids, texts, labels, eligible


@guarded
def train(engine: Engine, process: str | None = None, by: str = "system") -> list[Training]:
    """Train and store a model for each triage process (or `process`)."""
    compiled = engine.definitions.active()
    out = []
    for spec in triage_processes(compiled.pack, process):
        result = Training(spec.id)
        started = time.perf_counter()
        ids, texts, labels, eligible = _examples(engine, spec)
        if len(texts) < MIN_TRAINING:
            result.reason = f"{len(texts)} solved tickets with text, fewer than {MIN_TRAINING}"
            out.append(result)
            continue
        model = fit(texts, labels, info={"process": spec.id, "tickets": len(texts)})
        if not model.targets:
            result.reason = "no field or team has enough labelled tickets with two values or more"
            out.append(result)
            continue
        data = model.to_bytes()
        result.seconds = time.perf_counter() - started
        result.tickets, result.size = len(texts), len(data)
        result.targets = {name: target.examples for name, target in model.targets.items()}
        with engine.db.write() as session:
            result.model_id = stored.save(
                session, process=spec.id, definitions_version=compiled.id, trained_at=engine.clock(), trained_by=by,
                tickets=len(texts), eligible=eligible, targets=list(model.targets),
                metrics={"seconds": round(result.seconds, 3), "bytes": len(data), "features": len(model.vocabulary),
                         "examples": result.targets, "last_ticket": ids[-1]},
                data=data)
        out.append(result)
    return out


@dataclass(frozen=True)
class Measured:
    """Held-out accuracy of one target: top-1, the majority-class baseline, and at `min_confidence`."""

    target: str
    held_out: int
    accuracy: float
    baseline: float
    shown: float  # share of held-out tickets whose best value reaches min_confidence
    shown_accuracy: float  # how often that value is right

    def line(self) -> str:
        return (f"  {self.target}: top-1 {self.accuracy:.3f} on {self.held_out} held out (majority class "
                f"{self.baseline:.3f}); at min_confidence {self.shown:.0%} get a suggestion, {self.shown_accuracy:.3f} "
                f"right")


@guarded
def evaluate(engine: Engine, process: str | None = None) -> dict[str, list[Measured] | str]:
    """Per triage process, the held-out accuracy of a model trained as `train` would on four fifths of its
    solved tickets and measured on the rest (every fifth by id); nothing is stored."""
    pack = engine.definitions.active().pack
    out: dict[str, list[Measured] | str] = {}
    for spec in triage_processes(pack, process):
        assert spec.triage is not None
        _, texts, labels, _ = _examples(engine, spec)
        if len(texts) < MIN_TRAINING:
            out[spec.id] = f"{len(texts)} solved tickets with text, fewer than {MIN_TRAINING}: nothing to measure"
            continue
        test = [i for i in range(len(texts)) if i % HOLD_OUT == HOLD_OUT - 1]
        learn = [i for i in range(len(texts)) if i % HOLD_OUT != HOLD_OUT - 1]
        model = fit([texts[i] for i in learn], {t: [v[i] for i in learn] for t, v in labels.items()})
        measured = []
        for target, values in labels.items():
            cases = [i for i in test if values[i] is not None]
            seen = [values[i] for i in learn if values[i] is not None]
            if target not in model.targets or not cases or not seen:
                continue
            majority = Counter(seen).most_common(1)[0][0]
            best = [_best(model, texts[i], target) for i in cases]
            shown = [(b, values[i]) for b, i in zip(best, cases, strict=True)
                     if b is not None and b.confidence >= spec.triage.min_confidence]
            right = sum(b is not None and b.value == values[i] for b, i in zip(best, cases, strict=True))
            measured.append(Measured(
                target, len(cases), right / len(cases), sum(values[i] == majority for i in cases) / len(cases),
                len(shown) / len(cases), sum(b.value == truth for b, truth in shown) / len(shown) if shown else 0.0))
        out[spec.id] = measured
    return out


def _best(model: TriageModel, text: str, target: str) -> Suggestion | None:
    found = model.suggest(text, target, limit=1, explain=0)
    return found[0] if found else None


# -- retraining by the worker ----------------------------------------------------------------------------

def retrain_due(engine: Engine) -> list[Training]:
    """Train the processes whose solved tickets grew enough since their last training (RETRAIN_GROWTH, at
    least RETRAIN_AT_LEAST), that have none yet and MIN_TRAINING solved tickets, or whose model suggests other
    targets than the pack now asks for."""
    compiled = engine.definitions.active()
    due = []
    for spec in triage_processes(compiled.pack):
        assert spec.triage is not None
        where = knowledge(spec.id).conditions()
        with engine.db.read() as session:
            last = stored.latest(session, spec.id)
            eligible = stored.count(session, where)
        if last is None:
            if eligible >= MIN_TRAINING:
                due.append(spec.id)
        elif set(last.targets) != set(spec.triage.targets) and eligible >= MIN_TRAINING:
            due.append(spec.id)
        elif eligible - last.eligible >= max(RETRAIN_AT_LEAST, RETRAIN_GROWTH * last.eligible):
            due.append(spec.id)
    results = []
    for process in due:
        for result in train(engine, process, by="worker"):
            log.info("triage: %s", result.line())
            results.append(result)
    return results


# -- suggestions ---------------------------------------------------------------------------------------

def _listed(items: Sequence[Suggestion]) -> list[dict[str, Any]]:
    return [{"value": s.value, "confidence": s.confidence, "words": list(s.words)} for s in items]


def _answer(engine: Engine, actor: Actor, process: m.ProcessSpec, fields: Mapping[str, Any],
            exclude: str | None) -> dict[str, Any]:
    pack = engine.definitions.active().pack
    form = pack.forms[process.form]
    text = text_of(form, {k: v for k, v in fields.items() if isinstance(v, str)})
    with engine.db.read() as session:
        served = engine.triage.current(session, process.id) if process.triage is not None else None
    found = suggestions(pack, process, served, text)
    team = found.pop(m.TEAM_TARGET, [])
    return {"fields": {name: _listed(items) for name, items in found.items()},
            "team": _listed(team), "similar": similar(engine, actor, process, text, served, exclude=exclude)}


@guarded
def triage_text(engine: Engine, actor: Actor, process: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """`POST /api/triage`: suggestions for what a person is typing into `process`'s form (400 for an unknown
    process; a process without `triage` gets similar tickets only)."""
    spec = engine.definitions.active().pack.processes.get(process)
    if spec is None:
        raise BadRequest(N_("no process '%(process)s'", process=process),
                         [{"field": "process", "message": N_("unknown process")}])
    return _answer(engine, actor, spec, fields, None)


@guarded
def triage_ticket(engine: Engine, actor: Actor, number: str) -> dict[str, Any]:
    """`GET /api/tickets/N/triage`: suggestions for a ticket's own text (404 when the caller may not see it);
    its similar tickets leave it out."""
    with engine.db.read() as session:
        work = engine.open(session, actor, number)
        fields = dict(work.fields)
        process = work.process
    return _answer(engine, actor, process, fields, number)


def similar(engine: Engine, actor: Actor, process: m.ProcessSpec, text: str, served: Served | None = None, *,
            exclude: str | None = None, limit: int = SIMILAR, solved_only: bool = False) -> list[dict[str, Any]]:
    """Tickets of `process` like `text` that `actor` may see: solved ones first, then open ones (unless
    `solved_only`), each group by similarity; never a cancelled ticket, nor `exclude`.

    Candidates are the newest tickets whose public text holds the text's three key words, or failing enough of
    them its two, then its first (`key_terms`, `store.search.newest_matches`: reading the newest matches, not
    ranking them all, so the cost stays flat as history grows), re-scored by the cosine of the two texts."""
    reader = served.model if served is not None else None
    text = text[:MAX_TEXT]
    keys = query_terms(" ".join(reader.key_terms(text) if reader is not None else key_terms(text)))
    if not keys:
        return []
    pack = engine.definitions.active().pack
    solved = knowledge(process.id, exclude)
    groups = [(True, solved.conditions())]
    if not solved_only:
        unsolved = [Ticket.process == process.id, Ticket.is_open.is_(True),
                    Ticket.state != solved.resolved_state]
        if exclude is not None:
            unsolved.append(Ticket.number != exclude)
        groups.append((False, unsolved))
    form = pack.forms[process.form]
    query = _vector(reader, text)
    out: list[dict[str, Any]] = []
    with engine.db.read() as session:
        visible = visible_to(viewer_of(session, actor, pack))  # SPEC 14: the organization scopes too
        for is_solved, where in groups:
            wanted = limit - len(out)
            if wanted <= 0:
                break
            conditions = [*where, visible] if visible is not None else where
            found: dict[int, Ticket] = {}
            for count in KEY_WORDS:
                if len(keys) < count and count != KEY_WORDS[-1]:
                    continue
                for ticket in newest_matches(session, keys[:count], conditions, CANDIDATES):
                    found.setdefault(ticket.id, ticket)
                if len(found) >= wanted:
                    break
            scored = []
            for ticket in found.values():
                fields = ticket.fields or {}
                score = _similarity(query, _vector(reader, text_of(form, fields)[:COMPARED]))
                if score > 0:
                    scored.append((score, ticket.id, {
                        "number": ticket.number, "score": round(score, 3), "title": title_of(form, fields),
                        "state": ticket.state, "solved": is_solved}))
            scored.sort(key=lambda item: (-item[0], -item[1]))
            out.extend(item for _, _, item in scored[:wanted])
    return out


def _vector(model: TriageModel | None, text: str) -> Vector | dict[str, float]:
    """A text as the served model reads it; without a model, its features with equal weights (the same
    n-grams, no idf), so a desk without a model still gets similar tickets scored 0..1."""
    return model.vector(text) if model is not None else plain_vector(text)


def _similarity(a: Vector | dict[str, float], b: Vector | dict[str, float]) -> float:
    if isinstance(a, Vector) and isinstance(b, Vector):
        return similarity(a, b)
    assert isinstance(a, dict) and isinstance(b, dict)
    return plain_similarity(a, b)
