from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from serving.errors import UnknownGridError
from serving.forecast_store import ForecastStore, ForecastTableError


def test_reads_the_latest_week_from_parquet(tmp_path, forecasts):
    path = tmp_path / "forecasts" / "latest.parquet"
    path.parent.mkdir()
    forecasts.drop("district").write_parquet(path)

    store = ForecastStore.from_parquet(path)

    assert store.latest_week() == date(2026, 1, 12)
    assert store.known_grids == {"G0001", "G0002", "G0003", "G0004"}
    [g0004] = store.get(["G0004"])
    assert g0004["district"] is None  # optional column
    ranks = [(risk["group"], risk["rank"], risk["model_version"]) for risk in g0004["risks"]]
    assert ranks == [("dispute", 3, "5"), ("hazard", 1, "5")]
    assert g0004["risks"][1]["probability"] == pytest.approx(0.60)  # the latest week, not the earlier 0.30


def test_datetime_weeks_and_integer_versions_are_normalised(forecasts):
    table = forecasts.with_columns(pl.col("week_start").cast(pl.Datetime("us")), model_version=pl.lit(5))

    store = ForecastStore(table)

    assert store.latest_week() == date(2026, 1, 12)
    assert store.get(["G0001"])[0]["risks"][0]["model_version"] == "5"


def test_unknown_ids_are_all_named(forecasts):
    with pytest.raises(UnknownGridError) as raised:
        ForecastStore(forecasts).get(["G0001", "nope", "G0009"])

    assert raised.value.extra["unknown_ids"] == ["nope", "G0009"]


def test_a_table_without_a_required_column_is_refused(forecasts):
    with pytest.raises(ForecastTableError, match="rank"):
        ForecastStore(forecasts.drop("rank"))


def test_an_empty_table_is_refused(forecasts):
    with pytest.raises(ForecastTableError, match="no rows"):
        ForecastStore(forecasts.clear())
