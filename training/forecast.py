"""Batch forecast: score the coming week for every grid with the registry's champion risk model.

The result is a table the API reads, so serving never trains or builds features.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from training.tracking import RISK_MODEL_NAME


def forecast_week_rows(panel: pl.DataFrame) -> pl.DataFrame:
    """The panel rows of the latest week (the one after the log ends; its labels are unknown)."""
    latest = panel.get_column("week_start").max()
    return panel.filter(pl.col("week_start") == latest)


def rank_forecasts(rows: pl.DataFrame, probabilities: dict, model_name: str, model_version: str) -> pl.DataFrame:
    """Long table: one row per grid and risk group with probability and rank (1 = highest)."""
    keys = rows.select("grid_id", "week_start")
    frames = [
        keys.with_columns(group=pl.lit(group), probability=pl.Series(values, dtype=pl.Float64))
        for group, values in probabilities.items()
    ]
    return (
        pl.concat(frames)
        .with_columns(
            rank=pl.col("probability").rank(method="ordinal", descending=True).over("group").cast(pl.Int32),
            model_name=pl.lit(model_name),
            model_version=pl.lit(model_version),
        )
        .sort("group", "rank")
    )


def run_forecast(
    panel: pl.DataFrame, out_path: Path, alias: str = "champion", grids: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Score the forecast week with `gridsense-risk@alias`; `grids` (optional) adds each grid's district."""
    import mlflow
    from mlflow import MlflowClient

    version = MlflowClient().get_model_version_by_alias(RISK_MODEL_NAME, alias).version
    loaded = mlflow.pyfunc.load_model(f"models:/{RISK_MODEL_NAME}/{version}")
    forecaster = loaded.unwrap_python_model().forecaster
    rows = forecast_week_rows(panel)
    table = rank_forecasts(rows, forecaster.predict_proba(rows), RISK_MODEL_NAME, str(version))
    if grids is not None and "district" in grids.columns:
        table = table.join(grids.select("grid_id", "district"), on="grid_id", how="left")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    table.write_parquet(out_path)
    return table
