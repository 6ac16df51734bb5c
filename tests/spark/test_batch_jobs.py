"""The batch jobs with the registered models write the same files on either engine: the forecast
(``engines.jobs.run_forecast``, `gridsense forecast --engine`: the table the API reads and the history, from
a panel file on polars and from the partitioned panel on Spark) and the classification of a log
(``engines.jobs.classify_log``, `gridsense classify-log --engine`: the classified events, the rejects and
their reasons). Without PySpark or Java every ``--engine spark`` command says what to install, in one line."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from features.date_window import DateWindow
from features.events import load_events
from features.panel import build_panel

WINDOW = DateWindow.default()  # fixed once: both engines must judge dates against the same "now"
BAD_ROW_REASONS = {"unparseable reported_at", "unknown channel", "empty text", "duplicate event_id"}


@pytest.fixture(scope="module")
def text_model_uri(city, tmp_path_factory) -> str:
    from models.pyfunc import save_text_model
    from models.text_tfidf import TfidfTextClassifier

    events = load_events(city["log"], city["taxonomy"], window=WINDOW).events
    train = events.filter(pl.len().over("leaf_id") >= 4)  # calibration needs 2+ per leaf
    classifier = TfidfTextClassifier(city["taxonomy"], max_features=5_000, calibration_cv=2).fit(
        train["text"].to_list(), train["leaf_id"].to_list()
    )
    return str(save_text_model(classifier, tmp_path_factory.mktemp("text") / "model"))


def test_classify_log_writes_the_same_classes_and_rejects(spark, city, text_model_uri, tmp_path):
    from engines.jobs import classify_log

    log = tmp_path / "incoming.csv"  # a CSV of incoming reports: the categories are not needed
    pl.read_parquet(city["log"]).drop("category_l1", "category_l2", "category_l3").write_csv(log)
    runs = {
        engine: classify_log(
            log,
            tmp_path / engine / "classified.parquet",
            city["taxonomy"],
            text_model_uri,
            engine=engine,
            window=WINDOW,
            spark=spark,
        )
        for engine in ("polars", "spark")
    }
    written = {engine: pl.read_parquet(tmp_path / engine / "classified.parquet") for engine in runs}
    assert written["polars"].height == runs["polars"].load.counts["events"] > 1_000
    assert_frame_equal(written["spark"], written["polars"])  # exact: same rows, order and probabilities
    assert_frame_equal(runs["spark"].load.rejects, runs["polars"].load.rejects)
    assert runs["spark"].load.counts == runs["polars"].load.counts
    assert BAD_ROW_REASONS <= set(runs["polars"].load.counts["reasons"])


@pytest.fixture(scope="module")
def risk_champion(city, tmp_path_factory):
    """A risk model trained and registered @champion (served scorer, validation sample, backtest) in a
    local MLflow store, and the panel it forecasts from as a file and as partitions."""
    from engines.partitions import write_partitioned
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model

    root = tmp_path_factory.mktemp("risk-home")
    use_local_store(root, "gridsense-risk")
    events = load_events(city["log"], city["taxonomy"], window=WINDOW).events
    panel = build_panel(events, city["grids"], l1_categories=city["taxonomy"].level1)
    panel.write_parquet(root / "panel.parquet")
    write_partitioned(panel, root / "panel", "demo", "week_start")
    train_risk_model(panel, root / "panel.parquet", root, test_weeks=5, params={"n_estimators": 30})
    return root


def test_forecast_job_writes_the_same_table_and_history(spark, city, risk_champion, tmp_path):
    from engines.jobs import run_forecast

    root, grids = risk_champion, city["grids"]
    polars_table = run_forecast(
        root / "panel.parquet", tmp_path / "polars" / "forecasts.parquet", engine="polars", grids=grids
    )
    spark_table = run_forecast(
        root / "panel", tmp_path / "spark" / "forecasts.parquet", engine="spark", grids=grids, spark=spark
    )
    assert polars_table.height == grids.height * polars_table["group"].n_unique()
    assert_frame_equal(spark_table, polars_table)  # exact, trend included
    for name in ("forecasts.parquet", "history.parquet"):
        on_spark, on_polars = (pl.read_parquet(tmp_path / e / name) for e in ("spark", "polars"))
        assert_frame_equal(on_spark, on_polars)
    history = pl.read_parquet(tmp_path / "spark" / "history.parquet")
    assert set(history["source"]) == {"backtest", "forecast"}  # seeded from the run, then this week
    assert history["actual_count"].drop_nulls().len() > 0  # the actuals came from the Spark panel


@pytest.mark.parametrize(
    "command",
    [
        ["build-features", "--engine", "spark"],
        ["forecast", "--engine", "spark"],
        ["classify-log", "log.csv", "--out", "out.parquet", "--engine", "spark"],
    ],
)
def test_without_spark_each_command_says_what_to_install_in_one_line(command, monkeypatch):
    import engines.spark_session
    from cli.app import app
    from cli.errors import USER_ERROR_EXIT_CODE

    missing = "pyspark is not installed (pip install -e '.[spark]')"
    monkeypatch.setattr(engines.spark_session, "spark_available", lambda: missing)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == USER_ERROR_EXIT_CODE
    lines = result.output.strip().splitlines()
    assert lines == [f"error: the Spark engine cannot run: {missing} (or use --engine polars)"]


def test_a_log_without_a_valid_event_is_a_one_line_error(city, tmp_path):
    from core.errors import DataFileError
    from engines.jobs import classify_log

    log = tmp_path / "bad.parquet"
    pl.read_parquet(city["log"]).tail(6).write_parquet(log)  # only the six bad rows
    with pytest.raises(DataFileError, match="no valid events to classify") as error:
        classify_log(log, tmp_path / "out.parquet", city["taxonomy"], "x", engine="polars", window=WINDOW)
    assert "unparseable reported_at" in error.value.one_line()
    assert not (tmp_path / "out.parquet").exists()
