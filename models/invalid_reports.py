"""The invalid-report model: is a report actionable at all, and if not, why (empty, gibberish, test,
advertising, abuse, thanks only, out of scope; ``features.schema.INVALID_REASONS``).

A learned model, not a blocklist: character 1-3-gram TF-IDF of ``title。text`` (prepared like the text
classifier's input: normalised, personal data replaced by placeholders such as a phone token, which ads
carry) plus a few shape features (length, shares of CJK characters, Latin letters, digits and punctuation,
distinct-character ratio), into one multinomial logistic regression over ``valid`` and the seven reasons.

Decision: ``invalid`` when P(valid) < ``invalid_threshold``; ``reason`` the most probable invalid reason
(None for a valid report); ``confidence`` the probability of the decision taken (P(valid) or 1 - P(valid));
``needs_review`` when that confidence is below ``review_threshold``: an unsure report goes to a person.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from features.schema import INVALID_REASONS

VALID = "valid"
LABELS: tuple[str, ...] = (VALID, *INVALID_REASONS)
DECISION_COLUMNS: tuple[str, ...] = ("invalid", "reason", "confidence", "needs_review")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]")
_DIGIT = re.compile(r"[0-9０-９]")


def shape_features(texts: Sequence[str]) -> np.ndarray:
    """Per text: log length, shares of CJK / Latin / digit / punctuation characters, distinct ratio."""
    rows = []
    for text in texts:
        n = max(len(text), 1)
        punctuation = sum(1 for c in text if unicodedata.category(c).startswith(("P", "S")))
        rows.append(
            (
                math.log1p(len(text)) / 6.0,
                len(_CJK.findall(text)) / n,
                len(_LATIN.findall(text)) / n,
                len(_DIGIT.findall(text)) / n,
                punctuation / n,
                len(set(text)) / n,
            )
        )
    return np.asarray(rows, dtype=float).reshape(len(texts), 6)


class InvalidReportClassifier(ClassifierMixin, BaseEstimator):
    """``fit(texts, labels)`` with labels in ``LABELS``; ``decide(texts)`` gives the decision columns."""

    def __init__(
        self,
        C: float = 8.0,
        max_features: int = 300_000,
        invalid_threshold: float = 0.5,
        review_threshold: float = 0.8,
    ) -> None:
        self.C = C
        self.max_features = max_features
        self.invalid_threshold = invalid_threshold
        self.review_threshold = review_threshold

    def _features(self, texts: Sequence[str]):
        return sparse.hstack(
            [self.vectorizer_.transform(texts), sparse.csr_matrix(shape_features(texts))]
        ).tocsr()

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> InvalidReportClassifier:
        unknown = set(labels) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown labels {sorted(unknown)}; expected {', '.join(LABELS)}")
        texts = list(texts)
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, max_features=self.max_features
        ).fit(texts)
        self.model_ = LogisticRegression(C=self.C, max_iter=3000, class_weight="balanced")
        self.model_.fit(self._features(texts), list(labels))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.model_.predict_proba(self._features(list(texts)))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """``valid`` or the reason, by the decision rule (not the plain argmax)."""
        decision = self.decide(texts)
        return np.where(decision["invalid"], decision["reason"].fillna(VALID), VALID)

    def decide(self, texts: Sequence[str]) -> pd.DataFrame:
        proba = self.predict_proba(texts)
        classes = list(self.classes_)
        p_valid = proba[:, classes.index(VALID)] if VALID in classes else np.zeros(len(proba))
        invalid = p_valid < self.invalid_threshold
        reasons = np.array(classes, dtype=object)
        masked = np.where(reasons == VALID, -1.0, proba)
        reason = np.where(invalid, reasons[masked.argmax(axis=1)], None)
        confidence = np.where(invalid, 1.0 - p_valid, p_valid)
        return pd.DataFrame(
            {
                "invalid": invalid.astype(bool),
                "reason": pd.Series(reason, dtype=object),
                "confidence": confidence.astype(float),
                "needs_review": confidence < self.review_threshold,
            }
        )


def invalid_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> dict[str, float]:
    """Invalid-vs-valid precision, recall and F1 (invalid is the positive class) and reason accuracy on
    the reports both call invalid."""
    truth = np.asarray(y_true, dtype=object)
    pred = np.asarray(y_pred, dtype=object)
    t, p = truth != VALID, pred != VALID
    tp = float((t & p).sum())
    precision = tp / p.sum() if p.sum() else 0.0
    recall = tp / t.sum() if t.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    both = t & p
    reason = float((truth[both] == pred[both]).mean()) if both.any() else 0.0
    return {
        "invalid_precision": precision,
        "invalid_recall": recall,
        "invalid_f1": f1,
        "reason_accuracy": reason,
        "invalid_share": float(t.mean()) if len(t) else 0.0,
    }
