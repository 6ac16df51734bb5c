"""LightGBM forecaster: P(at least one event of a risk group in grid g during week w), per group.

One booster per risk group, trained on the grid x week panel (``features.panel``), whose features for
week w only use events before w. Weeks are split by time, oldest first::

    | train ........................ | valid (early stopping) | calibration |

* ``objective``: ``binary`` learns P(y >= 1) from ``y_<group>``; ``poisson`` / ``tweedie`` learn the
  expected count from ``n_<group>``. A count model ranks by expected events, which is what "share of
  next week's events in the top k% of units" rewards when busy units see several events a week; the
  binary model ranks by the chance of any event, which is what average precision for "≥ 1 event"
  rewards. Which one wins is a data question, answered by the rolling backtest
  (``evaluation.backtest``; results in docs/BENCHMARKS.md). A mapping ``{group: objective}`` is allowed.
* The ``valid_weeks`` weeks before the calibration window pick the number of boosting rounds by early
  stopping; with ``refit=True`` the booster is then retrained on train + valid for that many rounds.
* ``calibration`` (``isotonic`` or ``platt``, ``models.calibration``) maps the booster's score to
  P(≥ 1 event), fitted on the last ``calibration_weeks`` labelled weeks, which the booster never saw.
  ``None`` skips it (the binary booster's own probability, or ``1 - exp(-mu)`` for a count model).

``offset`` (e.g. ``"ewm_{group}_h26"``) boosts from a baseline instead of from a constant: the log of that
column is the booster's initial score, so the forecast is the baseline times what the trees learn on top
(``exp(log(offset) + trees)`` for counts, the logistic of it for ``binary``). Trees give piecewise-constant
scores; starting from a continuous hotspot rate keeps its fine ordering of the busiest units, which a
hit rate on the top 5% rewards, and lets the trees spend their splits on what history alone misses.

``predict_score`` gives the ranking score (probability or expected count), ``predict_proba`` the
calibrated probability, ``contributions`` LightGBM's SHAP values on the booster's raw scale, and
``explained_contributions`` the same with the offset as one more term.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from models.calibration import ProbabilityCalibrator

Panel = pl.DataFrame | pd.DataFrame

KEY_COLUMNS: tuple[str, ...] = ("grid_id", "week_start")
LABEL_PREFIXES: tuple[str, ...] = ("n_", "y_")
WEEK_COLUMN = "week_start"
OBJECTIVES: dict[str, str] = {"binary": "binary_logloss", "poisson": "poisson", "tweedie": "tweedie"}
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
        objective: str | Mapping[str, str] = "binary",
        tweedie_variance_power: float = 1.3,
        calibration: str | None = "isotonic",
        calibration_weeks: int = 8,
        offset: str | None = None,
        offset_floor: float = 0.01,
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
        self.objective = objective
        self.tweedie_variance_power = tweedie_variance_power
        self.calibration = calibration
        self.calibration_weeks = calibration_weeks
        self.offset = offset
        self.offset_floor = offset_floor

    # ---- fitting ----------------------------------------------------------------------------------------
    def fit(
        self, panel: Panel, valid_panel: Panel | None = None, feature_columns: Sequence[str] | None = None
    ) -> RiskForecaster:
        """Fit one booster (and calibrator) per group on the rows whose label is not null.

        Without ``valid_panel`` the ``valid_weeks`` weeks before the calibration window are held out for
        early stopping; with it, that panel is the validation set and ``panel`` minus the calibration
        window the training set. ``feature_columns`` defaults to every numeric column except the keys
        and the labels (n_*, y_*).
        """
        panel = _to_polars(panel)
        columns = list(feature_columns) if feature_columns is not None else default_feature_columns(panel)
        if not columns:
            raise ValueError("the panel has no feature columns")
        self.feature_columns_ = columns
        self.objectives_ = {group: self._objective(group) for group in self.groups}
        self.models_, self.best_iterations_, self.calibrators_, self.offset_reference_ = {}, {}, {}, {}
        for group in self.groups:
            labelled = _labelled(panel, group, columns, self._offset_columns(group))
            fitting, calibration = _split_last_weeks(labelled, self._calibration_weeks())
            booster, best_iteration = self._fit_group(fitting, _to_polars(valid_panel), group)
            self.models_[group] = booster
            self.best_iterations_[group] = best_iteration
            offset = self._log_offset(fitting, group)
            self.offset_reference_[group] = float(offset.mean()) if offset is not None else 0.0
            if calibration.height:
                scores = self._score(booster, group, calibration)
                outcomes = calibration.get_column(f"y_{group}").to_numpy()
                self.calibrators_[group] = ProbabilityCalibrator(self.calibration).fit(scores, outcomes)
        self.n_features_in_ = len(columns)
        return self

    def _objective(self, group: str) -> str:
        objective = (
            self.objective.get(group, "binary") if isinstance(self.objective, Mapping) else self.objective
        )
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
        return objective

    def _calibration_weeks(self) -> int:
        return self.calibration_weeks if self.calibration else 0

    def _fit_group(
        self, labelled: pl.DataFrame, valid_panel: pl.DataFrame | None, group: str
    ) -> tuple[lgb.Booster, int]:
        if valid_panel is None:
            train, valid = _split_last_weeks(labelled, self.valid_weeks)
        else:
            extra = self._offset_columns(group)
            train, valid = labelled, _labelled(valid_panel, group, self.feature_columns_, extra)
        if valid.height == 0:  # nothing to stop on
            return self._train(train, group, self.n_estimators), self.n_estimators
        stopped = self._train(train, group, self.n_estimators, valid=valid)
        rounds = max(int(stopped.best_iteration), 1)
        if not self.refit:
            return stopped, rounds
        return self._train(pl.concat([train, valid], how="vertical_relaxed"), group, rounds), rounds

    def _train(
        self, data: pl.DataFrame, group: str, rounds: int, valid: pl.DataFrame | None = None
    ) -> lgb.Booster:
        train_set = self._dataset(data, group)
        params = self._params(group)
        if valid is None:
            return lgb.train(params, train_set, num_boost_round=rounds)
        return lgb.train(
            params,
            train_set,
            num_boost_round=rounds,
            valid_sets=[self._dataset(valid, group, reference=train_set)],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )

    def _dataset(self, data: pl.DataFrame, group: str, reference: lgb.Dataset | None = None) -> lgb.Dataset:
        features = _matrix(data, self.feature_columns_)
        label = f"y_{group}" if self.objectives_[group] == "binary" else f"n_{group}"
        target = data.get_column(label).cast(pl.Float64).to_numpy()
        return lgb.Dataset(
            features,
            label=target,
            init_score=self._log_offset(data, group),
            feature_name=_safe_names(self.feature_columns_),
            reference=reference,
        )

    def _offset_columns(self, group: str) -> list[str]:
        return [self.offset.format(group=group)] if self.offset else []

    def _log_offset(self, data: pl.DataFrame, group: str) -> np.ndarray | None:
        """log(max(offset, floor)) per row, or None without an offset."""
        if not self.offset:
            return None
        name = self.offset.format(group=group)
        if name not in data.columns:
            raise ValueError(f"panel lacks the offset column {name}")
        values = data.get_column(name).cast(pl.Float64).fill_null(0.0).to_numpy()
        return np.log(np.maximum(values, self.offset_floor))

    def _params(self, group: str) -> dict:
        objective = self.objectives_[group]
        params = {
            "objective": objective,
            "metric": OBJECTIVES[objective],
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
        if objective == "tweedie":
            params["tweedie_variance_power"] = self.tweedie_variance_power
        return params

    # ---- prediction -------------------------------------------------------------------------------------
    def predict_score(self, panel: Panel) -> dict[str, np.ndarray]:
        """Ranking score per group: P(≥ 1 event) of a binary booster, expected events of a count booster."""
        check_is_fitted(self, "models_")
        frame = _to_polars(panel)
        return {group: self._score(booster, group, frame) for group, booster in self.models_.items()}

    def predict_proba(self, panel: Panel) -> dict[str, np.ndarray]:
        """Probability of at least one event in the row's week, per group (calibrated when fitted so)."""
        scores = self.predict_score(panel)
        return {group: self._probability(group, values) for group, values in scores.items()}

    def contributions(self, panel: Panel, group: str) -> np.ndarray:
        """SHAP values on the booster's raw scale (log-odds, or log expected count): (n_rows, n_features + 1),
        the last column is the bias; each row sums to the raw margin."""
        check_is_fitted(self, "models_")
        features = _matrix(_to_polars(panel), self.feature_columns_)
        return self.models_[group].predict(features, pred_contrib=True)

    def explained_contributions(self, panel: Panel, group: str) -> tuple[np.ndarray, list[str]]:
        """``contributions`` plus the offset as one more column (``log(offset)`` minus its training mean,
        named after the offset column; the mean moves into the bias), so each row still sums to the
        raw score. Without an offset, the plain contributions and feature names."""
        contributions = self.contributions(panel, group)
        names = list(self.feature_columns_)
        offset = self._log_offset(_to_polars(panel), group)
        if offset is None:
            return contributions, names
        reference = getattr(self, "offset_reference_", {}).get(group, 0.0)
        extended = np.column_stack(
            [contributions[:, :-1], offset - reference, contributions[:, -1] + reference]
        )
        return extended, [*names, self.offset.format(group=group)]

    def _score(self, booster: lgb.Booster, group: str, frame: pl.DataFrame) -> np.ndarray:
        features = _matrix(frame, self.feature_columns_)
        offset = self._log_offset(frame, group)
        if offset is None:
            return booster.predict(features)
        raw = booster.predict(features, raw_score=True) + offset
        if self.objectives_[group] == "binary":
            return 1.0 / (1.0 + np.exp(-raw))
        return np.exp(raw)

    def _probability(self, group: str, scores: np.ndarray) -> np.ndarray:
        calibrator = getattr(self, "calibrators_", {}).get(group)
        if calibrator is not None:
            return calibrator.predict(scores)
        if getattr(self, "objectives_", {}).get(group, "binary") == "binary":
            return scores
        return 1.0 - np.exp(-scores)


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


def _labelled(
    panel: pl.DataFrame, group: str, columns: Sequence[str], extra: Sequence[str] = ()
) -> pl.DataFrame:
    """Rows with a label: the week, the features as floats, any ``extra`` columns (the offset), the 0/1
    label and the count (0/1 when the panel has no count column)."""
    flag, count = f"y_{group}", f"n_{group}"
    extra = [name for name in extra if name not in columns]
    missing = [name for name in (*columns, *extra, WEEK_COLUMN, flag) if name not in panel.columns]
    if missing:
        raise ValueError(f"panel lacks columns {missing[:10]}")
    count_expr = pl.col(count) if count in panel.columns else pl.col(flag)
    return panel.filter(pl.col(flag).is_not_null()).select(
        WEEK_COLUMN,
        *(pl.col(name).cast(pl.Float64) for name in (*columns, *extra)),
        pl.col(flag).cast(pl.Float64),
        count_expr.cast(pl.Float64).alias(count),
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
