"""Batch forecast: score the coming week for every grid with the registry's champion risk model.

The result is a table the API reads, so serving never trains or builds features. One row per grid and
risk group (``FORECAST_COLUMNS``): probability (calibrated), rank (1 = highest expected risk), level
高/中/低 (``models.risk_levels``), ``expected_events`` (the Poisson mean), ``relative_risk`` (expected
events over the city's mean for the group that week), ``scorer`` (model | hotspot | mean_52w | blend:
which served scorer answers, chosen by backtest when the model was trained, ``models.served_scorer``),
the top-3 drivers of the LightGBM model in Chinese and as JSON, every non-zero SHAP contribution as
JSON, and ``trend``: the grid's last ``TREND_WEEKS`` forecasts (this one included). Ranks follow the
served score.

Forecasts are also kept: ``history.parquet`` next to the table holds every week ever forecast, with what
actually happened once the panel has that week's labels. When there is no history yet, it is seeded
from the champion run's out-of-sample backtest forecasts (``evaluation/backtest_forecasts.parquet``,
written by ``training.train_risk``), so the history endpoint has data from the first forecast on.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from core.atomic_files import atomic_write_with, locked
from core.registry import DEMO_SITE, RISK_MODEL_NAME, site_model_name
from core.tables import HISTORY_FILE, TREND_WEEKS
from features.panel import l1_columns
from features.taxonomy import Taxonomy, load_taxonomy
from models.risk_explain import contributions_json, drivers_text, top_drivers
from models.risk_levels import RiskLevels
from models.served_scorer import MODEL as MODEL_SCORER
from models.served_scorer import model_expected_events, served_or_model
from models.validation_sample import check_risk

DRIVERS_K = 3
DENSE_PROBABILITY = 0.9  # a grid this likely to see an event is "certain": probability no longer separates
BACKTEST_ARTIFACT = "evaluation/backtest_forecasts.parquet"
HISTORY_SCHEMA: dict[str, pl.DataType] = {
    "grid_id": pl.String(),
    "week_start": pl.Date(),
    "group": pl.String(),
    "probability": pl.Float64(),
    "rank": pl.Int32(),
    "level": pl.String(),
    "model_name": pl.String(),
    "model_version": pl.String(),
    "source": pl.String(),  # "forecast" or "backtest"
    "actual_count": pl.Int32(),  # events of the group that week; null until known
    "actual": pl.Int8(),  # 1 if at least one
}


def forecast_week_rows(panel: pl.DataFrame) -> pl.DataFrame:
    """The panel rows of the latest week (the one after the log ends; its labels are unknown)."""
    latest = panel.get_column("week_start").max()
    return panel.filter(pl.col("week_start") == latest)


def rank_forecasts(
    rows: pl.DataFrame,
    probabilities: dict,
    model_name: str,
    model_version: str,
    scores: dict | None = None,
    levels: RiskLevels | None = None,
    expected: dict | None = None,
    scorers: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Long table: one row per grid and risk group with probability, rank (1 = highest), level,
    expected events (``expected``, or null), relative risk (expected events / the group's mean over the
    rows) and the scorer's name (``scorers``, default ``model``).

    Ranks follow ``scores`` (the served ranking score) when given, else the probabilities; ties keep
    the grid order."""
    keys = rows.select("grid_id", "week_start")
    scores = scores or probabilities
    frames = [
        keys.with_columns(
            group=pl.lit(group),
            probability=pl.Series(values, dtype=pl.Float64),
            score=pl.Series(np.asarray(scores[group], dtype=float), dtype=pl.Float64),
            expected_events=pl.Series(
                np.asarray(expected[group], dtype=float) if expected else np.full(rows.height, np.nan),
                dtype=pl.Float64,
            ).fill_nan(None),
            scorer=pl.lit((scorers or {}).get(group, MODEL_SCORER), dtype=pl.String),
        )
        for group, values in probabilities.items()
    ]
    mean = pl.col("expected_events").mean().over("group", "week_start")
    ranked = pl.concat(frames).with_columns(
        rank=pl.col("score").rank(method="ordinal", descending=True).over("group").cast(pl.Int32),
        relative_risk=pl.when(mean > 0).then(pl.col("expected_events") / mean).otherwise(None),
        model_name=pl.lit(model_name),
        model_version=pl.lit(model_version),
    )
    return ranked.with_columns(level=(levels or RiskLevels()).expr()).sort("group", "rank")


def expected_events(scorer, rows: pl.DataFrame) -> dict[str, np.ndarray]:
    """The Poisson mean per group: the served scorer's, or the forecaster's expected count."""
    if hasattr(scorer, "expected_events"):
        return scorer.expected_events(rows)
    return {group: model_expected_events(scorer, rows, group) for group in scorer.models_}


def default_map_metric(table: pl.DataFrame, top_share: float = 0.2, dense_share: float = 0.5) -> str:
    """What the map draws when the site does not say, from a forecast table (``probability``,
    ``expected_events``, ``group``): ``relative`` when the probability no longer separates the cells
    that matter, i.e. when at least `dense_share` of each group's top `top_share` cells by expected
    events (pooled over groups) are at or above ``DENSE_PROBABILITY``; else ``probability``.

    On Chicago's 1 km cells the median probability is about 0.7 (the city's edges are quiet) but every
    busy cell is near-certain, so a rule on all cells keeps the probability map whose busy half is one
    dark block; the top cells are what a supervisor looks at."""
    if table.is_empty():
        return "probability"
    key = "expected_events" if table.get_column("expected_events").drop_nulls().len() else "probability"
    top = table.filter(
        pl.col(key).rank(method="ordinal", descending=True).over("group")
        <= (pl.len().over("group") * top_share).ceil()
    )
    dense = float((top.get_column("probability") >= DENSE_PROBABILITY).mean() or 0.0)
    return "relative" if dense >= dense_share else "probability"


def explain_forecasts(
    forecaster,
    rows: pl.DataFrame,
    labels: dict[str, str] | None = None,
    language: str = "zh",
    group_labels: dict[str, str] | None = None,
) -> pl.DataFrame:
    """grid_id, group, drivers (in `language`, zh or en, one line), drivers_json (top 3 with values and
    contributions) and contributions (all non-zero SHAP values + bias, JSON) per grid and group.
    `labels`: panel column -> category name; `group_labels`: risk group id -> the site's name."""
    frames = []
    for group in forecaster.models_:
        contributions, names = _contributions(forecaster, rows, group)
        drivers = top_drivers(
            contributions, names, rows, DRIVERS_K, labels, language=language, group_labels=group_labels
        )
        frames.append(
            rows.select("grid_id").with_columns(
                group=pl.lit(group),
                drivers=pl.Series([drivers_text(d, language) for d in drivers], dtype=pl.String),
                drivers_json=pl.Series(
                    [json.dumps([x.to_dict() for x in d], ensure_ascii=False) for d in drivers],
                    dtype=pl.String,
                ),
                contributions=pl.Series(contributions_json(contributions, names), dtype=pl.String),
            )
        )
    return pl.concat(frames)


def _contributions(forecaster, rows: pl.DataFrame, group: str) -> tuple:
    """SHAP values with the offset term when the forecaster has one (models saved before it have not)."""
    if hasattr(forecaster, "explained_contributions") and getattr(forecaster, "offset", None):
        return forecaster.explained_contributions(rows, group)
    return forecaster.contributions(rows, group), list(forecaster.feature_columns_)


@dataclass(frozen=True)
class Champion:
    """A site's registered risk model at an alias: its name, version, URI (``models:/name/version``,
    pinned: a promotion during a job does not change it), run and the loaded python model."""

    name: str
    version: str
    uri: str
    run_id: str | None
    loaded: object


def load_champion(site: str = DEMO_SITE, alias: str = "champion") -> Champion:
    """The site's risk model at `alias` (`gridsense-risk@alias` for the demo), refused if it fails its
    validation sample."""
    import mlflow
    from mlflow import MlflowClient

    name = site_model_name(RISK_MODEL_NAME, site)
    model_version = MlflowClient().get_model_version_by_alias(name, alias)
    uri = f"models:/{name}/{model_version.version}"
    loaded = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    if getattr(loaded, "validation_sample", None) is not None:  # refuse a champion that fails its sample
        check_risk(loaded.validation_sample, loaded.forecaster.predict_proba(loaded.validation_sample.rows))
    return Champion(name, str(model_version.version), uri, model_version.run_id, loaded)


def run_forecast(
    panel: pl.DataFrame,
    out_path: Path,
    alias: str = "champion",
    grids: pl.DataFrame | None = None,
    levels: RiskLevels | None = None,
    history_path: Path | None = None,
    site: str = DEMO_SITE,
    taxonomy: Taxonomy | None = None,
    language: str = "zh",
) -> pl.DataFrame:
    """Score the forecast week with the site's risk model (`gridsense-risk@alias` for the demo), append it
    to the history, write both tables.

    `grids` (optional) adds each grid's district; `levels` sets the 高/中/低 rule (default: top 5% /
    top 20% of grids); `history_path` defaults to ``history.parquet`` next to `out_path`; the drivers
    name `taxonomy`'s categories and risk groups (default the bundled taxonomy) in `language`."""
    champion = load_champion(site, alias)
    table = forecast_table(
        panel, champion.loaded.forecaster, champion.version, levels, grids,
        served=served_or_model(champion.loaded), model_name=champion.name, taxonomy=taxonomy,
        language=language,
    )  # fmt: skip
    return publish_forecast(table, panel, out_path, champion.run_id, history_path)


def publish_forecast(
    table: pl.DataFrame,
    outcomes: pl.DataFrame,
    out_path: Path,
    run_id: str | None,
    history_path: Path | None = None,
) -> pl.DataFrame:
    """Append the forecast week's `table` to the history (seeded from run `run_id`'s backtest when there
    is none) with the actual events `outcomes` has (``grid_id``, ``week_start``, ``n_<group>``: the
    panel or those columns of it), add the trend and write both tables; returns the table written."""
    from mlflow import MlflowClient

    history_path = history_path or out_path.parent / HISTORY_FILE
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with locked(history_path):  # two forecast runs at once must not lose each other's history rows
        history = load_history(history_path)
        if history.is_empty():
            history = seeded_history(MlflowClient(), run_id)
        history = update_history(history, table, outcomes)
        table = with_trend(table, history)
        # replaced whole (the API never reads half a file); the history first: the API reloads on the table
        atomic_write_with(history_path, history.write_parquet, mode=0o644)
        atomic_write_with(out_path, table.write_parquet, mode=0o644)
    return table


def forecast_table(
    panel: pl.DataFrame,
    forecaster,
    version: str,
    levels: RiskLevels | None = None,
    grids: pl.DataFrame | None = None,
    labels: dict[str, str] | None = None,
    served=None,
    model_name: str = RISK_MODEL_NAME,
    taxonomy: Taxonomy | None = None,
    language: str = "zh",
) -> pl.DataFrame:
    """The forecast week's table without the trend (see :func:`with_trend`). `served` (a
    ``models.served_scorer.ServedRiskScorer``) scores and ranks; default the forecaster itself (versions
    registered before the served scorer). The drivers explain the forecaster. `model_name`: the
    registered name the table names (the site's, `run_forecast`)."""
    rows = forecast_week_rows(panel)
    scorer = served if served is not None else forecaster
    table = rank_forecasts(
        rows,
        scorer.predict_proba(rows),
        model_name,
        version,
        scorer.predict_score(rows),
        levels,
        expected=expected_events(scorer, rows),
        scorers=scorer.scorers() if hasattr(scorer, "scorers") else None,
    )
    taxonomy = taxonomy or load_taxonomy()
    explained = explain_forecasts(
        forecaster, rows, labels or l1_columns(taxonomy.level1), language, taxonomy.group_labels(language)
    )
    table = table.join(explained, on=["grid_id", "group"], how="left")
    if grids is not None and "district" in grids.columns:
        table = table.join(grids.select("grid_id", "district"), on="grid_id", how="left")
    return table.sort("group", "rank")


# ---- history -------------------------------------------------------------------------------------------
def load_history(path: Path) -> pl.DataFrame:
    if path.exists():
        return _typed_history(pl.read_parquet(path))
    return pl.DataFrame(schema=HISTORY_SCHEMA)


def update_history(history: pl.DataFrame, table: pl.DataFrame, panel: pl.DataFrame) -> pl.DataFrame:
    """History plus this forecast (replacing an earlier forecast of the same week), with the actual
    events of every week the panel has labels for."""
    new = table.select(
        *(
            c
            for c in (
                "grid_id",
                "week_start",
                "group",
                "probability",
                "rank",
                "level",
                "model_name",
                "model_version",
            )
        ),
        pl.lit("forecast").alias("source"),
    )
    combined = pl.concat([history.drop("actual_count", "actual"), new], how="diagonal_relaxed").unique(
        ["grid_id", "week_start", "group"], keep="last", maintain_order=True
    )
    return _typed_history(with_actuals(combined, panel)).sort("week_start", "group", "rank")


def with_actuals(history: pl.DataFrame, panel: pl.DataFrame) -> pl.DataFrame:
    """Join each forecast to what happened: ``n_<group>`` of the panel for that grid and week."""
    groups = [g for g in history["group"].unique().to_list() if f"n_{g}" in panel.columns]
    if not groups:
        return history.with_columns(pl.lit(None, pl.Int32).alias("actual_count"))
    outcomes = panel.select("grid_id", "week_start", *(pl.col(f"n_{g}").alias(g) for g in groups)).unpivot(
        index=["grid_id", "week_start"], variable_name="group", value_name="actual_count"
    )
    return history.join(outcomes, on=["grid_id", "week_start", "group"], how="left")


def seeded_history(client, run_id: str | None) -> pl.DataFrame:
    """The champion run's backtest forecasts, or an empty history when the run has none."""
    if run_id is None:
        return pl.DataFrame(schema=HISTORY_SCHEMA)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = client.download_artifacts(run_id, BACKTEST_ARTIFACT, tmp)
            return _typed_history(pl.read_parquet(path).with_columns(pl.lit("backtest").alias("source")))
    except Exception:  # noqa: BLE001 - an older run without the artifact: start with an empty history
        return pl.DataFrame(schema=HISTORY_SCHEMA)


def with_trend(table: pl.DataFrame, history: pl.DataFrame, weeks: int = TREND_WEEKS) -> pl.DataFrame:
    """``trend``: the grid's last ``weeks`` forecasts up to this week (oldest first), as
    ``{week_start, probability, rank, level, actual_count}`` structs."""
    week = table["week_start"].max()
    recent = (
        history.filter(pl.col("week_start") <= week)
        .sort("week_start")
        .group_by("grid_id", "group", maintain_order=True)
        .agg(
            pl.struct("week_start", "probability", "rank", "level", "actual_count").tail(weeks).alias("trend")
        )
    )
    return table.join(recent, on=["grid_id", "group"], how="left").sort("group", "rank")


def _typed_history(frame: pl.DataFrame) -> pl.DataFrame:
    with_counts = (
        frame if "actual_count" in frame.columns else frame.with_columns(pl.lit(None).alias("actual_count"))
    )
    with_flags = with_counts.with_columns((pl.col("actual_count") > 0).cast(pl.Int8).alias("actual"))
    columns = [
        pl.col(name).cast(dtype) if name in with_flags.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in HISTORY_SCHEMA.items()
    ]
    return with_flags.select(columns)
