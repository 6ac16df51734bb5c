"""The risk forecasts table (written by `gridsense forecast`), held in memory for look-ups.

Besides probability and rank, a table from `gridsense forecast` carries per grid and group the level
(高/中/低), the top drivers (JSON: feature, value, contribution, direction, Chinese text), all SHAP
contributions (JSON) and the trend over the last forecasts; older tables without them still load.
The forecast history (``history.parquet`` next to the table: past forecasts and what happened) is
loaded with it when present; its weeks are served too (without drivers and contributions, which the
history does not keep), each built on first use and kept in a small cache.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import polars as pl

from core.tables import HISTORY_FILE, TREND_WEEKS
from serving.errors import ApiError, UnknownGridError, UnknownWeekError
from serving.schemas import ModelRef

FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "grid_id": pl.String(),
    "week_start": pl.Date(),
    "group": pl.String(),
    "probability": pl.Float64(),
    "rank": pl.Int64(),
    "model_name": pl.String(),
    "model_version": pl.String(),
}
OPTIONAL_COLUMNS: dict[str, pl.DataType] = {
    "district": pl.String(),
    "level": pl.String(),
    "drivers_json": pl.String(),
    "contributions": pl.String(),
    "expected_events": pl.Float64(),  # the Poisson mean for the group (forecasters since #12)
    "relative_risk": pl.Float64(),  # expected_events / the city's mean for the group and week
    "scorer": pl.String(),  # which scorer answers: model | hotspot | mean_52w | blend
}
SCORE_FIELDS = ("expected_events", "relative_risk", "scorer")
TREND_COLUMN = "trend"  # list of {week_start, probability, rank, level, actual_count}, oldest first
RISK_FIELDS = (
    "group",
    "probability",
    "rank",
    "model_name",
    "model_version",
    "level",
    "drivers_json",
    "contributions",
    *SCORE_FIELDS,
)
HISTORY_FIELDS = (
    "week_start",
    "group",
    "probability",
    "rank",
    "level",
    "model_version",
    "source",
    "actual_count",
    "actual",
    *SCORE_FIELDS,
)
TREND_FIELDS = ("week_start", "probability", "rank", "level", "actual_count")
# A week forecast twice for a grid and group (a backtest and a batch forecast): the higher wins; rows of
# the same source: the later one in the file (as batch.forecast.update_history keeps the last).
SOURCE_PRIORITY = {"forecast": 2, "backtest": 1}
WEEK_CACHE_SIZE = 16  # past weeks kept built; a week is a few MB for thousands of grids


class ForecastTableError(ValueError):
    """The forecasts table is missing columns or rows."""


class UnknownGroupError(ApiError):
    """A risk group the served table does not hold; the message and `valid_groups` name those it does."""

    status_code = 422
    code = "unknown_group"

    def __init__(self, group: str, groups: Sequence[str]) -> None:
        super().__init__(
            f"unknown risk group {group!r}; this site's groups are: {', '.join(groups)}",
            field="group",
            valid_groups=list(groups),
        )


class ForecastStore:
    """The latest forecast week from the table, past weeks from the history; `rank` is taken from the
    rows (1 = highest). Immutable: a new table is a new store."""

    def __init__(self, table: pl.DataFrame, history: pl.DataFrame | None = None) -> None:
        typed = _typed(table)
        self.latest = typed.filter(pl.col("week_start") == pl.col("week_start").max())
        self.history = _typed_history(history)
        self._weeks: OrderedDict[date, dict[str, dict[str, Any]]] = OrderedDict()  # LRU of past weeks
        self._weeks_lock = threading.Lock()

    @classmethod
    def from_parquet(cls, path: str | Path) -> ForecastStore:
        history_path = Path(path).parent / HISTORY_FILE
        history = pl.read_parquet(history_path) if history_path.exists() else None
        return cls(pl.read_parquet(path), history)

    def latest_week(self) -> date:
        return self.latest.get_column("week_start").item(0)

    @cached_property
    def model(self) -> ModelRef:
        """The risk model version that made the latest week's forecasts (the newest, if several)."""
        versions = self.latest.select("model_name", "model_version").unique()
        versions = versions.sort(pl.col("model_version").str.len_chars(), "model_version")  # "10" after "9"
        name, version = versions.row(-1)
        return ModelRef(name=name, version=version)

    @cached_property
    def available_weeks(self) -> tuple[date, ...]:
        """Every week :meth:`get` serves: the latest week and each week of the history, newest first."""
        weeks = self.history.get_column("week_start").drop_nulls().unique().to_list()
        return tuple(sorted({self.latest_week(), *weeks}, reverse=True))

    def model_of(self, week: date) -> ModelRef:
        """The model that made the week's forecasts: :attr:`model` for the latest week; for a past week
        the newest version among its rows (batch forecasts before backtests), null if none is recorded."""
        if week == self.latest_week():
            return self.model
        rows = self._deduplicated_history.filter(pl.col("week_start") == week)
        if rows.is_empty():
            raise self._unknown_week(week)
        newest = rows.sort(
            pl.col("model_version").is_not_null(),
            _source_priority(),
            pl.col("model_version").str.len_chars(),  # "10" after "9"
            "model_version",
            maintain_order=True,
        )
        name, version = newest.select("model_name", "model_version").row(-1)
        return ModelRef(name=name or self.model.name, version=version)

    @cached_property
    def groups(self) -> tuple[str, ...]:
        """The risk groups of the latest week (the site's group ids), sorted."""
        return tuple(sorted(self.latest.get_column("group").drop_nulls().unique().to_list()))

    def check_group(self, group: str | None) -> None:
        """Raises :class:`UnknownGroupError` (422) for a group the table does not hold."""
        if group is not None and group not in self.groups:
            raise UnknownGroupError(group, self.groups)

    def scorers_of(self, week: date | None = None) -> dict[str, str]:
        """Group -> the scorer that answers (model | hotspot | mean_52w | blend) in the week (default: the
        latest); groups whose rows do not say are left out (tables from before the scorer column)."""
        if week is None or week == self.latest_week():
            rows = self.latest
        else:
            rows = self._deduplicated_history.filter(pl.col("week_start") == week)
        counted = (
            rows.filter(pl.col("scorer").is_not_null())
            .group_by("group", "scorer")
            .len()
            .sort("len", "scorer", descending=[True, False])
            .unique("group", keep="first")
        )
        return dict(sorted(zip(counted["group"].to_list(), counted["scorer"].to_list(), strict=True)))

    @property
    def known_grids(self) -> frozenset[str]:
        return frozenset(self._by_grid)

    def get(
        self,
        grid_ids: Sequence[str] | None = None,
        group: str | None = None,
        top: int | None = None,
        week: date | None = None,
    ) -> list[dict[str, Any]]:
        """One row per grid: grid_id, district (or None) and `risks` (one dict per group).

        Grids come in the order asked for, or best rank first when no ids are given. `top` keeps the
        grids ranked 1..top within each group. `week` (default: the latest) may be any of
        :attr:`available_weeks`; a past week's risks come from the history, without drivers and
        contributions. A grid id is unknown if neither the latest week nor the asked week has it; a grid
        of the latest week without a forecast in a past week is left out, as a filtered one is.
        """
        by_grid = self._week(week)
        if grid_ids:
            wanted = list(dict.fromkeys(grid_ids))
            unknown = [
                grid_id for grid_id in wanted if grid_id not in by_grid and grid_id not in self._by_grid
            ]
            if unknown:
                raise UnknownGridError(unknown)
            candidates = [by_grid[grid_id] for grid_id in wanted if grid_id in by_grid]
        else:
            candidates = list(by_grid.values())
        rows = []
        for grid in candidates:
            risks = [
                risk
                for risk in grid["risks"]
                if (group is None or risk["group"] == group) and (top is None or risk["rank"] <= top)
            ]
            if risks:
                rows.append({"grid_id": grid["grid_id"], "district": grid["district"], "risks": risks})
        if not grid_ids:
            rows.sort(key=lambda row: (min(risk["rank"] for risk in row["risks"]), row["grid_id"]))
        return rows

    def history_of(
        self, grid_id: str, group: str | None = None, weeks: int | None = None
    ) -> list[dict[str, Any]]:
        """Past forecasts of a grid next to what happened, oldest first (the last ``weeks`` weeks)."""
        if grid_id not in self._by_grid:
            raise UnknownGridError([grid_id])
        rows = self._history_by_grid.get(grid_id, [])
        if group is not None:
            rows = [row for row in rows if row["group"] == group]
        if weeks is not None:
            kept = sorted({row["week_start"] for row in rows})[-weeks:]
            rows = [row for row in rows if row["week_start"] in set(kept)]
        return rows

    def district_of(self, grid_id: str) -> str | None:
        return self._by_grid[grid_id]["district"]

    def _week(self, week: date | None) -> dict[str, dict[str, Any]]:
        """Grid id -> its row for the week, as :attr:`_by_grid` is for the latest week. Past weeks are
        built on first use and the last ``WEEK_CACHE_SIZE`` kept (two requests may both build a week)."""
        if week is None or week == self.latest_week():
            return self._by_grid
        with self._weeks_lock:
            if week in self._weeks:
                self._weeks.move_to_end(week)
                return self._weeks[week]
        if week not in self.available_weeks:
            raise self._unknown_week(week)
        built = self._build_week(week)
        with self._weeks_lock:
            self._weeks[week] = built
            while len(self._weeks) > WEEK_CACHE_SIZE:
                self._weeks.popitem(last=False)
        return built

    def _build_week(self, week: date) -> dict[str, dict[str, Any]]:
        history = self._deduplicated_history
        trends = (
            history.filter(pl.col("week_start") <= week)
            .sort("week_start")
            .group_by("grid_id", "group", maintain_order=True)
            .agg(pl.struct(TREND_FIELDS).tail(TREND_WEEKS).alias(TREND_COLUMN))
        )
        rows = (
            history.filter(
                pl.col("week_start") == week,
                pl.col("probability").is_not_null(),
                pl.col("rank").is_not_null(),
            )
            .join(trends, on=["grid_id", "group"], how="left")
            .with_columns(pl.col("model_name").fill_null(self.model.name))
            .sort("grid_id", "group")
            .group_by("grid_id", maintain_order=True)
            .agg(
                risks=pl.struct(
                    "group",
                    "probability",
                    "rank",
                    "model_name",
                    "model_version",
                    "level",
                    *SCORE_FIELDS,
                    TREND_COLUMN,
                )  # fmt: skip
            )
            .to_dicts()
        )
        by_grid = {}
        for row in rows:
            latest = self._by_grid.get(row["grid_id"])
            risks = [
                {**risk, "drivers": [], "contributions": None, TREND_COLUMN: list(risk[TREND_COLUMN] or [])}
                for risk in row["risks"]
            ]
            by_grid[row["grid_id"]] = {
                "grid_id": row["grid_id"],
                "district": latest["district"] if latest else None,
                "risks": risks,
            }
        return by_grid

    @cached_property
    def _deduplicated_history(self) -> pl.DataFrame:
        """One history row per grid, week and group (see ``SOURCE_PRIORITY``)."""
        return (
            self.history.with_row_index("_order")
            .sort(_source_priority(), "_order")
            .unique(["grid_id", "week_start", "group"], keep="last", maintain_order=True)
            .drop("_order")
        )

    def _unknown_week(self, week: date) -> UnknownWeekError:
        weeks = self.available_weeks
        span = f"{weeks[0]}" if len(weeks) == 1 else f"{len(weeks)} weeks, {weeks[-1]} to {weeks[0]}"
        return UnknownWeekError(
            f"no forecasts for the week of {week}; forecasts are served for {span}",
            field="week",
            available_weeks=[w.isoformat() for w in weeks],
        )

    @cached_property
    def _by_grid(self) -> dict[str, dict[str, Any]]:
        """Grid id -> its latest-week row, built once per table: an API read is then a dictionary look-up
        (a polars query per request costs milliseconds; this is microseconds). JSON columns are parsed
        here, once."""
        fields = [*RISK_FIELDS, TREND_COLUMN] if TREND_COLUMN in self.latest.columns else list(RISK_FIELDS)
        rows = (
            self.latest.sort("grid_id", "group")
            .group_by("grid_id", maintain_order=True)
            .agg(pl.col("district").first(), risks=pl.struct(fields))
            .to_dicts()
        )
        for row in rows:
            row["risks"] = [_parsed_risk(risk) for risk in row["risks"]]
        return {row["grid_id"]: row for row in rows}

    @cached_property
    def _history_by_grid(self) -> dict[str, list[dict[str, Any]]]:
        rows = (
            self.history.sort("week_start", "group")
            .group_by("grid_id", maintain_order=True)
            .agg(history=pl.struct(HISTORY_FIELDS))
            .to_dicts()
        )
        return {row["grid_id"]: row["history"] for row in rows}


def _source_priority() -> pl.Expr:
    return pl.col("source").replace_strict(SOURCE_PRIORITY, default=0, return_dtype=pl.Int8)


def _parsed_risk(risk: dict[str, Any]) -> dict[str, Any]:
    """drivers_json -> ``drivers`` (list), contributions -> dict, trend -> list (empty when absent)."""
    parsed = {k: v for k, v in risk.items() if k not in ("drivers_json", "contributions", TREND_COLUMN)}
    parsed["drivers"] = json.loads(risk["drivers_json"]) if risk.get("drivers_json") else []
    parsed["contributions"] = json.loads(risk["contributions"]) if risk.get("contributions") else None
    parsed["trend"] = list(risk.get(TREND_COLUMN) or [])
    return parsed


def _typed_history(history: pl.DataFrame | None) -> pl.DataFrame:
    schema = {
        "grid_id": pl.String(),
        "week_start": pl.Date(),
        "group": pl.String(),
        "probability": pl.Float64(),
        "rank": pl.Int64(),
        "level": pl.String(),
        "model_name": pl.String(),
        "model_version": pl.String(),
        "source": pl.String(),
        "actual_count": pl.Int64(),
        "actual": pl.Int64(),
        **{name: OPTIONAL_COLUMNS[name] for name in SCORE_FIELDS},
    }
    if history is None:
        return pl.DataFrame(schema=schema)
    return history.select(
        pl.col(name).cast(dtype) if name in history.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
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
    trend = [pl.col(TREND_COLUMN)] if TREND_COLUMN in table.columns else []
    required = (pl.col(name).cast(dtype) for name, dtype in FORECAST_SCHEMA.items())
    unknown_scores = pl.col("expected_events", "relative_risk").fill_nan(None)  # NaN: not known, not an error
    return table.select(*required, *optional, *trend).with_columns(unknown_scores)


class ForecastFileSource:
    """The forecasts table as a hot-swappable component: a new version is a rewritten file."""

    kind: Literal["file"] = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def current_version(self) -> str:
        version = _file_version(self.path)
        history = self.path.parent / HISTORY_FILE
        if history.exists():  # a rewritten history is a new version too
            version += f"; history {_file_version(history)}"
        return version

    def load(self, version: str) -> ForecastStore:
        return ForecastStore.from_parquet(self.path)


def _file_version(path: Path) -> str:
    """Modification time and size; an ISO time, not a 19-digit count the log redaction reads as a card."""
    stat = path.stat()
    modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC).isoformat(timespec="microseconds")
    return f"{modified} ({stat.st_size} bytes)"

    def load_last_good(self) -> None:
        return None  # the file is local: there is nothing to fall back to

    def keep_as_last_good(self, version: str) -> None:
        return None


def smoke_test(store: ForecastStore) -> None:
    if not store.known_grids:
        raise ForecastTableError("the latest week has no grids")
