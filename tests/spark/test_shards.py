"""The panel built shard by shard (what the Spark engine distributes) equals the whole-city panel, also
with events that only name their parent area, grids without one, and events outside every grid."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from engines.shards import plan_shards, sharded_panel
from features.events import load_events
from features.panel import build_panel
from features.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from demo_city import generate_demo_city

    made = generate_demo_city(
        tmp_path_factory.mktemp("shards"), seed=8, n_grids=70, weeks=40, start=date(2024, 1, 1)
    )
    events = load_events(made.events_path, load_taxonomy()).events
    grids = pl.read_parquet(made.grids_path)
    return events, grids


@pytest.mark.parametrize("n_shards", [2, 5, 70])
def test_sharded_panel_is_the_whole_panel(city, n_shards):
    events, grids = city
    expected = build_panel(events, grids).sort("grid_id", "week_start")
    got = sharded_panel(events, grids, n_shards).sort("grid_id", "week_start")
    assert_frame_equal(got, expected)


def test_parent_only_events_no_parent_grids_and_outside_grids(city):
    events, grids = city
    districts = grids["district"].unique().sort().to_list()
    grids = grids.with_columns(  # a few grids without a district
        pl.when(pl.int_range(pl.len()) % 9 == 0).then(None).otherwise(pl.col("district")).alias("district")
    )
    events = events.with_columns(pl.lit(None, pl.String).alias("parent_area"))
    extra = events.head(40).with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0).then(None).otherwise(pl.lit("G9999")).alias("grid_id"),
        pl.lit(districts[1]).alias("parent_area"),  # known only by district, or by an unknown grid
    )
    events = pl.concat([events, extra])
    expected = build_panel(events, grids).sort("grid_id", "week_start")
    plan = plan_shards(grids, 4)
    assert plan.n_shards > 1
    assert_frame_equal(sharded_panel(events, grids, 4).sort("grid_id", "week_start"), expected)
