from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from core.settings import Settings
from serving.main import create_app


def test_relative_paths_resolve_against_home(tmp_path):
    settings = Settings(home=tmp_path)

    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    assert settings.forecasts_path == tmp_path / "datasets" / "demo" / "forecasts" / "latest.parquet"


def test_environment_overrides_and_absolute_uris_stay(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDSENSE_MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("GRIDSENSE_FORECASTS_PATH", "/data/forecasts.parquet")
    monkeypatch.setenv("GRIDSENSE_MAX_BATCH", "8")

    settings = Settings(home=tmp_path)

    assert settings.mlflow_tracking_uri == "http://mlflow:5000"
    assert settings.forecasts_path == Path("/data/forecasts.parquet")
    assert settings.max_batch == 8


def test_start_up_loads_what_exists_and_reports_the_rest(tmp_path, forecasts, settings, admin_headers):
    settings.forecasts_path.parent.mkdir(parents=True)
    forecasts.write_parquet(settings.forecasts_path)

    with TestClient(create_app(settings), headers=admin_headers) as client:  # the real lifespan; no MLflow
        response = client.get("/readyz")
        risk = client.get("/v1/risk", params={"grid_id": "G0002"})

    assert response.status_code == 503
    body = response.json()
    assert body["forecast_week"] == "2026-01-12"
    assert len(body["missing"]) == 1 and body["missing"][0].startswith("text_model:")
    assert "does not exist" in body["missing"][0]
    assert risk.status_code == 200
    assert not (tmp_path / "mlruns").exists()
