"""Batch classification and the batch forecast on Spark, with the models loaded by their MLflow URI once
per executor process (``engines.classify.load_pyfunc``) and the polars code run on each partition.

* classification: ``mapInArrow`` over the log, :func:`engines.classify.classify_with` per batch;
* forecast: the forecast week's panel rows (a filter the Parquet reader pushes down), scored per partition
  by ``batch.forecast.forecast_table`` itself (probabilities, scores, drivers, SHAP contributions, the
  row-wise part); the city-wide part (each group's rank, relative risk and the level that follows) is
  redone on the driver over the one-week table, as ``batch.forecast.rank_forecasts`` does. Ties are
  ranked in grid-table order (the polars panel's row order). A new city-wide column in ``forecast_table``
  needs its line here: ``tests/spark/test_parity.py`` fails until it has one.
"""

from __future__ import annotations

import polars as pl

from batch.forecast import forecast_table
from core.registry import RISK_MODEL_NAME
from engines.arrow import spark_arrow, spark_schema
from engines.classify import classify_with, load_pyfunc
from features.taxonomy import Taxonomy
from models.risk_levels import RiskLevels
from models.served_scorer import served_or_model


def classify_events_spark(
    events, model_uri: str, tracking_uri: str | None = None, keep: tuple[str, ...] = ()
):
    """A Spark frame: ``event_id`` and the text model's outputs per event of the Spark frame ``events``,
    then the columns ``keep`` of the events (e.g. ``source_row``, to put the result in file order)."""
    inputs = [name for name in ("event_id", "title", "text") if name in events.columns]
    chosen = events.select(*inputs, *keep)
    probe = pl.from_arrow(chosen.limit(1).toArrow())
    schema = spark_schema(_classified(load_pyfunc(model_uri, tracking_uri), probe, keep))

    def classify(batches):
        model = load_pyfunc(model_uri, tracking_uri)
        for batch in batches:
            if batch.num_rows:
                yield from spark_arrow(_classified(model, pl.from_arrow(batch), keep)).to_batches()

    return chosen.mapInArrow(classify, schema)


def _classified(model, events: pl.DataFrame, keep: tuple[str, ...]) -> pl.DataFrame:
    return pl.concat([classify_with(model, events.drop(keep)), events.select(keep)], how="horizontal")


def forecast_table_spark(
    panel,
    model_uri: str,
    version: str,
    levels: RiskLevels | None = None,
    grids: pl.DataFrame | None = None,
    labels: dict[str, str] | None = None,
    tracking_uri: str | None = None,
    *,
    model_name: str = RISK_MODEL_NAME,
    taxonomy: Taxonomy | None = None,
    language: str = "zh",
) -> pl.DataFrame:
    """``batch.forecast.forecast_table`` for a Spark panel (e.g. ``engines.spark_io.read_partitioned``)
    with the model at ``model_uri`` (its served scorer when it has one, as ``batch.forecast.run_forecast``
    scores): the same table, sorted by group and rank."""
    from pyspark.sql import functions as F

    week = panel.agg(F.max("week_start")).first()[0]
    rows = panel.filter(F.col("week_start") == F.lit(week))
    options = {"model_name": model_name, "taxonomy": taxonomy, "language": language}

    def table(model, part: pl.DataFrame) -> pl.DataFrame:
        return forecast_table(
            part, model.forecaster, version, levels, None, labels, served=served_or_model(model), **options
        )

    probe = table(_risk_model(model_uri, tracking_uri), pl.from_arrow(rows.limit(1).toArrow()))

    def score(batches):
        import pyarrow as pa

        model = _risk_model(model_uri, tracking_uri)
        tables = [pa.Table.from_batches([b]) for b in batches if b.num_rows]
        if tables:
            yield from spark_arrow(table(model, pl.from_arrow(pa.concat_tables(tables)))).to_batches()

    scored = pl.from_arrow(rows.mapInArrow(score, spark_schema(probe)).toArrow()).cast(dict(probe.schema))
    return _ranked(scored, rows_order(grids, scored), levels, grids)


def _risk_model(model_uri: str, tracking_uri: str | None):
    """The risk pyfunc's python model (``forecaster``, ``served``), loaded once per process."""
    return load_pyfunc(model_uri, tracking_uri).unwrap_python_model()


def rows_order(grids: pl.DataFrame | None, scored: pl.DataFrame) -> pl.DataFrame:
    """grid_id -> position: the grid table's order, else the grid ids' sort order."""
    ids = grids["grid_id"] if grids is not None else scored["grid_id"].unique().sort()
    return pl.DataFrame({"grid_id": ids}).with_row_index("_order")


def _ranked(scored: pl.DataFrame, order: pl.DataFrame, levels: RiskLevels | None, grids) -> pl.DataFrame:
    """The city-wide columns redone over the whole city, as ``batch.forecast.rank_forecasts`` does: rank
    (ordinal, ties in grid order), relative risk (expected events over the group's city mean), level."""
    columns = scored.columns
    table = (
        scored.join(order, on="grid_id", how="left")
        .sort("group", "_order")
        .with_columns(
            rank=pl.col("score").rank(method="ordinal", descending=True).over("group").cast(pl.Int32)
        )
        .drop("_order")
    )
    if "relative_risk" in columns:
        mean = pl.col("expected_events").mean().over("group", "week_start")
        table = table.with_columns(
            relative_risk=pl.when(mean > 0).then(pl.col("expected_events") / mean).otherwise(None)
        )
    table = table.with_columns(level=(levels or RiskLevels()).expr())
    if grids is not None and "district" in grids.columns and "district" not in columns:
        table = table.join(grids.select("grid_id", "district"), on="grid_id", how="left")
        columns = [*columns, "district"]
    return table.select(columns).sort("group", "rank")
