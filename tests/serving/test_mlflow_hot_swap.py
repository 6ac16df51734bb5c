"""End to end with a real (tiny) text model in a temporary MLflow store: the app loads the champion by
alias, follows the alias on reload, and starts from the local cache when the store is gone."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from features.taxonomy import load_taxonomy
from serving.main import create_app
from serving.schemas import ClassifyItem
from serving.text_service import MlflowTextModelSource

from .conftest import forecast_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]  # `make test-fast` skips it

REPORTS = {
    "城市管理/市容秩序/占道经营": [
        "小区门口有人占道摆摊卖水果",
        "路边流动摊贩堵住人行道",
        "早市摊位占了半条马路",
    ],
    "安全隐患/消防安全/消防通道堵塞": [
        "楼道里堆满杂物堵住消防通道",
        "消防车通道被私家车占用",
        "安全出口被纸箱堵死",
    ],
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A store with gridsense-text versions 1 and 2 (the same tiny model), champion -> 1."""
    import mlflow
    import polars as pl
    from mlflow import MlflowClient

    from models.pyfunc import TEXT_ARTIFACT, TextClassifierModel, model_artifacts
    from models.text_tfidf import TfidfTextClassifier
    from models.validation_sample import text_sample

    home = tmp_path_factory.mktemp("home")
    texts = [f"{text}{i}" for texts in REPORTS.values() for text in texts for i in range(4)]
    labels = [leaf for leaf, texts in REPORTS.items() for _ in texts for _ in range(4)]
    model = TfidfTextClassifier(taxonomy=load_taxonomy(), min_df=1, calibration_cv=2).fit(texts, labels)
    sample = text_sample(pl.DataFrame({"text": texts, "leaf_id": labels}), model)
    artifacts = model_artifacts(TEXT_ARTIFACT, model, home, sample)  # the training runs store a sample
    uri = f"sqlite:///{home / 'mlruns' / 'mlflow.db'}"
    (home / "mlruns").mkdir()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("hot-swap", artifact_location=(home / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=TextClassifierModel(),
            artifacts=artifacts,
            pip_requirements=["scikit-learn"],
        )
    client = MlflowClient(uri, uri)
    for _ in range(2):
        mlflow.register_model(info.model_uri, "gridsense-text")
    client.set_registered_model_alias("gridsense-text", "champion", "1")
    forecasts = Settings(home=home).forecasts_path
    forecasts.parent.mkdir(parents=True)
    forecast_table().write_parquet(forecasts)
    return home, client


def settings_for(home) -> Settings:
    return Settings(home=home, reload_interval_seconds=0, keys_refresh_seconds=0)


def test_the_app_follows_the_alias_and_survives_a_lost_registry(registry, tmp_path):
    from core.keys import KeyFile, Role

    home, client = registry
    settings = settings_for(home)
    key = KeyFile(settings.api_keys_path).create(Role.DATA_SCIENTIST).key
    report = {"text": "楼道里堆满杂物，消防通道被堵死了"}

    with TestClient(create_app(settings), headers={"X-API-Key": key}) as api:
        first = api.post("/v1/classify", json=report)
        client.set_registered_model_alias("gridsense-text", "champion", "2")
        reload = api.post("/v1/admin/reload").json()
        second = api.post("/v1/classify", json=report)

    assert first.status_code == 200, first.text
    assert first.json()["model"] == {"name": "gridsense-text", "version": "1"}
    assert first.json()["results"][0]["leaf_id"] == "安全隐患/消防安全/消防通道堵塞"
    text = next(r for r in reload["results"] if r["component"] == "text_model")
    assert (text["outcome"], text["previous_version"], text["version"]) == ("swapped", "1", "2")
    assert second.headers["X-Model-Version"] == "2"
    assert (settings.model_cache_dir / "gridsense-text" / "2" / "MLmodel").is_file()

    # the registry disappears (moved away); a restarted API serves the cached last good version
    shutil.move(home / "mlruns", tmp_path / "mlruns-away")
    try:
        with TestClient(create_app(settings), headers={"X-API-Key": key}) as api:
            ready = api.get("/readyz").json()
            answer = api.post("/v1/classify", json=report)
    finally:
        shutil.move(tmp_path / "mlruns-away", home / "mlruns")

    assert ready["status"] == "ready"
    assert ready["components"]["text_model"]["source"] == "cache"
    assert any("cached version 2" in warning for warning in ready["warnings"])
    assert answer.status_code == 200 and answer.json()["model"]["version"] == "2"


def test_the_source_resolves_the_alias(registry):
    home, client = registry
    client.set_registered_model_alias("gridsense-text", "champion", "1")

    source = MlflowTextModelSource(settings_for(home))

    assert source.current_version() == "1"


def test_the_fast_load_path_maps_an_uncompressed_copy(registry, tmp_path):
    home, _ = registry
    source = MlflowTextModelSource(
        Settings(home=home, fast_model_load=True, model_cache_dir=tmp_path / "cache")
    )

    service = source.load("1")

    copy = tmp_path / "cache" / "gridsense-text" / "1" / "classifier.uncompressed.joblib"
    assert copy.is_file()
    [result] = service.classify([ClassifyItem(text="楼道里堆满杂物，消防通道被堵死了")])
    assert result.leaf_id == "安全隐患/消防安全/消防通道堵塞"


def test_the_poller_follows_the_alias_without_being_asked(registry):
    import time

    from core.keys import KeyFile, Role

    home, client = registry
    client.set_registered_model_alias("gridsense-text", "champion", "1")
    settings = Settings(home=home, reload_interval_seconds=0.2, keys_refresh_seconds=0)
    key = KeyFile(settings.api_keys_path).create(Role.INTAKE).key
    report = {"text": "小区门口有人占道摆摊卖水果"}

    with TestClient(create_app(settings), headers={"X-API-Key": key}) as api:
        assert api.post("/v1/classify", json=report).headers["X-Model-Version"] == "1"
        client.set_registered_model_alias("gridsense-text", "champion", "2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if api.post("/v1/classify", json=report).headers["X-Model-Version"] == "2":
                break
            time.sleep(0.2)
        final = api.post("/v1/classify", json=report)

    assert final.headers["X-Model-Version"] == "2"
