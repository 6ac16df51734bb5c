"""The panel's core contract: no feature of week w uses an event reported at or after week_start(w)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from features.panel import LABEL_COLUMNS, PANEL_KEYS, PanelOptions, build_panel, feature_columns

START = datetime(2024, 1, 1)  # a Monday
N_WEEKS = 20
RISK_GROUP = {"矛盾纠纷": "dispute", "安全隐患": "hazard", "市容环境": "none", "民生服务": "none"}
GRIDS = pl.DataFrame(
    {
        "grid_id": ["g0", "g1", "g2", "g3", "g4"],
        "x_m": [0.0, 100.0, 0.0, 100.0, 500.0],
        "y_m": [0.0, 0.0, 100.0, 100.0, 500.0],
        "population": [1200, 800, 950, 3000, 40],
    }
)


def random_events(seed: int, n: int, start: datetime, weeks: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    offsets = rng.integers(0, weeks * 7 * 86_400_000_000, n).astype("timedelta64[us]")
    categories = rng.choice(list(RISK_GROUP), n)
    return pl.DataFrame(
        {
            "event_id": [f"{seed}-{i}" for i in range(n)],
            "reported_at": np.datetime64(start, "us") + offsets,
            "grid_id": rng.choice(GRIDS["grid_id"].to_list()[:4], n),  # g4 never has events
            "category_l1": categories,
            "risk_group": [RISK_GROUP[c] for c in categories],
        }
    )


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return random_events(seed=11, n=700, start=START, weeks=N_WEEKS)


def panel_of(events: pl.DataFrame, **kwargs) -> pl.DataFrame:
    return build_panel(events, GRIDS, first_week=date(2024, 1, 8), neighbours_k=2, **kwargs)


def rows_up_to(panel: pl.DataFrame, week: date) -> pl.DataFrame:
    return panel.filter(pl.col("week_start") <= week).sort(*PANEL_KEYS)


def assert_features_equal_up_to(original: pl.DataFrame, changed: pl.DataFrame, week: date) -> None:
    columns = [*PANEL_KEYS, *feature_columns(original)]
    assert feature_columns(changed) == feature_columns(original)
    before, after = rows_up_to(original, week), rows_up_to(changed, week)
    assert before.height == after.height == GRIDS.height * ((week - date(2024, 1, 8)).days // 7 + 1)
    assert before.select(columns).equals(after.select(columns))


def future_perturbation(events: pl.DataFrame, cutoff: datetime, seed: int) -> pl.DataFrame:
    """Keep the past; move every future event to another grid and time, and add new future events."""
    rng = np.random.default_rng(seed)
    past = events.filter(pl.col("reported_at") < cutoff)
    future = events.filter(pl.col("reported_at") >= cutoff)
    moved = future.with_columns(
        pl.Series("grid_id", rng.choice(["g0", "g1", "g2", "g3", "g4"], future.height)),
        (pl.col("reported_at") + pl.duration(hours=int(rng.integers(1, 200)))).alias("reported_at"),
    )
    added = random_events(seed=seed, n=300, start=cutoff, weeks=3)
    return pl.concat([past, moved, added])


CUTOFF_WEEKS = [date(2024, 1, 15), date(2024, 2, 26), date(2024, 4, 1), date(2024, 5, 13)]


@pytest.mark.parametrize("week", CUTOFF_WEEKS)
def test_deleting_future_events_changes_no_feature_up_to_that_week(events, week):
    cutoff = datetime.combine(week, datetime.min.time())
    original = panel_of(events)
    truncated = panel_of(events.filter(pl.col("reported_at") < cutoff))

    assert_features_equal_up_to(original, truncated, week)
    earlier = [*PANEL_KEYS, *LABEL_COLUMNS]
    assert (
        rows_up_to(original, week - timedelta(days=7))
        .select(earlier)
        .equals(rows_up_to(truncated, week - timedelta(days=7)).select(earlier))
    )
    # Week w's labels did see the deleted events, so the test is not vacuous.
    at_week = pl.col("week_start") == week
    assert original.filter(at_week)["n_dispute"].sum() > 0
    assert truncated.filter(at_week)["n_dispute"].null_count() == GRIDS.height  # w is now the forecast week


@pytest.mark.parametrize("week", CUTOFF_WEEKS)
def test_moving_and_adding_future_events_changes_no_feature_up_to_that_week(events, week):
    cutoff = datetime.combine(week, datetime.min.time())
    original = panel_of(events)
    perturbed = panel_of(future_perturbation(events, cutoff, seed=week.toordinal()))

    assert_features_equal_up_to(original, perturbed, week)
    after = pl.col("week_start") == week + timedelta(days=7)
    assert not original.filter(after).sort("grid_id").equals(perturbed.filter(after).sort("grid_id"))


def single_event(at: datetime, grid_id: str = "g4", category: str = "矛盾纠纷") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [f"probe-{at.isoformat()}"],
            "reported_at": [at],
            "grid_id": [grid_id],
            "category_l1": [category],
            "risk_group": [RISK_GROUP[category]],
        },
        schema_overrides={"reported_at": pl.Datetime("us")},
    )


def probe_row(panel: pl.DataFrame, week: date, grid_id: str = "g4") -> dict:
    return panel.filter((pl.col("week_start") == week) & (pl.col("grid_id") == grid_id)).row(0, named=True)


def test_event_at_week_start_midnight_is_a_label_of_that_week_not_a_feature(events):
    week = date(2024, 3, 4)
    midnight = datetime(2024, 3, 4, 0, 0, 0)
    base = panel_of(events)
    probed = panel_of(pl.concat([events, single_event(midnight)]))

    before, after = probe_row(base, week), probe_row(probed, week)
    assert after["n_dispute"] == before["n_dispute"] + 1
    assert after["y_dispute"] == 1
    assert {c: after[c] for c in feature_columns(base)} == {c: before[c] for c in feature_columns(base)}
    assert probe_row(probed, week + timedelta(days=7))["cnt_dispute_1w"] == before["cnt_dispute_1w"] + 1


def test_event_one_microsecond_before_week_start_is_in_the_1w_count(events):
    week = date(2024, 3, 4)
    just_before = datetime(2024, 3, 4) - timedelta(microseconds=1)
    base = panel_of(events)
    probed = panel_of(pl.concat([events, single_event(just_before, grid_id="g3")]))

    before, after = probe_row(base, week, "g3"), probe_row(probed, week, "g3")
    for column in ("cnt_dispute_1w", "cnt_dispute_4w", "cnt_all_1w", "cnt_all_52w"):
        assert after[column] == before[column] + 1, column
    assert after["weeks_since_dispute"] == 1
    assert after["n_dispute"] == before["n_dispute"]
    # g1's two nearest grids are g0 and g3: it sees the event the same week through the spatial lag.
    assert (
        probe_row(probed, week, "g1")["nbr_dispute_1w_sum"]
        == probe_row(base, week, "g1")["nbr_dispute_1w_sum"] + 1
    )


# ---- the richer families: decayed rates, parent areas (with grid-less events), text categories,
# ---- the same season last year, co-occurrence, a non-Chinese calendar ---------------------------------
RICH_GRIDS = GRIDS.with_columns(pl.Series("district", ["东区", "东区", "西区", "西区", "西区"]))
RICH_OPTIONS = PanelOptions(holiday_country="SE", holiday_categories=("public", "de_facto"))
RICH_WEEKS = 70


def rich_events(seed: int, n: int, start: datetime, weeks: int) -> pl.DataFrame:
    """Random events with a text category, and a fifth of them known only by their parent area."""
    rng = np.random.default_rng(seed + 1000)
    base = random_events(seed, n, start, weeks)
    parent_only = rng.random(n) < 0.2
    parents = rng.choice(["东区", "西区"], n)
    return base.with_columns(
        pl.Series("text_category", rng.choice(["刀具", "醉酒", "火情"], n)),
        pl.Series(
            "parent_area",
            [p if only else None for p, only in zip(parents, parent_only, strict=True)],
            dtype=pl.String,
        ),
        pl.when(pl.Series(parent_only)).then(None).otherwise(pl.col("grid_id")).alias("grid_id"),
    )


def rich_panel(events: pl.DataFrame) -> pl.DataFrame:
    return build_panel(events, RICH_GRIDS, first_week=date(2024, 1, 8), neighbours_k=2, options=RICH_OPTIONS)


@pytest.fixture(scope="module")
def rich() -> pl.DataFrame:
    return rich_events(seed=21, n=2500, start=START, weeks=RICH_WEEKS)


RICH_CUTOFFS = [date(2024, 6, 3), date(2025, 1, 6), date(2025, 3, 31)]
RICH_PREFIXES = (
    "ewm_",
    "excite_",
    "mean_",
    "nbr_",
    "nbrw_",
    "parent_",
    "co_",
    "season_",
    "cnt_txt_",
    "holiday_days",
)


def test_the_rich_panel_has_every_family_and_they_are_not_all_zero(rich):
    panel = rich_panel(rich)
    for prefix in RICH_PREFIXES:
        columns = [c for c in feature_columns(panel) if c.startswith(prefix)]
        assert columns, prefix
        assert panel.select(pl.sum_horizontal(pl.col(columns).abs().sum())).item() > 0, prefix


@pytest.mark.parametrize("week", RICH_CUTOFFS)
def test_rich_features_ignore_deleted_moved_and_added_future_events(rich, week):
    cutoff = datetime.combine(week, datetime.min.time())
    original = rich_panel(rich)
    past = rich.filter(pl.col("reported_at") < cutoff)
    future = rich_events(seed=week.toordinal(), n=600, start=cutoff, weeks=4)
    for changed_events in (past, pl.concat([past, future], how="vertical_relaxed")):
        changed = build_panel(
            changed_events,
            RICH_GRIDS,
            first_week=date(2024, 1, 8),
            last_week=original["week_start"].max(),
            neighbours_k=2,
            options=RICH_OPTIONS,
            l1_categories=sorted(rich["category_l1"].unique()),
        )
        columns = [*PANEL_KEYS, *feature_columns(original)]
        assert feature_columns(changed) == feature_columns(original)
        before, after = rows_up_to(original, week), rows_up_to(changed, week)
        assert before.height == after.height > 0
        assert before.select(columns).equals(after.select(columns))
    # the following week did see the change
    after_week = pl.col("week_start") == week + timedelta(days=7)
    parents = [c for c in feature_columns(original) if c.startswith("parent_")]
    assert (
        not original.filter(after_week)
        .sort("grid_id")
        .select(parents)
        .equals(
            build_panel(
                past,
                RICH_GRIDS,
                first_week=date(2024, 1, 8),
                last_week=original["week_start"].max(),
                neighbours_k=2,
                options=RICH_OPTIONS,
            )
            .filter(after_week)
            .sort("grid_id")
            .select(parents)
        )
    )


def test_a_grid_less_event_one_microsecond_before_the_week_counts_for_its_parent_only(rich):
    week = date(2024, 9, 2)
    probe = pl.DataFrame(
        {
            "event_id": ["probe"],
            "reported_at": [datetime(2024, 9, 2) - timedelta(microseconds=1)],
            "grid_id": [None],
            "category_l1": ["矛盾纠纷"],
            "risk_group": ["dispute"],
            "text_category": ["刀具"],
            "parent_area": ["东区"],
        },
        schema_overrides={"reported_at": pl.Datetime("us"), "grid_id": pl.String},
    )
    base, probed = rich_panel(rich), rich_panel(pl.concat([rich, probe], how="vertical_relaxed"))
    at = (pl.col("week_start") == week) & (pl.col("grid_id") == "g0")
    before, after = base.filter(at).row(0, named=True), probed.filter(at).row(0, named=True)
    assert after["parent_dispute_1w"] == before["parent_dispute_1w"] + 1
    assert after["cnt_dispute_1w"] == before["cnt_dispute_1w"]
    west = (pl.col("week_start") == week) & (pl.col("grid_id") == "g2")
    assert probed.filter(west)["parent_dispute_1w"].item() == base.filter(west)["parent_dispute_1w"].item()
