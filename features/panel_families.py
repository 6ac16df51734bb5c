"""Feature families of the panel, for ablations and for explaining forecasts.

A column's family depends on the risk group being forecast: for the dispute model, every hazard-history
column is a *cross-group* signal, and vice versa. The panel's groups are any ids the site chooses: they
are read from the columns (``weeks_since_<group>``, one per group) or passed in. Families:

* ``counts``: the group's own windows, recency and trend, plus all-event windows (``cnt_all_*``)
  and how much log there is (``log_history_weeks``);
* ``category``: counts per event category (``cnt_l1_*``);
* ``text``: counts per text-classified category (``cnt_txt_*``);
* ``decayed``: the group's exponentially decayed rates, burst and all-log mean (``ewm_*``,
  ``excite_*``, ``mean_*_all``);
* ``seasonal``: the same season last year (``season_*``);
* ``spatial``: the group's neighbour lags (``nbr_*``, ``nbrw_*``);
* ``parent``: the parent area's (district / county) windows and rates (``parent_*``);
* ``cross``: the other groups' history and co-occurrence (``co_*``);
* ``calendar``: week of year, month, annual phase, holidays;
* ``static``: grid attributes (anything else).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from features.panel import DEFAULT_GROUPS

FAMILIES: tuple[str, ...] = (
    "counts",
    "category",
    "text",
    "decayed",
    "seasonal",
    "spatial",
    "parent",
    "cross",
    "calendar",
    "static",
)
CALENDAR_COLUMNS = frozenset(
    {
        "week_of_year",
        "month",
        "year_sin",
        "year_cos",
        "holiday_days",
        "days_off",
        "spring_festival_week",
        "weeks_from_spring_festival",
    }
)
RECENCY_PREFIX = "weeks_since_"  # one weeks_since_<group> column per group in every panel


def columns_groups(columns: Iterable[str]) -> tuple[str, ...]:
    """The risk groups of a panel's feature columns (from its ``weeks_since_<group>`` columns)."""
    return tuple(c[len(RECENCY_PREFIX) :] for c in columns if c.startswith(RECENCY_PREFIX))


@lru_cache(maxsize=64)
def _group_pattern(groups: tuple[str, ...]) -> re.Pattern:
    """Matches a group id as a whole ``_``-separated part of a column name (longest ids tried first)."""
    names = "|".join(re.escape(g) for g in sorted(groups, key=len, reverse=True))
    return re.compile(rf"(?:^|_)({names})(?:_|$)")


def family(column: str, group: str, groups: Sequence[str] | None = None) -> str:
    """The family of ``column`` in the model of ``group``; ``groups``: the panel's groups (default: the
    default groups and ``group``)."""
    groups = tuple(dict.fromkeys((*(DEFAULT_GROUPS if groups is None else groups), group)))
    if column in CALENDAR_COLUMNS:
        return "calendar"
    if column.startswith("cnt_l1_"):
        return "category"
    if column.startswith("cnt_txt_"):
        return "text"
    if column.startswith("co_"):
        return "cross"
    named = _group_pattern(groups).search(column)
    if named and named.group(1) != group:
        return "cross"
    if column.startswith("parent_"):
        return "parent"
    if column.startswith(("nbr_", "nbrw_")):
        return "spatial"
    if column.startswith(("ewm_", "excite_", "mean_")):
        return "decayed"
    if column.startswith("season_"):
        return "seasonal"
    if column.startswith(("cnt_", "weeks_since_", "trend_")) or column == "log_history_weeks":
        return "counts"
    return "static"


def by_family(columns: Iterable[str], group: str) -> dict[str, list[str]]:
    """Family -> its columns (in the given order), every family present as a key."""
    columns = list(columns)
    groups = columns_groups(columns) or None
    grouped: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for column in columns:
        grouped[family(column, group, groups)].append(column)
    return grouped


def without_families(columns: Sequence[str], drop: Iterable[str], group: str) -> list[str]:
    dropped = set(drop)
    unknown = dropped - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown feature families {sorted(unknown)}; known: {FAMILIES}")
    groups = columns_groups(columns) or None
    return [column for column in columns if family(column, group, groups) not in dropped]
