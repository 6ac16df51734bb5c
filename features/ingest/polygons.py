"""A city's grids as GeoJSON polygons: read them, and find the polygon each event's point lies in.

A GeoJSON FeatureCollection of Polygon / MultiPolygon features (WGS84 lon/lat, as GeoJSON requires); the
grid id is a property (``place.grid_id_column``), the parent area optionally another
(``place.grid_parent_column``). A grid's position is its polygon's centroid. Points are located with a
shapely STRtree; a point on a shared edge goes to the first polygon in file order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import shapely

from core.errors import DataFileError

GEOMETRY = "_geometry"  # WKB of each grid's polygon
SUFFIXES = (".geojson", ".json")


def is_geojson(path: str | Path) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def read_geojson(path: str | Path, place: dict) -> pl.DataFrame:
    """One row per feature: the id and parent properties, the centroid (in the config's centroid column
    names) and ``_geometry``."""
    features = _features(Path(path))
    id_key, parent_key = place.get("grid_id_column", "grid_id"), place.get("grid_parent_column")
    lat, lon = place.get("grid_lat_column", "lat"), place.get("grid_lon_column", "lon")
    ids, parents, shapes = [], [], []
    for number, feature in enumerate(features, start=1):
        properties = (feature or {}).get("properties") or {}
        try:
            shape = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException):
            raise DataFileError(
                f"{path}: feature {number} has no readable geometry", "give every grid a Polygon"
            ) from None
        if shape.geom_type not in ("Polygon", "MultiPolygon"):
            raise DataFileError(f"{path}: feature {number} is a {shape.geom_type}", "grids must be polygons")
        ids.append(None if properties.get(id_key) is None else str(properties[id_key]))
        parents.append(None if parent_key is None else properties.get(parent_key))
        shapes.append(shape)
    centroids = shapely.centroid(np.array(shapes, dtype=object))
    frame = {
        id_key: pl.Series(ids, dtype=pl.String),
        lat: shapely.get_y(centroids),
        lon: shapely.get_x(centroids),
        GEOMETRY: pl.Series(list(shapely.to_wkb(np.array(shapes, dtype=object))), dtype=pl.Binary),
    }
    if parent_key:
        frame[parent_key] = pl.Series([None if p is None else str(p) for p in parents], dtype=pl.String)
    return pl.DataFrame(frame)


def _features(path: Path) -> list:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataFileError(
            f"{path}: not a readable GeoJSON file: {error}", "save it as UTF-8 GeoJSON"
        ) from None
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list) or not features:
        raise DataFileError(
            f"{path}: no features", "a GeoJSON FeatureCollection of grid polygons is expected"
        )
    return features


def locate(lat: pl.Series, lon: pl.Series, geometries: pl.Series, ids: pl.Series) -> pl.Series:
    """The id of the polygon holding each point (null: no point, or in no polygon)."""
    shapes = shapely.from_wkb(geometries.to_numpy())
    points = shapely.points(lon.fill_null(np.nan).to_numpy(), lat.fill_null(np.nan).to_numpy())
    point_index, shape_index = shapely.STRtree(shapes).query(points, predicate="intersects")
    chosen = np.full(len(points), -1)
    order = np.lexsort((shape_index, point_index))  # per point, the first polygon in file order
    first = np.unique(point_index[order], return_index=True)[1]
    chosen[point_index[order][first]] = shape_index[order][first]
    names = np.asarray(ids.to_list() + [None], dtype=object)
    return pl.Series("unit_id", names[chosen].tolist(), dtype=pl.String)
