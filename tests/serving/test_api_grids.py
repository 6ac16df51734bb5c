"""The grid routes and the dashboard page through TestClient: access, answers, errors, asset safety."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import polars as pl
import pytest
from fastapi.testclient import TestClient

from batch.dashboard_tables import build_dashboard_tables
from serving.dashboard import CONTENT_SECURITY_POLICY
from serving.deps import get_resources

NOISE = {
    "leaf_id": "矛盾纠纷/邻里纠纷/噪音扰邻纠纷",
    "category_l1": "矛盾纠纷",
    "category_l2": "邻里纠纷",
    "category_l3": "噪音扰邻纠纷",
    "department": "社区居委会",
    "risk_group": "dispute",
    "p_l3": 0.8,
    "needs_review": False,
}


class NoiseClassifier:
    def describe(self, texts, top_k=3, review_threshold=None, label_threshold=None):
        return [SimpleNamespace(**NOISE) for _ in texts]


@pytest.fixture
def tables(settings):
    events = pl.DataFrame(
        {
            "event_id": ["E1", "E2", "E3"],
            "grid_id": ["G0001", "G0001", "G0002"],
            "reported_at": [datetime(2026, 1, 5, 9), datetime(2026, 1, 6, 9), datetime(2026, 1, 7, 9)],
            "category_l1": ["矛盾纠纷", "矛盾纠纷", "城市管理"],
            "risk_group": ["dispute", "dispute", "none"],
            "channel": ["hotline", "app", "grid_worker"],
            "title": [None, None, None],
            "text": ["楼上噪音", "请回电 13912345678", "井盖"],
            "status": ["open", "closed", "open"],
        }
    )
    grids = pl.DataFrame(
        {
            "grid_id": ["G0001", "G0002", "G0003", "G0004"],
            "district": ["朝阳区"] * 4,
            "x_m": [0.0, 500.0, 0.0, 500.0],
            "y_m": [0.0, 0.0, 500.0, 500.0],
        }
    )
    return build_dashboard_tables(events, grids, NoiseClassifier(), model_version="7", weeks=8).write(
        settings.dashboard_tables_dir
    )


@pytest.fixture
def supervisor(app, loaded, api_keys):
    app.dependency_overrides[get_resources] = lambda: loaded
    yield TestClient(app, headers={"X-API-Key": api_keys["supervisor"]})
    app.dependency_overrides.clear()


def test_grids_need_a_supervisor_key(app, tables, api_keys, assert_error):
    client = TestClient(app)
    for path in ("/v1/grids", "/v1/grids/weekly", "/v1/grids/G0001/activity", "/v1/grids/G0001/reports"):
        assert_error(client.get(path), 401, "unauthorized", None)
        assert_error(client.get(path, headers={"X-API-Key": api_keys["intake"]}), 403, "forbidden", None)
        assert client.get(path, headers={"X-API-Key": api_keys["supervisor"]}).status_code == 200, path


def test_grids_give_geometry_and_attributes(supervisor, tables):
    body = supervisor.get("/v1/grids").json()
    assert body["forecast_week"] == "2026-01-12"
    assert len(body["weeks"]) == 8 and body["weeks"][-1] == "2026-01-05"
    assert [grid["grid_id"] for grid in body["grids"]] == ["G0001", "G0002", "G0003", "G0004"]
    assert all(len(grid["polygon"]) >= 3 for grid in body["grids"])
    assert body["grids"][0]["district"] == "朝阳区"


def test_activity_and_weekly_counts(supervisor, tables):
    activity = supervisor.get("/v1/grids/G0001/activity").json()
    assert activity["dispute"] == [0] * 7 + [2]
    assert activity["categories"] == [{"category_l1": "矛盾纠纷", "counts": [0] * 7 + [2]}]
    weekly = supervisor.get("/v1/grids/weekly", params={"weeks": 1}).json()
    assert weekly["weeks"] == ["2026-01-05"]
    assert {row["grid_id"]: row["total"] for row in weekly["grids"]}["G0002"] == [1]


def test_reports_are_redacted_and_limited(supervisor, tables):
    body = supervisor.get("/v1/grids/G0001/reports", params={"limit": 1}).json()
    assert body["model"] == {"name": "gridsense-text", "version": "7"}
    [report] = body["reports"]
    assert report["text"] == "请回电 <PHONE>"
    assert report["category_l3"] == "噪音扰邻纠纷"
    assert (report["department"], report["confidence"]) == ("社区居委会", 0.8)


def test_bad_grid_requests_get_clear_errors(supervisor, tables, assert_error):
    error = assert_error(supervisor.get("/v1/grids/G9999/activity"), 404, "unknown_grid", "grid_id")
    assert error["unknown_ids"] == ["G9999"]
    too_few = supervisor.get("/v1/grids/G0001/reports", params={"limit": 0})
    assert_error(too_few, 422, "validation_error", "limit")
    assert_error(supervisor.get("/v1/grids/weekly", params={"weeks": "x"}), 422, "validation_error", "weeks")


def test_missing_tables_are_reported_not_crashed(supervisor, assert_error):
    error = assert_error(supervisor.get("/v1/grids"), 503, "not_ready", None)
    assert "gridsense forecast" in error["message"]


def test_dashboard_page_is_served_without_a_key_with_a_strict_policy(app):
    client = TestClient(app)
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "https:" not in CONTENT_SECURITY_POLICY
    assert '<html lang="zh-CN">' in page.text
    assert client.get("/dashboard/static/app.js").status_code == 200


@pytest.mark.parametrize("path", ["../__init__.py", "..%2F__init__.py", "%2e%2e/__init__.py", "nope.js"])
def test_dashboard_assets_stay_inside_the_static_folder(app, path, assert_error):
    assert_error(TestClient(app).get(f"/dashboard/static/{path}"), 404, "not_found", None)
