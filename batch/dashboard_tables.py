"""Batch step for the supervisor dashboard: three small read-only tables the API serves.

- `grids.parquet`: one row per grid with its district, community, position and map polygon
  (`batch.grid_geometry`), plus its attributes;
- `grid_weekly.parquet`: events per grid, week and first-level category over the last `weeks` weeks
  before the forecast week, with the dispute and hazard counts among them (zero rows are not stored);
- `recent_reports.parquet`: the latest `reports_per_grid` reports of every grid, PII-redacted, with the
  category, department and confidence given by the text model (the champion, when run by the CLI);
- `recent_reports_raw.parquet`, only when asked for (`keep_raw_text`, `gridsense forecast
  --keep-raw-report-text`): the same reports' unredacted title and text, written 0600, for the
  data_scientist role's `GET /v1/grids/{id}/reports?raw=true`. Without the option the file is removed.

Serving reads them (`serving.grid_store`) and never computes them, as with the forecasts table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from batch.grid_geometry import grid_cells
from core.atomic_files import atomic_write_with
from core.registry import DEMO_SITE, TEXT_MODEL_NAME
from core.tables import GRIDS_FILE, RAW_REPORTS_FILE, REPORTS_FILE, WEEKLY_FILE
from features.taxonomy import Taxonomy, load_taxonomy
from features.text import join_title_text, redact_pii_expr

META_FILE = "meta.json"  # written last: serving reloads the tables when it changes

GRID_KEY_COLUMNS = ("grid_id", "district", "community", "x_m", "y_m", "lat", "lon")
REPORT_TEXT_CHARS = 300


class TextClassifier(Protocol):
    def describe(
        self, texts: list[str], top_k: int = 3, review_threshold: float | None = None
    ) -> list[Any]: ...


@dataclass(frozen=True)
class DashboardTables:
    grids: pl.DataFrame
    weekly: pl.DataFrame
    reports: pl.DataFrame
    meta: dict[str, Any]  # first_week, forecast_week, weeks, text model name/version, built_at
    raw_reports: pl.DataFrame | None = None  # event_id, title, text as written (keep_raw_text only)

    def write(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {GRIDS_FILE: self.grids, WEEKLY_FILE: self.weekly, REPORTS_FILE: self.reports}
        for name, frame in files.items():
            _replace(out_dir / name, frame.write_parquet)
        if self.raw_reports is None:
            (out_dir / RAW_REPORTS_FILE).unlink(missing_ok=True)
        else:
            atomic_write_with(out_dir / RAW_REPORTS_FILE, self.raw_reports.write_parquet, mode=0o600)
        _replace(out_dir / META_FILE, lambda path: path.write_text(json.dumps(self.meta, ensure_ascii=False)))
        return out_dir


def _replace(path: Path, write: Callable[[Path], Any]) -> None:
    atomic_write_with(path, write, mode=0o644)  # a reader never sees half a file; a unique temporary name


def build_dashboard_tables(
    events: pl.DataFrame,
    grids: pl.DataFrame,
    classifier: TextClassifier,
    *,
    model_name: str = TEXT_MODEL_NAME,
    model_version: str | None = None,
    weeks: int = 52,
    reports_per_grid: int = 10,
    keep_raw_text: bool = False,
) -> DashboardTables:
    """`events` as loaded by `features.events.load_events` (with `risk_group`); `grids` with `grid_id` and
    x_m/y_m or lat/lon. The forecast week is the week after the last event, as in the panel.
    `keep_raw_text` also keeps the recent reports' unredacted text (personal data; module docstring)."""
    forecast_week = next_monday(events.get_column("reported_at").max())
    meta = {
        "first_week": (forecast_week - timedelta(weeks=weeks)).isoformat(),
        "forecast_week": forecast_week.isoformat(),
        "weeks": weeks,
        "text_model_name": model_name,
        "text_model_version": model_version,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    reports = recent_reports(events, classifier, reports_per_grid, model_name, model_version)
    return DashboardTables(
        grids=grid_table(grids),
        weekly=grid_weekly(events, forecast_week, weeks),
        reports=reports,
        meta=meta,
        raw_reports=raw_report_texts(events, reports) if keep_raw_text else None,
    )


def next_monday(last_event: Any) -> date:
    day = last_event.date() if hasattr(last_event, "date") else last_event
    return day - timedelta(days=day.weekday()) + timedelta(days=7)


def grid_table(grids: pl.DataFrame) -> pl.DataFrame:
    """Grid keys, planar position, map polygon, then every other column as an attribute."""
    cells = grid_cells(grids)
    labels = [
        pl.col(name).cast(pl.String) if name in grids.columns else pl.lit(None, pl.String).alias(name)
        for name in ("district", "community")
    ]
    coordinates = [
        pl.col(name).cast(pl.Float64) if name in grids.columns else pl.lit(None, pl.Float64).alias(name)
        for name in ("lat", "lon")
    ]
    attributes = [name for name in grids.columns if name not in GRID_KEY_COLUMNS]
    return (
        grids.select("grid_id", *labels, *coordinates, *attributes)
        .join(cells, on="grid_id", how="left")
        .select(*GRID_KEY_COLUMNS, "polygon_x", "polygon_y", *attributes)
        .sort("grid_id")
    )


def grid_weekly(events: pl.DataFrame, forecast_week: date, weeks: int) -> pl.DataFrame:
    """`grid_id, week_start, category_l1, n_events, n_dispute, n_hazard` for the `weeks` weeks before the
    forecast week (only non-zero rows)."""
    first_week = forecast_week - timedelta(weeks=weeks)
    return (
        events.with_columns(week_start=pl.col("reported_at").dt.truncate("1w").dt.date())
        .filter(pl.col("week_start").is_between(first_week, forecast_week, closed="left"))
        .group_by("grid_id", "week_start", "category_l1")
        .agg(
            n_events=pl.len().cast(pl.Int32),
            n_dispute=(pl.col("risk_group") == "dispute").sum().cast(pl.Int32),
            n_hazard=(pl.col("risk_group") == "hazard").sum().cast(pl.Int32),
        )
        .sort("grid_id", "week_start", "category_l1")
    )


def recent_reports(
    events: pl.DataFrame,
    classifier: TextClassifier,
    per_grid: int,
    model_name: str,
    model_version: str | None,
) -> pl.DataFrame:
    """The latest reports of each grid, redacted for display, classified by `classifier`."""
    latest = (
        events.sort("reported_at", "event_id", descending=True)
        .group_by("grid_id", maintain_order=True)
        .head(per_grid)
        .select(
            "event_id",
            "grid_id",
            "reported_at",
            *[_text_column(events, name) for name in ("channel", "title", "text", "status")],
        )
    )
    model_inputs = [
        join_title_text(title, text) for title, text in latest.select("title", "text").iter_rows()
    ]
    predictions = classifier.describe(model_inputs, top_k=1) if latest.height else []
    return latest.with_columns(
        title=redact_pii_expr(pl.col("title")),
        text=_shortened(redact_pii_expr(pl.col("text"))),
        **_prediction_columns(predictions),
        model_name=pl.lit(model_name),
        model_version=pl.lit(model_version, dtype=pl.String),
    ).sort("grid_id", "reported_at", descending=[False, True])


def raw_report_texts(events: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """`event_id, title, text` of the `reports` as written (text shortened like the redacted one)."""
    return (
        events.select("event_id", _text_column(events, "title"), _text_column(events, "text"))
        .join(reports.select("event_id"), on="event_id", how="semi")
        .with_columns(text=_shortened(pl.col("text")))
    )


def _text_column(events: pl.DataFrame, name: str) -> pl.Expr:
    """A string column even when the log lacks it or has only nulls in it."""
    if name not in events.columns:
        return pl.lit(None, pl.String).alias(name)
    return pl.col(name).cast(pl.String)


def _shortened(text: pl.Expr) -> pl.Expr:
    return (
        pl.when(text.str.len_chars() > REPORT_TEXT_CHARS)
        .then(pl.concat_str(text.str.slice(0, REPORT_TEXT_CHARS), pl.lit("…")))
        .otherwise(text)
    )


def _prediction_columns(predictions: list[Any]) -> dict[str, pl.Series]:
    def column(name: str, dtype: pl.DataType, values: list[Any]) -> pl.Series:
        return pl.Series(name, values, dtype=dtype)

    return {
        "leaf_id": column("leaf_id", pl.String(), [p.leaf_id for p in predictions]),
        "category_l1": column("category_l1", pl.String(), [p.category_l1 for p in predictions]),
        "category_l2": column("category_l2", pl.String(), [p.category_l2 for p in predictions]),
        "category_l3": column("category_l3", pl.String(), [p.category_l3 for p in predictions]),
        "department": column("department", pl.String(), [p.department for p in predictions]),
        "risk_group": column("risk_group", pl.String(), [p.risk_group for p in predictions]),
        "confidence": column("confidence", pl.Float64(), [float(p.p_l3) for p in predictions]),
        "needs_review": column("needs_review", pl.Boolean(), [bool(p.needs_review) for p in predictions]),
    }


# ---- the CLI's entry point ---------------------------------------------------------------------------
def write_dashboard_tables_from_registry(
    events_path: Path,
    grids_path: Path,
    out_dir: Path,
    alias: str = "champion",
    taxonomy: Taxonomy | None = None,
    site: str = DEMO_SITE,
    **options: Any,
) -> DashboardTables:
    """Load an event log (validated against `taxonomy`, default the bundled one) and its grids, classify
    the recent reports with the site's text model (`gridsense-text@alias` for the demo) and write the
    three tables. Needs the local MLflow store set up first (`training.tracking.use_local_store`)."""
    import mlflow
    from mlflow import MlflowClient

    from core.errors import GridSenseUserError
    from core.registry import TEXT_MODEL_NAME, alias_version, site_model_name
    from features.events import load_events

    name = site_model_name(TEXT_MODEL_NAME, site)
    version = alias_version(MlflowClient(), name, alias)
    if version is None:
        raise GridSenseUserError(
            f"the dashboard tables classify recent reports, and {name}@{alias} is not registered",
            "train a text model first (gridsense train text, or build-text for a labelled CSV)",
        )
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
    events = load_events(events_path, taxonomy or load_taxonomy()).events
    tables = build_dashboard_tables(
        events,
        pl.read_parquet(grids_path),
        model.classifier,
        model_name=name,
        model_version=version,
        **options,
    )
    tables.write(out_dir)
    return tables
