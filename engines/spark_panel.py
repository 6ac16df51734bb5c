"""The grid x week panel on Spark: ``features.panel.build_panel`` run per shard of grids
(``engines.shards``) with ``groupBy(shard).applyInArrow``.

Spark does what is global: it tags every event with the shards that need it (own and halo grids, own
parent areas), computes the city's scope (first and last report, categories, risk groups) and moves each
shard's events to one executor; there the polars panel code builds the shard's rows. The shard plan (grids
are at most a few million rows) is made on the driver and shipped to the executors with the function.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from engines.arrow import spark_arrow, spark_schema
from engines.shards import (
    SHARD,
    CityScope,
    ShardPlan,
    conform,
    fixed_scope,
    plan_shards,
    shard_panel,
    with_span_markers,
)
from features.panel import MAX_PANEL_WEEKS, PanelOptions, build_panel


def build_panel_spark(
    spark,
    events,
    grids: pl.DataFrame,
    first_week: date | None = None,
    last_week: date | None = None,
    neighbours_k: int = 6,
    l1_categories=None,
    options: PanelOptions | None = None,
    max_weeks: int = MAX_PANEL_WEEKS,
    n_shards: int | None = None,
):
    """A Spark frame of the same rows as ``features.panel.build_panel(events, grids, ...)`` (``events``: a
    Spark frame of validated events, e.g. ``engines.spark_events.load_events(...).events``)."""
    options = options or PanelOptions()
    plan = plan_shards(grids, n_shards, neighbours_k, options)
    scope = _scope(events, l1_categories, options)
    schema = _panel_schema(events, grids, plan, scope, first_week, last_week, neighbours_k, max_weeks)
    tagged = _tagged(spark, events, grids, plan, scope)

    def build(table):
        frame = pl.from_arrow(table)
        shard = int(frame[SHARD][0])
        rows = frame.filter(pl.col("reported_at").is_not_null())
        panel = shard_panel(rows, grids, plan, shard, scope, first_week, last_week, neighbours_k, max_weeks)
        return spark_arrow(conform(panel, schema))

    # one partition per shard: the work is CPU in Python, so a size-based coalescing (AQE) of the few
    # megabytes of events would leave cores idle
    by_shard = tagged.repartition(plan.n_shards, SHARD)
    return by_shard.groupBy(SHARD).applyInArrow(build, spark_schema(pl.DataFrame(schema=schema)))


def to_polars_panel(frame, like: pl.DataFrame | None = None) -> pl.DataFrame:
    """Collect a Spark panel, sorted by grid and week (types as ``like``'s when given)."""
    collected = pl.from_arrow(frame.toArrow()).sort("grid_id", "week_start")
    return collected if like is None else collected.cast(dict(like.schema)).select(like.columns)


def _scope(events, l1_categories, options: PanelOptions) -> CityScope:
    """The city's scope in one pass over the events: first and last report, the category and group sets."""
    from pyspark.sql import functions as F

    text = options.text_category_column
    sets = {
        "l1": "category_l1" if l1_categories is None else None,
        "text": text if text in events.columns and options.text_categories is None else None,
        "groups": "risk_group" if "risk_group" in events.columns else None,
    }
    row = events.agg(
        F.min("reported_at").alias("first"),
        F.max("reported_at").alias("last"),
        *(F.collect_set(column).alias(name) for name, column in sets.items() if column),
    ).first()
    found = {name: sorted(row[name]) if column else None for name, column in sets.items()}
    l1 = found["l1"] if l1_categories is None else l1_categories
    return fixed_scope(_naive(row["first"]), _naive(row["last"]), l1, options, found["text"], found["groups"])


def _naive(value):
    return None if value is None else value.replace(tzinfo=None)


def _panel_schema(events, grids, plan: ShardPlan, scope: CityScope, first_week, last_week, k, max_weeks):
    """The panel's columns and types, from a panel of a few grids and the span markers only."""
    with_parent = grids.sort(pl.col(plan.parent_column).is_null()) if plan.parent_column else grids
    probe_grids = with_parent.head(max(k * max(scope.options.wide_neighbour_factor, 1) + 2, 2))
    empty = pl.from_arrow(events.limit(0).toArrow())  # the events' own columns (text category ...)
    probe = build_panel(
        with_span_markers(empty, scope),
        probe_grids,
        first_week=first_week,
        last_week=last_week,
        neighbours_k=k,
        l1_categories=scope.l1_categories,
        options=scope.options,
        max_weeks=max_weeks,
    )
    return {name: _spark_safe(dtype) for name, dtype in probe.schema.items()}


def _spark_safe(dtype: pl.DataType) -> pl.DataType:
    """Spark has no unsigned integers: the next wider signed type."""
    widened = {pl.UInt8: pl.Int16, pl.UInt16: pl.Int32, pl.UInt32: pl.Int64, pl.UInt64: pl.Int64}
    return widened.get(type(dtype), dtype) if dtype.is_unsigned_integer() else dtype


def _tagged(spark, events, grids: pl.DataFrame, plan: ShardPlan, scope: CityScope):
    """The events each shard needs, tagged with ``_shard`` (a row per shard that needs the event), plus
    one empty row per shard so that a shard without events still gets its (all-zero) rows."""
    from pyspark.sql import functions as F

    members = spark.createDataFrame(spark_arrow(plan.members))
    by_grid = events.join(F.broadcast(members), on="grid_id", how="inner")
    tagged = by_grid
    if plan.parent_column is not None:
        parent_of = pl.col(plan.parent_column).cast(pl.String).alias("_grid_parent")
        grid_parent = spark.createDataFrame(spark_arrow(grids.select("grid_id", parent_of)))
        parents = spark.createDataFrame(spark_arrow(plan.parents.rename({"parent": "_parent"})))
        with_parent = events.join(F.broadcast(grid_parent), on="grid_id", how="left")
        own = F.col("parent_area").cast("string") if "parent_area" in events.columns else F.lit(None)
        with_parent = with_parent.withColumn("_parent", F.coalesce(own, F.col("_grid_parent")))
        by_parent = with_parent.join(F.broadcast(parents), on="_parent", how="inner").drop(
            "_parent", "_grid_parent"
        )
        tagged = by_grid.unionByName(by_parent).dropDuplicates(["event_id", SHARD])
    empties = spark.createDataFrame([(shard,) for shard in range(plan.n_shards)], f"{SHARD} long")
    return tagged.unionByName(empties, allowMissingColumns=True)
