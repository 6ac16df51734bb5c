"""Logs read through a mapping file: square cells, named areas, or a grid table the city already has.

``place.kind: named``: every distinct value of ``area_column`` is a grid (a police district, a
municipality ...); ``parent_column`` (optional) names its parent area. A grid sits at the median
``lat_column``/``lon_column`` of its events (when the log has them), else at the city's median.

``place.kind: grid_table``: the city's own grids, a CSV or Parquet file (``grids_file``, relative to the
events file unless absolute) with ``grid_id_column`` (default ``grid_id``) and a centroid in
``grid_lat_column``/``grid_lon_column`` (default ``lat``/``lon``), ``grid_parent_column`` optional.
Events carry either the grid id (``grid_column``; unknown ids are rejected) or a position, assigned to
the nearest centroid (``max_distance_m`` rejects points farther than that from every grid). A GeoJSON
grid table (``.geojson``: polygons, ``features.ingest.polygons``) places each point in its polygon.

``place.kind: latlon``: square cells of ``cell_size_m`` from the events' lat/lon (the Chicago
adapter's cells, ``features.ingest.chicago``), rows outside ``bbox`` rejected.

Categories: ``source.category_column`` (one level) or ``source.category_columns`` (a path, 1 to 3
levels); ``source.category_map`` maps a source category to a taxonomy path (a list of 1 to 3 names),
and a category the map lacks is rejected. Risk groups: ``risk_groups`` maps source categories as for
the other adapters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from scipy.spatial import KDTree

from core.errors import DataFileError
from features.date_window import DateWindow
from features.encodings import AUTO
from features.files import require_columns
from features.ingest import chicago, core, polygons
from features.ingest.chicago import project
from features.ingest.config import AdapterConfig

PATH_LEVELS = 3
CATEGORY_LEVELS = ("category", "category_l2", "category_l3")  # the normalised frame's path


def load(
    config: AdapterConfig,
    events_path: str | Path,
    grids_path: str | Path | None = None,
    window: DateWindow | None = None,
    encoding: str = AUTO,
) -> core.IngestedLog:
    events_path = Path(events_path)
    raw = core.read_table(events_path, encoding=encoding)
    grids = None
    if config.place["kind"] == "grid_table":
        if grids_path is None and "grids_file" not in config.place:
            raise DataFileError(
                f"adapter {config.name!r}: place.kind grid_table needs a grid table",
                "set place.grids_file in the mapping file or pass --grid-table",
            )
        grids_path = Path(grids_path or events_path.parent / config.place["grids_file"])
        grids = (
            polygons.read_geojson(grids_path, config.place)
            if polygons.is_geojson(grids_path)
            else core.read_table(grids_path, "grid table")
        )
    return from_frames(config, raw, grids, window)


def from_frames(
    config: AdapterConfig,
    raw: pl.DataFrame,
    grids: pl.DataFrame | None = None,
    window: DateWindow | None = None,
) -> core.IngestedLog:
    source, place = config.source, config.place
    time_column = source["time_column"]
    category_columns = _category_columns(source)
    core.require_config_columns(
        raw,
        config,
        [time_column, source.get("id_column"), *category_columns, *_place_columns(place)],
    )
    typed = raw.with_row_index("_row").with_columns(
        core.parse_time(time_column, source, raw.schema[time_column]).alias("reported_at"),
        *core.optional_columns(source, raw.columns),
        *_categories(category_columns),
        core.text_expr(source.get("text_columns", []), raw.columns).alias("text"),
        _event_id(source.get("id_column")),
        *_positions(place, raw.columns),
    )
    typed = _map_categories(typed, source.get("category_map"))
    placed, units, place_reasons = _place(typed, config, grids)
    skipped = core.skipped_categories(pl.col("_source_category"), source.get("skip_category_prefixes", []))
    kept, rejects, rejected = core.split_rejects(
        placed,
        {
            "unparseable time": pl.col("reported_at").is_null(),
            **core.window_reasons(window),
            "missing category": pl.col("category").is_null() | (pl.col("category") == ""),
            "category not in category_map": pl.col("_unmapped") & ~skipped,
            "skipped category": skipped,
            "duplicate id": pl.col("event_id").is_not_null() & ~pl.col("event_id").is_first_distinct(),
            **place_reasons,
        },
    )
    events = kept.with_columns(
        core.risk_group_expr(pl.col("_source_category"), config).alias("risk_group"),
        core.text_rule_expr(pl.col("text"), config.text_rules).alias("text_category"),
    )
    if place["kind"] == "latlon":
        units = chicago.cell_units(events, config)  # the cells that hold an accepted event
    elif place["kind"] == "named":
        units = _area_units(events)
    return core.IngestedLog(
        core.finish_events(events),
        units,
        config,
        rejects,
        core.rejected_rows(rejected, raw),
        raw.height,
    )


def _category_columns(source: dict) -> list[str]:
    columns = source.get("category_columns") or [source.get("category_column")]
    if not columns or not all(columns) or len(columns) > PATH_LEVELS:
        raise DataFileError(
            "mapping file: source needs category_column or category_columns (1 to 3 columns)",
            "name the column(s) that hold the category",
        )
    return list(columns)


def _place(
    typed: pl.DataFrame, config: AdapterConfig, grids: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame | None, dict[str, pl.Expr]]:
    """(rows with unit_id and parent_area, the units, the reject reasons of placing)."""
    kind = config.place["kind"]
    if kind == "named":
        return _named(typed, config.place)
    if kind == "grid_table":
        return _on_grids(typed, config.place, grids)
    return _cells(typed, config)


def _place_columns(place: dict) -> list[str | None]:
    if place["kind"] == "named":
        return [place.get("area_column"), place.get("parent_column")]
    if place.get("grid_column"):
        return [place["grid_column"]]
    return [place.get("lat_column", "lat"), place.get("lon_column", "lon")]


def _categories(columns: list[str]) -> list[pl.Expr]:
    """``_source_category``: the source's own label (path levels joined by " / "); ``category``,
    ``category_l2``, ``category_l3``: its levels (replaced by ``_map_categories`` when a map is given)."""
    levels = [pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in columns]
    path = [*levels, *[pl.lit(None, pl.String)] * (PATH_LEVELS - len(levels))]
    return [
        pl.concat_str(levels, separator=" / ", ignore_nulls=True).replace("", None).alias("_source_category"),
        *(expr.alias(name) for expr, name in zip(path, CATEGORY_LEVELS, strict=True)),
    ]


def _map_categories(typed: pl.DataFrame, category_map: dict | None) -> pl.DataFrame:
    """The taxonomy path of each source category through ``category_map``; ``_unmapped`` flags the
    categories the map lacks."""
    if not category_map:
        return typed.with_columns(pl.lit(False).alias("_unmapped"))
    rows = [(str(key).strip(), *_path(key, value)) for key, value in category_map.items()]
    table = pl.DataFrame(rows, schema=["_source_category", *CATEGORY_LEVELS], orient="row")
    mapped = typed.drop(CATEGORY_LEVELS).join(
        table.with_columns(pl.lit(True).alias("_known")),
        on="_source_category",
        how="left",
        maintain_order="left",
    )
    return mapped.with_columns(
        (pl.col("_source_category").is_not_null() & pl.col("_known").is_null()).alias("_unmapped")
    ).drop("_known")


def _path(key: object, value: object) -> tuple[str | None, ...]:
    path = [value] if isinstance(value, str) else value
    if not isinstance(path, list) or not 1 <= len(path) <= PATH_LEVELS:
        raise DataFileError(
            f"mapping file: category_map[{key!r}] must be a name or a list of 1 to 3 names",
            "e.g. BATTERY: [Violence, Battery]",
        )
    names = [str(name).strip() for name in path]
    return (*names, *[None] * (PATH_LEVELS - len(names)))


def _event_id(id_column: str | None) -> pl.Expr:
    if id_column:
        return pl.col(id_column).cast(pl.String).str.strip_chars().alias("event_id")
    return pl.format("r{}", pl.col("_row") + 1).alias("event_id")  # 1-based source row


def _positions(place: dict, columns: list[str]) -> list[pl.Expr]:
    exprs = []
    for name in ("lat", "lon"):
        column = place.get(f"{name}_column", name)
        value = pl.col(column).cast(pl.Float64, strict=False) if column in columns else pl.lit(None)
        exprs.append(value.cast(pl.Float64).alias(name))
    return exprs


# ---- square cells from lat/lon ---------------------------------------------------------------------------
def _cells(typed: pl.DataFrame, config: AdapterConfig) -> tuple[pl.DataFrame, None, dict[str, pl.Expr]]:
    lat_min, lon_min, lat_max, lon_max = config.place.get("bbox", (-90.0, -180.0, 90.0, 180.0))
    located = pl.col("lat").is_not_null() & pl.col("lon").is_not_null()
    inside = pl.col("lat").is_between(lat_min, lat_max) & pl.col("lon").is_between(lon_min, lon_max)
    reasons = {"missing coordinates": ~located, "outside the area": located & ~inside}
    usable = typed.filter(located & inside)
    origin_frame = usable if usable.height else typed
    return chicago.with_cells(typed, config, origin_frame), None, reasons


# ---- named areas -----------------------------------------------------------------------------------------
def _named(typed: pl.DataFrame, place: dict) -> tuple[pl.DataFrame, None, dict[str, pl.Expr]]:
    area = pl.col(place["area_column"]).cast(pl.String).str.strip_chars().replace("", None)
    parent = place.get("parent_column")
    parent_expr = pl.col(parent).cast(pl.String).str.strip_chars() if parent else pl.lit(None, pl.String)
    placed = typed.with_columns(area.alias("unit_id"), parent_expr.alias("parent_area"))
    return placed, None, {"missing area": pl.col("unit_id").is_null()}


def _area_units(events: pl.DataFrame) -> pl.DataFrame:
    """One unit per named area of the accepted events, at their median position (else the city's)."""
    units = events.group_by("unit_id").agg(
        pl.col("parent_area").drop_nulls().mode().first(),
        pl.col("lat").median(),
        pl.col("lon").median(),
    )
    units = units.with_columns(
        pl.col("lat").fill_null(units["lat"].median()), pl.col("lon").fill_null(units["lon"].median())
    )
    return _projected(units)


# ---- the city's own grid table --------------------------------------------------------------------------
def _on_grids(
    typed: pl.DataFrame, place: dict, grids: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.Expr]]:
    if grids is None:
        raise DataFileError("place.kind grid_table needs a grid table", "set place.grids_file")
    units = _grid_units(grids, place)
    if place.get("grid_column"):
        ids = pl.col(place["grid_column"]).cast(pl.String).str.strip_chars().replace("", None)
        placed = typed.with_columns(ids.alias("unit_id")).join(
            units.select("unit_id", pl.col("parent_area"), pl.lit(True).alias("_known")),
            on="unit_id",
            how="left",
            maintain_order="left",
        )
        return placed, _projected(units), {"unknown grid": pl.col("_known").is_null()}
    if polygons.GEOMETRY in units.columns:
        return _in_polygons(typed, units)
    placed = _nearest(typed, units, place.get("max_distance_m"))
    reasons = {
        "missing coordinates": pl.col("lat").is_null() | pl.col("lon").is_null(),
        "farther than max_distance_m from every grid": pl.col("unit_id").is_null()
        & pl.col("lat").is_not_null()
        & pl.col("lon").is_not_null(),
    }
    return placed, _projected(units), reasons


def _in_polygons(
    typed: pl.DataFrame, units: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, pl.Expr]]:
    ids = polygons.locate(typed["lat"], typed["lon"], units[polygons.GEOMETRY], units["unit_id"])
    placed = typed.with_columns(ids).join(
        units.select("unit_id", "parent_area"), on="unit_id", how="left", maintain_order="left"
    )
    reasons = {
        "missing coordinates": pl.col("lat").is_null() | pl.col("lon").is_null(),
        "outside every grid polygon": pl.col("unit_id").is_null()
        & pl.col("lat").is_not_null()
        & pl.col("lon").is_not_null(),
    }
    return placed, _projected(units.drop(polygons.GEOMETRY)), reasons


def _grid_units(grids: pl.DataFrame, place: dict) -> pl.DataFrame:
    id_column = place.get("grid_id_column", "grid_id")
    lat, lon = place.get("grid_lat_column", "lat"), place.get("grid_lon_column", "lon")
    parent = place.get("grid_parent_column")
    require_columns(grids, [c for c in (id_column, lat, lon, parent) if c], "grid table")
    units = grids.select(
        pl.col(id_column).cast(pl.String).str.strip_chars().alias("unit_id"),
        (pl.col(parent).cast(pl.String) if parent else pl.lit(None, pl.String)).alias("parent_area"),
        pl.col(lat).cast(pl.Float64, strict=False).alias("lat"),
        pl.col(lon).cast(pl.Float64, strict=False).alias("lon"),
        *([pl.col(polygons.GEOMETRY)] if polygons.GEOMETRY in grids.columns else []),
    )
    bad = units.filter(
        pl.col("unit_id").is_null() | pl.col("lat").is_null() | pl.col("lon").is_null()
        | pl.col("unit_id").is_duplicated()
    )  # fmt: skip
    if bad.height:
        raise DataFileError(
            f"grid table: {bad.height} row(s) without an id, without a centroid, or with a repeated id",
            "give every grid one row with its id and centroid lat/lon",
        )
    return units


def _nearest(typed: pl.DataFrame, units: pl.DataFrame, max_distance_m: float | None) -> pl.DataFrame:
    """Each located event's nearest grid centroid (``unit_id``; null beyond ``max_distance_m``)."""
    origin = (float(units["lat"].min()), float(units["lon"].min()))
    centres = _xy(units, origin)
    points = _xy(typed.select(pl.col("lat").fill_null(np.nan), pl.col("lon").fill_null(np.nan)), origin)
    located = np.isfinite(points).all(axis=1)
    distance = np.full(len(points), np.inf)
    index = np.zeros(len(points), dtype=np.int64)
    if located.any():
        distance[located], index[located] = KDTree(centres).query(points[located])
    limit = np.inf if max_distance_m is None else float(max_distance_m)
    ids = np.asarray(units["unit_id"].to_list(), dtype=object)[index]
    ids[~(located & (distance <= limit))] = None
    chosen = pl.Series("unit_id", ids.tolist(), dtype=pl.String)
    return typed.with_columns(chosen).join(
        units.select("unit_id", "parent_area"), on="unit_id", how="left", maintain_order="left"
    )


def _xy(frame: pl.DataFrame, origin: tuple[float, float]) -> np.ndarray:
    x, y = project(pl.col("lat"), pl.col("lon"), origin)
    return frame.select(x.alias("x"), y.alias("y")).to_numpy()


def _projected(units: pl.DataFrame) -> pl.DataFrame:
    """Units with x_m/y_m (metres from the south-west corner) and their centroid lat/lon."""
    located = units.filter(pl.col("lat").is_not_null())
    origin = (float(located["lat"].min() or 0.0), float(located["lon"].min() or 0.0))
    x, y = project(pl.col("lat"), pl.col("lon"), origin)
    return core.finish_units(
        units.with_columns(x.fill_null(0.0).alias("x_m"), y.fill_null(0.0).alias("y_m")).select(
            "unit_id", "x_m", "y_m", "parent_area", "lat", "lon"
        )
    )
