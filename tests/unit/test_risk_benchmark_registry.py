"""`gridsense benchmark risk` registers its model under a name of its own, never the served one (issue 12:
a Chicago benchmark added gridsense-risk v1 to the store whose champion served the demo city)."""

from __future__ import annotations

import pytest

from core.registry import RISK_BENCHMARK_NAME, RISK_MODEL_NAME
from evaluation.panel_speed import synthetic_log
from evaluation.risk_benchmark import _register_final
from features.panel import build_panel
from training.tracking import use_local_store

pytestmark = pytest.mark.slow  # fits a forecaster and writes an MLflow store


def test_the_benchmark_model_is_registered_apart_from_the_served_one(tmp_path):
    import mlflow
    from mlflow import MlflowClient

    log, grids = synthetic_log(events=6_000, units=40, weeks=30)
    panel = build_panel(log, grids)
    use_local_store(tmp_path, RISK_BENCHMARK_NAME)
    report = {
        "model_params": {},
        "groups": ["dispute", "hazard"],
        "adapter": "toy",
        "data": {"content_hash": "h"},
    }
    with mlflow.start_run():
        version = _register_final(panel, report, log)

    client = MlflowClient()
    assert version == "1"
    assert [m.name for m in client.search_registered_models()] == [RISK_BENCHMARK_NAME]
    assert not client.search_model_versions(f"name = '{RISK_MODEL_NAME}'")
