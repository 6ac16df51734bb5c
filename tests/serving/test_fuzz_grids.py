"""Schemathesis on the grid routes (the dashboard's API), with real dashboard tables: no 5xx, and every
answer matches the documented schema, string formats included (report times are `date-time` with an
offset). Same checks as tests/serving/test_fuzz_openapi.py, which covers the other routes."""

from __future__ import annotations

import tempfile
from datetime import datetime
from types import SimpleNamespace

import polars as pl
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from batch.dashboard_tables import build_dashboard_tables
from core.keys import KeyFile, Role
from core.settings import Settings
from serving.main import create_app

from .fuzzing import FUZZ_CONFIG, MAX_EXAMPLES
from .test_api_grids import NOISE

pytestmark = pytest.mark.slow  # loads models or MLflow: `make test-fast` skips it


def _events() -> pl.DataFrame:
    grids = [f"G{n:04d}" for n in range(1, 5)]
    return pl.DataFrame(
        {
            "event_id": [f"E{n}" for n in range(12)],
            "grid_id": [grids[n % 4] for n in range(12)],
            "reported_at": [datetime(2026, 1, 1 + n, 9, 30) for n in range(12)],
            "category_l1": ["矛盾纠纷", "城市管理", "安全隐患"] * 4,
            "risk_group": ["dispute", "none", "hazard"] * 4,
            "channel": ["hotline", "app", "grid_worker"] * 4,
            "title": [None, "噪音", None] * 4,
            "text": ["楼上噪音扰民", "请回电 13912345678", "井盖松动"] * 4,
            "status": ["open", "closed", "open"] * 4,
        }
    )


def _fuzzed_app() -> tuple[FastAPI, str]:
    settings = Settings(
        home=tempfile.mkdtemp(prefix="gridsense-fuzz-grids-"),
        reload_interval_seconds=0,
        rate_limit_supervisor="",  # fuzzing sends hundreds of requests a second: test answers, not 429s
    )
    grids = pl.DataFrame(
        {
            "grid_id": ["G0001", "G0002", "G0003", "G0004"],
            "district": ["朝阳区"] * 4,
            "x_m": [0.0, 500.0, 0.0, 500.0],
            "y_m": [0.0, 0.0, 500.0, 500.0],
            "population": [1200, 800, 300, 950],
        }
    )
    classifier = SimpleNamespace(describe=lambda texts, **_: [SimpleNamespace(**NOISE) for _ in texts])
    build_dashboard_tables(_events(), grids, classifier, model_version="7", weeks=8).write(
        settings.dashboard_tables_dir
    )
    key = KeyFile(settings.api_keys_path).create(Role.SUPERVISOR, label="fuzz").key
    return create_app(settings), key


APP, KEY = _fuzzed_app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=FUZZ_CONFIG).include(tag="grids")


@pytest.mark.timeout(120)
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_grid_routes_never_fail_and_match_their_schema(case):
    case.call_and_validate(
        headers={"X-API-Key": KEY},
        excluded_checks=[st_checks.positive_data_acceptance],  # an unknown grid id is a valid string, and 404
    )


def test_reports_are_fuzzed_with_a_real_grid():
    """The example grid id in the schema (G0001) exists, so the report answers are validated too."""
    from fastapi.testclient import TestClient

    response = TestClient(APP).get("/v1/grids/G0001/reports", headers={"X-API-Key": KEY})

    assert response.status_code == 200 and response.json()["reports"]
