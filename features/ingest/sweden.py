"""Named areas at two levels (the Sweden adapter; any ``place.kind: area`` config).

Units are the lower-level areas of the areas file (Swedish municipalities), the parent area the
upper level (counties). Each event names an area (``area_column``), a unit or a parent:

* unit-level rows map to their unit by name (compared case-insensitively: the feed writes
  "Upplands väsby" for "Upplands Väsby");
* parent-level rows get a unit when their text (event name + summary, the parent's own name removed)
  names exactly one unit of that parent as a whole word, or when the parent has a single unit
  (Gotland); otherwise ``unit_id`` is null and the event only counts for the parent area.

A unit sits at the median lat/lon of its unit-level events (the feed gives area centroids), projected to
metres like the cells; a unit without events sits at its parent's median.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from features.date_window import DateWindow
from features.encodings import AUTO
from features.files import require_columns
from features.ingest import core
from features.ingest.chicago import project
from features.ingest.config import AdapterConfig


def load(
    config: AdapterConfig,
    events_path: str | Path,
    areas_path: str | Path | None = None,
    window: DateWindow | None = None,
    encoding: str = AUTO,
) -> core.IngestedLog:
    events_path = Path(events_path)
    areas = core.read_table(areas_path or events_path.parent / config.place["areas_file"], "areas file")
    return from_frames(config, core.read_table(events_path, encoding=encoding), areas, window)


def from_frames(
    config: AdapterConfig, raw: pl.DataFrame, areas: pl.DataFrame, window: DateWindow | None = None
) -> core.IngestedLog:
    source, place = config.source, config.place
    require_columns(areas, [place["unit_name_column"], place["parent_name_column"]], "areas file")
    area_table = _area_table(areas, place)
    time_column = source["time_column"]
    core.require_config_columns(
        raw,
        config,
        [
            time_column,
            source["category_column"],
            place["area_column"],
            source["id_column"],
            place.get("lat_column", "lat"),
            place.get("lon_column", "lon"),
        ],
    )
    typed = raw.with_row_index("_row").with_columns(
        core.parse_time(time_column, source, raw.schema[time_column]).alias("reported_at"),
        *core.optional_columns(source, raw.columns),
        pl.col(source["category_column"]).cast(pl.String).str.strip_chars().alias("category"),
        pl.col(place["area_column"]).cast(pl.String).str.strip_chars().alias("_area"),
        core.text_expr(source.get("text_columns", []), raw.columns).alias("text"),
        pl.col(source["id_column"]).cast(pl.String).alias("event_id"),
        pl.col(place.get("lat_column", "lat")).cast(pl.Float64, strict=False).alias("lat"),
        pl.col(place.get("lon_column", "lon")).cast(pl.Float64, strict=False).alias("lon"),
    )
    placed = _place(typed, area_table)
    kept, rejects, rejected = core.split_rejects(
        placed,
        {
            "unparseable time": pl.col("reported_at").is_null(),
            **core.window_reasons(window),
            "unknown area": pl.col("parent_area").is_null(),
            "missing category": pl.col("category").is_null() | (pl.col("category") == ""),
            "skipped category": core.skipped_categories(
                pl.col("category"), source.get("skip_category_prefixes", [])
            ),
        },
    )
    events = kept.with_columns(
        core.risk_group_expr(pl.col("category"), config).alias("risk_group"),
        core.text_rule_expr(pl.col("text"), config.text_rules).alias("text_category"),
    )
    return core.IngestedLog(
        core.finish_events(events),
        _units(events, area_table),
        config,
        rejects,
        core.rejected_rows(rejected, raw),
        raw.height,
    )


def _area_table(areas: pl.DataFrame, place: dict) -> pl.DataFrame:
    return areas.select(
        pl.col(place["unit_name_column"]).str.strip_chars().alias("unit_id"),
        pl.col(place["parent_name_column"]).str.strip_chars().alias("parent_area"),
    ).with_columns(pl.col("unit_id").str.to_lowercase().alias("_key"))


def _place(typed: pl.DataFrame, area_table: pl.DataFrame) -> pl.DataFrame:
    """unit_id and parent_area for every row (both null for an unknown area)."""
    by_unit = area_table.select("_key", "unit_id", "parent_area")
    parents = (
        area_table.select(pl.col("parent_area").alias("_area"))
        .unique()
        .with_columns(pl.col("_area").alias("_parent_of_parent_row"))
    )
    keyed = typed.with_columns(pl.col("_area").str.to_lowercase().alias("_key"))
    unit_rows = keyed.join(by_unit, on="_key", how="left", maintain_order="left").with_columns(
        pl.col("unit_id").is_not_null().alias("_direct")
    )
    with_parent = unit_rows.join(parents, on="_area", how="left", maintain_order="left")
    is_parent_row = pl.col("unit_id").is_null() & pl.col("_parent_of_parent_row").is_not_null()
    resolved = with_parent.with_columns(
        pl.when(is_parent_row)
        .then(pl.col("_parent_of_parent_row"))
        .otherwise(pl.col("parent_area"))
        .alias("parent_area")
    )
    named = _unit_named_in_text(resolved.filter(is_parent_row), area_table)
    return (
        resolved.join(named, on="event_id", how="left", maintain_order="left")
        .with_columns(pl.col("unit_id").fill_null(pl.col("_named_unit")))
        .drop("_key", "_parent_of_parent_row", "_named_unit")
    )


def _unit_named_in_text(parent_rows: pl.DataFrame, area_table: pl.DataFrame) -> pl.DataFrame:
    """event_id -> the one unit of its parent area named in its text (or the parent's only unit).

    Candidate names are found with one Aho-Corasick pass over all texts (``str.extract_many``), then
    only those (event, unit) pairs are checked for word boundaries with a regular expression.
    """
    names = area_table["unit_id"].unique().sort().to_list()
    # a parent's own name ("Örebro län") must not count as naming its unit ("Örebro")
    parent_names = "|".join(re.escape(name) for name in area_table["parent_area"].unique().sort())
    found = (
        parent_rows.select("event_id", "parent_area", pl.col("text").fill_null(""))
        .with_columns(pl.col("text").str.replace_all(parent_names, " "))
        .with_columns(pl.col("text").str.extract_many(names, overlapping=True).list.unique().alias("unit_id"))
        .explode("unit_id")
        .join(area_table.select("unit_id", "parent_area"), on=["unit_id", "parent_area"], how="inner")
    )
    pattern = pl.concat_str(pl.lit(r"\b"), pl.col("unit_id").str.escape_regex(), pl.lit(r"\b"))
    named = found.filter(pl.col("text").str.contains(pattern)).select("event_id", "unit_id")
    single_parents = (
        area_table.group_by("parent_area").agg(pl.col("unit_id").first(), pl.len()).filter(pl.col("len") == 1)
    )
    only_unit = parent_rows.select("event_id", "parent_area").join(
        single_parents.select("parent_area", "unit_id"), on="parent_area", how="inner"
    )
    candidates = pl.concat([named, only_unit.select("event_id", "unit_id")]).unique()
    unique = candidates.filter(pl.len().over("event_id") == 1)
    return unique.select("event_id", pl.col("unit_id").alias("_named_unit"))


def _units(events: pl.DataFrame, area_table: pl.DataFrame) -> pl.DataFrame:
    """Every unit of the areas file at the median position of its events (else its parent's)."""
    located = events.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
    own = (
        located.filter(pl.col("_direct"))
        .group_by("unit_id")
        .agg(pl.col("lat").median(), pl.col("lon").median())
    )
    parent = located.group_by("parent_area").agg(
        pl.col("lat").median().alias("_parent_lat"), pl.col("lon").median().alias("_parent_lon")
    )
    units = (
        area_table.select("unit_id", "parent_area")
        .join(own, on="unit_id", how="left")
        .join(parent, on="parent_area", how="left")
        .with_columns(
            pl.col("lat").fill_null(pl.col("_parent_lat")), pl.col("lon").fill_null(pl.col("_parent_lon"))
        )
    )
    origin = (float(units["lat"].min() or 0.0), float(units["lon"].min() or 0.0))
    x, y = project(pl.col("lat"), pl.col("lon"), origin)
    return core.finish_units(
        units.with_columns(x.fill_null(0.0).alias("x_m"), y.fill_null(0.0).alias("y_m")).select(
            "unit_id", "x_m", "y_m", "parent_area"
        )
    )
