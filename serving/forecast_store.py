"""The risk forecasts table (written by `gridsense forecast`), held in memory for look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from serving.errors import UnknownGridError

FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "grid_id": pl.String(),
    "week_start": pl.Date(),
    "group": pl.String(),
    "probability": pl.Float64(),
    "rank": pl.Int64(),
    "model_name": pl.String(),
    "model_version": pl.String(),
}
OPTIONAL_COLUMNS: dict[str, pl.DataType] = {"district": pl.String()}
RISK_FIELDS = ("group", "probability", "rank", "model_name", "model_version")


class ForecastTableError(ValueError):
    """The forecasts table is missing columns or rows."""


class ForecastStore:
    """Only the latest forecast week is served; `rank` is taken from the table (1 = highest)."""

    def __init__(self, table: pl.DataFrame) -> None:
        typed = _typed(table)
        self.latest = typed.filter(pl.col("week_start") == pl.col("week_start").max())

    @classmethod
    def from_parquet(cls, path: str | Path) -> ForecastStore:
        return cls(pl.read_parquet(path))

    def latest_week(self) -> date:
        return self.latest.get_column("week_start").item(0)

    @cached_property
    def known_grids(self) -> frozenset[str]:
        return frozenset(self.latest.get_column("grid_id").to_list())

    def get(
        self, grid_ids: Sequence[str] | None = None, group: str | None = None, top: int | None = None
    ) -> list[dict[str, Any]]:
        """One row per grid: grid_id, district (or None) and `risks` (one dict per group).

        Grids come in the order asked for, or best rank first when no ids are given. `top` keeps the
        grids ranked 1..top within each group.
        """
        rows = self.latest
        if grid_ids:
            wanted = list(dict.fromkeys(grid_ids))
            unknown = [grid_id for grid_id in wanted if grid_id not in self.known_grids]
            if unknown:
                raise UnknownGridError(unknown)
            order = pl.col("grid_id").replace_strict(wanted, range(len(wanted)), default=None)
            rows = rows.filter(pl.col("grid_id").is_in(wanted))
        else:
            order = pl.col("rank").min().over("grid_id")
        if group is not None:
            rows = rows.filter(pl.col("group") == group)
        if top is not None:
            rows = rows.filter(pl.col("rank") <= top)
        return (
            rows.with_columns(_order=order)
            .sort("_order", "grid_id", "group")
            .group_by("grid_id", maintain_order=True)
            .agg(pl.col("district").first(), risks=pl.struct(RISK_FIELDS))
            .to_dicts()
        )


def _typed(table: pl.DataFrame) -> pl.DataFrame:
    missing = sorted(set(FORECAST_SCHEMA) - set(table.columns))
    if missing:
        raise ForecastTableError(f"forecasts table lacks columns {missing}")
    if table.is_empty():
        raise ForecastTableError("forecasts table has no rows")
    optional = [
        pl.col(name).cast(dtype) if name in table.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in OPTIONAL_COLUMNS.items()
    ]
    return table.select(*(pl.col(name).cast(dtype) for name, dtype in FORECAST_SCHEMA.items()), *optional)
