"""Grid neighbours from centroids: the surrounding cells of a lattice, never a far grid, lat/lon too."""

from __future__ import annotations

import polars as pl

from models.grid_neighbours import GridNeighbours


def lattice(n: int = 5, spacing: float = 500.0) -> pl.DataFrame:
    ids = [f"G{r}{c}" for r in range(n) for c in range(n)]
    return pl.DataFrame(
        {
            "grid_id": ids,
            "x_m": [spacing * c for r in range(n) for c in range(n)],
            "y_m": [spacing * r for r in range(n) for c in range(n)],
        }
    )


def test_an_inner_cell_has_its_eight_surrounding_cells_and_a_corner_three():
    neighbours = GridNeighbours.from_table(lattice())
    assert set(neighbours.of("G22")) == {f"G{r}{c}" for r in (1, 2, 3) for c in (1, 2, 3)}
    assert set(neighbours.of("G00")) == {"G00", "G01", "G10", "G11"}
    assert neighbours.knows("G44") and not neighbours.knows("G99") and neighbours.of("G99") == ()


def test_a_far_grid_is_nobody_s_neighbour():
    table = pl.concat([lattice(), pl.DataFrame({"grid_id": ["FAR"], "x_m": [50_000.0], "y_m": [0.0]})])
    neighbours = GridNeighbours.from_table(table)
    assert neighbours.of("FAR") == ("FAR",)
    assert "FAR" not in neighbours.of("G04")


def test_lat_lon_centroids_work_like_metres():
    table = pl.DataFrame(
        {"grid_id": ["a", "b", "c"], "lat": [31.0, 31.0045, 31.5], "lon": [121.0, 121.0, 121.0]}
    )
    neighbours = GridNeighbours.from_table(table)
    assert set(neighbours.of("a")) == {"a", "b"}
