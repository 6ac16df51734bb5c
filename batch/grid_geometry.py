"""Map shapes for grids that only come as points: one convex polygon per grid, in metres.

The demo city gives each grid an x/y position (metres from the city centre); real data gives lat/lon
cells or area centroids. Either way the dashboard needs one shape per grid that tiles the city like a
map, not overlapping squares. Voronoi cells do that: each grid gets the area closer to it than to any
other grid. Cells at the edge of the city would run off to infinity, so every cell is clipped to a square
around its own point (`max_radius`, by default 1.5 x the median distance to the nearest neighbour),
which also keeps isolated grids from swallowing empty land.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from scipy.spatial import KDTree, Voronoi

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_AT_EQUATOR = 111_320.0


def planar_coordinates(grids: pl.DataFrame) -> pl.DataFrame:
    """`grid_id, x_m, y_m`: the given x_m/y_m if the table has them, else lat/lon projected around their
    mean (equirectangular: exact enough over a city). The two are never mixed: their origins differ.
    Grids without a position get nulls."""
    if _has_values(grids, "x_m", "y_m"):
        return grids.select("grid_id", pl.col("x_m", "y_m").cast(pl.Float64))
    if not _has_values(grids, "lat", "lon"):
        return grids.select("grid_id", x_m=pl.lit(None, pl.Float64), y_m=pl.lit(None, pl.Float64))
    lat0 = float(grids.get_column("lat").mean())
    lon0 = float(grids.get_column("lon").mean())
    scale_lon = METRES_PER_DEGREE_LON_AT_EQUATOR * math.cos(math.radians(lat0))
    return grids.select(
        "grid_id",
        x_m=(pl.col("lon").cast(pl.Float64) - lon0) * scale_lon,
        y_m=(pl.col("lat").cast(pl.Float64) - lat0) * METRES_PER_DEGREE_LAT,
    )


def _has_values(frame: pl.DataFrame, *columns: str) -> bool:
    """All `columns` exist and each has at least one value."""
    if not set(columns) <= set(frame.columns):
        return False
    return all(frame.select(pl.col(*columns).is_not_null().any()).row(0))


def grid_cells(grids: pl.DataFrame, radius_factor: float = 1.5) -> pl.DataFrame:
    """`grid_id, x_m, y_m, polygon_x, polygon_y` (lists of vertex coordinates, counter-clockwise).
    Grids without coordinates get null polygons."""
    planar = planar_coordinates(grids)
    located = planar.filter(pl.col("x_m").is_not_null() & pl.col("y_m").is_not_null())
    points = located.select("x_m", "y_m").to_numpy()
    polygons = voronoi_cells(points, radius_factor) if len(points) else []
    shapes = located.select("grid_id").with_columns(
        polygon_x=_coordinate_lists(polygons, 0), polygon_y=_coordinate_lists(polygons, 1)
    )
    return planar.join(shapes, on="grid_id", how="left")


def _coordinate_lists(polygons: list[list[tuple[float, float]]], axis: int) -> pl.Series:
    values = [[round(vertex[axis], 1) for vertex in polygon] for polygon in polygons]
    return pl.Series(values, dtype=pl.List(pl.Float64))


def voronoi_cells(points: np.ndarray, radius_factor: float = 1.5) -> list[list[tuple[float, float]]]:
    """One convex polygon per point (same order), each clipped to a square of half-side `max_radius`."""
    points = np.asarray(points, dtype=float)
    radius = radius_factor * typical_spacing(points)
    if len(points) < 3:
        return [_square(point, radius) for point in points]
    unique, owner = np.unique(points, axis=0, return_inverse=True)
    # four far-away points make every real cell finite; the clip below trims them to size
    span = max(np.ptp(unique, axis=0).max(), radius) * 10.0
    centre = unique.mean(axis=0)
    far = centre + span * np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    diagram = Voronoi(np.vstack([unique, far]), qhull_options="Qbb Qc QJ")
    regions = [diagram.regions[region] for region in diagram.point_region[: len(unique)]]
    cells = [
        _clip_to_square(_ordered(diagram.vertices[region]), point, radius)
        for region, point in zip(regions, unique, strict=True)
    ]
    return [cells[index] for index in np.ravel(owner)]


def typical_spacing(points: np.ndarray) -> float:
    """Median distance to the nearest other point (1 km when there is no neighbour to measure)."""
    if len(points) < 2:
        return 1000.0
    distances, _ = KDTree(points).query(points, k=2)
    spacing = float(np.median(distances[:, 1]))
    return spacing if spacing > 0 else 1000.0


def _ordered(vertices: np.ndarray) -> np.ndarray:
    """Vertices of a convex cell sorted counter-clockwise around their mean."""
    centre = vertices.mean(axis=0)
    angles = np.arctan2(vertices[:, 1] - centre[1], vertices[:, 0] - centre[0])
    return vertices[np.argsort(angles)]


def _square(point: np.ndarray, radius: float) -> list[tuple[float, float]]:
    x, y = float(point[0]), float(point[1])
    low_x, high_x, low_y, high_y = x - radius, x + radius, y - radius, y + radius
    return [(low_x, low_y), (high_x, low_y), (high_x, high_y), (low_x, high_y)]


def _clip_to_square(polygon: np.ndarray, point: np.ndarray, radius: float) -> list[tuple[float, float]]:
    """Sutherland-Hodgman clipping of a convex polygon against the square around `point`."""
    vertices = [(float(x), float(y)) for x, y in polygon]
    x, y = float(point[0]), float(point[1])
    edges = ((0, x + radius, True), (0, x - radius, False), (1, y + radius, True), (1, y - radius, False))
    for axis, limit, keep_below in edges:
        vertices = _clip_half_plane(vertices, axis, limit, keep_below)
        if not vertices:
            return _square(point, radius)
    return vertices


def _clip_half_plane(
    vertices: list[tuple[float, float]], axis: int, limit: float, keep_below: bool
) -> list[tuple[float, float]]:
    def inside(vertex: tuple[float, float]) -> bool:
        return vertex[axis] <= limit if keep_below else vertex[axis] >= limit

    def crossing(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        t = (limit - a[axis]) / (b[axis] - a[axis])
        return (a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]))

    clipped: list[tuple[float, float]] = []
    for index, current in enumerate(vertices):
        previous = vertices[index - 1]
        if inside(current):
            if not inside(previous):
                clipped.append(crossing(previous, current))
            clipped.append(current)
        elif inside(previous):
            clipped.append(crossing(previous, current))
    return clipped
