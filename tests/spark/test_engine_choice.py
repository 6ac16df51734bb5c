"""The engine comes from the option, else GRIDSENSE_ENGINE, else polars; a wrong name is a user error."""

from __future__ import annotations

import pytest

from core.errors import GridSenseUserError
from engines import resolve_engine


def test_default_is_polars():
    assert resolve_engine() == "polars"


def test_the_setting_and_the_option(monkeypatch):
    monkeypatch.setenv("GRIDSENSE_ENGINE", "spark")
    assert resolve_engine() == "spark"
    assert resolve_engine("POLARS") == "polars"


def test_an_unknown_engine_is_a_one_line_user_error():
    with pytest.raises(GridSenseUserError, match="unknown engine 'dask'"):
        resolve_engine("dask")
