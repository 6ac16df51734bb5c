"""Feature families of the panel, for ablations and for explaining forecasts.

A column's family depends on the risk group being forecast: for the dispute model, every hazard-history
column is a *cross-group* signal, and vice versa. Families:

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
GROUPS: tuple[str, ...] = ("dispute", "hazard")
_GROUP_PATTERN = re.compile(r"(?:^|_)(dispute|hazard)(?:_|$)")


def family(column: str, group: str) -> str:
    """The family of ``column`` in the model of ``group``."""
    if column in CALENDAR_COLUMNS:
        return "calendar"
    if column.startswith("cnt_l1_"):
        return "category"
    if column.startswith("cnt_txt_"):
        return "text"
    if column.startswith("co_"):
        return "cross"
    named = _GROUP_PATTERN.search(column)
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
    grouped: dict[str, list[str]] = {name: [] for name in FAMILIES}
    for column in columns:
        grouped[family(column, group)].append(column)
    return grouped


def without_families(columns: Sequence[str], drop: Iterable[str], group: str) -> list[str]:
    dropped = set(drop)
    unknown = dropped - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown feature families {sorted(unknown)}; known: {FAMILIES}")
    return [column for column in columns if family(column, group) not in dropped]
