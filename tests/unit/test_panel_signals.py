"""The panel's richer signals against brute-force sums over the raw events."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from features import panel_signals as signals
from features.panel import PanelOptions, build_panel
from features.panel_families import by_family, family, without_families


def test_decayed_rate_is_the_weighted_mean_of_earlier_weeks():
    counts = np.array([[3, 0, 1, 4, 0, 2]], dtype=float)
    h = 2.0
    d = 0.5 ** (1 / h)
    got = signals.decayed_rate(counts, h)
    for t in range(counts.shape[1]):
        expected = (1 - d) * sum(d ** (t - 1 - s) * counts[0, s] for s in range(t))
        assert got[0, t] == pytest.approx(expected)
    assert got[0, 0] == 0  # nothing before the first week
    steady = signals.decayed_rate(np.full((1, 400), 2.0), 4)
    assert steady[0, -1] == pytest.approx(2.0, rel=1e-6)  # a steady rate is recovered


def test_window_season_and_mean_since():
    counts = np.arange(1, 121, dtype=np.int64)[None, :]  # week t has t + 1 events
    assert signals.window_sum_before(counts, 4)[0, 10] == 7 + 8 + 9 + 10
    season = signals.same_season_last_year(counts, width=12, lag=52)
    t = 100  # weeks 42..53 (t - 58 .. t - 47) hold 43..54 events
    assert season[0, t] == sum(range(43, 55))
    assert season[0, 57] == 0 + sum(range(1, 12))  # partly before the log: what there is
    assert signals.mean_since(counts, start=0)[0, 4] == pytest.approx((1 + 2 + 3 + 4) / 4)
    with pytest.raises(ValueError):
        signals.same_season_last_year(counts, width=110, lag=52)


def test_parent_windows_gather_to_units_and_unknown_parents_get_zero():
    per_parent = np.array([[1, 2, 3, 4], [10, 20, 30, 40]])
    unit_parent = np.array([1, 0, -1, 1])
    got = signals.parent_window_sums(per_parent, unit_parent, weeks=2)
    np.testing.assert_array_equal(got[:, 3], [50, 5, 0, 50])
    np.testing.assert_array_equal(got[:, 0], [0, 0, 0, 0])


def test_co_occurrence_counts_weeks_with_both():
    disputes = np.array([[1, 0, 2, 1, 0]])
    hazards = np.array([[1, 1, 0, 3, 0]])
    np.testing.assert_array_equal(signals.co_occurrence_weeks(disputes, hazards, 12)[0], [0, 1, 1, 1, 2])


# ---- in the panel ----------------------------------------------------------------------------------
GRIDS = pl.DataFrame(
    {
        "grid_id": ["a", "b", "c", "d"],
        "x_m": [0.0, 100.0, 200.0, 5000.0],
        "y_m": [0.0, 0.0, 0.0, 0.0],
        "district": ["东区", "东区", "西区", "西区"],
    }
)


def events_frame(rows) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "reported_at": [r[1] for r in rows],
            "grid_id": [r[0] for r in rows],
            "category_l1": ["x"] * len(rows),
            "risk_group": [r[2] for r in rows],
            "parent_area": [r[3] for r in rows],
        },
        schema_overrides={"reported_at": pl.Datetime("us"), "grid_id": pl.String, "parent_area": pl.String},
    )


def test_parent_counts_include_events_known_only_by_parent():
    rows = [
        ("a", datetime(2024, 1, 2), "dispute", None),  # parent from the grid: 东区
        (None, datetime(2024, 1, 3), "dispute", "东区"),  # only the parent is known
        ("c", datetime(2024, 1, 4), "hazard", None),
        ("d", datetime(2024, 1, 20), "dispute", None),
    ]
    panel = build_panel(events_frame(rows), GRIDS, neighbours_k=1)
    week = panel.filter(pl.col("week_start") == date(2024, 1, 8)).sort("grid_id")
    assert week["parent_dispute_1w"].to_list() == [2, 2, 0, 0]
    assert week["parent_dispute_1w_per_unit"].to_list() == [1.0, 1.0, 0.0, 0.0]
    assert week["parent_hazard_1w"].to_list() == [0, 0, 1, 1]
    assert week["cnt_dispute_1w"].to_list() == [1, 0, 0, 0]  # the grid-less event is no grid's


def test_decayed_columns_match_brute_force_on_the_panel():
    rng = np.random.default_rng(3)
    start = datetime(2024, 1, 1)
    rows = [
        (
            str(rng.choice(["a", "b", "c"])),
            start + timedelta(hours=int(h)),
            str(rng.choice(["dispute", "hazard"])),
            None,
        )
        for h in rng.integers(0, 30 * 7 * 24, 300)
    ]
    events = events_frame(rows)
    panel = build_panel(events, GRIDS, neighbours_k=1, options=PanelOptions(half_lives=(2, 8)))
    week = date(2024, 5, 6)
    row = panel.filter((pl.col("grid_id") == "b") & (pl.col("week_start") == week)).row(0, named=True)
    d = 0.5 ** (1 / 8)
    weekly = events.filter((pl.col("grid_id") == "b") & (pl.col("risk_group") == "dispute")).with_columns(
        ((pl.col("reported_at").dt.date() - pl.lit(date(2024, 1, 1))).dt.total_days() // 7).alias("w")
    )
    t = (week - date(2024, 1, 1)).days // 7
    expected = (1 - d) * sum(d ** (t - 1 - w) for w in weekly["w"].to_list() if w < t)
    assert row["ewm_dispute_h8"] == pytest.approx(expected, rel=1e-5)
    assert row["excite_dispute"] == pytest.approx(row["ewm_dispute_h2"] - row["ewm_dispute_h8"], abs=1e-5)
    all_before = weekly.filter(pl.col("w") < t).height / t
    assert row["mean_dispute_all"] == pytest.approx(all_before, rel=1e-5)


def test_options_switch_families_off():
    rows = [("a", datetime(2024, 1, 2), "dispute", None), ("b", datetime(2024, 3, 2), "hazard", None)]
    off = PanelOptions(
        half_lives=(),
        neighbour_half_lives=(),
        parent_column=None,
        cross_group=False,
        seasonal_width_weeks=None,
        holiday_country=None,
    )
    panel = build_panel(events_frame(rows), GRIDS, neighbours_k=1, options=off)
    prefixes = ("ewm_", "excite_", "mean_", "parent_", "co_", "season_", "holiday_")
    assert not [c for c in panel.columns if c.startswith(prefixes)]


def test_families_depend_on_the_forecast_group():
    assert family("cnt_hazard_4w", "dispute") == "cross" and family("cnt_hazard_4w", "hazard") == "counts"
    assert (
        family("parent_dispute_4w", "dispute") == "parent" and family("parent_all_4w", "hazard") == "parent"
    )
    assert family("nbr_dispute_h1_mean", "dispute") == "spatial"
    assert family("co_dispute_hazard_12w", "dispute") == "cross"
    assert family("season_hazard_ly12w", "hazard") == "seasonal"
    assert family("holiday_days", "hazard") == "calendar" and family("population", "hazard") == "static"
    columns = ["cnt_dispute_4w", "ewm_dispute_h4", "cnt_hazard_4w", "population"]
    assert by_family(columns, "dispute")["cross"] == ["cnt_hazard_4w"]
    assert without_families(columns, ["decayed", "cross"], "dispute") == ["cnt_dispute_4w", "population"]
    with pytest.raises(ValueError, match="unknown"):
        without_families(columns, ["nope"], "dispute")
