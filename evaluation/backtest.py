"""Rolling-origin backtest of the risk forecaster against "where things happened before" baselines.

For every test week the forecaster is trained only on weeks before it (retrained every ``retrain_every``
weeks; in between, the last model scores the newer weeks, whose *features* are still up to date because
the panel is point-in-time), scores that week, and is scored on it. The baselines score the same rows
from the same point-in-time columns:

* ``last_week``, ``mean_4w``, ``mean_12w``, ``mean_52w``: the unit's own counts;
* ``decayed_hotspot``: the unit's exponentially decayed rate (half-life 13 weeks);
* ``kde_hotspot``: decayed rates smoothed over nearby units with a Gaussian kernel.

Every scorer ranks by its score (hit rate, PAI, average precision) and is turned into a probability
for Brier and ECE by an isotonic map fitted on the calibration weeks just before each fold, the same
window the model's own calibrator uses. Metrics are computed per test week and averaged over weeks;
ECE is also pooled over the whole test window (10 bins per week are noisy at a few hundred units).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import polars as pl

from features.panel import feature_columns as panel_feature_columns
from features.panel import panel_groups
from features.panel_families import without_families
from models import baselines
from models.calibration import ProbabilityCalibrator
from models.risk_lgbm import RiskForecaster
from models.scoring import average_precision, brier, expected_calibration_error, hit_rate, pai
from models.served_scorer import (
    BASELINE_NAMES,
    ScorerChoice,
    choose_scorer,
    model_expected_events,
    selection_rows,
)

MODEL = "model"
SERVED = "served"  # per test week, the scorer chosen on the weeks before it (models.served_scorer)
NOT_BASELINES = frozenset({MODEL, SERVED})
BASELINES: tuple[str, ...] = (
    "last_week",
    "mean_4w",
    "mean_12w",
    "mean_52w",
    "decayed_hotspot",
    "kde_hotspot",
)
LOWER_IS_BETTER = frozenset({"brier", "ece"})
DEFAULT_SHARES: tuple[float, ...] = (0.05, 0.10)


@dataclass(frozen=True)
class BacktestSpec:
    """What to test. ``test_to`` defaults to the last week with complete labels; ``drop_families``
    removes feature families (``features.panel_families``) for ablations."""

    test_from: date
    test_to: date | None = None
    retrain_every: int = 1
    groups: tuple[str, ...] = ("dispute", "hazard")
    model_params: dict = field(default_factory=dict)
    feature_columns: tuple[str, ...] | None = None
    drop_families: tuple[str, ...] = ()
    shares: tuple[float, ...] = DEFAULT_SHARES
    kde_bandwidth_m: float | None = None
    hotspot_half_life: float = 13
    baselines: tuple[str, ...] = BASELINES
    served: bool = True


@dataclass
class Fold:
    first_week: date
    weeks: list[date]
    group: str
    train_rows: int
    best_iteration: int
    seconds: float


@dataclass
class BacktestResult:
    predictions: pl.DataFrame  # week_start, grid_id, group, scorer, score, probability, n, y
    weekly: pl.DataFrame  # week_start, group, scorer, one column per metric
    folds: list[Fold]
    models: dict[str, RiskForecaster]  # the last fold's model per group
    features: dict[str, list[str]]
    seconds: float
    choices: list[dict] = field(default_factory=list)  # the served scorer chosen for each fold and group

    def metric_names(self) -> list[str]:
        return [c for c in self.weekly.columns if c not in ("week_start", "group", "scorer")]

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """group -> scorer -> metric: the mean over test weeks, plus ``ece_pooled`` (all test rows)."""
        means = self.weekly.group_by("group", "scorer").agg(pl.col(self.metric_names()).mean())
        pooled = self.predictions.group_by("group", "scorer").agg(
            pl.map_groups(
                [pl.col("probability"), pl.col("y")],
                lambda s: expected_calibration_error(s[0].to_numpy(), s[1].to_numpy()),
                return_dtype=pl.Float64,
                returns_scalar=True,
            ).alias("ece_pooled")
        )
        table = means.join(pooled, on=["group", "scorer"])
        out: dict[str, dict[str, dict[str, float]]] = {}
        for row in table.iter_rows(named=True):
            metrics = {k: _plain(v) for k, v in row.items() if k not in ("group", "scorer")}
            out.setdefault(row["group"], {})[row["scorer"]] = metrics
        return out

    def comparison(self) -> dict[str, dict[str, dict[str, float | str]]]:
        """group -> metric -> best baseline (name, value), the model's value and model / baseline (and the
        served scorer's value and ratio when the backtest ran it)."""
        summary = self.summary()
        out: dict[str, dict[str, dict[str, float | str]]] = {}
        for group, scorers in summary.items():
            out[group] = {}
            for metric, model_value in scorers[MODEL].items():
                candidates = {
                    n: v[metric]
                    for n, v in scorers.items()
                    if n not in NOT_BASELINES and np.isfinite(v[metric])
                }
                if not candidates:
                    continue
                pick = min if metric.split("_")[0] in LOWER_IS_BETTER else max
                name = pick(candidates, key=candidates.get)
                best = candidates[name]
                out[group][metric] = {
                    "best_baseline": name,
                    "baseline": best,
                    "model": model_value,
                    "ratio": _plain(model_value / best) if best else float("nan"),
                    "better": "lower" if metric.split("_")[0] in LOWER_IS_BETTER else "higher",
                }
                if SERVED in scorers:
                    served = scorers[SERVED][metric]
                    out[group][metric]["served"] = served
                    out[group][metric]["served_ratio"] = _plain(served / best) if best else float("nan")
        return out


# ---- running -------------------------------------------------------------------------------------------
def select_test_weeks(
    panel: pl.DataFrame, spec: BacktestSpec, last_complete_week: date | None = None
) -> list[date]:
    """Labelled weeks starting on or after ``test_from`` and ending (Sunday) on or before ``test_to``,
    up to ``last_complete_week`` (a week the log covers only partly would undercount)."""
    labelled = (
        panel.filter(pl.col(f"y_{panel_groups(panel)[0]}").is_not_null())
        .get_column("week_start")
        .unique()
        .sort()
    )
    upper = min(
        d
        for d in (
            spec.test_to - timedelta(days=6) if spec.test_to else None,
            last_complete_week,
            labelled.max(),
        )
        if d is not None
    )
    weeks = [w for w in labelled.to_list() if spec.test_from <= w <= upper]
    if not weeks:
        raise ValueError(f"no labelled weeks between {spec.test_from} and {upper}")
    return weeks


def run_backtest(
    panel: pl.DataFrame,
    units: pl.DataFrame,
    spec: BacktestSpec,
    last_complete_week: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """``units``: ``grid_id, x_m, y_m`` (for the KDE baseline). ``panel`` from ``features.panel``."""
    started = time.perf_counter()
    weeks = select_test_weeks(panel, spec, last_complete_week)
    folds = [weeks[i : i + spec.retrain_every] for i in range(0, len(weeks), max(spec.retrain_every, 1))]
    columns = list(spec.feature_columns or panel_feature_columns(panel))
    bandwidth = spec.kde_bandwidth_m or median_spacing(units)
    params = {"calibration_weeks": 8, **spec.model_params}
    frames, fold_log, models, features, choices = [], [], {}, {}, []
    for group in spec.groups:
        group_columns = without_families(columns, spec.drop_families, group)
        features[group] = group_columns
        scored_weeks: list[pl.DataFrame] = []  # out-of-sample rows of earlier test weeks (served choice)
        for fold_weeks in folds:
            fold_started = time.perf_counter()
            train = panel.filter((pl.col("week_start") < fold_weeks[0]) & pl.col(f"y_{group}").is_not_null())
            model = RiskForecaster(groups=(group,), **params).fit(train, feature_columns=group_columns)
            test = panel.filter(pl.col("week_start").is_in(fold_weeks))
            frames.append(_model_rows(model, test, group))
            calibration = _last_weeks(train, model.calibration_weeks)
            frames += _baseline_rows(test, calibration, group, units, bandwidth, spec)
            if spec.served:
                served_rows, choice, tested = _served_rows(
                    model, test, calibration, group, scored_weeks, spec
                )
                frames.append(served_rows)
                scored_weeks.append(tested)
                choices.append({"group": group, "first_week": str(fold_weeks[0]), **choice.to_dict()})
            fold_log.append(
                Fold(
                    fold_weeks[0],
                    fold_weeks,
                    group,
                    train.height,
                    model.best_iterations_[group],
                    round(time.perf_counter() - fold_started, 2),
                )
            )
            models[group] = model
            if progress:
                progress(f"{group} fold {fold_weeks[0]}: {fold_log[-1].seconds:.1f}s")
    predictions = pl.concat(frames, how="vertical_relaxed")
    weekly = weekly_metrics(predictions, spec.shares)
    return BacktestResult(
        predictions, weekly, fold_log, models, features, round(time.perf_counter() - started, 2), choices
    )


def median_spacing(units: pl.DataFrame) -> float:
    """Median distance from a unit to its nearest other unit (the KDE bandwidth by default)."""
    from scipy.spatial import cKDTree

    points = units.select("x_m", "y_m").to_numpy().astype(float)
    if len(points) < 2:
        return 1.0
    distances, _ = cKDTree(points).query(points, k=2)
    return float(max(np.median(distances[:, 1]), 1.0))


def _model_rows(model: RiskForecaster, test: pl.DataFrame, group: str) -> pl.DataFrame:
    return _rows(test, group, MODEL, model.predict_score(test)[group], model.predict_proba(test)[group])


def _served_rows(
    model: RiskForecaster,
    test: pl.DataFrame,
    calibration: pl.DataFrame,
    group: str,
    earlier: list[pl.DataFrame],
    spec: BacktestSpec,
) -> tuple[pl.DataFrame, ScorerChoice, pl.DataFrame]:
    """The served scorer on the fold's test weeks: chosen (``models.served_scorer.choose_scorer``) on
    weeks before them only: the earlier test weeks as they were forecast, plus the fold's calibration
    weeks (which its booster never saw) not among those. Its probability: the model's own for the model,
    else a calibrator fitted on the calibration weeks, as the model's is. Returns the rows, the choice
    and this fold's test rows in the selection layout (for the next folds)."""
    half_life = spec.hotspot_half_life
    labelled_test = test.filter(pl.col(f"y_{group}").is_not_null())
    tested = selection_rows(
        model_expected_events(model, labelled_test, group), labelled_test, group, half_life
    )
    pool = pl.concat(earlier) if earlier else tested.clear()
    if calibration.height:
        seen = pool.get_column("week_start").unique()
        cal = selection_rows(model_expected_events(model, calibration, group), calibration, group, half_life)
        pool = pl.concat([pool, cal.filter(~pl.col("week_start").is_in(seen.implode()))])
    choice, _ = choose_scorer(pool)
    rates = selection_rows(model_expected_events(model, test, group), test, group, half_life)
    score = _choice_rate(choice, rates)
    if choice.scorer == MODEL or not calibration.height:
        probability = model.predict_proba(test)[group]
    else:
        calibrator = ProbabilityCalibrator(model.calibration or "isotonic")
        probability = calibrator.fit(_choice_rate(choice, cal), cal["y"].to_numpy()).predict(score)
    return _rows(test, group, SERVED, score, probability), choice, tested


def _choice_rate(choice: ScorerChoice, rows: pl.DataFrame) -> np.ndarray:
    return choice.rate(
        rows[MODEL].to_numpy(), {n: rows[n].to_numpy() for n in BASELINE_NAMES if n in rows.columns}
    )


def _baseline_rows(
    test: pl.DataFrame,
    calibration: pl.DataFrame,
    group: str,
    units: pl.DataFrame,
    bandwidth: float,
    spec: BacktestSpec,
) -> list[pl.DataFrame]:
    scorers = baseline_scorers(units, bandwidth, spec.hotspot_half_life)
    out = []
    for name in spec.baselines:
        score = scorers[name]
        test_scores = score(test, group)
        if calibration.height:
            calibrator = ProbabilityCalibrator("isotonic").fit(
                score(calibration, group), calibration.get_column(f"y_{group}").to_numpy()
            )
            probability = calibrator.predict(test_scores)
        else:
            probability = np.full(len(test_scores), np.nan)
        out.append(_rows(test, group, name, test_scores, probability))
    return out


def baseline_scorers(
    units: pl.DataFrame, bandwidth: float, half_life: float = 13
) -> dict[str, Callable[[pl.DataFrame, str], np.ndarray]]:
    return {
        "last_week": baselines.last_week_count,
        "mean_4w": baselines.mean_4w,
        "mean_12w": baselines.mean_12w,
        "mean_52w": baselines.mean_52w,
        "decayed_hotspot": lambda panel, group: baselines.decayed_hotspot(panel, group, half_life),
        "kde_hotspot": lambda panel, group: baselines.kde_hotspot(panel, group, units, bandwidth, half_life),
    }


def _rows(
    test: pl.DataFrame, group: str, scorer: str, scores: np.ndarray, probability: np.ndarray
) -> pl.DataFrame:
    return test.select(
        "week_start",
        "grid_id",
        pl.lit(group).alias("group"),
        pl.lit(scorer).alias("scorer"),
        pl.Series("score", np.asarray(scores, dtype=float)),
        pl.Series("probability", np.asarray(probability, dtype=float)),
        pl.col(f"n_{group}").cast(pl.Int32).alias("n"),
        pl.col(f"y_{group}").cast(pl.Int8).alias("y"),
    )


def _last_weeks(frame: pl.DataFrame, weeks: int) -> pl.DataFrame:
    if weeks <= 0 or frame.is_empty():
        return frame.clear()
    last = frame.get_column("week_start").max()
    return frame.filter(pl.col("week_start") > last - timedelta(weeks=weeks))


# ---- what no forecaster can beat -----------------------------------------------------------------------
def ceilings(
    result: BacktestResult, shares: Sequence[float] = DEFAULT_SHARES
) -> dict[str, dict[str, dict[str, float]]]:
    """group -> oracle -> mean weekly metric, for two oracles that look at the test window itself:

    * ``oracle_rate``: each unit's mean count over the whole test window (perfect knowledge of every
      unit's average rate, none of the week-to-week noise): the ceiling of any forecaster of rates;
    * ``oracle_rate_loo``: the same mean without the scored week's own counts (the other test weeks
      only). ``oracle_rate`` ranks a week partly by that week's own events (1/T of its mean), i.e. by
      some of the noise no forecaster can know; this one holds none of it;
    * ``oracle_actual``: the week's actual counts (perfect foresight).

    They are ceilings, not baselines: never eligible as "best baseline".
    """
    rows = result.predictions.filter(pl.col("scorer") == MODEL)
    count = pl.col("n").cast(pl.Float64)
    weeks = pl.col("week_start").n_unique().over("group")
    rate = rows.with_columns(
        count.mean().over("group", "grid_id").alias("score"), pl.lit("oracle_rate").alias("scorer")
    )
    loo = rows.with_columns(
        ((count.sum().over("group", "grid_id") - count) / pl.max_horizontal(weeks - 1, 1)).alias("score"),
        pl.lit("oracle_rate_loo").alias("scorer"),
    )
    actual = rows.with_columns(count.alias("score"), pl.lit("oracle_actual").alias("scorer"))
    weekly = weekly_metrics(pl.concat([rate, loo, actual]), shares)
    metrics = [c for c in weekly.columns if c.startswith(("hit_", "pai_")) or c == "ap"]
    means = weekly.group_by("group", "scorer").agg(pl.col(metrics).mean())
    out: dict[str, dict[str, dict[str, float]]] = {}
    for row in means.iter_rows(named=True):
        out.setdefault(row["group"], {})[row["scorer"]] = {m: _plain(row[m]) for m in metrics}
    return out


# ---- metrics -------------------------------------------------------------------------------------------
def weekly_metrics(predictions: pl.DataFrame, shares: Sequence[float] = DEFAULT_SHARES) -> pl.DataFrame:
    """One row per (week, group, scorer): hit rate and PAI at each share, AP, Brier, ECE."""
    rows = []
    for (week, group, scorer), part in predictions.group_by(
        "week_start", "group", "scorer", maintain_order=True
    ):
        scores, counts = part["score"].to_numpy(), part["n"].to_numpy()
        probability, outcome = part["probability"].to_numpy(), part["y"].to_numpy()
        row = {"week_start": week, "group": group, "scorer": scorer}
        for share in shares:
            tag = round(share * 100)
            row[f"hit_{tag}"] = hit_rate(scores, counts, share)
            row[f"pai_{tag}"] = pai(scores, counts, share)
        row["ap"] = average_precision(scores, outcome >= 1)
        finite = np.isfinite(probability)
        row["brier"] = brier(probability[finite], outcome[finite]) if finite.any() else float("nan")
        row["ece"] = (
            expected_calibration_error(probability[finite], outcome[finite]) if finite.any() else float("nan")
        )
        rows.append(row)
    return pl.DataFrame(rows).sort("group", "scorer", "week_start")


def _plain(value) -> float:
    return float(value) if value is not None else float("nan")
