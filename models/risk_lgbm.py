"""LightGBM forecaster: P(at least one event of a risk group in grid g during week w), per group.

One binary booster per risk group, trained on the grid x week panel (``features.panel``), whose features
for week w only use events before w. The last ``valid_weeks`` labelled weeks (or an explicit validation
panel) pick the number of boosting rounds by early stopping; with ``refit=True`` the booster is then
retrained on every labelled row for that many rounds, so the newest weeks inform the forecast.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

Panel = pl.DataFrame | pd.DataFrame

KEY_COLUMNS: tuple[str, ...] = ("grid_id", "week_start")
LABEL_PREFIXES: tuple[str, ...] = ("n_", "y_")
WEEK_COLUMN = "week_start"
_JSON_SPECIALS = re.compile(r'[",:\[\]{}]')


class RiskForecaster(BaseEstimator):
    def __init__(
        self,
        groups: Sequence[str] = ("dispute", "hazard"),
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 40,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        early_stopping_rounds: int = 50,
        valid_weeks: int = 8,
        refit: bool = True,
        random_state: int = 0,
        n_jobs: int = 2,
    ) -> None:
        self.groups = groups
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.valid_weeks = valid_weeks
        self.refit = refit
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ---- fitting ----------------------------------------------------------------------------------------
    def fit(
        self, panel: Panel, valid_panel: Panel | None = None, feature_columns: Sequence[str] | None = None
    ) -> RiskForecaster:
        """Fit one booster per group on the rows whose label is not null.

        Without ``valid_panel`` the last ``valid_weeks`` weeks of ``panel`` are held out for early stopping.
        ``feature_columns`` defaults to every numeric column except the keys and the labels (n_*, y_*).
        """
        panel = _to_polars(panel)
        columns = list(feature_columns) if feature_columns is not None else default_feature_columns(panel)
        if not columns:
            raise ValueError("the panel has no feature columns")
        self.feature_columns_ = columns
        self.models_ = {}
        self.best_iterations_ = {}
        for group in self.groups:
            booster, best_iteration = self._fit_group(panel, _to_polars(valid_panel), group)
            self.models_[group] = booster
            self.best_iterations_[group] = best_iteration
        self.n_features_in_ = len(columns)
        return self

    def _fit_group(
        self, panel: pl.DataFrame, valid_panel: pl.DataFrame | None, group: str
    ) -> tuple[lgb.Booster, int]:
        label = f"y_{group}"
        labelled = _labelled(panel, label, self.feature_columns_)
        if valid_panel is None:
            train, valid = _split_last_weeks(labelled, self.valid_weeks)
        else:
            train, valid = labelled, _labelled(valid_panel, label, self.feature_columns_)
        if valid.height == 0:  # nothing to stop on
            return self._train(train, label, self.n_estimators), self.n_estimators
        stopped = self._train(train, label, self.n_estimators, valid=valid)
        rounds = max(int(stopped.best_iteration), 1)
        if not self.refit:
            return stopped, rounds
        return self._train(pl.concat([train, valid], how="vertical_relaxed"), label, rounds), rounds

    def _train(
        self, data: pl.DataFrame, label: str, rounds: int, valid: pl.DataFrame | None = None
    ) -> lgb.Booster:
        train_set = self._dataset(data, label)
        if valid is None:
            return lgb.train(self._params(), train_set, num_boost_round=rounds)
        return lgb.train(
            self._params(),
            train_set,
            num_boost_round=rounds,
            valid_sets=[self._dataset(valid, label, reference=train_set)],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )

    def _dataset(self, data: pl.DataFrame, label: str, reference: lgb.Dataset | None = None) -> lgb.Dataset:
        features = _matrix(data, self.feature_columns_)
        target = data.get_column(label).cast(pl.Float64).to_numpy()
        return lgb.Dataset(
            features, label=target, feature_name=_safe_names(self.feature_columns_), reference=reference
        )

    def _params(self) -> dict:
        return {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.n_jobs,
            "verbosity": -1,
        }

    # ---- prediction -------------------------------------------------------------------------------------
    def predict_proba(self, panel: Panel) -> dict[str, np.ndarray]:
        """Probability of at least one event in the row's week, per group."""
        check_is_fitted(self, "models_")
        features = _matrix(_to_polars(panel), self.feature_columns_)
        return {group: booster.predict(features) for group, booster in self.models_.items()}

    def contributions(self, panel: Panel, group: str) -> np.ndarray:
        """SHAP values on the log-odds scale: (n_rows, n_features + 1), the last column is the bias; each
        row sums to the raw margin."""
        check_is_fitted(self, "models_")
        features = _matrix(_to_polars(panel), self.feature_columns_)
        return self.models_[group].predict(features, pred_contrib=True)


def default_feature_columns(panel: Panel) -> list[str]:
    """Numeric and boolean columns that are neither keys nor labels, in panel order."""
    schema = _to_polars(panel).schema
    return [
        name
        for name, dtype in schema.items()
        if name not in KEY_COLUMNS
        and not name.startswith(LABEL_PREFIXES)
        and (dtype.is_numeric() or dtype == pl.Boolean)
    ]


def _labelled(panel: pl.DataFrame, label: str, columns: Sequence[str]) -> pl.DataFrame:
    """Rows with a label: the week, the features as floats and the label."""
    missing = [name for name in (*columns, WEEK_COLUMN, label) if name not in panel.columns]
    if missing:
        raise ValueError(f"panel lacks columns {missing[:10]}")
    return panel.filter(pl.col(label).is_not_null()).select(
        WEEK_COLUMN, *(pl.col(name).cast(pl.Float64) for name in columns), pl.col(label).cast(pl.Float64)
    )


def _split_last_weeks(labelled: pl.DataFrame, valid_weeks: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    weeks = labelled.get_column(WEEK_COLUMN).unique().sort()
    if valid_weeks <= 0 or weeks.len() <= valid_weeks:
        return labelled, labelled.clear()
    first_valid = weeks[weeks.len() - valid_weeks]
    is_valid = pl.col(WEEK_COLUMN) >= first_valid
    return labelled.filter(~is_valid), labelled.filter(is_valid)


def _matrix(data: pl.DataFrame, columns: Sequence[str]) -> np.ndarray:
    missing = [name for name in columns if name not in data.columns]
    if missing:
        raise ValueError(f"panel lacks feature columns {missing[:10]}")
    return data.select(pl.col(name).cast(pl.Float64) for name in columns).to_numpy()


def _safe_names(columns: Sequence[str]) -> list[str]:
    """LightGBM rejects JSON special characters in feature names; ``feature_columns_`` keeps the originals."""
    return [_JSON_SPECIALS.sub("_", name) for name in columns]


def _to_polars(panel: Panel | None) -> pl.DataFrame | None:
    if panel is None or isinstance(panel, pl.DataFrame):
        return panel
    if isinstance(panel, pd.DataFrame):
        return pl.from_pandas(panel)
    raise TypeError(f"expected a polars or pandas DataFrame, got {type(panel).__name__}")
