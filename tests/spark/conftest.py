"""Spark in local[2] mode, one session for the whole run. Every test here is marked ``spark`` (those that
start Spark also ``slow``) and skips with the reason when PySpark or Java is missing
(``pip install -e '.[spark]'``)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from engines.spark_session import spark_available
from features.taxonomy import load_taxonomy


@pytest.fixture(scope="session")
def city(tmp_path_factory):
    """A small demo city (60 grids, 30 weeks) whose log ends with six bad rows (unparseable and
    out-of-window dates, an unknown channel, an empty text, repeated event ids)."""
    from demo_city import generate_demo_city

    root = tmp_path_factory.mktemp("spark-city")
    made = generate_demo_city(root, seed=5, n_grids=60, weeks=30, start=date(2024, 1, 1))
    events = pl.read_parquet(made.events_path).with_columns(
        pl.col("reported_at").cast(pl.String),
        pl.col("category_l2").alias("text_category"),  # a text-classified category: the cnt_txt_* family
    )
    bad = events.head(6).with_columns(
        pl.Series("reported_at", ["not a date", "2024-02-30 10:00", None, "1999-01-01", "2024-03-01", "x"]),
        pl.Series("channel", ["app", "fax", "app", "app", "app", "app"]),
        pl.Series("text", ["t", "t", "t", "t", "   ", "t"]),
    )
    log = root / "log.parquet"
    pl.concat([events, bad]).write_parquet(log)  # the bad rows also repeat event ids
    return {"log": log, "grids": pl.read_parquet(made.grids_path), "taxonomy": load_taxonomy()}


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if "tests/spark/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.spark)
            item.add_marker(pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"))
            if "spark" in getattr(item, "fixturenames", ()):
                item.add_marker(pytest.mark.slow)  # a JVM and Python workers: seconds, not milliseconds


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    missing = spark_available()
    if missing:
        pytest.skip(missing)
    from engines.spark_session import get_spark

    session = get_spark(
        "local[2]",
        driver_memory="1g",
        shuffle_partitions=4,
        local_dir=str(tmp_path_factory.mktemp("spark-local")),
    )
    yield session
    session.stop()
