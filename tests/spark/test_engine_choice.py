"""The engine comes from the option, else GRIDSENSE_ENGINE, else polars; a wrong name is a user error, and
so is ``spark`` where PySpark or Java is missing."""

from __future__ import annotations

import pytest

from core.errors import GridSenseUserError
from engines import resolve_engine


def test_default_is_polars():
    assert resolve_engine() == "polars"


def test_the_setting_and_the_option(monkeypatch):
    import engines.spark_session

    monkeypatch.setattr(engines.spark_session, "spark_available", lambda: "")
    monkeypatch.setenv("GRIDSENSE_ENGINE", "spark")
    assert resolve_engine() == "spark"
    assert resolve_engine("POLARS") == "polars"


def test_an_unknown_engine_is_a_one_line_user_error():
    with pytest.raises(GridSenseUserError, match="unknown engine 'dask'"):
        resolve_engine("dask")


def test_spark_without_java_is_a_one_line_user_error(monkeypatch):
    import engines.spark_session

    monkeypatch.setattr(
        engines.spark_session, "spark_available", lambda: "no Java runtime (apt-get install x)"
    )
    with pytest.raises(GridSenseUserError, match="cannot run: no Java runtime") as error:
        resolve_engine("spark")
    assert "\n" not in error.value.one_line()
