"""The demo city's event process: a Poisson background per grid x day plus Hawkes-style self-excitation.

Background: grid g on day d sees Poisson(sum_k grid_weight[g, k] * day_weight[d, k]) events, scaled so
the average grid-week has ``BACKGROUND_PER_GRID_WEEK * scale`` of them; each event's leaf is drawn in
proportion to its term of that sum. Self-excitation: every dispute (hazard) spawns Poisson(branching)
offspring of the same risk group, one day or more later (exponential delay), in the same grid or a
neighbouring one, often the very same leaf (a repeat complaint). Offspring spawn offspring in turn,
generation by generation, all as array operations.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from demo_city.grids import neighbour_table
from demo_city.rates import CHANNEL_HOURS, GRID_WORKER_DAY_OFF, HOUR_PROFILES, LeafRates, leaf_rates
from features.taxonomy import Taxonomy

BACKGROUND_PER_GRID_WEEK = 1.1
BRANCHING: dict[str, float] = {"dispute": 0.45, "hazard": 0.35}  # expected direct offspring per event
OFFSPRING_DELAY_DAYS = 2.0  # mean of the exponential part of the delay (on top of one day)
SAME_GRID_SHARE = 0.65  # else a neighbouring grid
SAME_LEAF_SHARE = 0.5  # else another leaf of the same risk group
COMPOUND_SHARE = 0.07  # reports that mention a second issue
MAX_GENERATIONS = 50
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class SimulatedEvents:
    """One entry per event, in generation order (not sorted by time)."""

    grid: np.ndarray  # grid index
    leaf: np.ndarray  # leaf index into taxonomy.leaves
    seconds: np.ndarray  # int64 seconds since ``start`` 00:00
    channel: np.ndarray  # index into rates.CHANNELS
    generation: np.ndarray  # 0 = background, n = n-th generation offspring
    secondary_leaf: np.ndarray  # leaf index of a compound report's second issue, -1 if none

    def __len__(self) -> int:
        return len(self.grid)


def simulate_events(
    taxonomy: Taxonomy,
    grids: pl.DataFrame,
    start: date,
    n_days: int,
    rng: np.random.Generator,
    scale: float = 1.0,
    branching: Mapping[str, float] | None = None,
    sensed: Collection[str] | None = None,
) -> SimulatedEvents:
    """``sensed``: leaf ids sensors may report (see ``rates.leaf_rates``)."""
    rates = leaf_rates(taxonomy, grids, start, n_days, rng, sensed=sensed)
    grid, day, leaf = _background(rates, rng, scale)
    neighbours = neighbour_table(grids["x_m"].to_numpy(), grids["y_m"].to_numpy())
    kids_grid, kids_day, kids_leaf, kids_generation = _offspring(
        rates, grid, day, leaf, neighbours, rng, BRANCHING if branching is None else branching
    )
    generation = np.concatenate([np.zeros(len(grid), dtype=np.int64), *kids_generation])
    grid, day, leaf = (
        np.concatenate([a, *b]) for a, b in ((grid, kids_grid), (day, kids_day), (leaf, kids_leaf))
    )
    channel = _channels(rates, leaf, day, rng)
    hour = _hours(rates, leaf, channel, rng)
    seconds = day * SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, len(day))
    return SimulatedEvents(
        grid=grid,
        leaf=leaf,
        seconds=seconds.astype(np.int64),
        channel=channel,
        generation=generation,
        secondary_leaf=_secondary_leaves(rates, grid, day, leaf, rng),
    )


def _background(rates: LeafRates, rng: np.random.Generator, scale: float) -> tuple[np.ndarray, ...]:
    intensity = rates.grid_weight @ rates.day_weight.T  # (G, D)
    intensity *= scale * BACKGROUND_PER_GRID_WEEK / 7.0 / intensity.mean()
    counts = rng.poisson(intensity)
    cell = np.repeat(np.arange(counts.size), counts.ravel())
    grid, day = np.divmod(cell, counts.shape[1])
    leaf = categorical(rates.grid_weight[grid] * rates.day_weight[day], rng)
    return grid, day, leaf


def _offspring(
    rates: LeafRates,
    grid: np.ndarray,
    day: np.ndarray,
    leaf: np.ndarray,
    neighbours: np.ndarray,
    rng: np.random.Generator,
    branching: Mapping[str, float],
) -> tuple[list[np.ndarray], ...]:
    """Generations of offspring: lists of (grid, day, leaf, generation) arrays, one entry per generation."""
    ratio = np.array([branching.get(group, 0.0) for group in rates.group])
    n_days = rates.day_weight.shape[0]
    out: tuple[list[np.ndarray], ...] = ([], [], [], [])
    for generation in range(1, MAX_GENERATIONS + 1):
        parent = np.repeat(np.arange(len(leaf)), rng.poisson(ratio[leaf]))
        child_day = (
            day[parent] + 1 + np.floor(rng.exponential(OFFSPRING_DELAY_DAYS, len(parent))).astype(np.int64)
        )
        parent, child_day = parent[child_day < n_days], child_day[child_day < n_days]
        if not len(parent):
            break
        grid = _nearby_grid(grid[parent], neighbours, rng)
        leaf = _related_leaf(rates, leaf[parent], grid, child_day, rng)
        day = child_day
        for bucket, values in zip(out, (grid, day, leaf, np.full(len(leaf), generation)), strict=True):
            bucket.append(values)
    return out


def _nearby_grid(grid: np.ndarray, neighbours: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    degree = (neighbours[grid] >= 0).sum(axis=1)
    pick = neighbours[grid, (rng.random(len(grid)) * degree).astype(np.int64)]
    return np.where(rng.random(len(grid)) < SAME_GRID_SHARE, grid, pick)


def _related_leaf(
    rates: LeafRates, leaf: np.ndarray, grid: np.ndarray, day: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The parent's leaf (a repeat report) or another leaf of its risk group, by local rates."""
    same_group = rates.group[leaf][:, None] == rates.group[None, :]
    weights = rates.grid_weight[grid] * rates.day_weight[day] * same_group
    other = categorical(weights, rng)
    return np.where(rng.random(len(leaf)) < SAME_LEAF_SHARE, leaf, other)


def _channels(rates: LeafRates, leaf: np.ndarray, day: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    probs = rates.channel_probs[leaf].copy()
    probs[:, 2] *= np.where(rates.day_off[day], GRID_WORKER_DAY_OFF, 1.0)
    return categorical(probs, rng)


def _hours(rates: LeafRates, leaf: np.ndarray, channel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    profiles = np.stack(list(HOUR_PROFILES.values()))  # (P, 24)
    table = profiles[:, None, :] * CHANNEL_HOURS[None, :, :]  # (P, C, 24)
    return categorical(table[rates.hour_profile[leaf], channel], rng)


def _secondary_leaves(
    rates: LeafRates, grid: np.ndarray, day: np.ndarray, leaf: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    n_leaves = len(rates.leaves)
    compound = rng.random(len(leaf)) < (COMPOUND_SHARE if n_leaves > 1 else 0.0)
    picked = categorical(rates.grid_weight[grid[compound]] * rates.day_weight[day[compound]], rng)
    picked = np.where(picked == leaf[compound], (picked + 1) % max(n_leaves, 1), picked)
    secondary = np.full(len(leaf), -1, dtype=np.int64)
    secondary[compound] = picked
    return secondary


def categorical(weights: np.ndarray, rng: np.random.Generator, chunk: int = 16_384) -> np.ndarray:
    """One draw per row of a non-negative (N, K) weight matrix: the column index."""
    out = np.empty(weights.shape[0], dtype=np.int64)
    for lo in range(0, weights.shape[0], chunk):
        cumulative = np.cumsum(weights[lo : lo + chunk], axis=1)
        threshold = rng.random(cumulative.shape[0]) * cumulative[:, -1]
        out[lo : lo + chunk] = np.minimum(
            (cumulative <= threshold[:, None]).sum(axis=1), weights.shape[1] - 1
        )
    return out
