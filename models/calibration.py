"""Map a ranking score (a probability, an expected count, any monotone risk score) to P(at least one event).

Fitted on a window later than the one the scorer was trained on, so the mapping corrects the scorer's
out-of-sample bias. Both methods are monotone non-decreasing, so they never reorder units:

* ``isotonic``: a step function (scikit-learn's ``IsotonicRegression``, clipped outside the fitted
  range). Flexible; needs a few hundred positives to be smooth.
* ``platt``: a logistic regression on ``log(score)`` (strictly monotone, 2 parameters). For a Poisson
  mean ``mu``, ``1 - exp(-mu)`` is close to a logistic curve in ``log(mu)``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

METHODS = ("isotonic", "platt")
_FLOOR = 1e-6


class ProbabilityCalibrator(BaseEstimator):
    def __init__(self, method: str = "isotonic") -> None:
        self.method = method

    def fit(self, scores: np.ndarray, outcomes: np.ndarray) -> ProbabilityCalibrator:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        scores = np.asarray(scores, dtype=float)
        outcomes = (np.asarray(outcomes, dtype=float) > 0).astype(float)
        if len(scores) != len(outcomes) or not len(scores):
            raise ValueError("need as many outcomes as scores, and at least one")
        if self.method == "isotonic":
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, outcomes)
        elif outcomes.min() == outcomes.max():  # one class only: a constant is all the data supports
            self.model_ = float(outcomes.mean())
        else:
            self.model_ = LogisticRegression(C=1e4).fit(_log(scores)[:, None], outcomes)
        self.base_rate_ = float(outcomes.mean())
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "model_")
        scores = np.asarray(scores, dtype=float)
        if isinstance(self.model_, float):
            return np.full(len(scores), self.model_)
        if self.method == "isotonic":
            return np.clip(self.model_.predict(scores), 0.0, 1.0)
        return self.model_.predict_proba(_log(scores)[:, None])[:, 1]


def _log(scores: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(scores, _FLOOR))
