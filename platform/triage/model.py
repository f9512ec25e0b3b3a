"""A triage model: one TF-IDF vocabulary over the features of a process's tickets, and per target (a choice
field, or the team) a multinomial logistic regression over it.

`fit` learns it with scikit-learn; everything else is numpy, so a web worker never imports scikit-learn.
Prediction repeats exactly what scikit-learn computes (sublinear tf, the fitted idf, l2 norm, softmax of the
linear scores: a test compares the two). `to_bytes` writes plain arrays and JSON into an `.npz` file and
`from_bytes` reads it with `allow_pickle=False`: the database holds numbers and text, never a pickle, so a row
someone managed to write cannot run code in a worker that loads it (docs/triage.md).
"""

from __future__ import annotations

import functools
import io
import json
import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .features import features, highlights, shown

FORMAT = 1  # of `to_bytes`; `from_bytes` refuses others
MIN_EXAMPLES = 20  # labelled tickets below which a target is not learned (no suggestions rather than wrong ones)
MAX_FEATURES = 100_000  # the most frequent features kept: bounds the model's size (about 2 bytes a class each)
EXPLAIN = 5  # pieces of text that weighed most, shown with a suggestion
WEIGHED = 12  # features an explanation considers
KEY_TERMS = 10  # words a search for similar texts asks for
SAGA_TOL = 1e-2  # the solver stops when the weights move less than this between epochs ...
SAGA_EPOCHS = 100  # ... or after this many passes over the tickets
DEFAULT_C = 50.0  # inverse regularization; chosen on the labelled set (bench/triage_models.py, docs/triage.md)


@dataclass(frozen=True)
class Suggestion:
    value: str
    confidence: float  # the model's probability, 0..1
    words: tuple[str, ...] = ()  # the features that weighed most for this value, as people read them


@dataclass(frozen=True)
class TargetModel:
    """What one target learned: per class a weight for every feature, and an intercept."""

    name: str
    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, features), float32
    intercept: np.ndarray  # (classes,), float32
    examples: int  # labelled texts it learned from


@dataclass(frozen=True)
class Vector:
    """A text as the model sees it: the indexes of its known features and their l2-normalized tf-idf."""

    index: np.ndarray
    value: np.ndarray

    def __bool__(self) -> bool:
        return bool(self.index.size)


@dataclass(frozen=True, eq=False)
class TriageModel:
    vocabulary: Mapping[str, int]
    idf: np.ndarray  # (features,), float32
    targets: Mapping[str, TargetModel]
    info: Mapping[str, Any] = field(default_factory=dict)  # what the trainer wants kept (counts, accuracy)

    @functools.cached_property
    def terms(self) -> list[str]:
        """The features by index (built once per loaded model, for explanations and storing)."""
        out = [""] * len(self.vocabulary)
        for term, index in self.vocabulary.items():
            out[index] = term
        return out

    def vector(self, text: str) -> Vector:
        counts = Counter(i for f in features(text) if (i := self.vocabulary.get(f)) is not None)
        if not counts:
            return Vector(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts))
        value = tf * self.idf[index]
        norm = float(np.sqrt(np.dot(value, value)))
        return Vector(index, value / norm if norm else value)

    def key_terms(self, text: str, count: int = KEY_TERMS) -> list[str]:
        """The words that say most about `text`, as people write them: its Han bigrams and Latin words by their
        tf-idf in the text times how much the model leans on them (the largest weight any target gives them),
        so that a full-text search for similar texts asks for `打印`, `卡纸` and `vpn` rather than for every
        pair of characters (`机用`, `着我`), whose long lists it would read for nothing."""
        return key_terms(text, count, self.vocabulary, self.idf, self.leaning)

    @functools.cached_property
    def leaning(self) -> np.ndarray:
        """Per feature, the largest absolute weight any class of any target gives it (0 without targets)."""
        out = np.zeros(len(self.idf), dtype=np.float32)
        for target in self.targets.values():
            out = np.maximum(out, np.abs(target.coef).max(axis=0))
        return out

    def probabilities(self, target: str, vector: Vector) -> np.ndarray:
        """The probability of each class of `target` for a text's vector (softmax of the linear scores)."""
        model = self.targets[target]
        scores = model.coef[:, vector.index] @ vector.value + model.intercept
        scores = np.exp(scores - scores.max())
        return scores / scores.sum()

    def suggest(self, text: str, target: str, *, minimum: float = 0.0, limit: int = 3,
                explain: int = EXPLAIN, allowed: Sequence[str] | None = None) -> list[Suggestion]:
        """The classes of `target` for `text`, most likely first, those at `minimum` or above (at most `limit`),
        each with the words that weighed most for it; [] for a text with no known feature. `allowed`: only
        these classes are offered (a value the form no longer has is left out; the others keep their
        probabilities as computed)."""
        vector = self.vector(text)
        if target not in self.targets or not vector:
            return []
        return self.suggest_vector(vector, target, minimum=minimum, limit=limit, explain=explain, allowed=allowed,
                                   text=text)

    def suggest_vector(self, vector: Vector, target: str, *, minimum: float = 0.0, limit: int = 3,
                       explain: int = EXPLAIN, allowed: Sequence[str] | None = None,
                       text: str = "") -> list[Suggestion]:
        model = self.targets[target]
        p = self.probabilities(target, vector)
        out: list[Suggestion] = []
        for k in np.argsort(-p, kind="stable"):
            value, confidence = model.classes[k], float(p[k])
            if confidence < minimum or len(out) >= limit:
                break
            if allowed is not None and value not in allowed:
                continue
            out.append(Suggestion(value, round(confidence, 4), self.explain(vector, target, int(k), explain, text)))
        return out

    def explain(self, vector: Vector, target: str, k: int, count: int = EXPLAIN, text: str = "") -> tuple[str, ...]:
        """What weighed most for class `k`: the features of the text that added most to its score (the
        strongest, down to a sixth of the strongest), as the pieces of `text` they cover (`highlights`),
        or as the features themselves without a text."""
        if count <= 0 or not vector:
            return ()
        contribution = self.targets[target].coef[k, vector.index] * vector.value
        order = np.argsort(-contribution, kind="stable")[:WEIGHED]
        strongest = float(contribution[order[0]]) if order.size else 0.0
        if strongest <= 0:
            return ()
        weights = {self.terms[int(vector.index[j])]: float(contribution[j]) for j in order
                   if contribution[j] >= strongest / 6}
        if text:
            return highlights(text, weights, count)
        return tuple(shown(f) for f in list(weights)[:count])

    # -- storing ------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The model as an `.npz` file of plain arrays (no pickle): terms as UTF-8 text, weights as float16."""
        arrays: dict[str, np.ndarray] = {
            "terms": np.frombuffer("\n".join(self.terms).encode(), dtype=np.uint8),
            "idf": self.idf.astype(np.float32),
        }
        described: list[dict[str, Any]] = []
        meta = {"format": FORMAT, "info": dict(self.info), "targets": described}
        for i, (name, target) in enumerate(self.targets.items()):
            arrays[f"coef_{i}"] = target.coef.astype(np.float16)
            arrays[f"intercept_{i}"] = target.intercept.astype(np.float32)
            described.append({"name": name, "classes": list(target.classes), "examples": target.examples})
        arrays["meta"] = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode(), dtype=np.uint8)
        out = io.BytesIO()
        save: Any = np.savez_compressed  # numbers and bytes only: no array here is of object type
        save(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TriageModel:
        """A model written by `to_bytes`; ValueError for anything else (never unpickles)."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as stored:
                meta = json.loads(bytes(stored["meta"]).decode())
                if meta.get("format") != FORMAT:
                    raise ValueError(f"triage model format {meta.get('format')!r} is not {FORMAT}")
                text = bytes(stored["terms"]).decode()
                terms = text.split("\n") if text else []
                idf = stored["idf"].astype(np.float32)
                targets = {}
                for i, target in enumerate(meta["targets"]):
                    coef = stored[f"coef_{i}"].astype(np.float32)
                    intercept = stored[f"intercept_{i}"].astype(np.float32)
                    classes = tuple(str(c) for c in target["classes"])
                    if coef.shape != (len(classes), len(terms)) or intercept.shape != (len(classes),):
                        raise ValueError(f"triage model target {target['name']!r} has the wrong shape")
                    targets[str(target["name"])] = TargetModel(str(target["name"]), classes, coef, intercept,
                                                               int(target["examples"]))
        except Exception as exc:  # a truncated, foreign or pickled file: never a crash of the server reading it
            raise ValueError(f"not a triage model: {exc}") from None
        if idf.shape != (len(terms),):
            raise ValueError("triage model idf has the wrong shape")
        return cls({t: i for i, t in enumerate(terms)}, idf, targets, meta.get("info") or {})


def similarity(a: Vector, b: Vector) -> float:
    """Cosine similarity of two texts' vectors (both l2-normalized): 0 (nothing shared) to 1."""
    if not a or not b:
        return 0.0
    common, ia, ib = np.intersect1d(a.index, b.index, assume_unique=True, return_indices=True)
    return float(min(1.0, max(0.0, np.dot(a.value[ia], b.value[ib])))) if common.size else 0.0


def key_terms(text: str, count: int = 10, vocabulary: Mapping[str, int] | None = None,
              idf: np.ndarray | None = None, leaning: np.ndarray | None = None) -> list[str]:
    """`TriageModel.key_terms`; without a model, the first `count` distinct ones in the order of the text."""
    counts = Counter(f for f in features(text) if f.startswith("w:") and " " not in f or (
        f.startswith("c:") and len(f) == 4))
    if vocabulary is None or idf is None or leaning is None or not len(idf):
        return [shown(f) for f in list(counts)[:count]]
    weight = {f: (1.0 + math.log(c)) * float(idf[i]) * (1.0 + float(leaning[i]))
              for f, c in counts.items() if (i := vocabulary.get(f)) is not None}
    return [shown(f) for f in sorted(weight, key=lambda f: -weight[f])[:count]]


def plain_vector(text: str, characters: bool = True) -> dict[str, float]:
    """A text's features with equal weights (log tf, l2-normalized, no idf): to compare texts without a model.
    `characters=False` leaves single Han characters out: without idf, shared characters (`无`, `法`, `开`)
    make any two short Chinese texts look alike (the outages offered at intake)."""
    counts = Counter(f for f in features(text) if characters or not (f.startswith("c:") and len(f) == 3))
    weights = {f: 1.0 + math.log(c) for f, c in counts.items()}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    return {f: w / norm for f, w in weights.items()} if norm else {}


def plain_similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Cosine similarity of two `plain_vector`s: 0 to 1."""
    if len(a) > len(b):
        a, b = b, a
    return min(1.0, sum(w * b[f] for f, w in a.items() if f in b))


def fit(texts: Sequence[str], labels: Mapping[str, Sequence[str | None]], *, c: float = DEFAULT_C,
        min_examples: int = MIN_EXAMPLES, max_features: int = MAX_FEATURES,
        info: Mapping[str, Any] | None = None) -> TriageModel:
    """Learn a model from `texts` and, per target, the label of each text (None: not labelled). A target
    with fewer than `min_examples` labelled texts, or a single class, is not learned: it gets no
    suggestions. The vocabulary is every feature seen in two texts or more (in one, for fewer than 200
    texts), at most `max_features` of them."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    with threadpool_limits(limits=1):  # BLAS threads spin against the web workers on a busy box: 30x slower
        return _fit(texts, labels, c, min_examples, max_features, info)


def _fit(texts: Sequence[str], labels: Mapping[str, Sequence[str | None]], c: float, min_examples: int,
         max_features: int, info: Mapping[str, Any] | None) -> TriageModel:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer  # only the trainer pays for the import
    from sklearn.linear_model import LogisticRegression

    if any(len(values) != len(texts) for values in labels.values()):
        raise ValueError("every target needs one label per text")
    vectorizer = TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=2 if len(texts) >= 200 else 1,
                                 max_features=max_features, dtype=np.float32)
    try:
        matrix = vectorizer.fit_transform(texts)
    except ValueError:  # no text has any feature
        return TriageModel({}, np.zeros(0, dtype=np.float32), {}, dict(info or {}))
    vocabulary = {str(t): int(i) for t, i in vectorizer.vocabulary_.items()}
    targets: dict[str, TargetModel] = {}
    for name, values in labels.items():
        rows = [i for i, v in enumerate(values) if v not in (None, "")]
        classes = sorted({str(values[i]) for i in rows})
        if len(rows) < min_examples or len(classes) < 2:
            continue
        y = [str(values[i]) for i in rows]
        # saga to a loose tolerance: as accurate here as lbfgs run to convergence, 5-7 times faster on large
        # histories, whose L-BFGS-B steps over classes x features variables dominated (docs/triage.md)
        classifier = LogisticRegression(C=c, solver="saga", tol=SAGA_TOL, max_iter=SAGA_EPOCHS, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            classifier.fit(matrix[rows], y)
        coef = np.asarray(classifier.coef_, dtype=np.float32)
        intercept = np.asarray(classifier.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # two classes: sigmoid(z) is softmax([-z/2, z/2])
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        targets[name] = TargetModel(name, tuple(str(k) for k in classifier.classes_), coef, intercept, len(rows))
    return TriageModel(vocabulary, np.asarray(vectorizer.idf_, dtype=np.float32), targets, dict(info or {}))
