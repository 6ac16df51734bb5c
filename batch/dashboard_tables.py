"""Batch step for the supervisor dashboard: three small read-only tables the API serves.

- `grids.parquet`: one row per grid with its district, community, position and map polygon
  (`batch.grid_geometry`), plus its attributes;
- `grid_weekly.parquet`: events per grid, week and first-level category over the last `weeks` weeks
  before the forecast week (`n_events`), with the count of each of the site's risk groups among them
  (`n_<group>`: `n_dispute`, `n_hazard` for the demo; zero rows are not stored);
- `recent_reports.parquet`: the latest `reports_per_grid` reports of every grid, PII-redacted, with the
  category, department and confidence given by the text model (the champion, when run by the CLI). A
  report without text, or every report when there is no text model (Chicago's crimes), keeps the log's
  own category (leaf, levels, department, risk group) with a null `confidence`; `category_source` says
  which (`model` | `log`);
- `site.json` (`core.tables.SITE_FILE`): the site's name, language, risk groups with their labels and
  the map's default metric (`site_description`), for `GET /v1/site` and the dashboard's group toggle;
- `recent_reports_raw.parquet`, only when asked for (`keep_raw_text`, `gridsense forecast
  --keep-raw-report-text`): the same reports' unredacted title and text, written 0600, for the
  data_scientist role's `GET /v1/grids/{id}/reports?raw=true`. Without the option the file is removed.

Serving reads them (`serving.grid_store`) and never computes them, as with the forecasts table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from batch.grid_geometry import grid_cells
from core.atomic_files import atomic_write_with
from core.registry import DEMO_SITE, TEXT_MODEL_NAME
from core.tables import GRIDS_FILE, RAW_REPORTS_FILE, REPORTS_FILE, SITE_FILE, WEEKLY_FILE
from features.panel import risk_groups_of
from features.taxonomy import LANGUAGES, NO_RISK, Taxonomy, load_taxonomy
from features.text import join_title_text, redact_pii_expr

META_FILE = "meta.json"  # written last: serving reloads the tables when it changes

GRID_KEY_COLUMNS = ("grid_id", "district", "community", "x_m", "y_m", "lat", "lon")
REPORT_TEXT_CHARS = 300
MAP_METRICS = ("probability", "expected", "relative")
LOG_CATEGORY, MODEL_CATEGORY = "log", "model"  # recent_reports.category_source
CATEGORY_COLUMNS = ("leaf_id", "category_l1", "category_l2", "category_l3", "department", "risk_group")


class TextClassifier(Protocol):
    def describe(
        self, texts: list[str], top_k: int = 3, review_threshold: float | None = None
    ) -> list[Any]: ...


@dataclass(frozen=True)
class DashboardTables:
    grids: pl.DataFrame
    weekly: pl.DataFrame
    reports: pl.DataFrame
    meta: dict[str, Any]  # first_week, forecast_week, weeks, groups, text model name/version, built_at
    raw_reports: pl.DataFrame | None = None  # event_id, title, text as written (keep_raw_text only)
    site: dict[str, Any] | None = None  # site.json (site_description); None: left as it is

    def write(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        files = {GRIDS_FILE: self.grids, WEEKLY_FILE: self.weekly, REPORTS_FILE: self.reports}
        for name, frame in files.items():
            _replace(out_dir / name, frame.write_parquet)
        if self.raw_reports is None:
            (out_dir / RAW_REPORTS_FILE).unlink(missing_ok=True)
        else:
            atomic_write_with(out_dir / RAW_REPORTS_FILE, self.raw_reports.write_parquet, mode=0o600)
        if self.site is not None:
            write_site_file(out_dir, self.site)
        _replace(out_dir / META_FILE, lambda path: path.write_text(json.dumps(self.meta, ensure_ascii=False)))
        return out_dir


def _replace(path: Path, write: Callable[[Path], Any]) -> None:
    atomic_write_with(path, write, mode=0o644)  # a reader never sees half a file; a unique temporary name


def build_dashboard_tables(
    events: pl.DataFrame,
    grids: pl.DataFrame,
    classifier: TextClassifier | None,
    *,
    model_name: str = TEXT_MODEL_NAME,
    model_version: str | None = None,
    weeks: int = 52,
    reports_per_grid: int = 10,
    keep_raw_text: bool = False,
    groups: Sequence[str] | None = None,
    site: dict[str, Any] | None = None,
) -> DashboardTables:
    """`events` as loaded by `features.events.load_events` (with `risk_group`); `grids` with `grid_id` and
    x_m/y_m or lat/lon. The forecast week is the week after the last event, as in the panel.
    `classifier` None: the recent reports keep the log's categories. `groups`: the risk groups counted
    in `n_<group>` (the taxonomy's; default: the events', `features.panel.risk_groups_of`). `site`: the
    `site_description` to write as site.json. `keep_raw_text` also keeps the recent reports' unredacted
    text (personal data; module docstring)."""
    forecast_week = next_monday(events.get_column("reported_at").max())
    groups = risk_groups_of(events, groups)
    reports = recent_reports(events, classifier, reports_per_grid, model_name, model_version)
    meta = {
        "first_week": (forecast_week - timedelta(weeks=weeks)).isoformat(),
        "forecast_week": forecast_week.isoformat(),
        "weeks": weeks,
        "groups": list(groups),
        "text_model_name": model_name if classifier is not None else None,
        "text_model_version": model_version if classifier is not None else None,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return DashboardTables(
        grids=grid_table(grids),
        weekly=grid_weekly(events, forecast_week, weeks, groups),
        reports=reports,
        meta=meta,
        raw_reports=raw_report_texts(events, reports) if keep_raw_text else None,
        site=site,
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


def grid_weekly(
    events: pl.DataFrame, forecast_week: date, weeks: int, groups: Sequence[str] | None = None
) -> pl.DataFrame:
    """`grid_id, week_start, category_l1, n_events, n_<group>...` (one count per risk group, default the
    events' groups) for the `weeks` weeks before the forecast week (only non-zero rows)."""
    first_week = forecast_week - timedelta(weeks=weeks)
    groups = risk_groups_of(events, groups)
    return (
        events.with_columns(week_start=pl.col("reported_at").dt.truncate("1w").dt.date())
        .filter(pl.col("week_start").is_between(first_week, forecast_week, closed="left"))
        .group_by("grid_id", "week_start", "category_l1")
        .agg(
            n_events=pl.len().cast(pl.Int32),
            **{f"n_{group}": (pl.col("risk_group") == group).sum().cast(pl.Int32) for group in groups},
        )
        .sort("grid_id", "week_start", "category_l1")
    )


def recent_reports(
    events: pl.DataFrame,
    classifier: TextClassifier | None,
    per_grid: int,
    model_name: str,
    model_version: str | None,
) -> pl.DataFrame:
    """The latest reports of each grid, redacted for display, classified by `classifier`; reports without
    title and text, or all of them when `classifier` is None, keep the log's category (null confidence,
    `category_source` = log)."""
    latest = (
        events.sort("reported_at", "event_id", descending=True)
        .group_by("grid_id", maintain_order=True)
        .head(per_grid)
        .select(
            "event_id",
            "grid_id",
            "reported_at",
            *[_text_column(events, name) for name in ("channel", "title", "text", "status")],
            *[_text_column(events, name) for name in CATEGORY_COLUMNS],
        )
    )
    model_inputs = [
        join_title_text(title, text) for title, text in latest.select("title", "text").iter_rows()
    ]
    classified = [classifier is not None and bool(text.strip()) for text in model_inputs]
    texts = [text for text, keep in zip(model_inputs, classified, strict=True) if keep]
    predictions = classifier.describe(texts, top_k=1) if texts else []
    by_model = pl.Series("_classified", classified, dtype=pl.Boolean)
    return (
        latest.with_columns(**_category_columns(latest.height, by_model, predictions))
        .with_columns(
            title=redact_pii_expr(pl.col("title")),
            text=_shortened(redact_pii_expr(pl.col("text"))),
            category_source=_where(by_model, pl.lit(MODEL_CATEGORY), pl.lit(LOG_CATEGORY)),
            model_name=_where(by_model, pl.lit(model_name), pl.lit(None, pl.String)),
            model_version=_where(by_model, pl.lit(model_version, pl.String), pl.lit(None, pl.String)),
        )
        .sort("grid_id", "reported_at", descending=[False, True])
    )


def _where(condition: pl.Series, then: pl.Expr, otherwise: pl.Expr) -> pl.Expr:
    return pl.when(pl.lit(condition)).then(then).otherwise(otherwise)


def _category_columns(rows: int, by_model: pl.Series, predictions: list[Any]) -> dict[str, pl.Expr]:
    """The model's category, confidence and review flag for the rows it classified (`by_model`), the
    log's category with a null confidence and no review flag for the others."""
    where = by_model.arg_true()
    model = {
        name: pl.Series(name, [None] * rows, dtype=column.dtype).scatter(where, column)
        for name, column in _prediction_columns(predictions).items()
    }
    columns = {name: _where(by_model, pl.lit(model[name]), pl.col(name)) for name in CATEGORY_COLUMNS}
    columns["confidence"] = pl.lit(model["confidence"])
    columns["needs_review"] = pl.lit(model["needs_review"]).fill_null(False)
    return columns


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


# ---- the site description (site.json) ----------------------------------------------------------------
def site_description(
    site: str,
    language: str,
    groups: Sequence[str],
    taxonomy: Taxonomy | None = None,
    map_metric: str = "probability",
) -> dict[str, Any]:
    """site.json's content (docs/CONTRACTS.md): `{"site", "language", "groups": [{"id", "label"}],
    "map_metric"}`. `groups`: the ids in display order (the forecast's groups); their labels from
    `taxonomy` (default the bundled one) in `language`, else the id."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    if map_metric not in MAP_METRICS:
        raise ValueError(f"map_metric must be one of {MAP_METRICS}, not {map_metric!r}")
    labels = (taxonomy or load_taxonomy()).group_labels(language)
    ids = [group for group in dict.fromkeys(groups) if group != NO_RISK]
    return {
        "site": site,
        "language": language,
        "groups": [{"id": group, "label": labels.get(group, group)} for group in ids],
        "map_metric": map_metric,
    }


def write_site_file(out_dir: Path, description: dict[str, Any]) -> Path:
    """Write `description` (`site_description`) as `out_dir/site.json` (one step, mode 0644)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / SITE_FILE
    text = json.dumps(description, ensure_ascii=False, indent=1)
    _replace(path, lambda target: target.write_text(text, encoding="utf-8"))
    return path


# ---- the CLI's entry point ---------------------------------------------------------------------------
def write_dashboard_tables_from_registry(
    events_path: Path,
    grids_path: Path,
    out_dir: Path,
    alias: str = "champion",
    taxonomy: Taxonomy | None = None,
    site: str = DEMO_SITE,
    *,
    language: str = "zh",
    map_metric: str = "probability",
    groups: Sequence[str] | None = None,
    **options: Any,
) -> DashboardTables:
    """Load an event log (validated against `taxonomy`, default the bundled one) and its grids, classify
    the recent reports with the site's text model (`gridsense-text@alias` for the demo) and write the
    tables and site.json. Without a registered text model, or for a log without texts, the reports keep
    the log's categories. site.json: `site`, `language` (zh | en) of the group labels, `map_metric`
    (`batch.forecast.default_map_metric` chooses it from the forecasts), `groups` (the forecast's group
    ids; default the taxonomy's). Needs the local MLflow store set up first
    (`training.tracking.use_local_store`)."""
    from core.registry import site_model_name
    from features.events import load_events

    taxonomy = taxonomy or load_taxonomy()
    events = load_events(events_path, taxonomy).events
    name = site_model_name(TEXT_MODEL_NAME, site)
    classifier, version = _text_model(name, alias) if _has_texts(events) else (None, None)
    groups = tuple(groups or taxonomy.risk_groups)
    tables = build_dashboard_tables(
        events,
        pl.read_parquet(grids_path),
        classifier,
        model_name=name,
        model_version=version,
        groups=groups or None,
        site=site_description(site, language, groups, taxonomy, map_metric),
        **options,
    )
    tables.write(out_dir)
    return tables


def _has_texts(events: pl.DataFrame) -> bool:
    columns = [name for name in ("title", "text") if name in events.columns]
    return any(bool((events[name].str.strip_chars().str.len_chars() > 0).any()) for name in columns)


def _text_model(name: str, alias: str) -> tuple[TextClassifier | None, str | None]:
    """`name@alias`'s classifier and version, or (None, None) when it is not registered."""
    import mlflow
    from mlflow import MlflowClient

    from core.registry import alias_version

    version = alias_version(MlflowClient(), name, alias)
    if version is None:
        return None, None
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()
    return model.classifier, version
