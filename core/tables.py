"""The tables the batch jobs hand to serving: their file names and the facts both sides must agree on.

`gridsense forecast` writes them (`batch.forecast`, `batch.dashboard_tables`); the API reads them
(`serving.forecast_store`, `serving.grid_store`). Each name lives here once.
"""

from __future__ import annotations

# beside the latest forecast table (Settings.forecasts_path)
HISTORY_FILE = "history.parquet"  # every week forecast so far, for /v1/risk?week= and /history
TREND_WEEKS = 8  # points in a forecast's trend; a past week's trend has as many

# in Settings.dashboard_tables_dir
GRIDS_FILE = "grids.parquet"
WEEKLY_FILE = "grid_weekly.parquet"
REPORTS_FILE = "recent_reports.parquet"
RAW_REPORTS_FILE = "recent_reports_raw.parquet"  # personal data: written only on request, mode 0600
SITE_FILE = "site.json"  # the site: name, language, risk groups with their labels, map metric
HOT_ISSUES_FILE = "hot_issues.parquet"  # `gridsense hot-issues`: issues ranked by heat (GET /v1/hot-issues)
HOT_ISSUE_REPORTS_FILE = "hot_issue_reports.parquet"  # their member reports, redacted (drill-down)
