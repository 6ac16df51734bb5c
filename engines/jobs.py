"""The batch jobs with an engine choice: the entry points the CLI's ``--engine`` (or GRIDSENSE_ENGINE)
selects between. ``polars`` calls the library functions directly; ``spark`` runs the same functions on
Spark (``engines.spark_*``) and writes partitioned Parquet (``engines.partitions``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from engines import resolve_engine
from engines.partitions import write_partitioned
from features.date_window import DateWindow
from features.events import EventLoad
from features.panel import MAX_PANEL_WEEKS, PanelOptions
from features.taxonomy import Taxonomy
from features.text_dataset import build_text_dataset


@dataclass
class FeatureRun:
    """What :func:`build_features` wrote: the load (as polars), the text set and the panel partitions."""

    load: EventLoad
    text_rows: int
    panel_partitions: list[Path]


def build_text_dataset_spark(events, **kwargs) -> pl.DataFrame:
    """The text training set from Spark events: the labelled rows are filtered on Spark and collected in
    file order, then split by ``features.text_dataset.build_text_dataset`` (the trainer reads the set into
    one machine's memory anyway; the split's time cuts are global)."""
    from pyspark.sql import functions as F

    labelled = events.filter(F.col("leaf_id").isNotNull()).orderBy("source_row").drop("source_row")
    return build_text_dataset(pl.from_arrow(labelled.toArrow()), **kwargs)


def build_features(
    events_path: Path,
    grids_path: Path,
    out_dir: Path,
    taxonomy: Taxonomy,
    *,
    site: str = "demo",
    engine: str | None = None,
    window: DateWindow | None = None,
    options: PanelOptions | None = None,
    max_weeks: int = MAX_PANEL_WEEKS,
    raw_rejects: bool = False,
    spark=None,
) -> FeatureRun:
    """Validate the log (rejects in ``out_dir/rejects.csv``, personal data redacted unless ``raw_rejects``),
    write ``text.parquet`` and the panel as ``out_dir/panel/site=<site>/month=<YYYY-MM>/`` with either
    engine. ``load.counts`` has the counts; ``load.events`` is empty on Spark (the events stay there)."""
    engine = resolve_engine(engine)
    window = window or DateWindow.default()
    grids = pl.read_parquet(grids_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    if engine == "polars":
        from features.events import load_events
        from features.panel import build_panel

        load = load_events(events_path, taxonomy, window=window)
        text = build_text_dataset(load.events)
        panel = build_panel(
            load.events, grids, l1_categories=taxonomy.level1, options=options, max_weeks=max_weeks
        )
        partitions = write_partitioned(panel, out_dir / "panel", site, "week_start")
    else:
        from engines.spark_events import load_events as load_on_spark
        from engines.spark_io import write_partitioned as write_on_spark
        from engines.spark_panel import build_panel_spark
        from engines.spark_session import get_spark

        spark = spark or get_spark()
        loaded = load_on_spark(spark, events_path, taxonomy, window=window)
        load = EventLoad(events=pl.DataFrame(), rejects=_collect(loaded.rejects), counts=loaded.counts)
        text = build_text_dataset_spark(loaded.events)
        panel = build_panel_spark(
            spark, loaded.events, grids, l1_categories=taxonomy.level1, options=options, max_weeks=max_weeks
        )
        partitions = write_on_spark(panel, out_dir / "panel", site, "week_start")
    if load.rejects.height:
        load.write_rejects(out_dir / "rejects.csv", raw=raw_rejects)
    if text.height:
        text.write_parquet(out_dir / "text.parquet")
    return FeatureRun(load, text.height, partitions)


def _collect(frame) -> pl.DataFrame:
    return pl.from_arrow(frame.orderBy("source_row").toArrow())
