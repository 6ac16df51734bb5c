"""Cascade of two text models: the fast one answers when it is confident, the strong one sees the rest.

The TF-IDF model classifies every report in well under a millisecond; the transformer costs tens of
milliseconds. Reports where the fast model's top leaf probability reaches ``confidence_threshold`` keep
its answer; the others go to the strong model, whose probabilities are optionally blended with the fast
model's (``blend``: weight of the fast model on the routed rows; an ensemble on the hard cases). The
defaults (0.8, 0.5) were the best measured on the public tipdm messages (docs/BENCHMARKS.md).

:meth:`CascadeTextClassifier.route` returns the probabilities together with the routing mask, so a
benchmark can report the share of reports reaching the strong model and each path's accuracy;
:func:`routing_table` does that for a range of thresholds from two probability matrices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from models.text_evidence import ProbaFn
from models.text_prediction import (
    LeafProbabilityOutputs,
    as_texts,
)


@dataclass(frozen=True)
class Routed:
    probabilities: np.ndarray  # (n, n_classes), columns in the cascade's ``classes_`` order
    to_strong: np.ndarray  # (n,) bool: rows the strong model answered


class CascadeTextClassifier(LeafProbabilityOutputs, ClassifierMixin, BaseEstimator):
    """``fast`` and ``strong`` are text classifiers over the same taxonomy (``predict_proba``, ``classes_``,
    ``taxonomy_``). With ``prefit=True`` they are used as given (already fitted); otherwise ``fit``
    fits clones of both on the same data."""

    def __init__(
        self,
        fast=None,
        strong=None,
        confidence_threshold: float = 0.8,
        blend: float = 0.5,
        prefit: bool = False,
        review_threshold: float = 0.5,
        label_threshold: float = 0.2,
    ) -> None:
        self.fast = fast
        self.strong = strong
        self.confidence_threshold = confidence_threshold
        self.blend = blend
        self.prefit = prefit
        self.review_threshold = review_threshold
        self.label_threshold = label_threshold

    def fit(self, texts: Iterable[str], leaf_ids: Iterable[str]) -> CascadeTextClassifier:
        if self.fast is None or self.strong is None:
            raise ValueError("CascadeTextClassifier needs a fast and a strong model")
        if self.prefit:
            fast, strong = self.fast, self.strong
        else:
            texts, leaf_ids = list(texts), list(leaf_ids)
            fast, strong = clone(self.fast).fit(texts, leaf_ids), clone(self.strong).fit(texts, leaf_ids)
        for model in (fast, strong):
            if not hasattr(model, "classes_") or not hasattr(model, "taxonomy_"):
                raise ValueError(f"{type(model).__name__} is not fitted (no classes_ / taxonomy_)")
        if set(map(str, fast.classes_)) != set(map(str, strong.classes_)):
            raise ValueError("the fast and the strong model were trained on different leaves")
        self.fast_, self.strong_ = fast, strong
        self.classes_ = np.asarray(fast.classes_, dtype=object)
        self.taxonomy_ = fast.taxonomy_
        position = {str(leaf): i for i, leaf in enumerate(strong.classes_)}
        self.strong_columns_ = np.array([position[str(leaf)] for leaf in self.classes_])
        return self

    @classmethod
    def from_fitted(cls, fast, strong, **params) -> CascadeTextClassifier:
        """A cascade over two already fitted models (no training)."""
        return cls(fast=fast, strong=strong, prefit=True, **params).fit([], [])

    # ---- prediction -------------------------------------------------------------------------------------
    def route(self, texts: Iterable[str]) -> Routed:
        check_is_fitted(self, "fast_")
        texts = as_texts(texts)
        probs = np.asarray(self.fast_.predict_proba(texts), dtype=float)
        to_strong = probs.max(axis=1) < self.confidence_threshold
        if to_strong.any():
            routed = [text for text, hard in zip(texts, to_strong, strict=True) if hard]
            strong = np.asarray(self.strong_.predict_proba(routed), dtype=float)[:, self.strong_columns_]
            probs[to_strong] = self.blend * probs[to_strong] + (1.0 - self.blend) * strong
        return Routed(probs, to_strong)

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        return self.route(texts).probabilities

    def _evidence_inputs(self, prepared: list[str]) -> tuple[list[str], ProbaFn]:
        """Occlusion evidence from the fast model (cheap: one TF-IDF batch per report)."""
        return prepared, self.fast_.predict_proba


def routing_table(
    fast_probs: np.ndarray,
    strong_probs: np.ndarray,
    y: Sequence[int],
    thresholds: Sequence[float] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98),
    blend: float = 0.0,
) -> list[dict[str, float]]:
    """For each threshold: share routed to the strong model, accuracy of each path and overall accuracy.
    Both probability matrices must have the same column order; ``y`` holds column indices."""
    fast_probs, strong_probs, y = np.asarray(fast_probs), np.asarray(strong_probs), np.asarray(y)
    rows = []
    for threshold in thresholds:
        to_strong = fast_probs.max(axis=1) < threshold
        combined = np.where(to_strong[:, None], blend * fast_probs + (1 - blend) * strong_probs, fast_probs)
        correct = combined.argmax(axis=1) == y
        rows.append(
            {
                "threshold": float(threshold),
                "share_to_strong": float(to_strong.mean()),
                "accuracy_fast_path": _mean(correct[~to_strong]),
                "accuracy_strong_path": _mean(correct[to_strong]),
                "accuracy": float(correct.mean()),
            }
        )
    return rows


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")
