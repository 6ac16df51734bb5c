"""GridSense's own event-log schema (the demo city): validated by ``features.events.load_events``.

Risk groups come from the taxonomy's leaves, units are the grids of ``grids.parquet`` (district as the
parent area, numeric attributes as static features). Rows the contract rejects are counted by reason.
``text_classifier`` (optional) maps report texts to a category, e.g. the text model's predicted L2;
its output becomes ``text_category``, counted by the panel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import polars as pl

from features.date_window import DateWindow
from features.encodings import AUTO
from features.events import load_events, read_raw_events
from features.files import read_parquet
from features.ingest import core
from features.ingest.config import AdapterConfig
from features.taxonomy import Taxonomy, load_taxonomy

TextClassifier = Callable[[Sequence[str]], Sequence[str]]


def load(
    config: AdapterConfig,
    events_path: str | Path,
    units_path: str | Path | None = None,
    taxonomy: Taxonomy | None = None,
    text_classifier: TextClassifier | None = None,
    window: DateWindow | None = None,
    encoding: str = AUTO,
) -> core.IngestedLog:
    events_path = Path(events_path)
    grids = read_parquet(
        units_path or events_path.parent / config.place["units_file"], "grid table", ["grid_id"]
    )
    raw = read_raw_events(events_path, encoding)
    return from_frames(config, raw, grids, taxonomy, text_classifier, window)


def from_frames(
    config: AdapterConfig,
    raw: pl.DataFrame,
    grids: pl.DataFrame,
    taxonomy: Taxonomy | None = None,
    text_classifier: TextClassifier | None = None,
    window: DateWindow | None = None,
) -> core.IngestedLog:
    taxonomy = taxonomy or load_taxonomy()
    if not config.groups:  # the groups to forecast: the taxonomy's unless the config names them
        config = replace(config, groups=taxonomy.risk_groups)
    loaded = load_events(raw, taxonomy, require_labels=True, window=window)
    rejects = Counter(loaded.counts.get("reasons", {}))
    units = _units(grids, config.place.get("parent_column", "district"))
    valid = loaded.events.join(
        units.select(pl.col("unit_id").alias("grid_id"), "parent_area"), on="grid_id", how="left"
    )
    unknown = valid["parent_area"].is_null() & valid["grid_id"].is_not_null()
    if unknown.any():
        rejects["unknown grid"] += int(unknown.sum())
    events = valid.filter(~unknown).with_columns(
        pl.col("grid_id").alias("unit_id"),
        pl.col(config.source["category_column"]).alias("category"),
        core.text_expr(config.source.get("text_columns", []), valid.columns).alias("text"),
    )
    if text_classifier is not None:
        labels = list(text_classifier(events["text"].fill_null("").to_list()))
        events = events.with_columns(pl.Series("text_category", labels, dtype=pl.String))
    unknown_rows = valid.filter(unknown).select(
        pl.lit(None, pl.Int64).alias("source_row"),
        pl.lit("unknown grid").alias("reject_reason"),
        *(pl.col(name).cast(pl.String) for name in loaded.rejects.columns[2:] if name in valid.columns),
    )
    rejected = pl.concat([loaded.rejects, unknown_rows], how="diagonal_relaxed")
    return core.IngestedLog(core.finish_events(events), units, config, dict(rejects), rejected, raw.height)


def _units(grids: pl.DataFrame, parent_column: str) -> pl.DataFrame:
    renamed = grids.rename({"grid_id": "unit_id"})
    if parent_column in renamed.columns and parent_column != "parent_area":
        renamed = renamed.rename({parent_column: "parent_area"})
    if "parent_area" not in renamed.columns:
        renamed = renamed.with_columns(pl.lit(None, pl.String).alias("parent_area"))
    return core.finish_units(renamed)
