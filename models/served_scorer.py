"""The served risk scorer: per risk group, whichever of the LightGBM model, a history baseline or a blend
of the two was best on weeks before the ones it forecasts.

On real logs "where things happened before" is within a few percent of the best possible ranking, and
the model does not always beat it (docs/BENCHMARKS.md). So the model is one candidate among:

* ``model``: the forecaster's expected count (its ranking score);
* ``hotspot``: the unit's decayed weekly rate (``models.baselines.decayed_hotspot``);
* ``mean_52w``: the unit's mean weekly count over the previous 52 weeks;
* ``blend``: ``(1 - w) * model + w * baseline``, a convex blend of the two expected weekly counts, the
  baseline's weight ``w`` on a grid in (0, 1).

:func:`choose_scorer` scores every candidate on out-of-sample weeks and keeps the best; ties keep the
model. The default criterion, ``log_share``, is the mean log-likelihood per event of where the week's
events fell: each unit's share of the candidate's rates that week, ``sum_i n_i log(r_i / sum_j r_j) /
sum_i n_i`` (a multinomial log score). It judges exactly what ranking units within a week needs (their
relative rates, not the city's level) and uses every event, so on a few weeks it is far less noisy than
the hit rate of the top 5%, which turns on a handful of units near the cut-off. ``ranking`` (the mean
over hit rate at 5% and 10% and average precision of the ratio to the model) is kept for comparison.

:class:`ServedRiskScorer` wraps the fitted forecaster with the choice per group:
its ``predict_score`` / ``expected_events`` is the chosen rate, its ``predict_proba`` the model's own
calibrated probability for ``model`` and otherwise a calibrator fitted on the forecaster's calibration
weeks (which the booster never saw), as the model's are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from models import baselines
from models.calibration import ProbabilityCalibrator
from models.scoring import average_precision, hit_rate

MODEL = "model"
BLEND = "blend"
BASELINE_NAMES: tuple[str, ...] = ("hotspot", "mean_52w")
SCORER_NAMES: tuple[str, ...] = (MODEL, *BASELINE_NAMES, BLEND)
BLEND_WEIGHTS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 10))
SELECT_METRICS: tuple[str, ...] = ("hit_5", "hit_10", "ap")
CRITERIA: tuple[str, ...] = ("log_share", "ranking")
RATE_FLOOR = 1e-3  # a unit's rate is at least this share of the week's mean rate (no log of zero)
COUNT_OBJECTIVES = frozenset({"poisson", "tweedie"})


@dataclass(frozen=True)
class ScorerChoice:
    """``weight`` is the baseline's share of the blend: 0 = the model alone, 1 = the baseline alone."""

    baseline: str | None = None
    weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"blend weight must be in [0, 1], got {self.weight}")
        if self.baseline is not None and self.baseline not in BASELINE_NAMES:
            raise ValueError(f"baseline must be one of {BASELINE_NAMES}, got {self.baseline!r}")
        if self.weight > 0 and self.baseline is None:
            raise ValueError("a blend weight needs a baseline")

    @property
    def scorer(self) -> str:
        """model | hotspot | mean_52w | blend (the forecast table's ``scorer`` column)."""
        if self.baseline is None or self.weight == 0:
            return MODEL
        return self.baseline if self.weight == 1 else BLEND

    @property
    def label(self) -> str:
        """A readable name: ``blend(hotspot, 0.3)`` for a blend, else the scorer."""
        return f"blend({self.baseline}, {self.weight:g})" if self.scorer == BLEND else self.scorer

    def rate(self, model_rate: np.ndarray, baseline_rates: Mapping[str, np.ndarray]) -> np.ndarray:
        model_rate = np.asarray(model_rate, dtype=float)
        if self.scorer == MODEL:
            return model_rate
        base = np.asarray(baseline_rates[self.baseline], dtype=float)
        return (1.0 - self.weight) * model_rate + self.weight * base

    def to_dict(self) -> dict:
        return {"scorer": self.scorer, "label": self.label, **asdict(self)}


def candidates(weights: Sequence[float] = BLEND_WEIGHTS, blend: bool = True) -> list[ScorerChoice]:
    """The model first (it wins ties), then each baseline alone, then the blends."""
    out = [ScorerChoice()] + [ScorerChoice(name, 1.0) for name in BASELINE_NAMES]
    if blend:
        out += [ScorerChoice(name, float(w)) for name in BASELINE_NAMES for w in weights if 0 < w < 1]
    return out


def baseline_rates(panel: pl.DataFrame, group: str, half_life: float = 13) -> dict[str, np.ndarray]:
    """The baselines' expected weekly counts per panel row (point-in-time columns, as the model sees);
    a baseline whose column the panel lacks is left out (it cannot be chosen)."""
    columns = {
        "hotspot": (
            f"ewm_{group}_h{half_life:g}",
            lambda: baselines.decayed_hotspot(panel, group, half_life),
        ),
        "mean_52w": (f"cnt_{group}_52w", lambda: np.nan_to_num(baselines.mean_52w(panel, group), nan=0.0)),
    }
    return {name: rate() for name, (column, rate) in columns.items() if column in panel.columns}


# ---- choosing ------------------------------------------------------------------------------------------
def week_metrics(scores: np.ndarray, counts: np.ndarray, outcomes: np.ndarray) -> dict[str, float]:
    """One week's ranking metrics of a score (the ones the choice looks at)."""
    return {
        "hit_5": hit_rate(scores, counts, 0.05),
        "hit_10": hit_rate(scores, counts, 0.10),
        "ap": average_precision(scores, np.asarray(outcomes) >= 1),
    }


def log_share(rates: np.ndarray, counts: np.ndarray) -> float:
    """One week: mean log-probability per event of the unit it fell in, under shares proportional to
    ``rates`` (floored at :data:`RATE_FLOOR` x the mean rate); nan for a week without events."""
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    rates = np.asarray(rates, dtype=float)
    if total <= 0 or not len(rates):
        return float("nan")
    floor = RATE_FLOOR * max(float(np.mean(rates)), 1e-12)
    rates = np.maximum(rates, floor)
    return float(np.sum(counts * np.log(rates / rates.sum())) / total)


def choose_scorer(
    rows: pl.DataFrame,
    weights: Sequence[float] = BLEND_WEIGHTS,
    blend: bool = True,
    criterion: str = "log_share",
    metrics: Sequence[str] = SELECT_METRICS,
) -> tuple[ScorerChoice, dict[str, float]]:
    """The best candidate on ``rows`` (one group: ``week_start``, ``model``, one column per baseline of
    :data:`BASELINE_NAMES`, ``n`` the count, ``y`` 0/1) and every candidate's criterion (higher is
    better): ``log_share`` (see the module), or ``ranking``: the mean over ``metrics`` of (candidate's
    mean weekly value / the model's). Ties keep the earlier candidate (the model first). No rows: the
    model."""
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    options = [c for c in candidates(weights, blend) if c.baseline is None or c.baseline in rows.columns]
    if rows.is_empty():
        return options[0], {}
    scores = _log_share_criterion(rows, options) if criterion == "log_share" else None
    scores = scores or _ranking_criterion(rows, options, metrics)
    best = options[0]
    for choice in options[1:]:
        if scores[choice.label] > scores[best.label] + 1e-12:
            best = choice
    return best, scores


def _log_share_criterion(rows: pl.DataFrame, options: list[ScorerChoice]) -> dict[str, float]:
    per_option: dict[str, list[float]] = {c.label: [] for c in options}
    for _, week in rows.group_by("week_start", maintain_order=True):
        counts = week["n"].to_numpy()
        rates = {name: week[name].to_numpy() for name in BASELINE_NAMES if name in week.columns}
        model_rate = week[MODEL].to_numpy()
        for choice in options:
            per_option[choice.label].append(log_share(choice.rate(model_rate, rates), counts))
    return {label: float(np.nanmean(v)) if np.isfinite(v).any() else 0.0 for label, v in per_option.items()}


def _ranking_criterion(
    rows: pl.DataFrame, options: list[ScorerChoice], metrics: Sequence[str]
) -> dict[str, float]:
    means = {c.label: {m: [] for m in metrics} for c in options}
    for _, week in rows.group_by("week_start", maintain_order=True):
        counts, outcomes = week["n"].to_numpy(), week["y"].to_numpy()
        rates = {name: week[name].to_numpy() for name in BASELINE_NAMES if name in week.columns}
        model_rate = week[MODEL].to_numpy()
        for choice in options:
            values = week_metrics(choice.rate(model_rate, rates), counts, outcomes)
            for m in metrics:
                means[choice.label][m].append(values[m])
    averaged = {
        label: {m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for m, v in ms.items()}
        for label, ms in means.items()
    }
    reference = averaged[MODEL]
    return {
        label: float(
            np.nanmean([ms[m] / reference[m] for m in metrics if reference[m] and np.isfinite(reference[m])])
        )
        if any(reference[m] and np.isfinite(reference[m]) for m in metrics)
        else 1.0
        for label, ms in averaged.items()
    }


def selection_rows(
    model_rate: np.ndarray, panel: pl.DataFrame, group: str, half_life: float = 13
) -> pl.DataFrame:
    """The frame :func:`choose_scorer` reads, for panel rows of one group scored by the model (a column
    per baseline the panel can compute)."""
    rates = baseline_rates(panel, group, half_life)
    return panel.select(
        "week_start",
        pl.Series(MODEL, np.asarray(model_rate, dtype=float)),
        *(pl.Series(name, values) for name, values in rates.items()),
        pl.col(f"n_{group}").cast(pl.Float64).alias("n"),
        pl.col(f"y_{group}").cast(pl.Int8).alias("y"),
    )


def last_weeks(frame: pl.DataFrame, weeks: int, column: str = "week_start") -> pl.DataFrame:
    """The rows of the last ``weeks`` weeks of ``frame``."""
    if weeks <= 0 or frame.is_empty():
        return frame.clear()
    last = frame.get_column(column).max()
    return frame.filter(pl.col(column) > last - timedelta(weeks=weeks))


# ---- the served estimator ------------------------------------------------------------------------------
class ServedRiskScorer(BaseEstimator):
    """The fitted ``forecaster`` (``models.risk_lgbm.RiskForecaster``) with a :class:`ScorerChoice` per group
    (``choices``; missing groups: the model). ``fit(panel)``: ``panel`` is the one the forecaster was
    fitted on; the choices other than the model are calibrated on its last ``calibration_weeks`` weeks."""

    def __init__(self, forecaster=None, choices: Mapping[str, ScorerChoice] | None = None, half_life=13):
        self.forecaster = forecaster
        self.choices = choices
        self.half_life = half_life

    def fit(self, panel: pl.DataFrame) -> ServedRiskScorer:
        check_is_fitted(self.forecaster, "models_")
        given = dict(self.choices or {})
        self.groups_ = tuple(self.forecaster.models_)
        self.choices_ = {group: given.get(group, ScorerChoice()) for group in self.groups_}
        self.calibrators_ = {}
        method = getattr(self.forecaster, "calibration", None) or "isotonic"
        weeks = getattr(self.forecaster, "calibration_weeks", 8) or 8
        for group, choice in self.choices_.items():
            if choice.scorer == MODEL:
                continue
            labelled = last_weeks(panel.filter(pl.col(f"y_{group}").is_not_null()), weeks)
            if labelled.height:
                rates = self._rate(labelled, group)
                outcomes = labelled.get_column(f"y_{group}").to_numpy()
                self.calibrators_[group] = ProbabilityCalibrator(method).fit(rates, outcomes)
        return self

    def scorers(self) -> dict[str, str]:
        """group -> model | hotspot | mean_52w | blend."""
        check_is_fitted(self, "choices_")
        return {group: choice.scorer for group, choice in self.choices_.items()}

    def predict_score(self, panel: pl.DataFrame) -> dict[str, np.ndarray]:
        """The served ranking score per group: the chosen expected weekly count."""
        check_is_fitted(self, "choices_")
        return {group: self._rate(panel, group) for group in self.groups_}

    def expected_events(self, panel: pl.DataFrame) -> dict[str, np.ndarray]:
        """The Poisson mean per group (a binary model's probability p read as -log(1 - p))."""
        return self.predict_score(panel)

    def predict_proba(self, panel: pl.DataFrame) -> dict[str, np.ndarray]:
        check_is_fitted(self, "choices_")
        out = {}
        model_proba: dict[str, np.ndarray] | None = None
        for group, choice in self.choices_.items():
            calibrator = self.calibrators_.get(group)
            if choice.scorer != MODEL and calibrator is not None:
                out[group] = calibrator.predict(self._rate(panel, group))
                continue
            model_proba = model_proba if model_proba is not None else self.forecaster.predict_proba(panel)
            out[group] = model_proba[group]
        return out

    def _rate(self, panel: pl.DataFrame, group: str) -> np.ndarray:
        model_rate = model_expected_events(self.forecaster, panel, group)
        choice = self.choices_[group]
        if choice.scorer == MODEL:
            return model_rate
        return choice.rate(model_rate, baseline_rates(panel, group, self.half_life))


def model_expected_events(forecaster, panel: pl.DataFrame, group: str) -> np.ndarray:
    """The forecaster's expected weekly count: a count booster's score, or -log(1 - p) of a binary one."""
    score = np.asarray(forecaster.predict_score(panel)[group], dtype=float)
    objective = getattr(forecaster, "objectives_", {}).get(group, "binary")
    if objective in COUNT_OBJECTIVES:
        return score
    return -np.log1p(-np.clip(score, 0.0, 1.0 - 1e-9))


def served_or_model(loaded):
    """What scores a loaded risk pyfunc's rows: its served scorer, or (versions before it) the forecaster."""
    served = getattr(loaded, "served", None)
    return served if served is not None else loaded.forecaster
