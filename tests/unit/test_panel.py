from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from features.calendar import calendar_features, holiday_days_per_week, monday, week_range, week_start
from features.panel import (
    LABEL_COLUMNS,
    PANEL_KEYS,
    WEEKS_SINCE_CAP,
    build_panel,
    events_outside_grids,
    feature_columns,
    l1_columns,
    l1_feature_names,
    l1_slug,
    nearest_neighbours,
)

RISK_GROUP = {"矛盾纠纷": "dispute", "安全隐患": "hazard", "市容环境": "none"}
# Five grids on a line, 100 m apart, so the k=2 nearest neighbours are known (LINE_NEIGHBOURS).
LINE_GRIDS = pl.DataFrame(
    {
        "grid_id": ["g0", "g1", "g2", "g3", "g4"],
        "x_m": [0.0, 100.0, 200.0, 300.0, 400.0],
        "y_m": [0.0, 0.0, 0.0, 0.0, 0.0],
        "lat": [31.0] * 5,
        "population": [100, 200, 300, 400, 500],
        "elderly_share": [0.1, 0.2, 0.3, 0.4, 0.5],
        "old_compound": [True, False, True, False, False],
        "district": ["黄浦区"] * 5,
    }
)
LINE_NEIGHBOURS = {
    "g0": ("g1", "g2"),
    "g1": ("g0", "g2"),
    "g2": ("g1", "g3"),
    "g3": ("g2", "g4"),
    "g4": ("g3", "g2"),
}


def make_events(rows: list[tuple[str, datetime, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "reported_at": [at for _, at, _ in rows],
            "grid_id": [grid for grid, _, _ in rows],
            "category_l1": [category for _, _, category in rows],
            "risk_group": [RISK_GROUP[category] for _, _, category in rows],
        },
        schema_overrides={"reported_at": pl.Datetime("us")},
    )


def random_events(seed: int = 5, n: int = 900, weeks: int = 60) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-03T08:00", "us")
    offsets = rng.integers(0, weeks * 7 * 86_400_000_000, n).astype("timedelta64[us]")
    categories = rng.choice(list(RISK_GROUP), n)
    return pl.DataFrame(
        {
            "event_id": [f"r{i}" for i in range(n)],
            "reported_at": start + offsets,
            "grid_id": rng.choice(["g0", "g1", "g2", "g3"], n),  # g4 has no events
            "category_l1": categories,
            "risk_group": [RISK_GROUP[c] for c in categories],
        }
    )


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return random_events()


@pytest.fixture(scope="module")
def panel(events) -> pl.DataFrame:
    return build_panel(events, LINE_GRIDS, neighbours_k=2)


def cell(panel: pl.DataFrame, grid_id: str, week: date) -> dict:
    return panel.filter((pl.col("grid_id") == grid_id) & (pl.col("week_start") == week)).row(0, named=True)


def brute_count(events: pl.DataFrame, grid_id: str, start: datetime, end: datetime, **equals: str) -> int:
    selected = events.filter(
        (pl.col("grid_id") == grid_id) & (pl.col("reported_at") >= start) & (pl.col("reported_at") < end)
    )
    for column, value in equals.items():
        selected = selected.filter(pl.col(column) == value)
    return selected.height


def midnight(week: date) -> datetime:
    return datetime.combine(week, datetime.min.time())


# ---- shape and keys ----------------------------------------------------------------------------
def test_panel_is_dense_over_grids_and_weeks_including_grids_without_events(events, panel):
    first_event_week = monday(events["reported_at"].min())
    last_event_week = monday(events["reported_at"].max())
    weeks = panel["week_start"].unique().sort().to_list()

    assert weeks[0] == first_event_week + timedelta(days=7)
    assert weeks[-1] == last_event_week + timedelta(days=7)
    assert weeks == week_range(weeks[0], weeks[-1]).to_list()
    assert panel.height == LINE_GRIDS.height * len(weeks)
    assert panel.select(PANEL_KEYS).is_unique().all()
    assert set(panel["grid_id"]) == set(LINE_GRIDS["grid_id"])
    assert panel.schema["week_start"] == pl.Date


def test_forecast_week_is_last_and_only_it_has_null_labels(events, panel):
    forecast = monday(events["reported_at"].max()) + timedelta(days=7)
    unlabelled = panel.filter(pl.col("y_dispute").is_null())

    assert unlabelled["week_start"].unique().to_list() == [forecast]
    assert unlabelled.height == LINE_GRIDS.height
    assert unlabelled.select(pl.col(LABEL_COLUMNS).is_null().all()).row(0) == (True,) * len(LABEL_COLUMNS)
    assert (
        panel.filter(pl.col("week_start") < forecast)
        .select(LABEL_COLUMNS)
        .null_count()
        .sum_horizontal()
        .item()
        == 0
    )


def test_explicit_first_and_last_week_are_snapped_to_mondays(events):
    panel = build_panel(
        events, LINE_GRIDS, first_week=date(2024, 6, 5), last_week=date(2024, 7, 3), neighbours_k=2
    )
    assert panel["week_start"].min() == date(2024, 6, 3)
    assert panel["week_start"].max() == date(2024, 7, 1)
    assert panel.height == 5 * 5


# ---- labels and counts vs brute force ------------------------------------------------------------
CELLS = [
    ("g0", date(2024, 1, 15)),
    ("g1", date(2024, 6, 3)),
    ("g2", date(2024, 12, 30)),
    ("g3", date(2025, 2, 17)),
]


@pytest.mark.parametrize(("grid_id", "week"), CELLS)
def test_labels_match_brute_force(events, panel, grid_id, week):
    row = cell(panel, grid_id, week)
    start, end = midnight(week), midnight(week + timedelta(days=7))
    for group in ("dispute", "hazard"):
        expected = brute_count(events, grid_id, start, end, risk_group=group)
        assert row[f"n_{group}"] == expected
        assert row[f"y_{group}"] == int(expected > 0)


@pytest.mark.parametrize(("grid_id", "week"), CELLS)
def test_window_counts_match_brute_force(events, panel, grid_id, week):
    row = cell(panel, grid_id, week)
    end = midnight(week)
    for weeks in (1, 4, 12, 52):
        start = end - timedelta(weeks=weeks)
        assert row[f"cnt_all_{weeks}w"] == brute_count(events, grid_id, start, end)
        for group in ("dispute", "hazard"):
            assert row[f"cnt_{group}_{weeks}w"] == brute_count(events, grid_id, start, end, risk_group=group)
    for category in RISK_GROUP:
        for weeks in (4, 52):
            expected = brute_count(events, grid_id, end - timedelta(weeks=weeks), end, category_l1=category)
            assert row[f"cnt_l1_{l1_slug(category)}_{weeks}w"] == expected


def test_grid_without_events_has_zero_counts_and_capped_recency(panel):
    g4 = panel.filter(pl.col("grid_id") == "g4")
    counts = [c for c in feature_columns(panel) if c.startswith("cnt_")]
    assert g4.select(pl.col(counts).sum()).sum_horizontal().item() == 0
    assert g4["weeks_since_dispute"].unique().to_list() == [WEEKS_SINCE_CAP]


def test_trend_is_recent_weekly_rate_minus_yearly_weekly_rate(panel):
    row = cell(panel, "g2", date(2025, 1, 27))  # more than 52 weeks of log before it
    assert row["log_history_weeks"] == 52
    assert row["trend_dispute"] == pytest.approx(
        row["cnt_dispute_4w"] / 4 - row["cnt_dispute_52w"] / 52, rel=1e-5
    )


# ---- recency ---------------------------------------------------------------------------------------
def test_weeks_since_last_dispute_and_hazard():
    events = make_events(
        [
            ("g0", datetime(2024, 1, 2, 9), "矛盾纠纷"),
            ("g0", datetime(2024, 1, 15, 0, 0), "矛盾纠纷"),  # exactly at week_start of 2024-01-15
            ("g1", datetime(2024, 1, 20, 12), "安全隐患"),
            ("g2", datetime(2024, 2, 25, 23, 59), "市容环境"),
        ]
    )
    panel = build_panel(events, LINE_GRIDS, neighbours_k=2)
    since = {
        (row["grid_id"], row["week_start"]): (row["weeks_since_dispute"], row["weeks_since_hazard"])
        for row in panel.iter_rows(named=True)
    }
    assert [since[("g0", date(2024, 1, 1) + timedelta(weeks=i))][0] for i in range(1, 6)] == [1, 2, 1, 2, 3]
    assert since[("g1", date(2024, 1, 15))][1] == WEEKS_SINCE_CAP
    assert since[("g1", date(2024, 1, 22))][1] == 1
    assert since[("g1", date(2024, 2, 26))] == (WEEKS_SINCE_CAP, 6)
    assert since[("g2", date(2024, 2, 26))] == (WEEKS_SINCE_CAP, WEEKS_SINCE_CAP)  # "none" events don't count


# ---- neighbours --------------------------------------------------------------------------------------
def test_nearest_neighbours_on_a_line_exclude_self():
    x = LINE_GRIDS["x_m"].to_numpy()
    found = nearest_neighbours(x, np.zeros_like(x), k=2)
    ids = LINE_GRIDS["grid_id"].to_list()
    assert {ids[i]: {ids[j] for j in row} for i, row in enumerate(found)} == {
        grid: set(nbrs) for grid, nbrs in LINE_NEIGHBOURS.items()
    }


def test_nearest_neighbours_with_duplicate_coordinates_and_too_few_points():
    found = nearest_neighbours(np.array([0.0, 0.0, 5.0]), np.zeros(3), k=5)
    assert found.shape == (3, 2)
    assert all(i not in row for i, row in enumerate(found))
    assert nearest_neighbours(np.array([1.0]), np.array([1.0]), k=3).shape == (1, 0)


def test_neighbour_lags_sum_the_right_grids_counts(panel):
    own = panel.select("grid_id", "week_start", "cnt_dispute_1w", "cnt_hazard_4w")
    pairs = pl.DataFrame(
        [(grid, nbr) for grid, nbrs in LINE_NEIGHBOURS.items() for nbr in nbrs],
        schema=["grid_id", "nbr"],
        orient="row",
    )
    expected = (
        pairs.join(own.rename({"grid_id": "nbr"}), on="nbr")
        .group_by("grid_id", "week_start")
        .agg(pl.col("cnt_dispute_1w").sum().alias("want_d1"), pl.col("cnt_hazard_4w").sum().alias("want_h4"))
    )
    checked = panel.join(expected, on=["grid_id", "week_start"])
    assert checked.height == panel.height
    assert (checked["nbr_dispute_1w_sum"] == checked["want_d1"]).all()
    assert (checked["nbr_hazard_4w_sum"] == checked["want_h4"]).all()
    assert np.allclose(checked["nbr_hazard_4w_mean"].to_numpy(), checked["want_h4"].to_numpy() / 2)


def test_single_event_reaches_exactly_the_grids_that_have_it_as_neighbour():
    events = make_events(
        [("g1", datetime(2024, 3, 6, 10), "矛盾纠纷"), ("g4", datetime(2024, 3, 20, 10), "市容环境")]
    )
    panel = build_panel(events, LINE_GRIDS, neighbours_k=2)
    week = panel.filter(pl.col("week_start") == date(2024, 3, 11)).sort("grid_id")
    assert week["nbr_dispute_1w_sum"].to_list() == [1, 0, 1, 0, 0]  # g0 and g2 have g1 as neighbour
    assert week["nbr_dispute_1w_mean"].to_list() == [0.5, 0.0, 0.5, 0.0, 0.0]


# ---- columns -------------------------------------------------------------------------------------------
def test_feature_columns_exclude_keys_and_labels_and_are_ascii(panel):
    features = feature_columns(panel)
    assert not set(features) & {*PANEL_KEYS, *LABEL_COLUMNS}
    assert len(features) == panel.width - len(PANEL_KEYS) - len(LABEL_COLUMNS)
    assert all(name.isascii() for name in features)


def test_static_attributes_are_numeric_grid_columns_without_ids_or_coordinates(panel):
    features = feature_columns(panel)
    assert {"population", "elderly_share", "old_compound"} <= set(features)
    assert not {"x_m", "y_m", "lat", "district", "grid_id"} & set(features)
    assert panel.schema["old_compound"] == pl.Int8
    assert cell(panel, "g2", date(2024, 3, 4))["population"] == 300


def test_l1_columns_are_stable_slugs_with_a_mapping(panel):
    mapping = l1_columns(RISK_GROUP)
    assert set(l1_feature_names(panel)) == set(mapping)
    assert set(mapping.values()) == set(RISK_GROUP)
    assert l1_slug("矛盾纠纷") == l1_slug("矛盾纠纷") != l1_slug("安全隐患")


def test_given_l1_categories_fix_the_columns_even_when_absent(events):
    panel = build_panel(events, LINE_GRIDS, neighbours_k=2, l1_categories=["矛盾纠纷", "消防安全"])
    assert set(l1_feature_names(panel)) == set(l1_columns(["矛盾纠纷", "消防安全"]))
    assert panel[f"cnt_l1_{l1_slug('消防安全')}_52w"].sum() == 0
    assert panel[f"cnt_l1_{l1_slug('矛盾纠纷')}_52w"].sum() > 0


def test_events_of_unknown_grids_are_ignored(events):
    stray = make_events([("nowhere", datetime(2024, 3, 6), "矛盾纠纷")])
    with_stray = build_panel(pl.concat([events, stray]), LINE_GRIDS, neighbours_k=2)
    assert with_stray.equals(build_panel(events, LINE_GRIDS, neighbours_k=2))


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="missing columns"):
        build_panel(pl.DataFrame({"grid_id": ["g0"]}), LINE_GRIDS)
    with pytest.raises(ValueError, match="unique"):
        build_panel(
            make_events([("g0", datetime(2024, 1, 1), "矛盾纠纷")]), pl.concat([LINE_GRIDS, LINE_GRIDS])
        )
    with pytest.raises(ValueError, match="empty"):
        build_panel(make_events([]), LINE_GRIDS)


# ---- calendar ----------------------------------------------------------------------------------------------
def test_week_start_is_monday_as_date():
    frame = pl.DataFrame(
        {"at": [datetime(2024, 3, 10, 23, 59, 59, 999999), datetime(2024, 3, 11), datetime(2024, 3, 17, 12)]}
    )
    weeks = frame.select(week_start(pl.col("at"))).to_series()
    assert weeks.dtype == pl.Date
    assert weeks.to_list() == [date(2024, 3, 4), date(2024, 3, 11), date(2024, 3, 11)]


def test_national_day_week_holidays():
    # holidays.China lists 2024-10-01..04 in the Mon 2024-09-30 week (10-05/06 are a weekend,
    # 10-07 a substituted day off in the next week); 09-30 itself is a workday.
    week = holiday_days_per_week([date(2024, 9, 30), date(2024, 3, 11)]).sort("week_start")
    national_day, ordinary = week.row(1, named=True), week.row(0, named=True)
    assert national_day["holiday_days"] == 4
    assert national_day["days_off"] == 6
    assert (ordinary["holiday_days"], ordinary["days_off"]) == (0, 2)


def test_makeup_workday_reduces_days_off():
    # Sunday 2024-02-04 was a make-up workday for the Spring Festival break.
    week = holiday_days_per_week([date(2024, 1, 29)]).row(0, named=True)
    assert (week["holiday_days"], week["days_off"]) == (0, 1)


def test_spring_festival_week_flags():
    weeks = holiday_days_per_week(week_range(date(2024, 1, 22), date(2024, 2, 26))).sort("week_start")
    # Lunar New Year's Day 2024 was Saturday 10 February: week of Monday 5 February.
    assert weeks["weeks_from_spring_festival"].to_list() == [-2, -1, 0, 1, 2, 3]
    assert weeks["spring_festival_week"].to_list() == [0, 0, 1, 1, 0, 0]


def test_calendar_features_seasonality():
    features = calendar_features([date(2024, 1, 1), date(2024, 7, 1)]).sort("week_start")
    assert features["week_of_year"].to_list() == [1, 27]
    assert features["month"].to_list() == [1, 7]
    assert features["year_cos"][0] == pytest.approx(1.0)
    assert features["year_cos"][1] == pytest.approx(-1.0, abs=0.01)


def test_weeks_before_the_log_have_null_labels(events):
    panel = build_panel(events, LINE_GRIDS, first_week=date(2023, 12, 18), neighbours_k=2)
    assert panel.filter(pl.col("week_start") < date(2024, 1, 1))["y_dispute"].null_count() == 2 * 5
    assert panel.filter(pl.col("week_start") == date(2024, 1, 1))["y_dispute"].null_count() == 0


def test_events_outside_the_grid_table_are_counted_and_left_out_of_the_panel():
    at = datetime(2024, 1, 10, 9)  # week of 2024-01-08; the first and last rows set the panel's span
    rows = [("g0", datetime(2024, 1, 2), "市容环境"), ("g1", at, "矛盾纠纷"), ("gX", at, "矛盾纠纷")]
    rows += [("gX", at, "安全隐患"), ("gY", at, "矛盾纠纷"), ("g0", datetime(2024, 1, 17), "市容环境")]
    no_grid = make_events([("g1", at, "矛盾纠纷")]).with_columns(grid_id=pl.lit(None))
    events = make_events(rows).vstack(no_grid)

    outside = events_outside_grids(events, LINE_GRIDS)

    assert outside.rows() == [("gX", 2), (None, 1), ("gY", 1)]
    panel = build_panel(events, LINE_GRIDS, neighbours_k=2)
    assert set(panel["grid_id"]) == set(LINE_GRIDS["grid_id"])
    assert panel.filter(pl.col("week_start") == date(2024, 1, 8))["y_dispute"].sum() == 1  # g1's only
    assert events_outside_grids(events.filter(pl.col("grid_id") == "g1"), LINE_GRIDS).is_empty()


def test_a_parent_column_without_values_is_treated_as_absent():
    """A city's grid table may carry an empty district column (ingest with no areas): no crash, and the
    same panel as without the column."""
    from evaluation.panel_speed import synthetic_log

    log, grids = synthetic_log(events=500, units=6, weeks=30)
    without = build_panel(log, grids.drop("district"))
    empty = build_panel(log, grids.with_columns(pl.lit(None, dtype=pl.String).alias("district")))
    assert empty.drop("district", strict=False).equals(without.drop("district", strict=False))
