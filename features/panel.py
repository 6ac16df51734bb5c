"""The point-in-time grid x week panel the risk forecaster learns from.

One row per (grid_id, week_start) for every grid and every week. Labels of week w count
the events reported in [week_start, week_start + 7 days). Every feature of week w is built
only from events reported strictly before week_start(w) (plus the grid's static attributes
and the calendar, which are known in advance).

How it stays point-in-time and columnar: events are aggregated to weekly counts per grid,
spread over a dense grid x week frame, and each grid's cumulative count *before* a week
(``cum_sum - this week's count``) is differenced against the same quantity n weeks back.
Grids and weeks are integer indices while computing; ids and dates are attached at the end.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import polars as pl

from features.calendar import WEEK, calendar_features, monday, week_start

PANEL_KEYS: tuple[str, ...] = ("grid_id", "week_start")
LABEL_COLUMNS: tuple[str, ...] = ("n_dispute", "n_hazard", "y_dispute", "y_hazard")
LABEL_GROUPS: tuple[str, ...] = ("dispute", "hazard")
COUNT_GROUPS: tuple[str, ...] = ("dispute", "hazard", "all")
COUNT_WINDOWS: tuple[int, ...] = (1, 4, 12, 52)
L1_WINDOWS: tuple[int, ...] = (4, 52)
NEIGHBOUR_WINDOWS: tuple[int, ...] = (1, 4)
WEEKS_SINCE_CAP = 104
L1_PREFIX = "cnt_l1_"

EVENT_COLUMNS: tuple[str, ...] = ("reported_at", "grid_id", "category_l1", "risk_group")
GRID_COLUMNS: tuple[str, ...] = ("grid_id", "x_m", "y_m")
NON_FEATURE_GRID_COLUMNS: frozenset[str] = frozenset({"grid_id", "x_m", "y_m", "lat", "lon"})

_LOOKBACK_WEEKS = max(WEEKS_SINCE_CAP, *COUNT_WINDOWS)
_GRID = "grid_idx"
_WEEK = "week_idx"


# ---- public helpers ------------------------------------------------------------------------
def feature_columns(panel: pl.DataFrame) -> list[str]:
    """All columns except the keys and the labels, in panel order."""
    excluded = set(PANEL_KEYS) | set(LABEL_COLUMNS)
    return [name for name in panel.columns if name not in excluded]


def l1_slug(category_l1: str) -> str:
    """ASCII column fragment for a first-level category, stable across datasets and runs."""
    return hashlib.sha1(category_l1.encode("utf-8")).hexdigest()[:8]


def l1_columns(categories: Iterable[str]) -> dict[str, str]:
    """Panel column name -> category_l1 it counts, for every L1 window."""
    return {f"{L1_PREFIX}{l1_slug(name)}_{n}w": name for name in categories for n in L1_WINDOWS}


def l1_feature_names(panel: pl.DataFrame) -> list[str]:
    """The panel's first-level-category count columns."""
    return [name for name in panel.columns if name.startswith(L1_PREFIX)]


def nearest_neighbours(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Row indices of each point's k nearest other points, shape (n, min(k, n - 1))."""
    from scipy.spatial import cKDTree  # scipy comes with scikit-learn; imported lazily

    points = np.column_stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)])
    n_points = len(points)
    k = max(0, min(k, n_points - 1))
    if k == 0:
        return np.empty((n_points, 0), dtype=np.int64)
    _, found = cKDTree(points).query(points, k=k + 1)
    is_self = found == np.arange(n_points)[:, None]
    # With duplicate coordinates a point may be crowded out of its own result: drop the farthest instead.
    is_self[:, -1] |= ~is_self.any(axis=1)
    return found[~is_self].reshape(n_points, k)


# ---- the panel -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Span:
    """The weeks involved, as Mondays. Events before ``history_start`` cannot change any feature."""

    history_start: date
    log_start: date
    first_week: date
    last_week: date
    last_label_week: date | None

    def index(self, week: date) -> int:
        return (week - self.history_start).days // 7

    @property
    def n_weeks(self) -> int:
        return self.index(self.last_week) + 1


def build_panel(
    events: pl.DataFrame,
    grids: pl.DataFrame,
    first_week: date | None = None,
    last_week: date | None = None,
    neighbours_k: int = 6,
    l1_categories: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The grid x week panel: keys, labels (``LABEL_COLUMNS``) then point-in-time features.

    ``first_week`` defaults to the week after the first event's; ``last_week`` to the forecast
    week, the week after the last event's. Weeks outside the event log's weeks have null labels.
    Dates are snapped to their Monday. ``l1_categories`` fixes the L1 count columns (pass the
    taxonomy's level1 so training and scoring panels share columns); by default the categories
    present in ``events``. Events of grids missing from ``grids`` are ignored.
    """
    _require_columns(events, EVENT_COLUMNS, "events")
    _require_columns(grids, GRID_COLUMNS, "grids")
    if grids["grid_id"].is_duplicated().any():
        raise ValueError("grids: grid_id must be unique")
    categories = _categories(events, l1_categories)
    span = _span(events, first_week, last_week)
    grid_index = grids.select("grid_id").with_row_index(_GRID)

    weekly = _weekly_counts(events, grid_index, categories, span)
    history = _dense(weekly, grids.height, span)
    panel = _point_in_time_features(history, categories, span).filter(
        pl.col(_WEEK) >= span.index(span.first_week)
    )
    panel = panel.with_columns(_neighbour_lags(panel, grids, neighbours_k))
    return _finish(panel, grids, span)


def _require_columns(frame: pl.DataFrame, required: Sequence[str], name: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing}")


def _categories(events: pl.DataFrame, l1_categories: Sequence[str] | None) -> list[str]:
    if l1_categories is not None:
        return list(dict.fromkeys(l1_categories))
    return sorted(events["category_l1"].drop_nulls().unique().to_list())


def _as_monday(day: date | datetime | None) -> date | None:
    return None if day is None else monday(day)


def _span(events: pl.DataFrame, first_week: date | None, last_week: date | None) -> _Span:
    reported = events["reported_at"].drop_nulls()
    if reported.is_empty():
        if first_week is None or last_week is None:
            raise ValueError("events is empty: pass first_week and last_week")
        log_start, last_label_week = monday(first_week), None
    else:
        log_start, last_label_week = monday(reported.min()), monday(reported.max())
    first = _as_monday(first_week) or log_start + WEEK
    last = _as_monday(last_week) or last_label_week + WEEK
    if last < first:
        raise ValueError(f"last_week {last} is before first_week {first}")
    history_start = min(first, max(log_start, first - _LOOKBACK_WEEKS * WEEK))
    return _Span(history_start, log_start, first, last, last_label_week)


def _weekly_counts(
    events: pl.DataFrame, grid_index: pl.DataFrame, categories: list[str], span: _Span
) -> pl.DataFrame:
    """Events per (grid, week): by risk group, in total and by L1 category."""
    week_idx = (week_start(pl.col("reported_at")) - pl.lit(span.history_start)).dt.total_days() // 7
    in_span = pl.col(_WEEK).is_between(0, span.n_weeks - 1)
    counts = [
        (pl.col("risk_group") == group).sum().alias(f"c_{group}") for group in COUNT_GROUPS if group != "all"
    ]
    counts.append(pl.len().alias("c_all"))
    counts += [(pl.col("category_l1") == name).sum().alias(f"c_l1_{l1_slug(name)}") for name in categories]
    return (
        events.lazy()
        .select("grid_id", "risk_group", "category_l1", week_idx.cast(pl.Int32).alias(_WEEK))
        .filter(in_span)
        .join(grid_index.lazy(), on="grid_id", how="inner")
        .group_by(_GRID, _WEEK)
        .agg(counts)
        .with_columns(pl.exclude(_GRID, _WEEK).cast(pl.Int32))
        .collect()
    )


def _dense(weekly: pl.DataFrame, n_grids: int, span: _Span) -> pl.DataFrame:
    """Every grid x every week of the span, sorted by grid then week, missing counts 0."""
    grid_ids = pl.DataFrame({_GRID: pl.int_range(0, n_grids, eager=True).cast(pl.UInt32)})
    weeks = pl.DataFrame({_WEEK: pl.int_range(0, span.n_weeks, eager=True).cast(pl.Int32)})
    count_columns = [c for c in weekly.columns if c not in (_GRID, _WEEK)]
    return (
        grid_ids.join(weeks, how="cross")
        .join(weekly, on=[_GRID, _WEEK], how="left")
        .with_columns(pl.col(count_columns).fill_null(0))
        .sort(_GRID, _WEEK)
        .with_columns(pl.col(_GRID).set_sorted())
    )


def _point_in_time_features(history: pl.DataFrame, categories: list[str], span: _Span) -> pl.DataFrame:
    groups = [f"c_{group}" for group in COUNT_GROUPS]
    l1s = [f"c_l1_{l1_slug(name)}" for name in categories]
    before = history.with_columns(
        (pl.col(c).cum_sum().over(_GRID) - pl.col(c)).alias(f"before_{c}") for c in groups + l1s
    )
    windows = [_window_count(c, n, f"cnt_{c[2:]}_{n}w") for c in groups for n in COUNT_WINDOWS]
    windows += [_window_count(c, n, f"cnt_{c[2:]}_{n}w") for c in l1s for n in L1_WINDOWS]
    recency = [_weeks_since(f"c_{group}").alias(f"weeks_since_{group}") for group in LABEL_GROUPS]
    with_windows = before.with_columns(*windows, *recency, _log_history_weeks(span), *_labels(span))
    trends = [_trend(group) for group in COUNT_GROUPS]
    raw = [c for c in with_windows.columns if c.startswith(("c_", "before_"))]
    return with_windows.with_columns(trends).drop(raw)


def _window_count(count_column: str, weeks: int, name: str) -> pl.Expr:
    """Events in the `weeks` weeks before this one (this week excluded)."""
    before = pl.col(f"before_{count_column}")
    return (before - _shift_within_grid(before, weeks)).cast(pl.Int32).alias(name)


def _shift_within_grid(expr: pl.Expr, weeks: int) -> pl.Expr:
    """``expr.shift(weeks).over(grid)`` with 0 before the grid's first week, ~30x faster.

    The frame is dense and sorted by grid then week, so a plain shift only crosses into the
    previous grid in a grid's first `weeks` weeks, which are masked.
    """
    return pl.when(pl.col(_WEEK) >= weeks).then(expr.shift(weeks)).otherwise(0)


def _weeks_since(count_column: str) -> pl.Expr:
    """Weeks since the latest earlier week with an event (1 = last week), capped when none."""
    week_with_event = pl.when(pl.col(count_column) > 0).then(pl.col(_WEEK))
    latest_before = week_with_event.forward_fill().shift(1).over(_GRID)
    return (
        (pl.col(_WEEK) - latest_before)
        .fill_null(WEEKS_SINCE_CAP)
        .clip(upper_bound=WEEKS_SINCE_CAP)
        .cast(pl.Int16)
    )


def _log_history_weeks(span: _Span) -> pl.Expr:
    """Weeks of event log before this week, up to 52: how much the long windows can be trusted."""
    weeks = pl.col(_WEEK) - span.index(span.log_start)
    return weeks.clip(0, max(COUNT_WINDOWS)).cast(pl.Int16).alias("log_history_weeks")


def _trend(group: str) -> pl.Expr:
    """Weekly rate over the last 4 weeks minus the weekly rate over the last 52 (both over observed weeks)."""
    observed = pl.col("log_history_weeks").cast(pl.Float32)
    recent = pl.col(f"cnt_{group}_4w") / observed.clip(1, 4)
    yearly = pl.col(f"cnt_{group}_52w") / observed.clip(1, 52)
    return (recent - yearly).cast(pl.Float32).alias(f"trend_{group}")


def _labels(span: _Span) -> list[pl.Expr]:
    """This week's counts and 0/1 flags; null for weeks the event log does not cover."""
    if span.last_label_week is None:
        known = pl.lit(False)
    else:
        known = pl.col(_WEEK).is_between(span.index(span.log_start), span.index(span.last_label_week))
    counts = [pl.when(known).then(pl.col(f"c_{group}")).alias(f"n_{group}") for group in LABEL_GROUPS]
    flags = [
        pl.when(known).then(pl.col(f"c_{group}") > 0).cast(pl.Int8).alias(f"y_{group}")
        for group in LABEL_GROUPS
    ]
    return counts + flags


def _neighbour_lags(panel: pl.DataFrame, grids: pl.DataFrame, k: int) -> list[pl.Series]:
    """Sum and mean over each grid's k nearest grids of their (already lagged) counts, same week.

    The panel is dense and sorted by grid then week, so a column reshapes to (grids, weeks) and
    neighbours are a row gather.
    """
    neighbours = nearest_neighbours(grids["x_m"].to_numpy(), grids["y_m"].to_numpy(), k)
    n_grids, n_found = neighbours.shape
    lags: list[pl.Series] = []
    for group in LABEL_GROUPS:
        for weeks in NEIGHBOUR_WINDOWS:
            values = panel[f"cnt_{group}_{weeks}w"].to_numpy().reshape(n_grids, -1)
            total = np.zeros_like(values, dtype=np.int64)
            for rank in range(n_found):
                total += values[neighbours[:, rank]]
            mean = total / n_found if n_found else np.zeros_like(total, dtype=float)
            prefix = f"nbr_{group}_{weeks}w"
            lags.append(pl.Series(f"{prefix}_sum", total.ravel(), dtype=pl.Int32))
            lags.append(pl.Series(f"{prefix}_mean", mean.ravel(), dtype=pl.Float32))
    return lags


def _static_attributes(grids: pl.DataFrame) -> pl.DataFrame:
    """Numeric grid attributes (booleans as 0/1), excluding ids and coordinates."""
    numeric = [
        name
        for name, dtype in grids.schema.items()
        if name not in NON_FEATURE_GRID_COLUMNS and (dtype.is_numeric() or dtype == pl.Boolean)
    ]
    return grids.select(
        pl.col(n).cast(pl.Int8) if grids.schema[n] == pl.Boolean else pl.col(n) for n in numeric
    )


def _finish(panel: pl.DataFrame, grids: pl.DataFrame, span: _Span) -> pl.DataFrame:
    """Attach grid ids, dates, calendar and static attributes; order keys, labels, features.

    Row-aligned gathers rather than joins, so the (large) panel is never re-sorted.
    """
    grid_rows = panel[_GRID]
    week_rows = panel[_WEEK] - span.index(span.first_week)
    static = pl.concat([grids.select("grid_id"), _static_attributes(grids)], how="horizontal")
    calendar = calendar_features(pl.date_range(span.first_week, span.last_week, "1w", eager=True))
    attached = panel.with_columns(
        *(static[name].gather(grid_rows) for name in static.columns),
        *(calendar[name].gather(week_rows) for name in calendar.columns),
    )
    features = [c for c in attached.columns if c not in {*PANEL_KEYS, *LABEL_COLUMNS, _GRID, _WEEK}]
    return attached.select(*PANEL_KEYS, *LABEL_COLUMNS, *features)
