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
    from features.ingest import mapped

    return mapped.load(config, events_path, window=window, encoding=encoding)


def from_frame(
    config: AdapterConfig, raw: pl.DataFrame, window: DateWindow | None = None
) -> core.IngestedLog:
    from features.ingest import mapped

    return mapped.from_frames(config, raw, window=window)


def project(lat: pl.Expr, lon: pl.Expr, origin: tuple[float, float]) -> tuple[pl.Expr, pl.Expr]:
    """Metres east and north of ``origin`` (lat, lon) on the local equirectangular plane."""
    lat0, lon0 = origin
    scale = math.pi / 180 * EARTH_RADIUS_M
    x = (lon - lon0) * scale * math.cos(math.radians(lat0))
    y = (lat - lat0) * scale
    return x, y


def with_cells(
    frame: pl.DataFrame, config: AdapterConfig, origin_frame: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Adds ``unit_id`` (cell), ``parent_area`` (block of cells), ``cell_x`` and ``cell_y`` (indices).
    Without a configured ``origin`` the lattice starts at the south-west corner of ``origin_frame``
    (default: ``frame``)."""
    size = float(config.place.get("cell_size_m", 1000))
    origin = _origin(frame if origin_frame is None else origin_frame, config)
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
