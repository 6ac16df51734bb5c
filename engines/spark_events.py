"""Loading and validating an event log on Spark with ``features.events.validate_events`` itself.

The validation is the polars code, run on Spark partitions (``mapInArrow``); what is global in it is made
to hold across partitions:

* ``source_row`` (the 1-based record number) is numbered on Spark from per-partition offsets in file order,
  carried through the validation in a side column and put back on the rejects;
* "duplicate event_id" (the first occurrence in file order owns an id): the rows are repartitioned by a
  coarsening of the id (all white space removed, lower-cased, so ids the loader would compare equal share a
  partition) and sorted by ``source_row`` within it, so the first-occurrence rule sees every copy in order;
* the date window is fixed once on the driver (its default upper bound is "now").

File-level problems (missing required columns, repeated names) come from running ``validate_events`` on a
zero-row frame of the same columns on the driver, so they are the same errors as on polars. CSV logs are
read by the polars reader on the driver (its encoding detection and quote repair are the contract);
Parquet files and partitioned folders (``engines.partitions``) are read by Spark.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from engines.arrow import spark_arrow
from features.date_window import DateWindow
from features.encodings import AUTO
from features.events import REASON_SEPARATOR, EventLoad, read_event_file, validate_events
from features.taxonomy import Taxonomy

ROW = "_gridsense_source_row"  # the global record number, carried through the validation as a column
KEY = "_gridsense_id_key"
KIND = "_gridsense_kind"
REJECT_PREFIX = "reject::"


@dataclass
class SparkEventLoad:
    """Spark frames of the valid events (with ``source_row``, the file order) and the rejects."""

    events: Any
    rejects: Any
    counts: dict[str, Any] = field(default_factory=dict)

    def to_polars(self) -> EventLoad:
        """The same :class:`features.events.EventLoad` the polars engine gives (file order)."""
        events = _collect(self.events.orderBy("source_row")).drop("source_row")
        rejects = _collect(self.rejects.orderBy("source_row"))
        return EventLoad(events=events, rejects=rejects, counts=dict(self.counts))


def read_raw(spark, source: str | Path, encoding: str = AUTO):
    """A Spark frame of the log: Parquet files or partitioned folders by Spark, CSV through polars (read
    with ``encoding``, default detected)."""
    return _read_raw(spark, Path(source), encoding)[0]


def _read_raw(spark, path: Path, encoding: str):
    """The Spark frame and, for a CSV, the encoding it was read with (``load_counts``' "encoding")."""
    if path.is_dir():
        from engines.spark_io import read_partitioned

        return read_partitioned(spark, path), None
    if path.name.lower().endswith(".parquet"):
        return spark.read.parquet(str(path)), None
    raw, used = read_event_file(path, encoding)
    return spark.createDataFrame(spark_arrow(raw)), used


def load_events(
    spark,
    source,
    taxonomy: Taxonomy,
    require_labels: bool = True,
    *,
    window: DateWindow | None = None,
    partitions: int | None = None,
    encoding: str = AUTO,
) -> SparkEventLoad:
    """Validate a log (a path or a Spark frame) on Spark: the same events, rejects and reasons as
    ``features.events.load_events``."""
    from pyspark.sql import functions as F

    raw, used = (
        (source, None) if not isinstance(source, str | Path) else _read_raw(spark, Path(source), encoding)
    )
    window = window or DateWindow.default()
    probe = validate_events(_empty_like(raw), taxonomy, require_labels, window=window)  # file-level errors
    numbered = _numbered(raw)
    id_column = next(
        name for name in raw.columns if name.strip().lstrip("\ufeff").strip().lower() == "event_id"
    )
    keyed = numbered.withColumn(
        KEY, F.lower(F.regexp_replace(F.col(f"`{id_column}`").cast("string"), r"(?U)\s", ""))
    )
    shuffled = keyed.repartition(partitions or spark.sparkContext.defaultParallelism * 2, KEY)
    ordered = shuffled.sortWithinPartitions(ROW).drop(KEY)
    schema, out_names = _output_schema(probe, raw.columns)
    validate = _partition_validator(taxonomy, require_labels, window, out_names)
    out = ordered.mapInArrow(validate, schema).persist()
    events = out.filter(F.col(KIND) == "event").select(
        *(F.col(f"`{name}`") for name in probe.events.columns), F.col("source_row")
    )
    reject_columns = [name for name in probe.rejects.columns if name not in ("source_row", "reject_reason")]
    rejects = out.filter(F.col(KIND) == "reject").select(
        "source_row",
        "reject_reason",
        *(F.col(f"`{REJECT_PREFIX}{name}`").alias(name) for name in reject_columns),
    )
    counts = _counts(out, require_labels)
    if used:
        counts["encoding"] = used
    return SparkEventLoad(events, rejects, counts)


def _empty_like(raw) -> pl.DataFrame:
    return pl.from_arrow(raw.limit(0).toArrow())


def _numbered(raw):
    """``raw`` with ``ROW``: 1, 2, ... in file order (partition order, then order within a partition)."""
    from pyspark.sql import functions as F

    tagged = raw.withColumn("_pid", F.spark_partition_id()).withColumn(
        "_mid", F.monotonically_increasing_id()
    )
    sizes = dict(tagged.groupBy("_pid").count().collect())
    offsets, total = {}, 0
    for pid in sorted(sizes):
        offsets[pid] = total
        total += sizes[pid]
    offset = F.create_map(*(F.lit(x) for pid, start in offsets.items() for x in (pid, start)))
    within = F.col("_mid") - F.shiftleft(F.col("_pid").cast("long"), 33)
    if not offsets:
        return raw.withColumn(ROW, F.lit(None).cast("long"))
    return tagged.withColumn(ROW, (offset[F.col("_pid")] + within + 1).cast("long")).drop("_pid", "_mid")


def _output_schema(probe: EventLoad, raw_columns: list[str]):
    """One Arrow schema for both kinds of row: event columns, source_row, reject_reason, reject columns."""
    import pyarrow as pa

    event_part = spark_arrow(probe.events).schema
    reject_part = spark_arrow(probe.rejects.drop("source_row", "reject_reason")).schema
    fields = [
        pa.field(KIND, pa.string()),
        *(pa.field(f.name, f.type) for f in event_part),
        pa.field("source_row", pa.int64()),
        pa.field("reject_reason", pa.string()),
        *(pa.field(f"{REJECT_PREFIX}{f.name}", f.type) for f in reject_part),
    ]
    names = [f.name for f in fields]
    return _spark_schema(pa.schema(fields)), names


def _spark_schema(schema):
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _partition_validator(taxonomy: Taxonomy, require_labels: bool, window: DateWindow, names: list[str]):
    def validate(batches):
        import pyarrow as pa

        tables = [pa.Table.from_batches([batch]) for batch in batches]
        if not tables:
            return
        chunk = pl.from_arrow(pa.concat_tables(tables))
        yield from spark_arrow(_validated_chunk(chunk, taxonomy, require_labels, window, names)).to_batches()

    return validate


def _validated_chunk(
    chunk: pl.DataFrame, taxonomy: Taxonomy, require_labels: bool, window: DateWindow, names: list[str]
) -> pl.DataFrame:
    rows = chunk[ROW]
    loaded = validate_events(chunk.drop(ROW), taxonomy, require_labels, window=window)
    valid_rows = rows.gather(_valid_positions(loaded, chunk.height))
    events = loaded.events.with_columns(
        pl.lit("event").alias(KIND), pl.Series("source_row", valid_rows, dtype=pl.Int64)
    )
    rejects = loaded.rejects.with_columns(
        pl.lit("reject").alias(KIND), rows.gather(loaded.rejects["source_row"] - 1).alias("source_row")
    ).rename(
        {
            name: f"{REJECT_PREFIX}{name}"
            for name in loaded.rejects.columns
            if name not in ("source_row", "reject_reason")
        }
    )
    both = pl.concat([events, rejects], how="diagonal_relaxed")
    return both.select(pl.col(name) if name in both.columns else pl.lit(None).alias(name) for name in names)


def _valid_positions(loaded: EventLoad, height: int) -> list[int]:
    """0-based chunk positions of the valid rows (the loader keeps their order)."""
    rejected = set((loaded.rejects["source_row"] - 1).to_list())
    return [i for i in range(height) if i not in rejected]


def _counts(out, require_labels: bool) -> dict[str, Any]:
    """``features.events.load_counts`` computed on Spark."""
    from pyspark.sql import functions as F

    totals = out.groupBy(KIND).agg(F.count("*").alias("n"), F.count("leaf_id").alias("labelled")).collect()
    by_kind = {row[KIND]: row for row in totals}
    events = by_kind["event"]["n"] if "event" in by_kind else 0
    rejects = by_kind["reject"]["n"] if "reject" in by_kind else 0
    reasons = (
        out.filter(F.col(KIND) == "reject")
        .select(F.explode(F.split("reject_reason", REASON_SEPARATOR, -1)).alias("reason"))
        .groupBy("reason")
        .count()
        .collect()
    )
    return {
        "rows_read": events + rejects,
        "events": events,
        "rejects": rejects,
        "labelled": by_kind["event"]["labelled"] if "event" in by_kind else 0,
        "reasons": dict(
            sorted(((r["reason"], r["count"]) for r in reasons), key=lambda item: (-item[1], item[0]))
        ),
    }


def _collect(frame) -> pl.DataFrame:
    return pl.from_arrow(frame.toArrow())
