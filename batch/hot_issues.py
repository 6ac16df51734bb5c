"""`gridsense hot-issues` as a batch job: the site's recent window of reports, invalid ones left out,
clustered and ranked (``models.hot_issues``), written beside the dashboard tables for GET /v1/hot-issues.

Readers: an event log (Parquet/CSV with the event-log columns; optional ``reporter_id``, ``likes``,
``invalid_reason``) or a message-board CSV in the TIPDM layout (留言编号, 留言用户, 留言主题, 留言时间,
留言详情, 反对数, 点赞数), whose likes count in the heat index.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from core.errors import DataFileError
from core.tables import HOT_ISSUE_REPORTS_FILE, HOT_ISSUES_FILE
from models.hot_issues import HotIssueParams, bcubed, cluster_reports, hot_issues

BOARD_COLUMNS = {
    "留言编号": "event_id",
    "留言用户": "reporter_id",
    "留言主题": "title",
    "留言时间": "reported_at",
    "留言详情": "text",
    "点赞数": "likes",
}


def read_reports(path: Path) -> pl.DataFrame:
    """An event log (Parquet or CSV) or a TIPDM-style message board CSV, as report rows."""
    if not path.exists():
        raise DataFileError(f"{path}: no such file", "pass --events with an event log or a message CSV")
    try:
        raw = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema_length=0)
    except (pl.exceptions.PolarsError, OSError) as error:
        raise DataFileError(
            f"{path}: not readable ({type(error).__name__})", "a Parquet or CSV file"
        ) from error
    if set(BOARD_COLUMNS) <= set(raw.columns):
        raw = raw.select(list(BOARD_COLUMNS)).rename(BOARD_COLUMNS)
        raw = raw.with_columns(pl.col("likes").cast(pl.Int64, strict=False))
    missing = [c for c in ("event_id", "reported_at", "text") if c not in raw.columns]
    if missing:
        raise DataFileError(f"{path}: missing columns {', '.join(missing)}", "event_id, reported_at, text")
    if raw.schema["reported_at"] == pl.String:
        raw = raw.with_columns(pl.col("reported_at").str.to_datetime(strict=False))
    return raw.with_columns(pl.col("event_id").cast(pl.String)).drop_nulls("reported_at")


def valid_reports(reports: pl.DataFrame, invalid_model=None) -> tuple[pl.DataFrame, str]:
    """Reports without the invalid ones: by the ground-truth column when there is one, else by the
    invalid-report model (a pyfunc) when given, else all. Returns the rows and how they were chosen."""
    if "invalid_reason" in reports.columns:
        return reports.filter(pl.col("invalid_reason").is_null()), "invalid_reason column"
    if invalid_model is None or reports.is_empty():
        return reports, "none left out"
    frame = reports.select(
        (pl.col("title") if "title" in reports.columns else pl.lit(None, dtype=pl.String)).alias("title"),
        pl.col("text").fill_null(""),
    ).to_pandas()
    invalid = invalid_model.predict(frame)["invalid"].to_numpy().astype(bool)
    return reports.filter(pl.Series(~invalid)), f"invalid-report model ({int(invalid.sum())} left out)"


def windows(reports: pl.DataFrame, days: float, end: datetime | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The window [end - days, end) and the one before it; ``days`` 0: every report, no previous one."""
    if days <= 0 or reports.is_empty():
        return reports, reports.clear()
    end = end or reports["reported_at"].max() + timedelta(seconds=1)
    start, before = end - timedelta(days=days), end - timedelta(days=2 * days)
    at = pl.col("reported_at")
    return reports.filter((at >= start) & (at < end)), reports.filter((at >= before) & (at < start))


def run_hot_issues(
    reports: pl.DataFrame,
    out_dir: Path,
    window_days: float = 7.0,
    end: datetime | None = None,
    params: HotIssueParams | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cluster and rank the window's reports; write the issues and their members into ``out_dir``."""
    current, previous = windows(reports, window_days, end)
    issues, members = hot_issues(current, previous, params)
    out_dir.mkdir(parents=True, exist_ok=True)
    for frame, name in ((issues, HOT_ISSUES_FILE), (members, HOT_ISSUE_REPORTS_FILE)):
        partial = out_dir / f".{name}.partial"
        frame.write_parquet(partial)
        partial.replace(out_dir / name)
    return issues, members


def benchmark_hot_issues(
    events: pl.DataFrame, test_share: float = 0.15, params: HotIssueParams | None = None
) -> dict:
    """B-cubed precision/recall/F1 of the clustering against ``incident_id`` on the latest ``test_share``
    of the valid reports (ground truth), also without the category (text, place, grid and time only)."""
    if "incident_id" not in events.columns:
        raise DataFileError(
            "the event log has no incident_id column", "benchmark hot-issues needs ground truth"
        )
    params = params or HotIssueParams()
    valid = events.filter(pl.col("incident_id").is_not_null()).sort("reported_at")
    test = valid.slice(int(valid.height * (1 - test_share)))
    truth = test["incident_id"].to_numpy()
    report = {"params": params.as_dict(), "test_from": str(test["reported_at"].min()), "reports": test.height}
    report["incidents"] = int(test["incident_id"].n_unique())
    report["with_category"] = bcubed(truth, cluster_reports(test, params))
    text_only = test.drop(
        [c for c in ("leaf_id", "category_l1", "category_l2", "category_l3") if c in test.columns]
    )
    report["text_place_grid_only"] = bcubed(truth, cluster_reports(text_only, params))
    return report


def write_report(report: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
