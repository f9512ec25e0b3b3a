"""Triage assistance (SPEC 16), pure: texts and labels in, a fitted linear model out; texts in, suggestions out.

No I/O and no network: the engine reads the desk's tickets through the store, hands their texts and the
values agents chose to `fit`, stores `TriageModel.to_bytes()` in the database and serves `from_bytes()`.
Fitting uses scikit-learn (imported only by `fit`); predicting, explaining and comparing texts need numpy
alone, so a web worker never imports scikit-learn. Features are character n-grams of Han text and word
n-grams of everything else (`features`), which need no dictionary and no download.
"""

from __future__ import annotations

from .features import features, normalize
from .model import MIN_EXAMPLES, Suggestion, TargetModel, TriageModel, fit

__all__ = ["MIN_EXAMPLES", "Suggestion", "TargetModel", "TriageModel", "features", "fit", "normalize"]
