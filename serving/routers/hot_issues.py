"""GET /v1/hot-issues: the issues `gridsense hot-issues` found in the recent window, hottest first, and
each issue's member reports (redacted) for the dashboard's drill-down (本周热点问题)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated

import polars as pl
from fastapi import APIRouter, Path, Query

from core.tables import HOT_ISSUE_REPORTS_FILE, HOT_ISSUES_FILE
from serving.auth import KeyFirstRoute, Permission, require
from serving.deps import SettingsDep
from serving.errors import ApiError
from serving.hot_issue_schemas import HotIssue, HotIssueReport, HotIssueReportsResponse, HotIssuesResponse
from serving.schemas import ERROR_RESPONSES

router = APIRouter(
    prefix="/v1/hot-issues",
    tags=["hot issues"],
    dependencies=[require(Permission.DASHBOARD)],
    route_class=KeyFirstRoute,
)
_cache: dict[FilePath, tuple[float, pl.DataFrame]] = {}


class UnknownIssueError(ApiError):
    status_code = 404
    code = "unknown_issue"


def _table(path: FilePath) -> pl.DataFrame | None:
    """The table at `path`, re-read when the job rewrote it; None when there is none yet."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _cache.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, pl.read_parquet(path))
        _cache[path] = cached
    return cached[1]


@router.get(
    "",
    summary="Hot issues of the recent window, hottest first",
    description=(
        "Reports about one problem in one place, grouped by `gridsense hot-issues` and ranked by the heat "
        "index (docs/BENCHMARKS.md, Hot issues): each with a representative title, place, category, time "
        "span, counts and member report ids. `available` is false until the job has run."
    ),
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 422)},
)
def list_hot_issues(
    settings: SettingsDep, top: Annotated[int, Query(ge=1, le=200, description="How many issues.")] = 20
) -> HotIssuesResponse:
    path = settings.dashboard_tables_dir / HOT_ISSUES_FILE
    issues = _table(path)
    if issues is None:
        return HotIssuesResponse(available=False, issues=[])
    built = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return HotIssuesResponse(
        available=True,
        built_at=built,
        issues=[HotIssue(**row) for row in issues.head(top).iter_rows(named=True)],
    )


@router.get(
    "/{issue_id}/reports",
    summary="An issue's member reports, personal data redacted",
    responses={status: ERROR_RESPONSES[status] for status in (401, 403, 404, 422)},
)
def issue_reports(
    settings: SettingsDep,
    issue_id: Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9_-]+$", examples=["H0001"])],
) -> HotIssueReportsResponse:
    members = _table(settings.dashboard_tables_dir / HOT_ISSUE_REPORTS_FILE)
    rows = members.filter(pl.col("issue_id") == issue_id) if members is not None else None
    if rows is None or rows.is_empty():
        raise UnknownIssueError(f"unknown issue_id: {issue_id}", field="issue_id")
    return HotIssueReportsResponse(
        issue_id=issue_id,
        reports=[HotIssueReport(**row) for row in rows.drop("issue_id").iter_rows(named=True)],
    )
