"""The panel labels and counts the site's own risk groups (1..n, any ids), never a fixed list (issue 12)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_series_equal

from core.errors import DataFileError
from features.panel import (
    DEFAULT_GROUPS,
    PanelOptions,
    build_panel,
    feature_columns,
    label_columns,
    panel_groups,
    read_panel,
    risk_groups_of,
)
from features.panel_families import by_family, columns_groups, family

GRIDS = pl.DataFrame(
    {
        "grid_id": ["a", "b", "c", "d"],
        "x_m": [0.0, 100.0, 200.0, 5000.0],
        "y_m": [0.0, 0.0, 0.0, 0.0],
        "district": ["east", "east", "west", "west"],
        "population": [10, 20, 30, 40],
    }
)
OPTIONS = PanelOptions(holiday_country=None, half_lives=(2, 8), neighbour_half_lives=(2,))


def events(groups: list[str], n: int = 400, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1)
    return pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "reported_at": [start + timedelta(hours=int(h)) for h in rng.integers(0, 40 * 7 * 24, n)],
            "grid_id": rng.choice(["a", "b", "c", "d"], n).tolist(),
            "category_l1": rng.choice(["x", "y"], n).tolist(),
            "risk_group": rng.choice([*groups, "none"], n).tolist(),
        },
        schema_overrides={"reported_at": pl.Datetime("us")},
    )


def group_columns(panel: pl.DataFrame, group: str) -> list[str]:
    return [c for c in panel.columns if group in c.split("_")]


def test_one_group_panel_has_its_group_only_and_no_co_occurrence():
    panel = build_panel(events(["theft"]), GRIDS, neighbours_k=2, options=OPTIONS)
    assert panel_groups(panel) == ("theft",)
    assert panel.columns[2:4] == ["n_theft", "y_theft"]
    assert {
        "cnt_theft_4w",
        "weeks_since_theft",
        "ewm_theft_h8",
        "parent_theft_4w",
        "nbr_theft_1w_sum",
    } <= set(panel.columns)
    assert not [c for c in panel.columns if c.startswith("co_")]
    assert not group_columns(panel, "dispute") and not group_columns(panel, "hazard")
    assert not set(label_columns(("theft",))) & set(feature_columns(panel))
    assert panel["n_theft"].drop_nulls().sum() > 0


def test_three_groups_co_occur_pairwise_and_leave_the_other_groups_columns_unchanged():
    log = events(["dispute", "hazard", "theft"])
    three = build_panel(log, GRIDS, neighbours_k=2, options=OPTIONS)
    assert panel_groups(three) == ("dispute", "hazard", "theft")  # the events' groups, sorted
    co = sorted(c for c in three.columns if c.startswith("co_"))
    assert co == ["co_dispute_hazard_12w", "co_dispute_theft_12w", "co_hazard_theft_12w"]
    # declaring two of the groups: the third group's events count in "all" only, every other column equal
    two = build_panel(
        log,
        GRIDS,
        neighbours_k=2,
        options=PanelOptions(**{**OPTIONS.__dict__, "risk_groups": DEFAULT_GROUPS}),
    )
    assert panel_groups(two) == DEFAULT_GROUPS
    assert not group_columns(two, "theft")
    for column in two.columns:
        assert_series_equal(two[column], three[column])


def test_declared_groups_keep_their_order_and_an_eventless_group_has_zero_labels():
    panel = build_panel(
        events(["violence"]),
        GRIDS,
        neighbours_k=2,
        options=PanelOptions(**{**OPTIONS.__dict__, "risk_groups": ("violence", "arson")}),
    )
    assert panel_groups(panel) == ("violence", "arson")
    assert panel.columns[2:6] == ["n_violence", "n_arson", "y_violence", "y_arson"]
    assert panel["n_arson"].drop_nulls().sum() == 0 and "co_violence_arson_12w" in panel.columns


def test_the_default_groups_are_the_events_dispute_and_hazard():
    log = events(["dispute", "hazard"])
    derived = build_panel(log, GRIDS, neighbours_k=2, options=OPTIONS)
    declared = build_panel(
        log,
        GRIDS,
        neighbours_k=2,
        options=PanelOptions(**{**OPTIONS.__dict__, "risk_groups": DEFAULT_GROUPS}),
    )
    assert derived.equals(declared)
    assert panel_groups(derived) == DEFAULT_GROUPS
    assert [c for c in derived.columns if c.startswith("co_")] == ["co_dispute_hazard_12w"]
    assert risk_groups_of(log.with_columns(pl.lit("none").alias("risk_group"))) == DEFAULT_GROUPS


def test_panel_groups_reads_the_label_columns():
    assert panel_groups(["grid_id", "week_start", "n_fire", "n_theft", "y_fire", "y_theft", "y_m"]) == (
        "fire",
        "theft",
    )
    assert panel_groups(pl.DataFrame({"grid_id": ["a"], "n_x": [1]})) == ()


@pytest.mark.parametrize("groups", [("Theft",), ("all",), ()])
def test_unusable_groups_are_user_errors(groups):
    with pytest.raises(DataFileError):
        risk_groups_of(events(["dispute"]), groups)


def test_a_panel_file_without_labels_is_a_one_line_error(tmp_path):
    path = tmp_path / "p.parquet"
    pl.DataFrame({"grid_id": ["a"], "week_start": [datetime(2024, 1, 1).date()], "x": [1]}).write_parquet(
        path
    )
    with pytest.raises(DataFileError, match="no label columns"):
        read_panel(path)


def test_families_of_site_named_groups():
    columns = ["weeks_since_theft", "weeks_since_public_order", "cnt_theft_4w", "cnt_public_order_4w"]
    columns += ["co_theft_public_order_12w", "cnt_all_4w", "population"]
    assert columns_groups(columns) == ("theft", "public_order")
    families = by_family(columns, "theft")
    assert families["cross"] == [
        "weeks_since_public_order",
        "cnt_public_order_4w",
        "co_theft_public_order_12w",
    ]
    assert families["counts"] == ["weeks_since_theft", "cnt_theft_4w", "cnt_all_4w"]
    assert family("ewm_order_h4", "theft", ("theft", "order", "public_order")) == "cross"
    assert family("nbr_public_order_h4_mean", "public_order", ("order", "public_order")) == "spatial"
