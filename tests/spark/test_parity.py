"""The Spark engine gives the polars engine's answers on a small demo city: the loaded events and the
reject file (bad rows included), the grid x week panel (every column and row), the text training set,
batch classification with a text model and the batch forecast with a risk model."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from features.date_window import DateWindow
from features.events import load_events
from features.panel import build_panel
from features.text_dataset import build_text_dataset

WINDOW = DateWindow.default()  # fixed once: both engines must judge dates against the same "now"


@pytest.fixture(scope="module")
def loads(spark, city):
    from engines.spark_events import load_events as load_on_spark

    polars_load = load_events(city["log"], city["taxonomy"], window=WINDOW)
    spark_load = load_on_spark(spark, city["log"], city["taxonomy"], window=WINDOW, partitions=3)
    return polars_load, spark_load


def test_events_rejects_and_reasons_match(loads):
    polars_load, spark_load = loads
    on_spark = spark_load.to_polars()
    assert polars_load.rejects.height == 6
    assert_frame_equal(on_spark.events, polars_load.events)
    assert_frame_equal(on_spark.rejects, polars_load.rejects)
    assert on_spark.counts == polars_load.counts
    assert {"unparseable reported_at", "unknown channel", "empty text", "duplicate event_id"} <= set(
        polars_load.counts["reasons"]
    )


def test_missing_required_column_is_the_same_error(spark, city):
    from engines.spark_events import load_events as load_on_spark
    from features.schema import SchemaError

    frame = pl.read_parquet(city["log"]).drop("grid_id")
    with pytest.raises(SchemaError) as on_polars:
        load_events(frame, city["taxonomy"], window=WINDOW)
    with pytest.raises(SchemaError) as on_spark:
        load_on_spark(spark, spark.createDataFrame(frame.to_pandas()), city["taxonomy"], window=WINDOW)
    assert str(on_spark.value) == str(on_polars.value)


@pytest.mark.parametrize("n_shards", [1, 4])
def test_panel_matches_value_for_value(spark, city, loads, n_shards):
    from engines.spark_panel import build_panel_spark, to_polars_panel

    polars_load, spark_load = loads
    level1 = city["taxonomy"].level1
    expected = build_panel(polars_load.events, city["grids"], l1_categories=level1)
    on_spark = build_panel_spark(
        spark, spark_load.events, city["grids"], l1_categories=level1, n_shards=n_shards
    )
    got = to_polars_panel(on_spark, expected)
    assert got.height == expected.height and got.width == expected.width
    assert_frame_equal(
        got, expected.sort("grid_id", "week_start"), check_exact=False, rel_tol=0, abs_tol=1e-9
    )


def test_text_training_set_matches(loads):
    from engines.jobs import build_text_dataset_spark

    polars_load, spark_load = loads
    assert_frame_equal(build_text_dataset_spark(spark_load.events), build_text_dataset(polars_load.events))


def test_batch_classification_matches(spark, city, loads, tmp_path):
    from engines.classify import classify_events
    from engines.spark_batch import classify_events_spark
    from models.pyfunc import save_text_model
    from models.text_tfidf import TfidfTextClassifier

    polars_load, spark_load = loads
    train = polars_load.events.filter(pl.len().over("leaf_id") >= 4)  # calibration needs 2+ per leaf
    classifier = TfidfTextClassifier(city["taxonomy"], max_features=5_000, calibration_cv=2).fit(
        train["text"].to_list(), train["leaf_id"].to_list()
    )
    uri = str(save_text_model(classifier, tmp_path / "text-model"))
    expected = classify_events(polars_load.events, uri)
    got = pl.from_arrow(classify_events_spark(spark_load.events, uri).toArrow())
    assert_frame_equal(got.sort("event_id"), expected.sort("event_id"))


def test_batch_forecast_matches(spark, city, loads, tmp_path):
    from batch.forecast import forecast_table
    from engines.arrow import spark_arrow
    from engines.spark_batch import forecast_table_spark
    from models.pyfunc import save_risk_model
    from models.risk_lgbm import RiskForecaster

    polars_load, _ = loads
    panel = build_panel(polars_load.events, city["grids"], l1_categories=city["taxonomy"].level1)
    forecaster = RiskForecaster(n_estimators=20, n_jobs=1).fit(
        panel.filter(pl.col("y_dispute").is_not_null())
    )
    uri = str(save_risk_model(forecaster, tmp_path / "risk-model"))
    expected = forecast_table(panel, forecaster, "7", grids=city["grids"])
    spark_panel = spark.createDataFrame(spark_arrow(panel)).repartition(3)
    got = forecast_table_spark(spark_panel, uri, "7", grids=city["grids"])
    assert_frame_equal(got, expected, check_exact=False, rel_tol=0, abs_tol=1e-9)


def test_feature_job_writes_the_same_files_with_either_engine(spark, city, tmp_path):
    from engines.jobs import build_features
    from engines.partitions import read_partitioned

    grids = tmp_path / "grids.parquet"
    city["grids"].write_parquet(grids)
    runs = {
        engine: build_features(
            city["log"], grids, tmp_path / engine, city["taxonomy"], engine=engine, window=WINDOW, spark=spark
        )
        for engine in ("polars", "spark")
    }
    months = {engine: [p.name for p in run.panel_partitions] for engine, run in runs.items()}
    assert months["spark"] == months["polars"]
    panels = {e: read_partitioned(tmp_path / e / "panel").sort("grid_id", "week_start") for e in runs}
    assert_frame_equal(panels["spark"], panels["polars"].select(panels["spark"].columns), check_dtypes=False)
    load = load_events(city["log"], city["taxonomy"], window=WINDOW)
    built = build_panel(load.events, city["grids"], l1_categories=city["taxonomy"].level1)
    assert "month" in built.columns  # the month-of-year feature survives the year_month partitions
    assert_frame_equal(
        panels["polars"].drop("site", "year_month"), built.sort("grid_id", "week_start"), check_dtypes=False
    )
    for name in ("rejects.csv", "text.parquet"):
        assert (tmp_path / "spark" / name).read_bytes() == (tmp_path / "polars" / name).read_bytes()
