"""Report times are RFC 3339 date-times with the site's UTC offset (the tables hold naive local times)."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from core.settings import Settings
from serving.deps import get_resources
from serving.grid_schemas import RecentReport
from serving.grid_store import _with_time_zone

from .test_api_grids import NOISE, supervisor, tables  # noqa: F401  (fixtures)


def test_reported_at_carries_the_china_offset_by_default(supervisor, tables):  # noqa: F811
    [report] = supervisor.get("/v1/grids/G0001/reports", params={"limit": 1}).json()["reports"]

    assert report["reported_at"] == "2026-01-06T09:00:00+08:00"  # 09:00 local, as stored
    assert datetime.fromisoformat(report["reported_at"]).utcoffset() == timedelta(hours=8)


def test_the_site_time_zone_is_a_setting(app, loaded, api_keys, tables, monkeypatch):  # noqa: F811
    settings: Settings = app.state.settings
    monkeypatch.setattr(settings, "site_timezone", "Europe/Berlin")
    app.dependency_overrides[get_resources] = lambda: loaded
    client = TestClient(app, headers={"X-API-Key": api_keys["supervisor"]})

    [report] = client.get("/v1/grids/G0001/reports", params={"limit": 1}).json()["reports"]

    assert report["reported_at"] == "2026-01-06T09:00:00+01:00"


def test_an_unknown_time_zone_is_refused_at_start_up(tmp_path):
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(home=tmp_path, site_timezone="Asia/Atlantis")


def test_naive_report_times_are_refused_by_the_response_model():
    fields = dict(event_id="E1", text="x", confidence=0.5, **{k: v for k, v in NOISE.items() if k != "p_l3"})

    with pytest.raises(ValidationError, match="timezone"):
        RecentReport(reported_at=datetime(2026, 1, 5, 9), **fields)


def test_daylight_saving_gaps_and_overlaps_still_get_a_time():
    frame = pl.DataFrame({"t": [datetime(2026, 3, 29, 2, 30), datetime(2026, 10, 25, 2, 30)]})

    zoned = _with_time_zone(frame, "t", "Europe/Berlin").get_column("t").to_list()

    assert [t.isoformat() for t in zoned] == ["2026-03-29T03:30:00+02:00", "2026-10-25T02:30:00+02:00"]


def test_zoned_times_are_shown_in_the_site_time_zone():
    frame = pl.DataFrame({"t": [datetime(2026, 1, 5, 1)]}).with_columns(
        pl.col("t").dt.replace_time_zone("UTC")
    )

    [shown] = _with_time_zone(frame, "t", "Asia/Shanghai").get_column("t").to_list()

    assert shown.isoformat() == "2026-01-05T09:00:00+08:00"
