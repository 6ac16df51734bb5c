"""Spark in local[2] mode, one session for the whole run. Every test here is marked ``spark`` (those that
start Spark also ``slow``) and skips with the reason when PySpark or Java is missing
(``pip install -e '.[spark]'``)."""

from __future__ import annotations

import pytest

from engines.spark_session import spark_available


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
