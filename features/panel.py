"""The point-in-time grid x week panel the risk forecaster learns from.

One row per (grid_id, week_start) for every grid and every week. Labels of week w count
the events reported in [week_start, week_start + 7 days). Every feature of week w is built
only from events reported strictly before week_start(w) (plus the grid's static attributes
and the calendar, which are known in advance).

How it stays point-in-time and columnar: events are aggregated to weekly counts per grid,
spread over a dense grid x week frame, and each grid's cumulative count *before* a week
(``cum_sum - this week's count``) is differenced against the same quantity n weeks back.
Grids and weeks are integer indices while computing; ids and dates are attached at the end.
The richer signals (decayed intensities, parent-area windows, cross-group co-occurrence) work on the
same dense counts as (grids, weeks) matrices (``features.panel_signals``); ``PanelOptions`` switches
them and the holiday calendar. ``features.panel_families`` names the feature families for ablations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations

import numpy as np
import polars as pl

from core.errors import DataFileError, PanelSpanError
from features import panel_signals as signals
from features.calendar import WEEK, calendar_features, monday, week_start
from features.taxonomy import NO_RISK, check_group_id

PANEL_KEYS: tuple[str, ...] = ("grid_id", "week_start")
# The risk groups of a taxonomy without a ``risk_groups:`` block (the demo city). A panel labels the groups
# of its events or of ``PanelOptions.risk_groups``: read them back with ``panel_groups(panel)``, never from
# these constants, which name the default groups' columns only.
DEFAULT_GROUPS: tuple[str, ...] = ("dispute", "hazard")
LABEL_GROUPS: tuple[str, ...] = DEFAULT_GROUPS
ALL_EVENTS = "all"  # counts of every event, whatever its group: cnt_all_<n>w, trend_all, parent_all_...
COUNT_WINDOWS: tuple[int, ...] = (1, 4, 12, 52)
L1_WINDOWS: tuple[int, ...] = (4, 52)
NEIGHBOUR_WINDOWS: tuple[int, ...] = (1, 4)
WEEKS_SINCE_CAP = 104
# 30 years of weeks, lookback included: more is a mistyped date, not history (1700-01-01 would mean
# 17,000 weeks x every grid). Raise it, or pass first_week, for a longer log.
MAX_PANEL_WEEKS = 1560
L1_PREFIX = "cnt_l1_"
TEXT_PREFIX = "cnt_txt_"
TEXT_WINDOWS: tuple[int, ...] = (4, 52)

EVENT_COLUMNS: tuple[str, ...] = ("reported_at", "grid_id", "category_l1", "risk_group")
GRID_COLUMNS: tuple[str, ...] = ("grid_id", "x_m", "y_m")
NON_FEATURE_GRID_COLUMNS: frozenset[str] = frozenset({"grid_id", "x_m", "y_m", "lat", "lon"})

_LOOKBACK_WEEKS = max(WEEKS_SINCE_CAP, *COUNT_WINDOWS)
_GRID = "grid_idx"
_WEEK = "week_idx"


@dataclass(frozen=True)
class PanelOptions:
    """What goes into the panel besides the base counts, recency, neighbour lags and static attributes.

    * ``holiday_country`` / ``holiday_categories``: calendar of ``features.calendar.calendar_features``
      (``"CN"`` with Spring Festival columns, any ``holidays`` country code, or None).
    * ``half_lives``: weeks; one decayed rate ``ewm_<group>_h<h>`` per group and half-life, and
      ``excite_<group>`` = shortest minus longest (a burst above the unit's own level). ``()``: none.
      Half-lives are meant to stay well below the 104-week lookback the panel keeps before ``first_week``.
    * ``neighbour_half_lives``: decayed rates summed over the k nearest grids (``nbr_<group>_h<h>_mean``)
      and, for the longest, over the ``wide_neighbour_factor * k`` nearest (``nbrw_<group>_h<h>_mean``).
    * ``parent_column``: the grids' parent-area column (district / county), used when present. Parent
      events are counted from the events' own ``parent_area`` column when they have one (so events that
      only name the parent area count), else through their grid. ``parent_<group>_<n>w`` etc.
    * ``risk_groups``: the groups to label and count (``n_<group>``, ``y_<group>``, ``cnt_<group>_<n>w`` ...),
      e.g. the taxonomy's ``risk_groups``; None: the groups the events hold (``risk_group`` other than
      ``none``), sorted, or ``DEFAULT_GROUPS`` when they hold none. Events of other groups count in
      ``all`` only.
    * ``cross_group``: ``co_<a>_<b>_<n>w`` for every pair of groups (none with one group), weeks with both
      kinds of event.
    * ``seasonal_width_weeks``: ``season_<group>_ly<n>w``, events in the n weeks around the same week
      last year (None: off). ``mean_<group>_all`` (mean weekly events over all the log before the week)
      always comes with the decayed rates.
    * ``text_category_column``: a text-classified category of the events (e.g. filled by the text
      model); counted per category over ``TEXT_WINDOWS`` as ``cnt_txt_<slug>_<n>w``. ``text_categories``
      fixes the columns (default: the values present).
    """

    holiday_country: str | None = "CN"
    holiday_categories: tuple[str, ...] | None = None
    risk_groups: tuple[str, ...] | None = None
    half_lives: tuple[float, ...] = (1, 4, 13, 26, 52)
    neighbour_half_lives: tuple[float, ...] = (1, 13)
    wide_neighbour_factor: int = 3
    parent_column: str | None = "district"
    parent_windows: tuple[int, ...] = (1, 4, 52)
    parent_half_life: float | None = 4
    cross_group: bool = True
    co_occurrence_weeks: int = 12
    seasonal_width_weeks: int | None = 12
    text_category_column: str | None = "text_category"
    text_categories: tuple[str, ...] | None = field(default=None)


# ---- public helpers ------------------------------------------------------------------------
def label_columns(groups: Sequence[str]) -> tuple[str, ...]:
    """The label columns of a panel of ``groups``: ``n_<g>`` for each, then ``y_<g>`` for each."""
    return (*(f"n_{g}" for g in groups), *(f"y_{g}" for g in groups))


# the default groups' label columns (the demo city's); a panel's own: label_columns(panel_groups(panel))
LABEL_COLUMNS: tuple[str, ...] = label_columns(DEFAULT_GROUPS)


def panel_groups(panel: pl.DataFrame | Sequence[str]) -> tuple[str, ...]:
    """The risk groups a panel labels, in its column order: every ``g`` with both ``y_<g>`` and ``n_<g>``.
    Takes a panel or its column names."""
    columns = list(panel.columns if isinstance(panel, pl.DataFrame) else panel)
    present = set(columns)
    return tuple(c[2:] for c in columns if c.startswith("y_") and f"n_{c[2:]}" in present)


def risk_groups_of(events: pl.DataFrame, groups: Sequence[str] | None = None) -> tuple[str, ...]:
    """The groups a panel of ``events`` labels: ``groups`` when given (checked), else the events' own
    ``risk_group`` values other than ``none``, sorted, else ``DEFAULT_GROUPS``."""
    if groups is None:
        found = events["risk_group"].drop_nulls().unique().to_list() if "risk_group" in events.columns else []
        groups = sorted(g for g in found if g != NO_RISK) or DEFAULT_GROUPS
    groups = tuple(dict.fromkeys(groups))
    if not groups:
        raise DataFileError("the panel needs at least one risk group", "pass risk_groups or label the events")
    for group in groups:
        problem = check_group_id(group)
        if problem:
            raise DataFileError(problem, "rename the group in the taxonomy")
    return groups


def feature_columns(panel: pl.DataFrame) -> list[str]:
    """All columns except the keys and the labels, in panel order."""
    excluded = set(PANEL_KEYS) | set(label_columns(panel_groups(panel)))
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
    options: PanelOptions | None = None,
    max_weeks: int = MAX_PANEL_WEEKS,
) -> pl.DataFrame:
    """The grid x week panel: keys, labels (``label_columns(groups)``) then point-in-time features.

    ``first_week`` defaults to the week after the first event's; ``last_week`` to the forecast
    week, the week after the last event's. Weeks outside the event log's weeks have null labels.
    Dates are snapped to their Monday. ``l1_categories`` fixes the L1 count columns (pass the
    taxonomy's level1 so training and scoring panels share columns); by default the categories
    present in ``events``. Events of grids missing from ``grids`` (or with a null grid) are ignored,
    except in parent-area counts. ``options`` (default ``PanelOptions()``) adds the richer signals and
    names the risk groups (default: the events'; :func:`risk_groups_of`).
    A span of more than ``max_weeks`` weeks (lookback included) is refused with a
    :class:`PanelSpanError` before anything is allocated.
    """
    options = options or PanelOptions()
    _require_columns(events, EVENT_COLUMNS, "events")
    _require_columns(grids, GRID_COLUMNS, "grids")
    if grids["grid_id"].is_duplicated().any():
        raise DataFileError("grids: grid_id must be unique", "remove the repeated grid ids")
    groups = risk_groups_of(events, options.risk_groups)
    categories = _categories(events, l1_categories)
    texts = _text_categories(events, options)
    span = _span(events, first_week, last_week)
    _check_span(span, grids.height, max_weeks)
    grid_index = grids.select("grid_id").with_row_index(_GRID)

    weekly = _weekly_counts(events, grid_index, groups, categories, span, texts, options.text_category_column)
    history = _dense(weekly, grids.height, span)
    counts = {group: _matrix(history, f"c_{group}", grids.height) for group in (*groups, ALL_EVENTS)}
    first = span.index(span.first_week)
    panel = _point_in_time_features(history, groups, categories, texts, span).filter(pl.col(_WEEK) >= first)
    neighbours = nearest_neighbours(grids["x_m"].to_numpy(), grids["y_m"].to_numpy(), neighbours_k)
    panel = panel.with_columns(
        *_neighbour_lags(panel, groups, neighbours),
        *_dynamic_signals(counts, groups, grids, neighbours, options, first, span.index(span.log_start)),
        *_parent_signals(events, grids, groups, span, options, first),
    )
    return _finish(panel, grids, groups, span, options)


def read_panel(path) -> pl.DataFrame:
    """A grid x week panel file, checked for its keys and labels (a user error, in one line, if not)."""
    from features.files import read_parquet

    panel = read_parquet(path, "panel", PANEL_KEYS)
    if not panel_groups(panel):
        raise DataFileError(
            f"panel {path} has no label columns (n_<group> and y_<group>)", "rebuild it with build-features"
        )
    return panel


def events_outside_grids(events: pl.DataFrame, grids: pl.DataFrame) -> pl.DataFrame:
    """Per grid id that is in the events but not in the grid table (null included): its event count,
    most first. :func:`build_panel` leaves these events out of every per-grid feature and label."""
    return (
        events.join(grids.select("grid_id"), on="grid_id", how="anti", nulls_equal=True)
        .group_by("grid_id")
        .len("events")
        .sort("events", "grid_id", descending=[True, False])
    )


def _check_span(span: _Span, n_grids: int, max_weeks: int) -> None:
    if span.n_weeks > max_weeks:
        raise PanelSpanError(
            f"the panel would span {span.n_weeks:,} weeks ({span.history_start} to {span.last_week}) x "
            f"{n_grids:,} grids, more than the limit of {max_weeks:,} weeks",
            "check for mistyped event dates, pass a later first week, or raise max_weeks / --max-panel-weeks",
        )


def _require_columns(frame: pl.DataFrame, required: Sequence[str], name: str) -> None:
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise DataFileError(f"{name}: missing columns {missing}", f"it has {frame.columns[:20]}")


def _categories(events: pl.DataFrame, l1_categories: Sequence[str] | None) -> list[str]:
    if l1_categories is not None:
        return list(dict.fromkeys(l1_categories))
    return sorted(events["category_l1"].drop_nulls().unique().to_list())


def _text_categories(events: pl.DataFrame, options: PanelOptions) -> list[str]:
    column = options.text_category_column
    if column is None or column not in events.columns:
        return []
    if options.text_categories is not None:
        return list(dict.fromkeys(options.text_categories))
    return sorted(events[column].drop_nulls().unique().to_list())


def text_columns(categories: Iterable[str]) -> dict[str, str]:
    """Panel column name -> text-classified category it counts, for every text window."""
    return {f"{TEXT_PREFIX}{l1_slug(name)}_{n}w": name for name in categories for n in TEXT_WINDOWS}


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
    events: pl.DataFrame,
    grid_index: pl.DataFrame,
    groups: Sequence[str],
    categories: list[str],
    span: _Span,
    texts: list[str] = (),
    text_column: str | None = None,
) -> pl.DataFrame:
    """Events per (grid, week): by risk group, in total, by L1 category and by text category."""
    week_idx = (week_start(pl.col("reported_at")) - pl.lit(span.history_start)).dt.total_days() // 7
    in_span = pl.col(_WEEK).is_between(0, span.n_weeks - 1)
    counts = [(pl.col("risk_group") == group).sum().alias(f"c_{group}") for group in groups]
    counts.append(pl.len().alias(f"c_{ALL_EVENTS}"))
    counts += [(pl.col("category_l1") == name).sum().alias(f"c_l1_{l1_slug(name)}") for name in categories]
    text = pl.col(text_column) if texts else pl.lit(None, pl.String)
    counts += [(pl.col("_text") == name).sum().alias(f"c_txt_{l1_slug(name)}") for name in texts]
    return (
        events.lazy()
        .select(
            "grid_id", "risk_group", "category_l1", text.alias("_text"), week_idx.cast(pl.Int32).alias(_WEEK)
        )
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


def _point_in_time_features(
    history: pl.DataFrame, label_groups: Sequence[str], categories: list[str], texts: list[str], span: _Span
) -> pl.DataFrame:
    count_groups = (*label_groups, ALL_EVENTS)
    groups = [f"c_{group}" for group in count_groups]
    l1s = [f"c_l1_{l1_slug(name)}" for name in categories]
    text_counts = [f"c_txt_{l1_slug(name)}" for name in texts]
    before = history.with_columns(
        (pl.col(c).cum_sum().over(_GRID) - pl.col(c)).alias(f"before_{c}") for c in groups + l1s + text_counts
    )
    windows = [_window_count(c, n, f"cnt_{c[2:]}_{n}w") for c in groups for n in COUNT_WINDOWS]
    windows += [_window_count(c, n, f"cnt_{c[2:]}_{n}w") for c in l1s for n in L1_WINDOWS]
    windows += [_window_count(c, n, f"cnt_{c[2:]}_{n}w") for c in text_counts for n in TEXT_WINDOWS]
    recency = [_weeks_since(f"c_{group}").alias(f"weeks_since_{group}") for group in label_groups]
    labels = _labels(span, label_groups)
    with_windows = before.with_columns(*windows, *recency, _log_history_weeks(span), *labels)
    trends = [_trend(group) for group in count_groups]
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


def _labels(span: _Span, groups: Sequence[str]) -> list[pl.Expr]:
    """This week's counts and 0/1 flags; null for weeks the event log does not cover."""
    if span.last_label_week is None:
        known = pl.lit(False)
    else:
        known = pl.col(_WEEK).is_between(span.index(span.log_start), span.index(span.last_label_week))
    counts = [pl.when(known).then(pl.col(f"c_{group}")).alias(f"n_{group}") for group in groups]
    flags = [
        pl.when(known).then(pl.col(f"c_{group}") > 0).cast(pl.Int8).alias(f"y_{group}") for group in groups
    ]
    return counts + flags


def _neighbour_lags(panel: pl.DataFrame, groups: Sequence[str], neighbours: np.ndarray) -> list[pl.Series]:
    """Sum and mean over each grid's k nearest grids of their (already lagged) counts, same week.

    The panel is dense and sorted by grid then week, so a column reshapes to (grids, weeks) and
    neighbours are a row gather.
    """
    n_grids, n_found = neighbours.shape
    lags: list[pl.Series] = []
    for group in groups:
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


def _matrix(history: pl.DataFrame, column: str, n_grids: int) -> np.ndarray:
    """A count column of the dense, grid-then-week sorted frame as a (grids, weeks) matrix."""
    return history[column].to_numpy().reshape(n_grids, -1)


def _flat(name: str, values: np.ndarray, first: int, dtype: pl.DataType = pl.Float32) -> pl.Series:
    """Panel column from a (grids, weeks) matrix: the weeks from ``first`` on, grid-major like the panel."""
    return pl.Series(name, values[:, first:].ravel(), dtype=dtype)


def _dynamic_signals(
    counts: dict[str, np.ndarray],
    groups: Sequence[str],
    grids: pl.DataFrame,
    neighbours: np.ndarray,
    options: PanelOptions,
    first: int,
    log_start: int,
) -> list[pl.Series]:
    """Decayed intensities (own and neighbours'), their burst, the long-run mean, the same season last
    year, and cross-group co-occurrence (every pair of groups)."""
    out: list[pl.Series] = []
    half_lives = sorted(options.half_lives)
    for group in groups:
        rates = {h: signals.decayed_rate(counts[group], h) for h in half_lives}
        out += [_flat(f"ewm_{group}_h{h:g}", rate, first) for h, rate in rates.items()]
        if len(half_lives) > 1:
            out.append(_flat(f"excite_{group}", rates[half_lives[0]] - rates[half_lives[-1]], first))
        if half_lives:
            out.append(_flat(f"mean_{group}_all", signals.mean_since(counts[group], log_start), first))
        if options.seasonal_width_weeks:
            width = options.seasonal_width_weeks
            season = signals.same_season_last_year(counts[group], width)
            out.append(_flat(f"season_{group}_ly{width}w", season, first, pl.Int32))
        out += _neighbour_rates(counts[group], group, grids, neighbours, options, first)
    if options.cross_group:
        weeks = options.co_occurrence_weeks
        for a, b in combinations(groups, 2):
            both = signals.co_occurrence_weeks(counts[a], counts[b], weeks)
            out.append(_flat(f"co_{a}_{b}_{weeks}w", both, first, pl.Int16))
    return out


def _neighbour_rates(
    counts: np.ndarray,
    group: str,
    grids: pl.DataFrame,
    neighbours: np.ndarray,
    options: PanelOptions,
    first: int,
) -> list[pl.Series]:
    if not options.neighbour_half_lives or neighbours.shape[1] == 0:
        return []
    out = []
    for h in options.neighbour_half_lives:
        mean = signals.neighbour_sum(signals.decayed_rate(counts, h), neighbours) / neighbours.shape[1]
        out.append(_flat(f"nbr_{group}_h{h:g}_mean", mean, first))
    wide_k = neighbours.shape[1] * options.wide_neighbour_factor
    if options.wide_neighbour_factor > 1:
        wide = nearest_neighbours(grids["x_m"].to_numpy(), grids["y_m"].to_numpy(), wide_k)
        h = max(options.neighbour_half_lives)
        mean = signals.neighbour_sum(signals.decayed_rate(counts, h), wide) / max(wide.shape[1], 1)
        out.append(_flat(f"nbrw_{group}_h{h:g}_mean", mean, first))
    return out


def _parent_signals(
    events: pl.DataFrame,
    grids: pl.DataFrame,
    groups: Sequence[str],
    span: _Span,
    options: PanelOptions,
    first: int,
) -> list[pl.Series]:
    """Windows and decayed rates of each grid's parent area (district / county), per group and per grid."""
    column = options.parent_column
    if column is None or column not in grids.columns or grids[column].null_count() == grids.height:
        return []  # no parent areas: no parent features (as without the column)
    parents = grids[column].cast(pl.String)
    names = parents.drop_nulls().unique().sort()
    parent_index = pl.DataFrame({"parent": names}).with_row_index("parent_idx")
    unit_parent = (
        (
            pl.DataFrame({"parent": parents}).join(
                parent_index, on="parent", how="left", maintain_order="left"
            )
        )["parent_idx"]
        .fill_null(-1)
        .cast(pl.Int64)
        .to_numpy()
    )
    per_parent = _parent_counts(events, grids, column, parent_index, (*groups, ALL_EVENTS), span)
    units_per_parent = np.bincount(unit_parent[unit_parent >= 0], minlength=len(names)).astype(float)
    unit_share = 1.0 / np.maximum(units_per_parent[np.where(unit_parent >= 0, unit_parent, 0)], 1.0)[:, None]
    out: list[pl.Series] = []
    for group in (*groups, ALL_EVENTS):
        counts = per_parent[group]
        for weeks in options.parent_windows:
            total = signals.parent_window_sums(counts, unit_parent, weeks)
            out.append(_flat(f"parent_{group}_{weeks}w", total, first, pl.Int32))
            out.append(_flat(f"parent_{group}_{weeks}w_per_unit", total * unit_share, first))
        if options.parent_half_life:
            rate = signals.parent_decayed_rate(counts, unit_parent, options.parent_half_life)
            name = f"parent_{group}_h{options.parent_half_life:g}_per_unit"
            out.append(_flat(name, rate * unit_share, first))
    return out


def _parent_counts(
    events: pl.DataFrame,
    grids: pl.DataFrame,
    column: str,
    parent_index: pl.DataFrame,
    count_groups: Sequence[str],
    span: _Span,
) -> dict[str, np.ndarray]:
    """(parents, weeks) count matrices per group. The events' own ``parent_area`` wins over their grid's."""
    via_grid = events.select("grid_id").join(
        grids.select("grid_id", pl.col(column).cast(pl.String).alias("_grid_parent")),
        on="grid_id",
        how="left",
        maintain_order="left",
    )["_grid_parent"]
    own = events["parent_area"].cast(pl.String) if "parent_area" in events.columns else None
    parent = via_grid if own is None else own.fill_null(via_grid)
    week_idx = (week_start(pl.col("reported_at")) - pl.lit(span.history_start)).dt.total_days() // 7
    weekly = (
        events.select("risk_group", "reported_at")
        .with_columns(parent.alias("parent"))
        .join(parent_index, on="parent", how="inner")
        .with_columns(week_idx.cast(pl.Int64).alias(_WEEK))
        .filter(pl.col(_WEEK).is_between(0, span.n_weeks - 1))
    )
    shape = (parent_index.height, span.n_weeks)
    matrices = {}
    for group in count_groups:
        rows = weekly if group == ALL_EVENTS else weekly.filter(pl.col("risk_group") == group)
        matrix = np.zeros(shape, dtype=np.int64)
        np.add.at(matrix, (rows["parent_idx"].to_numpy().astype(np.int64), rows[_WEEK].to_numpy()), 1)
        matrices[group] = matrix
    return matrices


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


def _finish(
    panel: pl.DataFrame, grids: pl.DataFrame, groups: Sequence[str], span: _Span, options: PanelOptions
) -> pl.DataFrame:
    """Attach grid ids, dates, calendar and static attributes; order keys, labels, features.

    Row-aligned gathers rather than joins, so the (large) panel is never re-sorted.
    """
    grid_rows = panel[_GRID]
    week_rows = panel[_WEEK] - span.index(span.first_week)
    static = pl.concat([grids.select("grid_id"), _static_attributes(grids)], how="horizontal")
    calendar = calendar_features(
        pl.date_range(span.first_week, span.last_week, "1w", eager=True),
        country=options.holiday_country,
        categories=options.holiday_categories,
    )
    attached = panel.with_columns(
        *(static[name].gather(grid_rows) for name in static.columns),
        *(calendar[name].gather(week_rows) for name in calendar.columns),
    )
    labels = label_columns(groups)
    features = [c for c in attached.columns if c not in {*PANEL_KEYS, *labels, _GRID, _WEEK}]
    return attached.select(*PANEL_KEYS, *labels, *features)
