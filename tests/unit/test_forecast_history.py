"""The forecast table (levels, drivers, contributions, trend) and the forecast history, without MLflow."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from batch.forecast import (
    HISTORY_SCHEMA,
    TREND_WEEKS,
    forecast_table,
    load_history,
    update_history,
    with_trend,
)
from models.risk_levels import RiskLevels
from models.risk_lgbm import RiskForecaster

N_GRIDS, N_WEEKS = 40, 30
WEEKS = [date(2025, 1, 6) + timedelta(weeks=w) for w in range(N_WEEKS)]


def panel_until(last: int, seed: int = 0) -> pl.DataFrame:
    """Panel whose week `last` is the (unlabelled) forecast week."""
    rng = np.random.default_rng(seed)
    n = N_GRIDS * (last + 1)
    signal = rng.normal(size=n)
    counts = rng.poisson(np.exp(signal - 0.5))
    frame = pl.DataFrame(
        {
            "grid_id": np.repeat([f"G{g:02d}" for g in range(N_GRIDS)], last + 1),
            "week_start": [WEEKS[w] for w in np.tile(np.arange(last + 1), N_GRIDS)],
            "n_dispute": counts,
            "y_dispute": (counts > 0).astype(np.int8),
            "cnt_dispute_4w": np.clip(np.round(np.exp(signal) * 4), 0, None).astype(np.int32),
            "cnt_dispute_52w": np.full(n, 40, dtype=np.int32),
            "old_compound": (rng.random(n) < 0.3).astype(np.int8),
        }
    )
    future = pl.col("week_start") == WEEKS[last]
    return frame.with_columns(pl.when(~future).then(pl.col(c)).alias(c) for c in ("n_dispute", "y_dispute"))


@pytest.fixture(scope="module")
def forecaster() -> RiskForecaster:
    panel = panel_until(20).filter(pl.col("y_dispute").is_not_null())
    return RiskForecaster(
        groups=("dispute",), n_estimators=40, n_jobs=1, valid_weeks=4, calibration_weeks=4
    ).fit(panel)


def test_forecast_table_has_levels_drivers_and_contributions(forecaster):
    grids = pl.DataFrame({"grid_id": [f"G{g:02d}" for g in range(N_GRIDS)], "district": ["东区"] * N_GRIDS})
    table = forecast_table(panel_until(20), forecaster, "7", RiskLevels(), grids)
    assert table.height == N_GRIDS and set(table["week_start"]) == {WEEKS[20]}
    assert table["rank"].to_list() == list(range(1, N_GRIDS + 1))
    assert (
        table["level"].to_list()[:2] == ["高", "高"] and table["level"].to_list()[8] == "低"
    )  # 5% of 40 = 2; 20% = 8
    scores = table["score"].to_numpy()
    assert np.all(np.diff(scores) <= 0)  # rank follows the ranking score
    top = table.row(0, named=True)
    drivers = json.loads(top["drivers_json"])
    assert 1 <= len(drivers) <= 3 and top["drivers"].split("；")[0].startswith(drivers[0]["text"])
    contributions = json.loads(top["contributions"])
    assert "bias" in contributions
    assert sum(contributions.values()) == pytest.approx(
        np.log(top["score"] / (1 - top["score"])), abs=1e-3
    )  # SHAP values add up to the booster's raw margin
    assert top["district"] == "东区" and top["model_version"] == "7"


def test_history_accumulates_weeks_and_fills_in_what_happened(forecaster, tmp_path):
    history = load_history(tmp_path / "missing.parquet")
    assert history.is_empty() and history.schema == pl.Schema(HISTORY_SCHEMA)
    for last in range(18, 29):  # eleven weekly forecasts
        panel = panel_until(last)
        table = forecast_table(panel, forecaster, "1")
        history = update_history(history, table, panel)
    assert history["week_start"].n_unique() == 11
    known = history.filter(pl.col("week_start") < WEEKS[28])
    assert known["actual_count"].null_count() == 0  # filled in once the panel had the labels
    assert history.filter(pl.col("week_start") == WEEKS[28])["actual_count"].null_count() == N_GRIDS
    truth = panel_until(28).select("grid_id", "week_start", pl.col("n_dispute").alias("truth"))
    joined = known.join(truth, on=["grid_id", "week_start"])
    assert (joined["actual_count"] == joined["truth"]).all()
    assert (joined["actual"] == (joined["truth"] > 0).cast(pl.Int8)).all()

    again = update_history(history, forecast_table(panel_until(28), forecaster, "2"), panel_until(28))
    assert again.height == history.height  # a re-run replaces the week's forecasts
    assert set(again.filter(pl.col("week_start") == WEEKS[28])["model_version"]) == {"2"}

    trended = with_trend(forecast_table(panel_until(28), forecaster, "2"), again)
    trend = trended.row(0, named=True)["trend"]
    assert len(trend) == TREND_WEEKS
    assert [t["week_start"] for t in trend] == WEEKS[28 - TREND_WEEKS + 1 : 29]
    assert trend[-1]["actual_count"] is None and trend[0]["actual_count"] is not None
