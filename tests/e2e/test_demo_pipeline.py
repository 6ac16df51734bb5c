"""The whole slice on a small demo city: events -> features -> both models -> MLflow registry ->
batch forecast -> API loading the champions by alias. Real code paths, a temporary MLflow store."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from fastapi.testclient import TestClient

from demo_city import generate_demo_city
from features.events import load_events
from features.panel import build_panel
from features.taxonomy import load_taxonomy
from features.text_dataset import build_text_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    import mlflow

    from batch.forecast import run_forecast
    from core.settings import tracking_uri
    from training.tracking import use_local_store
    from training.train_risk import train_risk_model
    from training.train_text import train_text_model

    root = tmp_path_factory.mktemp("gridsense")
    taxonomy = load_taxonomy()
    city = generate_demo_city(
        root / "datasets" / "demo", seed=3, n_grids=300, start=date(2024, 1, 1), weeks=40, scale=0.6
    )
    loaded = load_events(city.events_path, taxonomy)
    grids = pl.read_parquet(city.grids_path)
    text = build_text_dataset(loaded.events)
    panel = build_panel(loaded.events, grids, l1_categories=taxonomy.level1)

    use_local_store(root, "gridsense-text")
    text_result = train_text_model(text, taxonomy, "text.parquet", root, params={"calibration_cv": 2})
    use_local_store(root, "gridsense-risk")
    risk_result = train_risk_model(
        panel, "panel.parquet", root, test_weeks=6, params={"n_estimators": 60, "valid_weeks": 4}
    )
    forecasts = run_forecast(panel, root / "datasets" / "demo" / "forecasts" / "latest.parquet", grids=grids)
    yield {
        "root": root,
        "uri": tracking_uri(root),
        "grids": grids,
        "loaded": loaded,
        "forecasts": forecasts,
        "text_result": text_result,
        "risk_result": risk_result,
    }
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def client(world) -> TestClient:
    from core.keys import KeyFile
    from core.settings import Settings
    from serving.main import create_app

    settings = Settings(home=world["root"], mlflow_tracking_uri=world["uri"], reload_interval_seconds=0)
    key = KeyFile(settings.api_keys_path).create("data_scientist", label="e2e").key
    with TestClient(create_app(settings)) as test_client:
        test_client.headers["X-API-Key"] = key
        yield test_client


def test_loader_accepts_every_generated_event(world):
    assert world["loaded"].rejects.height == 0
    assert world["loaded"].events.height > 5000


def test_text_model_beats_majority_baseline_on_later_period(world):
    result = world["text_result"]
    assert result.model_version == "1"
    assert result.metrics["macro_f1_l1"] > result.baseline_metrics["macro_f1_l1"] + 0.5
    assert result.metrics["macro_f1_leaf"] > 0.5


def test_risk_model_is_registered_with_metrics_for_model_and_baselines(world):
    metrics = world["risk_result"].metrics
    assert world["risk_result"].model_version == "1"
    for who in ("model", "last_week", "mean_52w"):
        for group in ("dispute", "hazard"):
            assert 0.0 <= metrics[f"{who}.{group}.average_precision"] <= 1.0


def test_champion_aliases_point_at_the_demo_versions(world):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=world["uri"], registry_uri=world["uri"])
    assert str(client.get_model_version_by_alias("gridsense-text", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("gridsense-risk", "champion").version) == "1"


def test_forecast_covers_every_grid_for_both_groups(world):
    forecasts = world["forecasts"]
    assert (
        forecasts.filter(pl.col("group") == "dispute").get_column("grid_id").sort().to_list()
        == world["grids"].get_column("grid_id").sort().to_list()
    )
    assert forecasts.get_column("week_start").n_unique() == 1


def test_api_is_ready_and_classifies_a_chinese_report(client):
    assert client.get("/readyz").status_code == 200
    response = client.post("/v1/classify", json={"text": "楼道里堆满杂物，消防通道被堵死了，物业也不管"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"]["name"] == "gridsense-text" and body["model"]["version"] == "1"
    result = body["results"][0]
    assert result["category_l1"]["name"] == "安全隐患"
    assert result["risk_group"] == "hazard"
    assert len(result["alternatives"]) == 3


def test_api_returns_risk_for_every_demo_grid(client, world):
    response = client.get("/v1/risk")
    assert response.status_code == 200, response.text
    body = response.json()
    grid_ids = {row["grid_id"] for row in body["grids"]}
    assert grid_ids == set(world["grids"].get_column("grid_id").to_list())


def test_api_rejects_unknown_grid_with_404(client):
    response = client.get("/v1/risk", params={"grid_id": "NOPE"})
    assert response.status_code == 404
    assert "NOPE" in response.text
