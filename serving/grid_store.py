"""The dashboard tables (written by `batch.dashboard_tables`), held in memory for the grid routes.

Read-only: grids with their map polygons, weekly events per grid and first-level category, and the
latest classified, redacted reports per grid. Answers are built once per table version (a request is
a dictionary look-up and a few list slices), and the tables are reloaded when `meta.json` changes.

Report titles and texts are redacted again when answers are built (`features.text.redact_pii_expr`), so
tables written before a redaction rule existed leak nothing. The unredacted texts are read, on request
only, from `recent_reports_raw.parquet`, which the batch step writes only when asked to.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import polars as pl

from core.settings import DEFAULT_SITE_TIMEZONE
from core.tables import GRIDS_FILE, RAW_REPORTS_FILE, REPORTS_FILE, SITE_FILE, WEEKLY_FILE
from features.text import redact_pii_expr
from serving.errors import ApiError, NotReadyError, UnknownGridError
from serving.grid_schemas import LEGACY_GROUPS

META_FILE = "meta.json"
TOTAL_COLUMN = "n_events"
GROUP_PREFIX = "n_"  # the weekly table counts each risk group in n_<group id>
KEY_COLUMNS = ("grid_id", "district", "community", "x_m", "y_m", "lat", "lon", "polygon_x", "polygon_y")
REPORT_COLUMNS = (
    "event_id", "reported_at", "channel", "status", "title", "text", "category_l1", "category_l2",
    "category_l3", "leaf_id", "department", "risk_group", "confidence", "needs_review", "category_source",
)  # fmt: skip


class GridStore:
    """`timezone`: the site's, in which the tables' naive report times are local times. `groups`: the
    site's risk groups in display order (from site.json, else meta.json; default: every `n_<group>`
    column of the weekly table)."""

    def __init__(
        self,
        grids: pl.DataFrame,
        weekly: pl.DataFrame,
        reports: pl.DataFrame,
        meta: dict[str, Any],
        timezone: str = DEFAULT_SITE_TIMEZONE,
        groups: Sequence[str] | None = None,
    ) -> None:
        self.grids_table = grids
        self.weekly_table = weekly
        self.reports_table = _with_time_zone(reports, "reported_at", timezone)
        self.meta = meta
        self.forecast_week = _date(meta.get("forecast_week"))
        self.weeks = _week_span(meta, weekly)
        self.groups = groups_of(weekly, groups)
        self.count_columns = [TOTAL_COLUMN, *(GROUP_PREFIX + group for group in self.groups)]
        self.weekly_dense = _dense_counts(weekly, grids.get_column("grid_id"), self.weeks, self.count_columns)
        self._weekly_cache: dict[int, dict[str, Any]] = {}

    @classmethod
    def from_dir(cls, path: Path, timezone: str = DEFAULT_SITE_TIMEZONE) -> GridStore:
        meta = json.loads((path / META_FILE).read_text(encoding="utf-8"))
        return cls(
            pl.read_parquet(path / GRIDS_FILE),
            pl.read_parquet(path / WEEKLY_FILE),
            pl.read_parquet(path / REPORTS_FILE),
            meta,
            timezone,
            _site_groups(path / SITE_FILE) or meta.get("groups"),
        )

    # ---- answers ------------------------------------------------------------------------------------
    @cached_property
    def grids(self) -> list[dict[str, Any]]:
        attributes = [name for name in self.grids_table.columns if name not in KEY_COLUMNS]
        rows = self.grids_table.to_dicts()
        return [_grid_shape(row, attributes) for row in rows]

    def weekly_counts(self, weeks: int) -> dict[str, Any]:
        """Events of each risk group and all events per grid over the latest `weeks` weeks."""
        weeks = min(weeks, len(self.weeks))
        if weeks not in self._weekly_cache:  # a benign race: two threads may build the same answer
            self._weekly_cache[weeks] = self._weekly_counts(weeks)
        return self._weekly_cache[weeks]

    def activity(self, grid_id: str) -> dict[str, Any]:
        self._check(grid_id)
        return self._activity_by_grid.get(grid_id) or self._empty_activity(grid_id)

    def reports(
        self, grid_id: str, limit: int, raw_texts: dict[str, dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The latest reports, redacted; with `raw_texts` (`read_raw_texts`), title and text as written."""
        self._check(grid_id)
        latest = self._reports_by_grid.get(grid_id, [])[:limit]
        if raw_texts is None:
            return latest
        return [{**report, **raw_texts.get(report["event_id"], {})} for report in latest]

    @cached_property
    def text_model(self) -> dict[str, str | None] | None:
        name = self.meta.get("text_model_name")
        return {"name": name, "version": self.meta.get("text_model_version")} if name else None

    # ---- indexes built once -------------------------------------------------------------------------
    @cached_property
    def _grid_ids(self) -> frozenset[str]:
        return frozenset(self.grids_table.get_column("grid_id").to_list())

    def _check(self, grid_id: str) -> None:
        if grid_id not in self._grid_ids:
            raise UnknownGridError([grid_id])

    def _weekly_counts(self, weeks: int) -> dict[str, Any]:
        wanted = self.weeks[len(self.weeks) - weeks :]
        rows = (
            self.weekly_dense.filter(pl.col("week_start").is_in(wanted))
            .group_by("grid_id", maintain_order=True)
            .agg(pl.col(self.count_columns))
            .to_dicts()
        )
        return {"weeks": wanted, "grids": [self._by_group(row) for row in rows]}

    def _by_group(self, row: dict[str, Any]) -> dict[str, Any]:
        """`n_*` lists -> {grid_id, groups: {id: counts}, total; dispute/hazard when the site has them}."""
        groups = {group: row[GROUP_PREFIX + group] for group in self.groups}
        legacy = {group: groups[group] for group in LEGACY_GROUPS if group in groups}
        return {"grid_id": row["grid_id"], "groups": groups, "total": row[TOTAL_COLUMN], **legacy}

    @cached_property
    def _activity_by_grid(self) -> dict[str, dict[str, Any]]:
        if self.weekly_table.is_empty() or not self.weeks:
            return {}
        weeks = pl.DataFrame({"week_start": self.weeks})
        per_category = (
            self.weekly_table.select("grid_id", "category_l1")
            .unique()
            .join(weeks, how="cross")
            .join(self.weekly_table, on=["grid_id", "category_l1", "week_start"], how="left")
            .with_columns(pl.col("n_events").fill_null(0))
            .sort("grid_id", "category_l1", "week_start")
            .group_by("grid_id", "category_l1", maintain_order=True)
            .agg(counts=pl.col("n_events"), total=pl.col("n_events").sum())
            .sort(["grid_id", "total", "category_l1"], descending=[False, True, False])
            .group_by("grid_id", maintain_order=True)
            .agg(categories=pl.struct("category_l1", "counts"))
        )
        totals = self.weekly_dense.group_by("grid_id", maintain_order=True).agg(pl.col(self.count_columns))
        rows = totals.join(per_category, on="grid_id", how="left").to_dicts()
        return {
            row["grid_id"]: {
                **self._by_group(row),
                "weeks": self.weeks,
                "categories": row["categories"] or [],
            }
            for row in rows
        }

    def _empty_activity(self, grid_id: str) -> dict[str, Any]:
        zeros = {name: [0] * len(self.weeks) for name in self.count_columns}
        return {**self._by_group({"grid_id": grid_id, **zeros}), "weeks": self.weeks, "categories": []}

    @cached_property
    def _reports_by_grid(self) -> dict[str, list[dict[str, Any]]]:
        texts = [name for name in ("title", "text") if name in self.reports_table.columns]
        redacted = self.reports_table.with_columns(redact_pii_expr(name).alias(name) for name in texts)
        ordered = redacted.sort(["grid_id", "reported_at"], descending=[False, True])
        grouped = ordered.group_by("grid_id", maintain_order=True).agg(
            reports=pl.struct(*[name for name in REPORT_COLUMNS if name in ordered.columns])
        )
        return {row["grid_id"]: row["reports"] for row in grouped.to_dicts()}


class GridStoreLoader:
    """The current GridStore for a folder, reloaded when the batch step rewrites `meta.json`."""

    def __init__(self, path: Path, timezone: str = DEFAULT_SITE_TIMEZONE) -> None:
        self.path = path
        self.timezone = timezone
        self._lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._store: GridStore | None = None

    def current(self) -> GridStore:
        try:
            stat = (self.path / META_FILE).stat()
        except FileNotFoundError:
            if self._store is not None:
                return self._store  # the folder is being rebuilt: keep serving what we have
            raise NotReadyError(
                f"dashboard tables are not built ({self.path}); run `gridsense forecast`"
            ) from None
        version = (stat.st_mtime_ns, stat.st_size)
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._store = self._load()
                    self._version = version
        assert self._store is not None
        return self._store

    def _load(self) -> GridStore:
        try:
            return GridStore.from_dir(self.path, self.timezone)
        except Exception as exc:
            if self._store is not None:
                return self._store
            raise NotReadyError(f"dashboard tables in {self.path} cannot be read: {exc}") from exc


class RawTextNotKeptError(ApiError):
    status_code = 404
    code = "raw_text_not_kept"


def read_raw_texts(path: Path) -> dict[str, dict[str, Any]]:
    """event_id -> {title, text} as written, from the tables folder `path` (read per request: raw reads
    are rare, audited admin reads, and the file exists only when the batch step was asked to keep it)."""
    try:
        frame = pl.read_parquet(path / RAW_REPORTS_FILE, columns=["event_id", "title", "text"])
    except FileNotFoundError:
        raise RawTextNotKeptError(
            "the unredacted report texts are not kept; the batch step keeps them only when asked "
            "(gridsense forecast --keep-raw-report-text)",
            field="raw",
        ) from None
    return {row.pop("event_id"): row for row in frame.to_dicts()}


# ---- helpers ------------------------------------------------------------------------------------------
def _with_time_zone(frame: pl.DataFrame, column: str, timezone: str) -> pl.DataFrame:
    """Naive local times become times in `timezone`, so the API writes them with their UTC offset (an
    RFC 3339 date-time). A time that falls in a daylight-saving gap is read an hour later, an ambiguous
    one as the earlier; times that already carry a zone are shown in `timezone`."""
    dtype = frame.schema.get(column)
    if not isinstance(dtype, pl.Datetime):
        return frame
    if dtype.time_zone is not None:
        return frame.with_columns(pl.col(column).dt.convert_time_zone(timezone))
    local = pl.col(column).dt.replace_time_zone
    shifted = (pl.col(column) + pl.duration(hours=1)).dt.replace_time_zone
    return frame.with_columns(
        pl.coalesce(
            local(timezone, ambiguous="earliest", non_existent="null"),
            shifted(timezone, ambiguous="earliest", non_existent="null"),
        ).alias(column)
    )


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def _week_span(meta: dict[str, Any], weekly: pl.DataFrame) -> list[date]:
    """Every Monday from the first week to the week before the forecast week (from meta, else the data)."""
    first, forecast = _date(meta.get("first_week")), _date(meta.get("forecast_week"))
    if first is None or forecast is None:
        if weekly.is_empty():
            return []
        first = weekly.get_column("week_start").min()
        forecast = weekly.get_column("week_start").max() + timedelta(weeks=1)
    return [first + timedelta(weeks=offset) for offset in range((forecast - first).days // 7)]


def groups_of(weekly: pl.DataFrame, wanted: Sequence[str] | None = None) -> list[str]:
    """The risk groups the weekly table counts: the `wanted` ones it has a `n_<group>` column for, in their
    order; without `wanted`, each `n_<group>` column besides `n_events`, in the table's order."""
    counted = [
        name.removeprefix(GROUP_PREFIX)
        for name in weekly.columns
        if name.startswith(GROUP_PREFIX) and name != TOTAL_COLUMN
    ]
    return counted if wanted is None else [group for group in wanted if group in counted]


def _site_groups(path: Path) -> list[str] | None:
    """The group ids of the site description, if it is there and readable (GET /v1/site reports it when
    it is not)."""
    try:
        return [group["id"] for group in json.loads(path.read_text(encoding="utf-8"))["groups"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _dense_counts(
    weekly: pl.DataFrame, grid_ids: pl.Series, weeks: Sequence[date], columns: Sequence[str]
) -> pl.DataFrame:
    """One row per (grid, week) with the count `columns` (n_events, n_<group>...), zeros included."""
    totals = weekly.group_by("grid_id", "week_start").agg(pl.col(columns).sum())
    return (
        pl.DataFrame({"grid_id": grid_ids.unique().sort()})
        .join(pl.DataFrame({"week_start": list(weeks)}, schema={"week_start": pl.Date}), how="cross")
        .join(totals, on=["grid_id", "week_start"], how="left")
        .with_columns(pl.col(columns).fill_null(0).cast(pl.Int64))
        .sort("grid_id", "week_start")
    )


def _grid_shape(row: dict[str, Any], attributes: Sequence[str]) -> dict[str, Any]:
    xs, ys = row.get("polygon_x"), row.get("polygon_y")
    polygon = list(zip(xs, ys, strict=True)) if xs and ys else None
    return {
        **{name: row.get(name) for name in ("grid_id", "district", "community", "x_m", "y_m", "lat", "lon")},
        "polygon": polygon,
        "attributes": {name: _plain(row.get(name)) for name in attributes},
    }


def _plain(value: Any) -> Any:
    """JSON-friendly attribute values (dates become strings; NaN becomes null)."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)
