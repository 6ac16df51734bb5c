"""本周热点问题 on the overview panel in headless Chromium: after `gridsense hot-issues` has written the
tables for the city's reports, a button opens the list of issues and a click opens an issue's reports."""

from __future__ import annotations

import polars as pl
import pytest

from batch.hot_issues import run_hot_issues, valid_reports
from core.keys import Role

from .test_dashboard import open_dashboard

pytestmark = pytest.mark.slow


def test_the_overview_lists_hot_issues_and_opens_their_reports(page, base_url, world, artifacts):
    events, _ = valid_reports(pl.read_parquet(world.root / "city" / "events.parquet"))
    run_hot_issues(events, world.settings.dashboard_tables_dir, window_days=7)
    open_dashboard(page, base_url, world.keys[Role.SUPERVISOR])
    page.click("#hot-issues-open")
    page.wait_for_selector("#hot-issues table tbody tr", state="visible")
    assert "本周热点问题" in page.text_content("#hot-issues")
    page.click("#hot-issues tbody button")
    page.wait_for_selector("#hot-issues ul.reports li", state="attached")
    assert page.get_attribute("#hot-issues tbody button", "aria-expanded") == "true"
    page.screenshot(path=str(artifacts / "hot_issues.png"), full_page=True)
