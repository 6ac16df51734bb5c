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


# ---- the site's own groups, in Chinese and English ----------------------------------------------------
@pytest.mark.parametrize(
    ("feature", "row", "expected"),
    [
        (
            "cnt_dispute_4w",
            {"cnt_dispute_4w": 12, "cnt_dispute_52w": 52},
            "12 disputes in the past 4 weeks, 3 times the weekly average of the past year",
        ),
        ("weeks_since_hazard", {"weeks_since_hazard": 104}, "no safety hazards in two years"),
        (
            "co_dispute_hazard_12w",
            {"co_dispute_hazard_12w": 2},
            "disputes and safety hazards in the same week in 2 of the past 12 weeks",
        ),
        ("holiday_days", {"holiday_days": 0}, "no holidays in the forecast week"),
        ("old_compound", {"old_compound": 1}, "an old residential compound"),
        ("month", {"month": 3}, "the seasonal pattern of March"),
    ],
)
def test_english_sentences(feature, row, expected):
    assert describe(feature, row, language="en") == expected


def test_site_group_names_come_from_the_given_labels():
    zh = {"theft": "盗窃", "public_order": "治安"}
    en = {"theft": "Thefts", "public_order": "Public order"}
    row = {"cnt_theft_1w": 2, "cnt_theft_52w": 52, "co_theft_public_order_4w": 3, "weeks_since_theft": 5}
    assert describe("cnt_theft_1w", row, group_labels=zh) == "上周盗窃2起，为近一年周均的2倍"
    assert describe("cnt_theft_1w", row, language="en", group_labels=en) == (
        "2 thefts last week, 2 times the weekly average of the past year"
    )
    assert describe("co_theft_public_order_4w", row, group_labels=zh) == "近4周中有3周盗窃与治安同时发生"
    assert describe("co_theft_public_order_4w", row, language="en", group_labels=en) == (
        "thefts and public order in the same week in 3 of the past 4 weeks"
    )
    assert describe("weeks_since_theft", row) == "距上次theft已5周"  # no label: the id
    with pytest.raises(ValueError, match="language"):
        describe("cnt_theft_1w", row, language="fr")


def test_english_drivers_text_marks_the_lowering_ones():
    features = ["cnt_theft_4w", "holiday_days"]
    rows = pl.DataFrame({"cnt_theft_4w": [4], "cnt_theft_52w": [0], "holiday_days": [0]})
    drivers = top_drivers(
        np.array([[0.9, -0.5, 0.0]]), features, rows, language="en", group_labels={"theft": "Theft"}
    )
    assert drivers_text(drivers[0], language="en") == (
        "4 theft in the past 4 weeks; no holidays in the forecast week (lowers the risk)"
    )


@pytest.mark.parametrize("groups", [("theft",), ("violence", "theft", "fire")])
def test_every_feature_of_a_site_panel_has_a_sentence_in_both_languages(groups):
    from datetime import datetime, timedelta

    from features.panel import PanelOptions, build_panel, feature_columns

    rng = np.random.default_rng(0)
    n = 300
    events = pl.DataFrame(
        {
            "reported_at": [datetime(2024, 1, 1) + timedelta(hours=int(h)) for h in rng.integers(0, 8000, n)],
            "grid_id": rng.choice(["a", "b", "c"], n).tolist(),
            "category_l1": ["x"] * n,
            "risk_group": rng.choice([*groups, "none"], n).tolist(),
        }
    )
    grids = pl.DataFrame(
        {"grid_id": ["a", "b", "c"], "x_m": [0.0, 1.0, 2.0], "y_m": [0.0] * 3, "district": ["d"] * 3}
    )
    panel = build_panel(
        events, grids, neighbours_k=1, options=PanelOptions(holiday_country="US", risk_groups=groups)
    )
    row = panel.row(panel.height - 1, named=True)
    labels = {group: f"Label{i}" for i, group in enumerate(groups)}
    for feature in feature_columns(panel):
        zh = describe(feature, row, group_labels=labels)
        en = describe(feature, row, language="en", group_labels=labels)
        assert "=" not in zh and "=" not in en, feature
        assert not any("\u4e00" <= char <= "\u9fff" for char in en), (feature, en)
        assert not any(group in en for group in groups), (feature, en)
