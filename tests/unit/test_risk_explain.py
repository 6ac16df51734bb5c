"""Drivers of a forecast in Chinese, raw contributions, and the 高/中/低 levels."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from models.risk_explain import contributions_json, describe, drivers_text, top_drivers
from models.risk_levels import HIGH, LOW, MEDIUM, RiskLevels


@pytest.mark.parametrize(
    ("feature", "row", "expected"),
    [
        (
            "cnt_dispute_4w",
            {"cnt_dispute_4w": 12, "cnt_dispute_52w": 52},
            "近4周矛盾纠纷12起，为近一年周均的3倍",
        ),
        ("cnt_hazard_1w", {"cnt_hazard_1w": 2, "cnt_hazard_52w": 40}, "上周安全隐患2起，为近一年周均的2.6倍"),
        ("cnt_dispute_52w", {"cnt_dispute_52w": 26}, "近一年矛盾纠纷26起，周均0.5起"),
        ("weeks_since_hazard", {"weeks_since_hazard": 104}, "近两年未发生安全隐患"),
        ("weeks_since_dispute", {"weeks_since_dispute": 3}, "距上次矛盾纠纷已3周"),
        ("parent_dispute_4w", {"parent_dispute_4w": 17}, "所在片区近4周矛盾纠纷17起"),
        ("nbr_hazard_1w_sum", {"nbr_hazard_1w_sum": 4}, "相邻网格近1周安全隐患4起"),
        ("co_dispute_hazard_12w", {"co_dispute_hazard_12w": 2}, "近12周中有2周矛盾纠纷与安全隐患同时发生"),
        ("weeks_from_spring_festival", {"weeks_from_spring_festival": -2}, "春节前2周"),
        ("old_compound", {"old_compound": 1}, "老旧小区"),
        ("elderly_share", {"elderly_share": 0.31}, "老年人口占比31%"),
        ("mystery_feature", {"mystery_feature": 1.5}, "mystery_feature=1.5"),
    ],
)
def test_feature_sentences(feature, row, expected):
    assert describe(feature, row) == expected


def test_category_counts_use_the_given_names():
    assert (
        describe("cnt_l1_abcd1234_4w", {"cnt_l1_abcd1234_4w": 3}, {"cnt_l1_abcd1234_4w": "城市管理"})
        == "近4周城市管理事件3起"
    )
    assert "“醉酒”" in describe("cnt_txt_ff_52w", {"cnt_txt_ff_52w": 5}, {"cnt_txt_ff_52w": "醉酒"})


def test_top_drivers_are_the_largest_absolute_contributions_in_order():
    features = ["cnt_dispute_4w", "cnt_dispute_52w", "old_compound", "holiday_days"]
    rows = pl.DataFrame(
        {
            "cnt_dispute_4w": [12, 0],
            "cnt_dispute_52w": [52, 10],
            "old_compound": [1, 0],
            "holiday_days": [0, 3],
        }
    )
    contributions = np.array([[0.9, 0.1, 0.4, -0.5, -2.0], [0.0, -0.2, 0.05, 0.3, -1.0]])  # last column: bias
    drivers = top_drivers(contributions, features, rows, k=3)
    assert [d.feature for d in drivers[0]] == ["cnt_dispute_4w", "holiday_days", "old_compound"]
    assert [d.direction for d in drivers[0]] == ["up", "down", "up"]
    assert drivers[0][0].text == "近4周矛盾纠纷12起，为近一年周均的3倍"
    assert drivers[0][0].value == 12 and drivers[0][0].contribution == pytest.approx(0.9)
    assert [d.feature for d in drivers[1]] == ["holiday_days", "cnt_dispute_52w", "old_compound"]
    assert drivers_text(drivers[0]).split("；")[1] == "预测周无节假日（降低风险）"
    with pytest.raises(ValueError, match="rows"):
        top_drivers(contributions, features, rows.head(1))


def test_contributions_json_keeps_nonzero_values_and_the_bias():
    encoded = contributions_json(np.array([[0.5, 0.0, -0.25, 1.5]]), ["a", "b", "c"])
    assert json.loads(encoded[0]) == {"a": 0.5, "c": -0.25, "bias": 1.5}


# ---- levels ----------------------------------------------------------------------------------------
def test_share_levels_mark_the_top_five_and_twenty_percent():
    levels = RiskLevels()  # share: 5% / 20%
    ranks = np.arange(1, 101)
    assigned = levels.assign(np.linspace(0.9, 0.0, 100), ranks)
    assert (
        (assigned == HIGH).sum() == 5 and (assigned == MEDIUM).sum() == 15 and (assigned == LOW).sum() == 80
    )
    assert assigned[0] == HIGH and assigned[5] == MEDIUM and assigned[20] == LOW
    assert levels.slots(7) == (1, 2)  # ceil(0.35) = 1, ceil(1.4) = 2


def test_probability_levels_and_the_polars_expression_agree():
    levels = RiskLevels(method="probability", high=0.5, medium=0.2)
    probability = np.array([0.7, 0.5, 0.3, 0.2, 0.1])
    assert levels.assign(probability).tolist() == [HIGH, HIGH, MEDIUM, MEDIUM, LOW]
    frame = pl.DataFrame(
        {"week_start": [1] * 5, "group": ["dispute"] * 5, "probability": probability, "rank": [1, 2, 3, 4, 5]}
    )
    assert frame.select(levels.expr()).to_series().to_list() == [HIGH, HIGH, MEDIUM, MEDIUM, LOW]
    shares = RiskLevels(high=0.2, medium=0.6)
    assert (
        frame.select(shares.expr()).to_series().to_list()
        == shares.assign(probability, np.arange(1, 6)).tolist()
    )


def test_bad_levels_raise():
    with pytest.raises(ValueError):
        RiskLevels(method="quantile")
    with pytest.raises(ValueError):
        RiskLevels(high=0.3, medium=0.1)
    with pytest.raises(ValueError, match="ranks"):
        RiskLevels().assign(np.array([0.1]))
