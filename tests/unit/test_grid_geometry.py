"""Map cells for grids given as points: one convex cell per grid that holds its own point and no other."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from matplotlib.path import Path as PolygonPath

from batch.grid_geometry import grid_cells, planar_coordinates, typical_spacing, voronoi_cells


def _contains(polygon, point) -> bool:
    return PolygonPath(np.asarray(polygon)).contains_point(point)


def _area(polygon) -> float:
    x, y = np.asarray(polygon).T
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))  # > 0: counter-clockwise


def test_every_cell_holds_its_own_point_and_no_other():
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 5000, size=(80, 2))
    cells = voronoi_cells(points)
    assert len(cells) == len(points)
    for index, cell in enumerate(cells):
        inside = [other for other, point in enumerate(points) if _contains(cell, point)]
        assert inside == [index]


def test_cells_tile_the_city_without_overlap():
    grid = np.array([[x, y] for x in range(0, 5000, 500) for y in range(0, 5000, 500)], dtype=float)
    cells = voronoi_cells(grid, radius_factor=0.5)  # a lattice: each cell is the 500 m square round its point
    assert [_area(cell) for cell in cells] == pytest.approx([500 * 500] * len(cells), rel=1e-6)


def test_edge_cells_are_clipped_to_a_square_around_their_point():
    points = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0], [100.0, 100.0], [10_000.0, 10_000.0]])
    radius = 1.5 * typical_spacing(points)
    lonely = np.asarray(voronoi_cells(points)[-1])
    assert np.abs(lonely - points[-1]).max() <= radius + 1e-6


def test_duplicate_points_share_a_cell_and_few_points_get_squares():
    cells = voronoi_cells(np.array([[0.0, 0.0], [0.0, 0.0], [300.0, 0.0], [0.0, 300.0]]))
    assert cells[0] == cells[1]
    assert len(voronoi_cells(np.array([[0.0, 0.0]]))[0]) == 4


def test_lat_lon_grids_are_projected_to_metres():
    grids = pl.DataFrame({"grid_id": ["a", "b"], "lat": [30.0, 30.01], "lon": [120.0, 120.0]})
    planar = planar_coordinates(grids)
    north = planar.get_column("y_m").to_list()
    assert north[1] - north[0] == pytest.approx(1105.7, abs=1.0)
    assert planar.get_column("x_m").to_list() == pytest.approx([0.0, 0.0])


def test_grids_without_a_position_get_no_cell():
    grids = pl.DataFrame(
        {"grid_id": ["a", "b", "c", "d"], "x_m": [0.0, 500.0, 0.0, None], "y_m": [0.0, 0.0, 500.0, None]}
    )
    cells = grid_cells(grids.with_columns(lat=pl.lit(None, pl.Float64), lon=pl.lit(None, pl.Float64)))
    assert cells.filter(pl.col("grid_id") == "d").get_column("polygon_x").to_list() == [None]
    assert cells.filter(pl.col("polygon_x").is_not_null()).height == 3
