"""Baselines every model must beat: the majority leaf for text; "where things happened before" for risk.

Risk baselines score panel rows from their point-in-time columns, so they see exactly what the model
sees: last week's count, 4/12/52-week means, a decayed hotspot (the unit's exponentially decayed rate)
and a KDE hotspot (decayed rates smoothed over neighbouring units with a Gaussian kernel).
"""

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


def mean_4w(panel: pl.DataFrame | pd.DataFrame, group: str) -> np.ndarray:
    return _count_column(panel, group, weeks=4) / 4.0


def mean_12w(panel: pl.DataFrame | pd.DataFrame, group: str) -> np.ndarray:
    return _count_column(panel, group, weeks=12) / 12.0


def decayed_hotspot(panel: pl.DataFrame | pd.DataFrame, group: str, half_life: float = 13) -> np.ndarray:
    """The unit's exponentially decayed weekly rate (panel column ``ewm_<group>_h<half_life>``)."""
    name = f"ewm_{group}_h{half_life:g}"
    if name not in panel.columns:
        raise ValueError(f"panel has no column {name}")
    return np.nan_to_num(panel[name].to_numpy().astype(float), nan=0.0)


def kde_hotspot(
    panel: pl.DataFrame,
    group: str,
    units: pl.DataFrame,
    bandwidth_m: float,
    half_life: float = 13,
) -> np.ndarray:
    """Decayed rates smoothed in space: sum over units j of rate_j * exp(-d_ij^2 / (2 b^2)), same week.

    ``units``: ``grid_id, x_m, y_m``. The kernel is cut at 3 bandwidths (sparse), so large grids stay cheap.
    """
    from scipy.sparse import coo_matrix, identity
    from scipy.spatial import cKDTree

    rate = decayed_hotspot(panel, group, half_life)
    index = units.select("grid_id").with_row_index("_unit")
    rows = panel.select("grid_id", "week_start").with_row_index("_row").join(index, on="grid_id", how="left")
    if rows["_unit"].null_count():
        raise ValueError("panel has grids missing from units")
    points = units.select("x_m", "y_m").to_numpy().astype(float)
    tree = cKDTree(points)
    distances = tree.sparse_distance_matrix(tree, max_distance=3 * bandwidth_m, output_type="coo_matrix")
    off_diagonal = distances.row != distances.col  # the diagonal is added explicitly (weight 1)
    kernel = coo_matrix(
        (
            np.exp(-(distances.data[off_diagonal] ** 2) / (2 * bandwidth_m**2)),
            (distances.row[off_diagonal], distances.col[off_diagonal]),
        ),
        shape=distances.shape,
    ).tocsr() + identity(len(points), format="csr")
    weeks, week_codes = np.unique(rows["week_start"].to_numpy(), return_inverse=True)
    grid = np.zeros((len(points), len(weeks)))
    unit_codes, row_numbers = rows["_unit"].to_numpy(), rows["_row"].to_numpy()
    grid[unit_codes, week_codes] = rate[row_numbers]
    smoothed = kernel @ grid
    scores = np.empty(len(row_numbers))
    scores[row_numbers] = smoothed[unit_codes, week_codes]
    return scores


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
