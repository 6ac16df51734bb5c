"""Which grids are next to which: among the k nearest grid centroids (x_m/y_m metres, else lat/lon
projected around their mean), those closer than `reach` times the city's typical grid spacing (the
median distance to a grid's nearest other grid), so a grid at the edge of the city has fewer neighbours
rather than far ones. For duplicate search in the same or a neighbouring grid."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl

METRES_PER_DEGREE = 111_320.0
DEFAULT_NEIGHBOURS = 8
DEFAULT_REACH = 1.6  # x the typical spacing: the 8 cells around a square cell are at 1 and 1.41


class GridNeighbours:
    """grid id -> itself and its `k` nearest grids by centroid. Grids without coordinates have only
    themselves; an unknown grid id has none (`knows` says which)."""

    def __init__(self, neighbours: dict[str, tuple[str, ...]]) -> None:
        self._neighbours = neighbours

    @classmethod
    def from_table(
        cls, grids: pl.DataFrame, k: int = DEFAULT_NEIGHBOURS, reach: float = DEFAULT_REACH
    ) -> GridNeighbours:
        ids = grids.get_column("grid_id").cast(pl.String).to_list()
        xy = _centroids(grids)
        neighbours: dict[str, tuple[str, ...]] = {grid: (grid,) for grid in ids}
        located = np.flatnonzero(~np.isnan(xy).any(axis=1))
        if len(located) > 1:
            from scipy.spatial import cKDTree

            points = xy[located]
            distances, nearest = cKDTree(points).query(points, k=min(k + 1, len(located)))
            distances, nearest = np.atleast_2d(distances), np.atleast_2d(nearest)
            limit = reach * float(np.median(distances[:, 1]))
            for row, found, far in zip(located, nearest, distances, strict=True):
                close = [ids[located[j]] for j, d in zip(found, far, strict=True) if d <= limit]
                neighbours[ids[row]] = tuple(dict.fromkeys([ids[row], *close]))
        return cls(neighbours)

    @classmethod
    def from_file(cls, path: Path, k: int = DEFAULT_NEIGHBOURS) -> GridNeighbours:
        return cls.from_table(pl.read_parquet(path), k)

    def knows(self, grid_id: str) -> bool:
        return grid_id in self._neighbours

    def of(self, grid_id: str) -> Sequence[str]:
        return self._neighbours.get(grid_id, ())

    def __len__(self) -> int:
        return len(self._neighbours)


def _centroids(grids: pl.DataFrame) -> np.ndarray:
    if {"x_m", "y_m"} <= set(grids.columns) and grids.get_column("x_m").null_count() < grids.height:
        return grids.select(pl.col("x_m", "y_m").cast(pl.Float64)).to_numpy().astype(float)
    if {"lat", "lon"} <= set(grids.columns):
        lat = grids.get_column("lat").cast(pl.Float64).to_numpy().astype(float)
        lon = grids.get_column("lon").cast(pl.Float64).to_numpy().astype(float)
        scale = METRES_PER_DEGREE * math.cos(math.radians(float(np.nanmean(lat)) if len(lat) else 0.0))
        return np.column_stack([(lon - np.nanmean(lon)) * scale, (lat - np.nanmean(lat)) * METRES_PER_DEGREE])
    return np.full((grids.height, 2), np.nan)
