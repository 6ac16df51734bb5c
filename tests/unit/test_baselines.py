"""Text and risk baselines."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from models.baselines import COUNT_COLUMN, MostFrequentTextBaseline, last_week_count, mean_52w


def test_most_frequent_text_baseline():
    model = MostFrequentTextBaseline().fit(["t1", "t2", "t3", "t4"], ["b", "a", "b", "c"])
    np.testing.assert_array_equal(model.predict(["x", "y"]), np.array(["b", "b"], dtype=object))
    probs = model.predict_proba(["x", "y", "z"])
    assert list(model.classes_) == ["a", "b", "c"]
    np.testing.assert_allclose(probs, np.tile([0.25, 0.5, 0.25], (3, 1)))


def test_most_frequent_ties_go_to_the_first_leaf_in_order():
    assert MostFrequentTextBaseline().fit(["1", "2"], ["z", "y"]).predict(["q"])[0] == "y"


def panel() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "grid_id": ["G1", "G2", "G3"],
            COUNT_COLUMN.format(group="dispute", weeks=1): [2, 0, None],
            COUNT_COLUMN.format(group="dispute", weeks=52): [104, 26, None],
            COUNT_COLUMN.format(group="hazard", weeks=1): [0, 1, 3],
            COUNT_COLUMN.format(group="hazard", weeks=52): [0, 52, 13],
        }
    )


def test_risk_baselines_read_point_in_time_counts():
    np.testing.assert_allclose(last_week_count(panel(), "dispute"), [2, 0, 0])
    np.testing.assert_allclose(mean_52w(panel(), "dispute"), [2.0, 0.5, 0.0])
    np.testing.assert_allclose(last_week_count(panel().to_pandas(), "hazard"), [0, 1, 3])
    np.testing.assert_allclose(mean_52w(panel().to_pandas(), "hazard"), [0.0, 1.0, 0.25])


def test_risk_baseline_needs_its_column():
    with pytest.raises(ValueError, match="cnt_noise_1w"):
        last_week_count(panel(), "noise")
