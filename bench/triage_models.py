"""Which triage model to ship: candidates measured on the labelled incidents (tests/data/incidents_zh.jsonl).

    python bench/triage_models.py [--folds 5]

For each candidate and target (service, category, team): top-1 accuracy on a fixed held-out quarter
(stratified by team, seed 19), on its `hard` cases, and the mean of a stratified k-fold cross-validation over
all 511 texts (steadier than one split of 128); training time on the held-in three quarters; for the shipped
model also its stored size and the latency of one suggestion (all three targets, explanations included).
Figures in docs/triage.md. Needs scikit-learn (a dependency of the platform).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.naive_bayes import ComplementNB, MultinomialNB
from sklearn.svm import LinearSVC

from itsm.triage import features, fit

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "incidents_zh.jsonl"
TARGETS = ("service", "category", "team")
SEED = 19


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]


def text_of(row: dict[str, Any]) -> str:
    return f"{row['title']}\n{row['description']}"


class Majority:
    def fit(self, texts: Sequence[str], y: Sequence[str]) -> Majority:
        self.value = Counter(y).most_common(1)[0][0]
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [self.value] * len(texts)


class Pipeline:
    """A vectorizer and a classifier, fitted per target (the vectorizer on the training texts)."""

    def __init__(self, vectorizer: Callable[[], Any], classifier: Callable[[], Any]):
        self.make_vectorizer, self.make_classifier = vectorizer, classifier

    def fit(self, texts: Sequence[str], y: Sequence[str]) -> Pipeline:
        self.vectorizer = self.make_vectorizer()
        self.classifier = self.make_classifier().fit(self.vectorizer.fit_transform(texts), y)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return list(self.classifier.predict(self.vectorizer.transform(texts)))


class Shipped:
    """`itsm.triage.fit` and its numpy prediction: exactly what the platform serves."""

    def __init__(self, c: float):
        self.c = c

    def fit(self, texts: Sequence[str], y: Sequence[str]) -> Shipped:
        self.model = fit(texts, {"t": list(y)}, c=self.c, min_examples=1)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [(self.model.suggest(t, "t", explain=0, limit=1) or [None])[0].value  # type: ignore[union-attr]
                if self.model.vector(t) else self.model.targets["t"].classes[0] for t in texts]


def ours(**extra: Any) -> Callable[[], TfidfVectorizer]:
    return lambda: TfidfVectorizer(analyzer=features, sublinear_tf=True, min_df=1, dtype=np.float32, **extra)


CANDIDATES: dict[str, Callable[[], Any]] = {
    "majority class": Majority,
    "bag of words (counts) + multinomial NB": lambda: Pipeline(CountVectorizer, MultinomialNB),
    "bag of words (TF-IDF) + logistic regression": lambda: Pipeline(
        lambda: TfidfVectorizer(sublinear_tf=True), lambda: LogisticRegression(C=50, max_iter=2000)),
    "char 1-3 (sklearn char_wb) TF-IDF + logistic regression": lambda: Pipeline(
        lambda: TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
        lambda: LogisticRegression(C=50, max_iter=2000)),
    "Han char 1-3 + word 1-2, TF-IDF + logistic regression (lbfgs to convergence) C=50": lambda: Pipeline(
        ours(), lambda: LogisticRegression(C=50, max_iter=2000)),
    "Han char 1-3 + word 1-2, counts + complement NB": lambda: Pipeline(
        lambda: CountVectorizer(analyzer=features), lambda: ComplementNB(alpha=0.3)),
    "Han char 1-3 + word 1-2, TF-IDF + linear SVM (calibrated)": lambda: Pipeline(
        ours(), lambda: CalibratedClassifierCV(LinearSVC(C=1.0), cv=3)),
    "Han char 1-3 + word 1-2, TF-IDF + logistic regression C=5": lambda: Shipped(5.0),
    "Han char 1-3 + word 1-2, TF-IDF + logistic regression C=20": lambda: Shipped(20.0),
    "Han char 1-3 + word 1-2, TF-IDF + logistic regression C=50 (shipped)": lambda: Shipped(50.0),
    "Han char 1-3 + word 1-2, TF-IDF + logistic regression C=200": lambda: Shipped(200.0),
}


def accuracy(predicted: Sequence[str | None], truth: Sequence[str]) -> float:
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


def main() -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # as `fit` does: BLAS threads spin on a shared box
        _main()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    data = rows()
    texts = [text_of(r) for r in data]
    train, test = train_test_split(list(range(len(data))), test_size=0.25, random_state=SEED,
                                   stratify=[r["team"] for r in data])
    hard = [i for i in test if data[i]["hard"]]
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=SEED).split(texts, [r["team"] for r in data]))
    print(f"{len(data)} texts: {len(train)} to learn from, {len(test)} held out ({len(hard)} hard); "
          f"{args.folds}-fold cross-validation over all\n")
    header = "| candidate | " + " | ".join(f"{t} held-out / hard / {args.folds}-fold" for t in TARGETS) + " | fit s |"
    print(header)
    print("|" + "---|" * (len(TARGETS) + 2))
    for name, make in CANDIDATES.items():
        cells, seconds = [], 0.0
        for target in TARGETS:
            y = [r[target] for r in data]
            started = time.perf_counter()
            model = make().fit([texts[i] for i in train], [y[i] for i in train])
            seconds += time.perf_counter() - started
            predicted = dict(zip(test, model.predict([texts[i] for i in test]), strict=True))
            held = accuracy([predicted[i] for i in test], [y[i] for i in test])
            on_hard = accuracy([predicted[i] for i in hard], [y[i] for i in hard])
            cv = statistics.mean(
                accuracy(make().fit([texts[i] for i in a], [y[i] for i in a]).predict([texts[i] for i in b]),
                         [y[i] for i in b]) for a, b in folds)
            cells.append(f"{held:.3f} / {on_hard:.3f} / {cv:.3f}")
        print(f"| {name} | " + " | ".join(cells) + f" | {seconds:.2f} |")
        sys.stdout.flush()

    model = fit([texts[i] for i in train], {t: [data[i][t] for i in train] for t in TARGETS})
    stored = model.to_bytes()
    timings = []
    for _ in range(3):
        for i in test:
            started = time.perf_counter()
            for target in TARGETS:
                model.suggest(texts[i], target)
            timings.append(time.perf_counter() - started)
    print("\nconfidence of the shipped model on the held-out quarter: share of texts whose best value reaches it, "
          "and how often that value is right")
    for threshold in (0.0, 0.5, 0.7, 0.9):
        cells = []
        for target in TARGETS:
            best = [(model.suggest(texts[i], target, limit=1, explain=0) or [None])[0] for i in test]
            shown = [(b, data[i][target]) for b, i in zip(best, test, strict=True)
                     if b is not None and b.confidence >= threshold]
            right = sum(b.value == truth for b, truth in shown)
            cells.append(f"{target} {len(shown) / len(test):.2f} / {right / len(shown) if shown else 0:.3f}")
        print(f"  >= {threshold}: " + ", ".join(cells))
    print(f"\nshipped model: {len(model.vocabulary)} features, stored {len(stored) / 1024:.0f} KiB; one suggestion "
          f"(3 targets, explanations): median {statistics.median(timings) * 1000:.2f} ms, "
          f"p95 {sorted(timings)[int(len(timings) * 0.95)] * 1000:.2f} ms")


if __name__ == "__main__":
    main()
