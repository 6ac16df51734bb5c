"""Risk levels 高 / 中 / 低 for forecasts, by share of grids (default) or by probability.

* ``share`` (default ``high=0.05, medium=0.20``): within a week and risk group, the top 5% of grids by
  rank are 高, the next ones up to the top 20% 中, the rest 低. A supervisor's patrol capacity is a
  number of grids, so the 高 list has a fixed, predictable length; it is the list the hit rate @5% in
  docs/BENCHMARKS.md scores.
* ``probability`` (e.g. ``high=0.5, medium=0.2``): 高 when P(≥ 1 event) ≥ high, 中 when ≥ medium. Useful
  once the calibrated probabilities are trusted (ECE in docs/BENCHMARKS.md); the list length then
  follows the risk.

Both are configurable per deployment (``gridsense forecast`` options, or ``RiskLevels(...)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

HIGH, MEDIUM, LOW = "高", "中", "低"
LEVELS: tuple[str, ...] = (HIGH, MEDIUM, LOW)
METHODS = ("share", "probability")


@dataclass(frozen=True)
class RiskLevels:
    method: str = "share"
    high: float = 0.05
    medium: float = 0.20

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        ordered = self.high <= self.medium if self.method == "share" else self.medium <= self.high
        if not (0 < min(self.high, self.medium) and max(self.high, self.medium) <= 1 and ordered):
            rule = "high <= medium (shares)" if self.method == "share" else "medium <= high (probabilities)"
            raise ValueError(f"need values in (0, 1] with {rule}, got high={self.high}, medium={self.medium}")

    def assign(self, probability: np.ndarray, rank: np.ndarray | None = None) -> np.ndarray:
        """Levels of one week and group. ``rank``: 1 = highest (required by ``share``)."""
        probability = np.asarray(probability, dtype=float)
        if self.method == "probability":
            return np.where(probability >= self.high, HIGH, np.where(probability >= self.medium, MEDIUM, LOW))
        if rank is None:
            raise ValueError("the share method needs ranks")
        rank = np.asarray(rank)
        high_slots, medium_slots = self.slots(len(rank))
        return np.where(rank <= high_slots, HIGH, np.where(rank <= medium_slots, MEDIUM, LOW))

    def slots(self, n_grids: int) -> tuple[int, int]:
        """How many grids the share method marks 高, and 高 + 中 (at least one 高 when there are grids)."""
        high = max(int(np.ceil(self.high * n_grids - 1e-9)), 1 if n_grids else 0)
        return high, max(int(np.ceil(self.medium * n_grids - 1e-9)), high)

    def expr(self, by: tuple[str, ...] = ("week_start", "group")) -> pl.Expr:
        """Polars expression over ``probability`` and ``rank`` columns, per ``by`` partition."""
        if self.method == "probability":
            p = pl.col("probability")
            return (
                pl.when(p >= self.high)
                .then(pl.lit(HIGH))
                .when(p >= self.medium)
                .then(pl.lit(MEDIUM))
                .otherwise(pl.lit(LOW))
            )
        n = pl.len().over(by)
        high = ((n * self.high - 1e-9).ceil()).clip(lower_bound=1)
        medium = pl.max_horizontal((n * self.medium - 1e-9).ceil(), high)
        rank = pl.col("rank")
        return (
            pl.when(rank <= high)
            .then(pl.lit(HIGH))
            .when(rank <= medium)
            .then(pl.lit(MEDIUM))
            .otherwise(pl.lit(LOW))
        )
