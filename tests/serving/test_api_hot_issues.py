"""GET /v1/hot-issues: the job's tables served to supervisors, with the member reports for drill-down."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from fastapi.testclient import TestClient

from batch.hot_issues import run_hot_issues

T0 = datetime(2025, 3, 3, 9)
LIGHTS = "小区的路灯坏了一个多星期，晚上一片漆黑，老人出门很危险，请尽快修理"


def _write_tables(settings) -> None:
    reports = pl.DataFrame(
        {
            "event_id": ["1", "2", "3", "4"],
            "reported_at": [T0 + timedelta(hours=h) for h in (0, 3, 6, 9)],
            "reporter_id": ["a", "b", "c", "d"],
            "title": ["桂花苑路灯不亮", "桂花苑路灯坏了", "桂花苑路灯何时修", "占道经营"],
            "text": [
                f"桂花苑{LIGHTS}",
                f"桂花苑{LIGHTS}，电话13812345678",
                f"桂花苑{LIGHTS}",
                "文晖路摊贩占道",
            ],
        }
    )
    run_hot_issues(reports, settings.dashboard_tables_dir, window_days=0)


def test_no_tables_yet_is_not_an_error(app, api_keys) -> None:
    client = TestClient(app, headers={"X-API-Key": api_keys["supervisor"]})
    response = client.get("/v1/hot-issues")
    assert response.status_code == 200, response.text
    assert response.json() == {"available": False, "built_at": None, "issues": []}


def test_supervisors_get_the_issues_and_their_redacted_reports(app, api_keys, settings, assert_error) -> None:
    _write_tables(settings)
    client = TestClient(app, headers={"X-API-Key": api_keys["supervisor"]})
    body = client.get("/v1/hot-issues", params={"top": 5}).json()
    assert body["available"] is True
    (issue,) = body["issues"]
    assert issue["issue_id"] == "H0001" and issue["n_reports"] == 3 and issue["place"] == "桂花苑"
    assert sorted(issue["member_ids"]) == ["1", "2", "3"]
    reports = client.get("/v1/hot-issues/H0001/reports").json()["reports"]
    assert [r["event_id"] for r in reports] == ["1", "2", "3"]
    assert not any("13812345678" in r["text"] for r in reports)
    assert_error(client.get("/v1/hot-issues/H9999/reports"), 404, "unknown_issue", "issue_id")
    assert client.get("/v1/hot-issues", params={"top": 0}).status_code == 422


def test_intake_keys_may_not_read_hot_issues(app, api_keys) -> None:
    client = TestClient(app, headers={"X-API-Key": api_keys["intake"]})
    assert client.get("/v1/hot-issues").status_code == 403
