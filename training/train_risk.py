"""Train, evaluate and register the LightGBM risk forecaster (one MLflow run).

Evaluation is honest about time: the model is fitted on weeks before the test window and scored on
the test window, side by side with the naive baselines. Ranking metrics (average precision, share of
events in the top 10% / 5%) use the model's ranking score; Brier and ECE its calibrated probability
(a reliability plot is logged). The test-window forecasts are logged as
``evaluation/backtest_forecasts.parquet``: ``gridsense forecast`` seeds the forecast history with them.
The served scorer (``models.served_scorer``) is chosen per group on the weeks the backtest model never
saw (its calibration weeks and the test window): the model, a history baseline (decayed hotspot,
52-week mean) or a blend of the model and a baseline. It is logged with the model (param and tag
``served_scorer``, artifact ``served`` of the pyfunc), so the batch forecast serves the choice.
The registered model is then refitted on every labelled week with the same parameters, so forecasts
use the newest history. The rolling, retrain-every-week backtest on real logs is
``gridsense benchmark risk`` (``evaluation.risk_benchmark``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from core.errors import GridSenseUserError
from core.registry import DEMO_SITE, RISK_MODEL_NAME, SITE_TAG, site_model_name
from features.panel import feature_columns, panel_groups
from models.baselines import last_week_count, mean_52w
from models.pyfunc import log_risk_model
from models.risk_levels import RiskLevels
from models.risk_lgbm import RiskForecaster
from models.scoring import brier, expected_calibration_error, risk_metrics, top_share
from models.served_scorer import (
    ScorerChoice,
    ServedRiskScorer,
    choose_scorer,
    last_weeks,
    model_expected_events,
    selection_rows,
    week_metrics,
)
from models.validation_sample import risk_sample
from training import plots
from training.tracking import fingerprint, git_commit, register

BASELINES = {"last_week": last_week_count, "mean_52w": mean_52w}
# Chosen by the selection backtest of `gridsense benchmark risk --adapter gridsense` on the demo city
# (docs/BENCHMARKS.md): Poisson (ranks by expected events) + Platt calibration on the last 8 weeks
# before the test window (lower Brier than isotonic there, and never a flat 0% or 100%). One LightGBM
# thread: OpenMP threads spin-wait, and on a busy 2-core machine two threads are far slower than one.
DEFAULT_PARAMS: dict = {
    "objective": "poisson",
    "calibration": "platt",
    "calibration_weeks": 8,
    "n_jobs": 1,
}


@dataclass
class RiskTrainingResult:
    run_id: str
    model_version: str | None
    metrics: dict[str, float]


def groups_with_events(labelled: pl.DataFrame) -> tuple[str, ...]:
    """The risk groups the training weeks hold events of: a city may have only disputes (Chicago's
    crimes), and a group without a single event cannot be learnt."""
    groups = tuple(group for group in panel_groups(labelled) if labelled.get_column(f"n_{group}").sum() > 0)
    if not groups:
        raise GridSenseUserError(
            "the panel's training weeks hold no events of any risk group",
            "map categories to risk groups: the taxonomy's risk_groups and each leaf's risk_group",
        )
    return groups


def split_by_weeks(panel: pl.DataFrame, test_weeks: int) -> tuple[pl.DataFrame, pl.DataFrame, object]:
    """Labelled rows before the last `test_weeks` labelled weeks, and those weeks."""
    labelled = panel.filter(pl.col(f"y_{panel_groups(panel)[0]}").is_not_null())
    last_week = labelled.get_column("week_start").max()
    test_from = last_week - timedelta(weeks=test_weeks - 1)
    return (
        labelled.filter(pl.col("week_start") < test_from),
        labelled.filter(pl.col("week_start") >= test_from),
        test_from,
    )


def evaluate(
    model: RiskForecaster, test: pl.DataFrame
) -> tuple[dict[str, float], dict[str, dict[str, list]]]:
    """Metrics of the model and the baselines on the same rows, plus weekly series for plots."""
    scores_by_group = model.predict_score(test)
    probabilities = model.predict_proba(test)
    weeks = test.get_column("week_start").to_numpy()
    metrics: dict[str, float] = {}
    weekly: dict[str, dict[str, list]] = {}
    for group in model.groups:
        y = test.get_column(f"y_{group}").to_numpy()
        counts = test.get_column(f"n_{group}").to_numpy()
        baselines = {name: fn(test, group) for name, fn in BASELINES.items()}
        scorers = {"model": scores_by_group[group], **baselines}
        weekly[group] = {}
        for name, scores in scorers.items():
            scores = np.asarray(scores, dtype=float)
            result = risk_metrics(scores, y, counts, weeks)
            result["top5_share"] = top_share(scores, counts, weeks, 0.05)
            for key, value in result.items():
                if np.isscalar(value):
                    metrics[f"{name}.{group}.{key}"] = float(value)
            weekly[group][name] = _weekly_top_share(scores, counts, weeks)
        metrics[f"model.{group}.ece"] = expected_calibration_error(probabilities[group], y)
        metrics[f"model.{group}.brier"] = brier(probabilities[group], y)
    return metrics, weekly


def backtest_forecasts(model: RiskForecaster, test: pl.DataFrame) -> pl.DataFrame:
    """The test window's forecasts in the forecast-history layout (``batch.forecast.HISTORY_SCHEMA``)."""
    scores, probabilities = model.predict_score(test), model.predict_proba(test)
    groups = list(probabilities)
    frames = [
        test.select(
            "grid_id",
            "week_start",
            pl.lit(group).alias("group"),
            pl.Series("probability", probabilities[group], dtype=pl.Float64),
            pl.Series("score", scores[group], dtype=pl.Float64),
            pl.col(f"n_{group}").cast(pl.Int32).alias("actual_count"),
        )
        for group in groups
    ]
    ranked = pl.concat(frames).with_columns(
        pl.col("score")
        .rank(method="ordinal", descending=True)
        .over("week_start", "group")
        .cast(pl.Int32)
        .alias("rank")
    )
    return ranked.with_columns(
        RiskLevels().expr().alias("level"),
        pl.lit(RISK_MODEL_NAME).alias("model_name"),
        pl.lit("backtest").alias("model_version"),
    ).drop("score")


def choose_served(
    model: RiskForecaster, train: pl.DataFrame, test: pl.DataFrame
) -> tuple[dict[str, ScorerChoice], dict[str, float]]:
    """Per group, the served scorer chosen on the weeks `model` (fitted on `train`) never saw: its
    calibration weeks and the test window. Returns the choices and, per group, the chosen scorer's
    ranking metrics on the test window (``served.<group>.<metric>``: the window the choice was made on,
    so optimistic; the honest out-of-sample figure is ``gridsense benchmark risk``'s ``served``)."""
    unseen = pl.concat(
        [last_weeks(train, model.calibration_weeks if model.calibration else 0), test], how="vertical_relaxed"
    )
    choices, metrics = {}, {}
    for group in model.models_:
        rows = selection_rows(model_expected_events(model, unseen, group), unseen, group)
        choices[group], _ = choose_scorer(rows)
        tested = rows.filter(pl.col("week_start") >= test.get_column("week_start").min())
        served = ServedRiskScorer(model, {group: choices[group]}).fit(train).predict_score(test)[group]
        weekly = [
            week_metrics(served[mask], tested["n"].to_numpy()[mask], tested["y"].to_numpy()[mask])
            for week in tested["week_start"].unique().sort()
            for mask in [(tested["week_start"] == week).to_numpy()]
        ]
        for name in weekly[0]:
            metrics[f"served.{group}.{name}"] = float(np.nanmean([w[name] for w in weekly]))
    return choices, metrics


def _weekly_top_share(scores: np.ndarray, counts: np.ndarray, weeks: np.ndarray, share: float = 0.10) -> list:
    return [
        top_share(scores[weeks == w], counts[weeks == w], weeks[weeks == w], share) for w in np.unique(weeks)
    ]


def train_risk_model(
    panel: pl.DataFrame,
    panel_path: str | Path,
    project_root: Path,
    test_weeks: int = 13,
    alias: str | None = "champion",
    params: dict | None = None,
    site: str = DEMO_SITE,
) -> RiskTrainingResult:
    """`site` names the registered model (core.registry.site_model_name) and is tagged on the version."""
    import mlflow

    train, test, test_from = split_by_weeks(panel, test_weeks)
    features = feature_columns(panel)
    params = {**DEFAULT_PARAMS, "groups": groups_with_events(train), **(params or {})}
    with mlflow.start_run(run_name="risk-lightgbm") as run:
        mlflow.set_tags({"model": "lightgbm", "git_commit": git_commit(project_root)})
        backtest_model = RiskForecaster(**params)
        mlflow.log_params({f"model.{k}": v for k, v in backtest_model.get_params().items()})
        mlflow.log_params(fingerprint(panel, panel_path, "week_start").as_params())
        mlflow.log_params(
            {
                "split.test_from": str(test_from),
                "split.test_weeks": test_weeks,
                "split.train_rows": train.height,
                "features.count": len(features),
            }
        )

        backtest_model.fit(train, feature_columns=features)
        metrics, weekly = evaluate(backtest_model, test)
        choices, served_metrics = choose_served(backtest_model, train, test)
        metrics.update(served_metrics)
        mlflow.log_metrics({k: v for k, v in metrics.items() if np.isfinite(v)})
        _log_served_choice(choices)
        served_backtest = ServedRiskScorer(backtest_model, choices).fit(train)
        _log_artifacts(features, weekly, backtest_forecasts(served_backtest, test))

        labelled = pl.concat([train, test])
        final_model = RiskForecaster(**params).fit(labelled, feature_columns=features)
        served = ServedRiskScorer(final_model, choices).fit(labelled)
        sample = risk_sample(test, final_model)
        mlflow.log_param("validation_sample.rows", sample.rows.height)
        model_info = log_risk_model(final_model, sample, test.select(features).head(5), served=served)
        name, tags = site_model_name(RISK_MODEL_NAME, site), {SITE_TAG: site}
        version = register(model_info.model_uri, name, alias, tags=tags) if alias is not None else None
    return RiskTrainingResult(run.info.run_id, version, metrics)


def _log_served_choice(choices: dict[str, ScorerChoice]) -> None:
    """Param and tag ``served_scorer`` (group=label, ...), and per group its scorer, baseline and weight."""
    import mlflow

    summary = ",".join(f"{group}={choice.label}" for group, choice in choices.items())
    mlflow.set_tag("served_scorer", summary)
    mlflow.log_param("served_scorer", summary)
    for group, choice in choices.items():
        mlflow.log_params(
            {
                f"served_scorer.{group}": choice.scorer,
                f"served_scorer.{group}.baseline": choice.baseline or "",
                f"served_scorer.{group}.weight": choice.weight,
            }
        )


def _log_artifacts(features: list[str], weekly: dict[str, dict[str, list]], forecasts: pl.DataFrame) -> None:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        (out / "feature_list.json").write_text(json.dumps(features, indent=1), encoding="utf-8")
        for group, series in weekly.items():
            weeks = [str(i) for i in range(1, len(next(iter(series.values()))) + 1)]
            plots.weekly_top_share_plot(
                weeks, series, out / f"top10_share_{group}.png", title=f"{group}: test weeks"
            )
            rows = forecasts.filter(pl.col("group") == group)
            plots.reliability_plot(
                rows["probability"].to_numpy(),
                (rows["actual_count"].to_numpy() > 0).astype(float),
                out / f"reliability_{group}.png",
                title=f"{group}: calibrated probability, test weeks",
            )
        forecasts.write_parquet(out / "backtest_forecasts.parquet")
        mlflow.log_artifacts(str(out), artifact_path="evaluation")
