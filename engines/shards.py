"""Shards of grids, so that ``features.panel.build_panel`` itself can run on each shard of a city
and give, for the shard's own grids, exactly the rows the whole-city panel has.

A panel row depends on its grid's events, on its k nearest grids' events (neighbour lags and rates, the
"wide" ring included), on its parent area's events (the events that name the area or whose grid is in it,
and the number of grids in the area), on the span of the whole log (first and last week, the lookback)
and on the category lists. A shard therefore holds:

* its **own grids**: whole parent areas (an area is never split), cut into shards of about equal size;
* a **halo**: the nearest ``k * wide_factor`` grids of each own grid, taken from the whole city's grids,
  so the shard's own nearest-neighbour search finds the same neighbours (distances ties aside, which real
  and demo coordinates do not have; an exact lattice can break them differently);
* the **events** of its own and halo grids and of its own parent areas;
* two **span markers**: events without a grid at the log's first and last time, which fix the panel's
  weeks (a grid-less event only counts towards the span);
* the city's **category lists** (``l1_categories`` and ``PanelOptions.text_categories``) fixed up front.

Only the own grids' rows are kept. Parent-area columns that a shard without any parent area lacks are
zeros, as they are for such grids in the whole-city panel. ``tests/spark`` and ``tests/unit`` check the
result against the whole-city panel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, datetime

import numpy as np
import polars as pl

from features.panel import MAX_PANEL_WEEKS, PanelOptions, build_panel, nearest_neighbours

SHARD = "_shard"
DEFAULT_SHARD_GRIDS = 2_000


@dataclass(frozen=True)
class ShardPlan:
    """``owner``: grid_id -> shard; ``members``: (grid_id, shard) for own and halo grids;
    ``parents``: (parent, shard) of the own parent areas (empty without a parent column)."""

    owner: pl.DataFrame
    members: pl.DataFrame
    parents: pl.DataFrame
    n_shards: int
    parent_column: str | None


@dataclass(frozen=True)
class CityScope:
    """What every shard must share: the log's first and last report time and the category lists."""

    first_report: datetime | None
    last_report: datetime | None
    l1_categories: tuple[str, ...]
    options: PanelOptions


def plan_shards(
    grids: pl.DataFrame,
    n_shards: int | None = None,
    neighbours_k: int = 6,
    options: PanelOptions | None = None,
) -> ShardPlan:
    options = options or PanelOptions()
    n_grids = grids.height
    n_shards = max(1, min(n_grids, n_shards or math.ceil(n_grids / DEFAULT_SHARD_GRIDS)))
    column = options.parent_column if options.parent_column in grids.columns else None
    owner = _owners(grids, column, n_shards)
    halo_k = neighbours_k * max(options.wide_neighbour_factor, 1)
    near = nearest_neighbours(grids["x_m"].to_numpy(), grids["y_m"].to_numpy(), halo_k)
    shard_of = owner.to_numpy()
    ids = grids["grid_id"]
    halo = pl.DataFrame(
        {"grid_id": ids.gather(near.ravel()), SHARD: np.repeat(shard_of, near.shape[1])},
        schema={"grid_id": pl.String, SHARD: pl.Int64},
    )
    own = pl.DataFrame({"grid_id": ids, SHARD: shard_of}, schema={"grid_id": pl.String, SHARD: pl.Int64})
    members = pl.concat([own, halo]).unique(maintain_order=True)
    parents = (
        own.with_columns(grids[column].cast(pl.String).alias("parent"))
        .drop_nulls("parent")
        .select("parent", SHARD)
        .unique()
        .sort("parent")
        if column
        else pl.DataFrame(schema={"parent": pl.String, SHARD: pl.Int64})
    )
    return ShardPlan(own, members, parents, int(owner.max()) + 1, column)


def _owners(grids: pl.DataFrame, column: str | None, n_shards: int) -> pl.Series:
    """Shard of each grid: whole parent areas (grids without one on their own), in contiguous runs of
    about ``n_grids / n_shards`` grids."""
    keys = (
        grids[column].cast(pl.String).fill_null(pl.format("\x00{}", grids["grid_id"]))
        if column
        else grids["grid_id"]
    )  # a grid without a parent area is a key of its own
    sizes = pl.DataFrame({"key": keys}).group_by("key").len().sort("key")
    start = sizes["len"].cum_sum() - sizes["len"]
    target = grids.height / n_shards
    cut = (start.cast(pl.Float64) / target).floor().clip(0, n_shards - 1)
    shard = (cut.rank("dense") - 1).cast(pl.Int64)  # numbered 0.. without gaps (big areas span cuts)
    lookup = pl.DataFrame({"key": sizes["key"], SHARD: shard})
    return pl.DataFrame({"key": keys}).join(lookup, on="key", how="left", maintain_order="left")[SHARD]


def city_scope(events: pl.DataFrame, l1_categories=None, options: PanelOptions | None = None) -> CityScope:
    """The scope from a whole log in memory (the Spark engine computes the same on Spark)."""
    options = options or PanelOptions()
    reported = events["reported_at"].drop_nulls()
    text = options.text_category_column
    texts = sorted(events[text].drop_nulls().unique().to_list()) if text in events.columns else None
    return fixed_scope(
        reported.min() if len(reported) else None,
        reported.max() if len(reported) else None,
        l1_categories if l1_categories is not None else sorted(events["category_l1"].drop_nulls().unique()),
        options,
        texts,
        events["risk_group"].drop_nulls().unique().to_list() if "risk_group" in events.columns else None,
    )


def fixed_scope(
    first,
    last,
    l1_categories,
    options: PanelOptions,
    texts: list[str] | None,
    groups: list[str] | None = None,
) -> CityScope:
    """The scope with the category lists and the risk groups fixed in ``options`` (each shard would
    otherwise take them from its own events)."""
    if options.text_categories is None and texts is not None:
        options = replace(options, text_categories=tuple(texts))
    if hasattr(options, "risk_groups") and options.risk_groups is None and groups is not None:
        from features.panel import risk_groups_of

        options = replace(options, risk_groups=risk_groups_of(pl.DataFrame({"risk_group": groups})))
    return CityScope(first, last, tuple(dict.fromkeys(l1_categories)), options)


def shard_events(events: pl.DataFrame, grids: pl.DataFrame, plan: ShardPlan) -> pl.DataFrame:
    """Events with ``_shard``, once per shard that needs them (own or halo grid, own parent area)."""
    by_grid = events.join(plan.members, on="grid_id", how="inner")
    if plan.parent_column is None:
        return by_grid
    parent = resolved_parent(events, grids, plan.parent_column)
    by_parent = events.with_columns(parent.alias("_parent")).join(
        plan.parents.rename({"parent": "_parent"}), on="_parent", how="inner"
    )
    return pl.concat([by_grid, by_parent.drop("_parent")]).unique(maintain_order=True)


def resolved_parent(events: pl.DataFrame, grids: pl.DataFrame, column: str) -> pl.Series:
    """The parent area an event counts towards: its own ``parent_area``, else its grid's."""
    via_grid = events.select("grid_id").join(
        grids.select("grid_id", pl.col(column).cast(pl.String).alias("_p")),
        on="grid_id",
        how="left",
        maintain_order="left",
    )["_p"]
    if "parent_area" in events.columns:
        return events["parent_area"].cast(pl.String).fill_null(via_grid)
    return via_grid


def shard_panel(
    events: pl.DataFrame,
    grids: pl.DataFrame,
    plan: ShardPlan,
    shard: int,
    scope: CityScope,
    first_week: date | None = None,
    last_week: date | None = None,
    neighbours_k: int = 6,
    max_weeks: int = MAX_PANEL_WEEKS,
) -> pl.DataFrame:
    """The whole-city panel's rows of the shard's own grids, from the shard's events (see the module)."""
    members = plan.members.filter(pl.col(SHARD) == shard)["grid_id"]
    own = plan.owner.filter(pl.col(SHARD) == shard)["grid_id"]
    subset = grids.filter(pl.col("grid_id").is_in(members.implode()))
    panel = build_panel(
        with_span_markers(events.drop(SHARD, strict=False), scope),
        subset,
        first_week=first_week,
        last_week=last_week,
        neighbours_k=neighbours_k,
        l1_categories=scope.l1_categories,
        options=scope.options,
        max_weeks=max_weeks,
    )
    return panel.filter(pl.col("grid_id").is_in(own.implode()))


def with_span_markers(events: pl.DataFrame, scope: CityScope) -> pl.DataFrame:
    """``events`` plus grid-less events at the log's first and last report time."""
    times = [t for t in (scope.first_report, scope.last_report) if t is not None]
    if not times:
        return events
    markers = pl.DataFrame({"reported_at": times}).cast({"reported_at": events.schema["reported_at"]})
    return pl.concat([events, markers], how="diagonal_relaxed")


def conform(panel: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``panel`` in the columns and types of ``schema``; missing parent-area columns are zeros (a shard
    without parent areas has none; the whole-city panel has zeros for such grids)."""
    missing = [name for name in schema if name not in panel.columns]
    unexpected = [name for name in missing if not name.startswith("parent_")]
    unexpected += [name for name in panel.columns if name not in schema]
    if unexpected:
        raise ValueError(f"shard panel and panel schema differ in columns {unexpected}")
    return panel.with_columns(pl.lit(0).cast(schema[name]).alias(name) for name in missing).select(
        pl.col(name).cast(dtype) for name, dtype in schema.items()
    )


def sharded_panel(
    events: pl.DataFrame,
    grids: pl.DataFrame,
    n_shards: int,
    l1_categories=None,
    options: PanelOptions | None = None,
    **kwargs,
) -> pl.DataFrame:
    """The panel built shard by shard in one process (what the Spark engine distributes); for tests and
    for a machine that has the memory for the log but not for the whole panel at once."""
    options = options or PanelOptions()
    plan = plan_shards(grids, n_shards, kwargs.get("neighbours_k", 6), options)
    scope = city_scope(events, l1_categories, options)
    tagged = shard_events(events, grids, plan)
    parts = [
        shard_panel(tagged.filter(pl.col(SHARD) == shard), grids, plan, shard, scope, **kwargs)
        for shard in range(plan.n_shards)
    ]
    schema = max(parts, key=lambda part: part.width).schema
    return pl.concat([conform(part, schema) for part in parts])
