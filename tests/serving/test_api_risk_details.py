"""GET /v1/risk with levels, drivers, contributions and trend; GET /v1/risk/{grid_id}/history."""

from __future__ import annotations

import json
from datetime import date, timedelta

import polars as pl
import pytest

from serving.forecast_store import ForecastStore

WEEK = date(2026, 1, 12)
DRIVERS = [
    {
        "feature": "cnt_dispute_4w",
        "value": 12.0,
        "contribution": 0.8,
        "direction": "up",
        "text": "近4周矛盾纠纷12起，为近一年周均的3倍",
    },
    {"feature": "old_compound", "value": 1.0, "contribution": 0.3, "direction": "up", "text": "老旧小区"},
    {
        "feature": "holiday_days",
        "value": 0.0,
        "contribution": -0.1,
        "direction": "down",
        "text": "预测周无节假日",
    },
]


def detailed_table() -> pl.DataFrame:
    """Two grids, both groups, in the layout `gridsense forecast` writes."""
    rows = []
    for group, probabilities in (("dispute", (0.7, 0.2)), ("hazard", (0.1, 0.4))):
        for grid, probability in zip(("G0001", "G0002"), probabilities, strict=True):
            rows.append(
                {
                    "grid_id": grid,
                    "week_start": WEEK,
                    "group": group,
                    "probability": probability,
                    "model_name": "gridsense-risk",
                    "model_version": "9",
                    "district": "东城区",
                    "level": "高" if probability > 0.5 else "低",
                    "drivers_json": json.dumps(DRIVERS, ensure_ascii=False),
                    "contributions": json.dumps({"cnt_dispute_4w": 0.8, "old_compound": 0.3, "bias": -1.2}),
                    "trend": [
                        {
                            "week_start": WEEK - timedelta(weeks=k),
                            "probability": probability,
                            "rank": 1,
                            "level": "高",
                            "actual_count": None if k == 0 else k,
                        }
                        for k in (2, 1, 0)
                    ],
                }
            )
    return pl.DataFrame(rows).with_columns(
        pl.col("probability")
        .rank(method="ordinal", descending=True)
        .over("group")
        .cast(pl.Int32)
        .alias("rank")
    )


def history_table() -> pl.DataFrame:
    weeks = [WEEK - timedelta(weeks=k) for k in range(30, -1, -1)]
    return pl.DataFrame(
        {
            "grid_id": ["G0001"] * len(weeks) * 2,
            "week_start": weeks * 2,
            "group": ["dispute"] * len(weeks) + ["hazard"] * len(weeks),
            "probability": [0.5] * len(weeks) * 2,
            "rank": [3] * len(weeks) * 2,
            "level": ["中"] * len(weeks) * 2,
            "model_name": ["gridsense-risk"] * len(weeks) * 2,
            "model_version": ["backtest"] * (len(weeks) - 1)
            + ["9"]
            + ["backtest"] * (len(weeks) - 1)
            + ["9"],
            "source": ["backtest"] * (len(weeks) - 1)
            + ["forecast"]
            + ["backtest"] * (len(weeks) - 1)
            + ["forecast"],
            "actual_count": [2] * (len(weeks) - 1) + [None] + [0] * (len(weeks) - 1) + [None],
        },
        schema_overrides={"actual_count": pl.Int32},
    ).with_columns((pl.col("actual_count") > 0).cast(pl.Int8).alias("actual"))


@pytest.fixture
def store() -> ForecastStore:  # overrides conftest's: the detailed table and a history
    return ForecastStore(detailed_table(), history_table())


def test_risk_carries_level_drivers_and_trend_but_contributions_only_on_request(client):
    body = client.get("/v1/risk", params={"grid_id": "G0001"}).json()
    dispute = next(r for r in body["grids"][0]["risks"] if r["group"] == "dispute")
    assert body["week_start"] == WEEK.isoformat()
    assert (dispute["probability"], dispute["rank"], dispute["level"]) == (pytest.approx(0.7), 1, "高")
    assert [d["text"] for d in dispute["drivers"]] == [d["text"] for d in DRIVERS]
    assert dispute["drivers"][2]["direction"] == "down"
    assert [t["week_start"] for t in dispute["trend"]] == [str(WEEK - timedelta(weeks=k)) for k in (2, 1, 0)]
    assert dispute["trend"][-1]["actual_count"] is None
    assert dispute["contributions"] is None

    detailed = client.get("/v1/risk", params={"grid_id": "G0001", "contributions": "true"}).json()
    risk = detailed["grids"][0]["risks"][0]
    assert risk["contributions"] == {"cnt_dispute_4w": 0.8, "old_compound": 0.3, "bias": -1.2}


def test_history_sets_forecasts_next_to_outcomes(client):
    response = client.get("/v1/risk/G0001/history", params={"group": "dispute", "weeks": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["grid_id"], body["district"], body["group"]) == ("G0001", "东城区", "dispute")
    history = body["history"]
    assert [h["week_start"] for h in history] == [str(WEEK - timedelta(weeks=k)) for k in range(4, -1, -1)]
    assert (
        history[0]["actual_count"] == 2 and history[0]["actual"] == 1 and history[0]["source"] == "backtest"
    )
    assert history[-1]["actual_count"] is None and history[-1]["source"] == "forecast"
    both = client.get("/v1/risk/G0001/history").json()["history"]
    assert len(both) == 2 * 26 and {h["group"] for h in both} == {"dispute", "hazard"}


def test_history_of_a_grid_without_history_is_empty_and_unknown_grids_are_404(client, assert_error):
    assert client.get("/v1/risk/G0002/history").json()["history"] == []
    error = assert_error(client.get("/v1/risk/G9999/history"), 404, "unknown_grid", "grid_id")
    assert error["unknown_ids"] == ["G9999"]
    assert client.get("/v1/risk/G0001/history", params={"weeks": 0}).status_code == 422


def test_history_loads_from_the_file_next_to_the_table(tmp_path):
    detailed_table().write_parquet(tmp_path / "latest.parquet")
    history_table().write_parquet(tmp_path / "history.parquet")
    store = ForecastStore.from_parquet(tmp_path / "latest.parquet")
    assert len(store.history_of("G0001", group="hazard", weeks=3)) == 3
    assert store.history_of("G0001", group="hazard")[0]["actual"] == 0
