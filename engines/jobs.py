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
    write ``text.parquet`` and the panel as ``out_dir/panel/site=<site>/year_month=<YYYY-MM>/`` with either
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


# ---- batch scoring with the registered models ------------------------------------------------------------
def read_panel_any(path: Path) -> pl.DataFrame:
    """A panel file, or a partitioned panel folder (``engines.partitions``; its ``site`` and ``month``
    columns dropped), checked as ``features.panel.read_panel`` checks a file."""
    from features.panel import read_panel

    if not Path(path).is_dir():
        return read_panel(path)
    from engines.partitions import MONTH, SITE, read_partitioned

    panel = read_partitioned(path)
    if panel.is_empty():
        from core.errors import DataFileError

        raise DataFileError(f"panel {path} has no complete partitions", "rebuild it with build-features")
    _check_panel_columns(panel.columns, path)
    return panel.drop(SITE, MONTH)


def read_panel_spark(spark, path: Path):
    """The panel as a Spark frame: a partitioned folder (complete partitions only; its ``site`` and
    ``month`` columns dropped, as the panel's own columns are what the models read) or a Parquet file."""
    from engines.partitions import MONTH, SITE
    from engines.spark_io import read_partitioned

    if Path(path).is_dir():
        return read_partitioned(spark, path).drop(SITE, MONTH)
    from core.errors import require_file

    return spark.read.parquet(str(require_file(path, "panel")))


def _check_panel_columns(columns: list[str], path: Path) -> tuple[str, ...]:
    """The panel's risk groups; a user error if it lacks its keys or labels (as ``read_panel`` says)."""
    from core.errors import DataFileError
    from features.panel import PANEL_KEYS, panel_groups

    missing = [key for key in PANEL_KEYS if key not in columns]
    if missing:
        raise DataFileError(f"panel {path} has no column {missing[0]!r}", "rebuild it with build-features")
    groups = panel_groups(columns)
    if not groups:
        raise DataFileError(
            f"panel {path} has no label columns (n_<group> and y_<group>)", "rebuild it with build-features"
        )
    return groups


def run_forecast(
    panel_path: Path,
    out_path: Path,
    *,
    engine: str | None = None,
    alias: str = "champion",
    grids: pl.DataFrame | None = None,
    site: str = "demo",
    taxonomy: Taxonomy | None = None,
    language: str = "zh",
    spark=None,
) -> pl.DataFrame:
    """``batch.forecast.run_forecast`` with either engine: on Spark the forecast week is scored on the
    executors (``engines.spark_batch.forecast_table_spark``, the champion loaded there by its pinned
    ``models:/name/version`` URI), and the driver keeps the history and trend (one row per grid and group
    and week), with the actual counts (``n_<group>``) read from the panel on Spark. The same table."""
    from batch.forecast import load_champion, publish_forecast
    from batch.forecast import run_forecast as run_on_polars

    if resolve_engine(engine) == "polars":
        return run_on_polars(
            read_panel_any(panel_path), out_path, alias=alias, grids=grids, site=site,
            taxonomy=taxonomy, language=language,
        )  # fmt: skip
    import mlflow

    from engines.spark_batch import forecast_table_spark
    from engines.spark_session import get_spark

    spark = spark or get_spark()
    panel = read_panel_spark(spark, panel_path)
    groups = _check_panel_columns(panel.columns, panel_path)
    champion = load_champion(site, alias)
    table = forecast_table_spark(
        panel, champion.uri, champion.version, grids=grids, tracking_uri=mlflow.get_tracking_uri(),
        model_name=champion.name, taxonomy=taxonomy, language=language,
    )  # fmt: skip
    outcomes = panel.select("grid_id", "week_start", *(f"n_{group}" for group in groups))
    return publish_forecast(table, pl.from_arrow(outcomes.toArrow()), out_path, champion.run_id)


@dataclass
class ClassifyRun:
    """What :func:`classify_log` wrote: the classified events (file order) and the load's rejects/counts."""

    classified: pl.DataFrame
    load: EventLoad


def classify_log(
    events_path: Path,
    out_path: Path,
    taxonomy: Taxonomy,
    model_uri: str,
    *,
    engine: str | None = None,
    window: DateWindow | None = None,
    encoding: str = "auto",
    tracking_uri: str | None = None,
    spark=None,
) -> ClassifyRun:
    """Validate a log of incoming reports (labels not required; rejects as ``load_events`` gives them),
    classify every valid event with the text model at ``model_uri`` and write ``event_id`` plus the
    model's outputs to ``out_path`` (Parquet) in the log's order, with either engine."""
    window = window or DateWindow.default()
    if resolve_engine(engine) == "polars":
        from engines.classify import classify_events
        from features.events import load_events

        load = load_events(events_path, taxonomy, require_labels=False, encoding=encoding, window=window)
        _require_events(load.counts, events_path)
        classified = classify_events(load.events, model_uri, tracking_uri)
    else:
        from engines.spark_batch import classify_events_spark
        from engines.spark_events import load_events as load_on_spark
        from engines.spark_session import get_spark

        spark = spark or get_spark()
        loaded = load_on_spark(spark, events_path, taxonomy, False, window=window, encoding=encoding)
        load = EventLoad(events=pl.DataFrame(), rejects=_collect(loaded.rejects), counts=loaded.counts)
        _require_events(load.counts, events_path)
        on_spark = classify_events_spark(loaded.events, model_uri, tracking_uri, keep=("source_row",))
        classified = _collect(on_spark).drop("source_row")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    classified.write_parquet(out_path)
    return ClassifyRun(classified, load)


def _require_events(counts: dict, events_path: Path) -> None:
    if not counts["events"]:
        from core.errors import DataFileError

        reasons = ", ".join(list(counts.get("reasons", {}))[:3]) or "the log is empty"
        raise DataFileError(f"{events_path}: no valid events to classify", f"rows rejected for: {reasons}")
