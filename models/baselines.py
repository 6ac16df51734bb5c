"""Baselines every model must beat: the majority leaf for text; recent and yearly counts for risk."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

# Point-in-time count features of the panel: events of a risk group over the `weeks` weeks before week w.
COUNT_COLUMN = "cnt_{group}_{weeks}w"


class MostFrequentTextBaseline(ClassifierMixin, BaseEstimator):
    """Predicts the most frequent training leaf; ``predict_proba`` gives the training class frequencies."""

    def fit(self, texts: Iterable[str], leaf_ids: Iterable[str]) -> MostFrequentTextBaseline:
        labels = np.asarray(list(leaf_ids), dtype=object)
        if not len(labels):
            raise ValueError("cannot fit on no labels")
        self.classes_, counts = np.unique(labels, return_counts=True)
        self.class_prior_ = counts / counts.sum()
        self.most_frequent_ = self.classes_[np.argmax(counts)]  # ties: the first leaf in sorted order
        return self

    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        check_is_fitted(self, "class_prior_")
        return np.tile(self.class_prior_, (_count(texts), 1))

    def predict(self, texts: Iterable[str]) -> np.ndarray:
        check_is_fitted(self, "most_frequent_")
        return np.full(_count(texts), self.most_frequent_, dtype=object)


def last_week_count(panel: pl.DataFrame | pd.DataFrame, group: str) -> np.ndarray:
    """Events of the group in the grid during the previous week."""
    return _count_column(panel, group, weeks=1)


def mean_52w(panel: pl.DataFrame | pd.DataFrame, group: str) -> np.ndarray:
    """Mean weekly events of the group in the grid over the previous 52 weeks."""
    return _count_column(panel, group, weeks=52) / 52.0


def _count_column(panel: pl.DataFrame | pd.DataFrame, group: str, weeks: int) -> np.ndarray:
    name = COUNT_COLUMN.format(group=group, weeks=weeks)
    if name not in panel.columns:
        raise ValueError(f"panel has no column {name}")
    values = panel[name].to_numpy().astype(float)
    return np.nan_to_num(values, nan=0.0)


def _count(texts: Iterable[str]) -> int:
    if isinstance(texts, str):
        raise TypeError("expected a sequence of texts, got a single string")
    return len(texts) if hasattr(texts, "__len__") else sum(1 for _ in texts)
