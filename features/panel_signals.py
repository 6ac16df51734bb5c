"""Point-in-time signals of the grid x week panel computed on dense (units, weeks) count matrices.

``features.panel`` turns the event log into weekly counts per unit on a dense, week-sorted grid; the
signals here take those counts as numpy matrices of shape ``(n_units, n_weeks)`` (row = unit, column =
week index) and return matrices of the same shape whose column t only uses columns ``< t``:

* exponentially decayed intensities (self-excitation at several half-lives);
* spatial sums over each unit's nearest neighbours (near-repeat);
* parent-area (district / county) windows, including events that only name the parent area;
* the same season last year, and the mean over all the log before the week;
* cross-group co-occurrence (weeks with events of both of two groups).

Everything is vectorised over units (a recursion along the week axis, cumulative sums, row
gathers); nothing loops over rows.
"""

from __future__ import annotations

import numpy as np


def lag_one_week(values: np.ndarray) -> np.ndarray:
    """Column t takes column t - 1; column 0 is 0. Turns "up to and including week t" into "before t"."""
    lagged = np.zeros_like(values)
    lagged[:, 1:] = values[:, :-1]
    return lagged


def decay_factor(half_life_weeks: float) -> float:
    """Weekly decay so that a week's events weigh half as much ``half_life_weeks`` weeks later."""
    if half_life_weeks <= 0:
        raise ValueError("half-lives must be positive")
    return float(0.5 ** (1.0 / half_life_weeks))


def decayed_rate(counts: np.ndarray, half_life_weeks: float) -> np.ndarray:
    """Exponentially weighted weekly event rate before each week.

    ``rate[:, t] = (1 - d) * sum_{s < t} d**(t - 1 - s) * counts[:, s]`` with ``d = decay_factor(h)``: the
    weights sum to 1 over an infinite past, so a unit with a steady ``r`` events a week has rate ``r``.
    """
    d = decay_factor(half_life_weeks)
    running = counts.astype(np.float64)  # running[:, t] = counts[:, t] + d * running[:, t - 1]
    for week in range(1, running.shape[1]):  # one step per week, all units at once
        running[:, week] += d * running[:, week - 1]
    return (1.0 - d) * lag_one_week(running)


def window_sum_before(counts: np.ndarray, weeks: int) -> np.ndarray:
    """Events in the ``weeks`` weeks before each week (the week itself excluded)."""
    before = lag_one_week(np.cumsum(counts, axis=1, dtype=np.int64))
    shifted = np.zeros_like(before)
    if weeks < before.shape[1]:
        shifted[:, weeks:] = before[:, :-weeks]
    return before - shifted


def shift_weeks(values: np.ndarray, weeks: int) -> np.ndarray:
    """Column t takes column t - ``weeks`` (0 before the start)."""
    shifted = np.zeros_like(values)
    if 0 < weeks < values.shape[1]:
        shifted[:, weeks:] = values[:, :-weeks]
    elif weeks == 0:
        shifted[:] = values
    return shifted


def same_season_last_year(counts: np.ndarray, width: int, lag: int = 52) -> np.ndarray:
    """Events in the ``width`` weeks centred on the same week ``lag`` weeks earlier: weeks
    [t - lag - width/2, t - lag + width/2), all before t as long as ``width / 2 < lag``."""
    half = width // 2
    if half >= lag:
        raise ValueError("the seasonal window must end before the forecast week")
    return shift_weeks(window_sum_before(counts, width), lag - half)


def mean_since(counts: np.ndarray, start: int) -> np.ndarray:
    """Mean weekly events over every week from column ``start`` (the log's first week) to t - 1."""
    before = lag_one_week(np.cumsum(counts, axis=1, dtype=np.int64))
    observed = np.maximum(np.arange(counts.shape[1]) - start, 1)
    return before / observed[None, :]


def neighbour_sum(values: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Per unit, the sum of its neighbours' rows (``neighbours``: (n_units, k) row indices)."""
    total = np.zeros(values.shape, dtype=np.float64)
    for rank in range(neighbours.shape[1]):  # k gathers of whole matrices, not a loop over rows
        total += values[neighbours[:, rank]]
    return total


def parent_window_sums(parent_counts: np.ndarray, unit_parent: np.ndarray, weeks: int) -> np.ndarray:
    """Events of each unit's parent area in the ``weeks`` weeks before each week, gathered to units.

    ``parent_counts``: (n_parents, n_weeks); ``unit_parent``: parent row index per unit, -1 for none (0).
    """
    windows = window_sum_before(parent_counts, weeks)
    return _gather_parent(windows, unit_parent)


def parent_decayed_rate(
    parent_counts: np.ndarray, unit_parent: np.ndarray, half_life_weeks: float
) -> np.ndarray:
    return _gather_parent(decayed_rate(parent_counts, half_life_weeks), unit_parent)


def co_occurrence_weeks(first: np.ndarray, second: np.ndarray, weeks: int) -> np.ndarray:
    """Weeks among the ``weeks`` before each week in which the unit had events of both kinds."""
    both = ((first > 0) & (second > 0)).astype(np.int64)
    return window_sum_before(both, weeks)


def _gather_parent(per_parent: np.ndarray, unit_parent: np.ndarray) -> np.ndarray:
    padded = np.vstack([per_parent, np.zeros((1, per_parent.shape[1]), dtype=per_parent.dtype)])
    return padded[np.where(unit_parent >= 0, unit_parent, len(per_parent))]
