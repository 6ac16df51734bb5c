"""Lat/lon point events binned into square cells (the Chicago adapter; any ``place.kind: latlon`` config).

Cells: positions are projected to metres on a local equirectangular plane anchored at the config's
``origin`` (accurate to well under 1% across a city), then floored to ``cell_size_m``. A cell's id is
``c<col>_<row>`` with zero-padded lattice indices, its position its centre. The units are the cells that
hold at least one event of any category in the log (the city's populated area, not only past target
events); the parent area is the block of ``parent_cells`` x ``parent_cells`` cells containing it.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from features.date_window import DateWindow
from features.encodings import AUTO
from features.ingest import core
from features.ingest.config import AdapterConfig

EARTH_RADIUS_M = 6_371_008.8


def load(
    config: AdapterConfig, events_path: str | Path, window: DateWindow | None = None, encoding: str = AUTO
) -> core.IngestedLog:
    raw = core.read_table(events_path, encoding=encoding)
    return from_frame(config, raw, window)


def from_frame(
    config: AdapterConfig, raw: pl.DataFrame, window: DateWindow | None = None
) -> core.IngestedLog:
    source, place = config.source, config.place
    time_column = source["time_column"]
    core.require_config_columns(
        raw, config, [time_column, source["category_column"], place["lat_column"], place["lon_column"]]
    )
    with_time = raw.with_row_index("_row").with_columns(
        core.parse_time(time_column, source.get("time_format"), raw.schema[time_column]).alias("reported_at"),
        pl.col(place["lat_column"]).cast(pl.Float64, strict=False).alias("lat"),
        pl.col(place["lon_column"]).cast(pl.Float64, strict=False).alias("lon"),
        pl.col(source["category_column"]).cast(pl.String).str.strip_chars().alias("category"),
    )
    lat_min, lon_min, lat_max, lon_max = place.get("bbox", (-90.0, -180.0, 90.0, 180.0))
    kept, rejects = core.count_rejects(
        with_time,
        {
            "unparseable time": pl.col("reported_at").is_null(),
            **core.window_reasons(window),
            "missing coordinates": pl.col("lat").is_null() | pl.col("lon").is_null(),
            "outside the area": pl.col("lat").is_not_null()
            & pl.col("lon").is_not_null()
            & ~(pl.col("lat").is_between(lat_min, lat_max) & pl.col("lon").is_between(lon_min, lon_max)),
            "missing category": pl.col("category").is_null() | (pl.col("category") == ""),
            "skipped category": core.skipped_categories(
                pl.col("category"), source.get("skip_category_prefixes", [])
            ),
        },
    )
    cells = with_cells(kept, config)
    text = core.text_expr(source.get("text_columns", []), raw.columns)
    events = cells.with_columns(
        _event_id(source.get("id_column"), raw.columns),
        core.risk_group_expr(pl.col("category"), config).alias("risk_group"),
        text.alias("text"),
    ).with_columns(core.text_rule_expr(pl.col("text"), config.text_rules).alias("text_category"))
    return core.IngestedLog(core.finish_events(events), cell_units(cells, config), config, rejects)


def project(lat: pl.Expr, lon: pl.Expr, origin: tuple[float, float]) -> tuple[pl.Expr, pl.Expr]:
    """Metres east and north of ``origin`` (lat, lon) on the local equirectangular plane."""
    lat0, lon0 = origin
    scale = math.pi / 180 * EARTH_RADIUS_M
    x = (lon - lon0) * scale * math.cos(math.radians(lat0))
    y = (lat - lat0) * scale
    return x, y


def with_cells(frame: pl.DataFrame, config: AdapterConfig) -> pl.DataFrame:
    """Adds ``unit_id`` (cell), ``parent_area`` (block of cells), ``cell_x`` and ``cell_y`` (indices)."""
    size = float(config.place.get("cell_size_m", 1000))
    origin = _origin(frame, config)
    x, y = project(pl.col("lat"), pl.col("lon"), origin)
    block = int(config.place.get("parent_cells", 5))
    return frame.with_columns(
        (x / size).floor().cast(pl.Int32).alias("cell_x"), (y / size).floor().cast(pl.Int32).alias("cell_y")
    ).with_columns(
        pl.format(
            "c{}_{}",
            pl.col("cell_x").cast(pl.String).str.zfill(4),
            pl.col("cell_y").cast(pl.String).str.zfill(4),
        ).alias("unit_id"),
        pl.format("b{}_{}", pl.col("cell_x") // block, pl.col("cell_y") // block).alias("parent_area"),
    )


def cell_units(cells: pl.DataFrame, config: AdapterConfig) -> pl.DataFrame:
    """One unit per occupied cell, placed at the cell's centre."""
    size = float(config.place.get("cell_size_m", 1000))
    units = cells.group_by("unit_id").agg(
        pl.col("cell_x").first(), pl.col("cell_y").first(), pl.col("parent_area").first()
    )
    return core.finish_units(
        units.with_columns(
            ((pl.col("cell_x") + 0.5) * size).alias("x_m"), ((pl.col("cell_y") + 0.5) * size).alias("y_m")
        ).select("unit_id", "x_m", "y_m", "parent_area")
    )


def _origin(frame: pl.DataFrame, config: AdapterConfig) -> tuple[float, float]:
    if "origin" in config.place:
        lat0, lon0 = config.place["origin"]
        return float(lat0), float(lon0)
    return float(frame["lat"].min()), float(frame["lon"].min())


def _event_id(id_column: str | None, columns: list[str]) -> pl.Expr:
    if id_column and id_column in columns:
        return pl.col(id_column).cast(pl.String).alias("event_id")
    return pl.format("r{}", pl.col("_row") + 1).alias("event_id")  # 1-based source row
